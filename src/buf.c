/*
 * lua-autopilot: the growable byte buffer of buf.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int grow(ap_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *d;
    if (b->secret) {
        d = malloc(cap);
        if (!d)
            return -1;
        if (b->data) {
            memcpy(d, b->data, b->len);
            explicit_bzero(b->data, b->cap);
            free(b->data);
        }
    } else {
        d = realloc(b->data, cap);
        if (!d)
            return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int ap_buf_append(ap_buf *b, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > SIZE_MAX - b->len - 1)
        return -1;
    if (b->len + n + 1 > b->cap && grow(b, b->len + n + 1) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ap_buf_append_str(ap_buf *b, const char *s)
{
    return ap_buf_append(b, s, strlen(s));
}

void ap_buf_reset(ap_buf *b)
{
    if (b->data && b->secret)
        explicit_bzero(b->data, b->len);
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void ap_buf_free(ap_buf *b)
{
    if (b->data && b->secret)
        explicit_bzero(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *ap_buf_take(ap_buf *b)
{
    char *d = b->len ? b->data : NULL;
    if (!d)
        ap_buf_free(b);
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
