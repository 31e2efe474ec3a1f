/*
 * lua-autopilot: a growable byte buffer, always NUL-terminated. Geometric growth, so a 2 MB listing
 * page costs a handful of reallocations; a buffer marked secret never leaves a copy behind when it grows.
 */
#ifndef AP_BUF_H
#define AP_BUF_H

#include <stddef.h>

typedef struct ap_buf {
    char *data;
    size_t len, cap;
    int secret; /* growing copies and wipes the old block (no realloc leaving a secret behind) */
} ap_buf;

int ap_buf_append(ap_buf *b, const char *p, size_t n); /* 0 ok, -1 out of memory */
int ap_buf_append_str(ap_buf *b, const char *s);       /* the same for a C string */
void ap_buf_reset(ap_buf *b);                          /* len = 0, keeps the memory */
void ap_buf_free(ap_buf *b);                           /* wipes first when secret */
char *ap_buf_take(ap_buf *b); /* the data, now the caller's (malloc'd); NULL when empty */

#endif
