/*
 * lua-autopilot: reading a captured response header block (headers.h).
 */
#include <string.h>
#include <strings.h>

#include "headers.h"

void ap_headers_each(const ap_buf *h, ap_header_fn fn, void *ud)
{
    const char *p = h->data, *end = h->data ? h->data + h->len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (!eol)
            eol = end;
        const char *le = eol;
        if (le > p && le[-1] == '\r')
            le--;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && colon > p && *p != ' ' && *p != '\t') { /* folded continuation lines are skipped */
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (fn(p, (size_t)(colon - p), v, (size_t)(ve - v), ud))
                return;
        }
        p = next;
    }
}

struct find_ctx {
    const char *name;
    size_t len;
    const char *val;
    size_t vlen;
    int found;
};

static int find_cb(const char *name, size_t nn, const char *val, size_t vn, void *ud)
{
    struct find_ctx *c = ud;
    if (c->len == nn && strncasecmp(name, c->name, nn) == 0)
        c->val = val, c->vlen = vn, c->found = 1; /* keep going: the last one wins */
    return 0;
}

int ap_header_find(const ap_buf *h, const char *name, const char **val, size_t *vlen)
{
    struct find_ctx c = {name, strlen(name), NULL, 0, 0};
    ap_headers_each(h, find_cb, &c);
    if (c.found)
        *val = c.val, *vlen = c.vlen;
    return c.found;
}

static int push_cb(const char *name, size_t nn, const char *val, size_t vn, void *ud)
{
    lua_State *L = ud;
    char lower[128];
    if (nn >= sizeof lower)
        return 0;
    for (size_t i = 0; i < nn; i++) {
        char c = name[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    lua_pushlstring(L, lower, nn);
    lua_pushlstring(L, val, vn);
    lua_rawset(L, -3);
    return 0;
}

void ap_push_headers(lua_State *L, const ap_buf *h)
{
    lua_newtable(L);
    ap_headers_each(h, push_cb, L);
}
