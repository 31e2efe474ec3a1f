/*
 * lua-autopilot: the response header block a transfer captured ("Name: value\r\n" lines of the last
 * response). Lookups are case-insensitive; when a name repeats, the last one wins.
 */
#ifndef AP_HEADERS_H
#define AP_HEADERS_H

#include <stddef.h>

#include <lua.h>

#include "buf.h"

typedef int (*ap_header_fn)(const char *name, size_t nn, const char *val, size_t vn, void *ud); /* 1: stop */

void ap_headers_each(const ap_buf *h, ap_header_fn fn, void *ud);
int ap_header_find(const ap_buf *h, const char *name, const char **val, size_t *vlen); /* 1 found */
void ap_push_headers(lua_State *L, const ap_buf *h); /* a table of lower-cased names */

#endif
