/* The captured response header block: iteration, lookup, and the Lua table of lower-cased names. */
#include <lauxlib.h>
#include <lua.h>

#include "../src/buf.h"
#include "../src/headers.h"
#include "fuzz.h"

static int count(const char *name, size_t nn, const char *val, size_t vn, void *ud)
{
    /* every slice lies inside the block */
    const ap_buf *h = ((const ap_buf **)ud)[0];
    if (name < h->data || name + nn > h->data + h->len || val < h->data || val + vn > h->data + h->len)
        abort();
    ((size_t *)((void **)ud)[1])[0]++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ap_buf h = {0};
    if (ap_buf_append(&h, (const char *)data, size) != 0)
        return 0;
    size_t n = 0;
    void *ud[2] = {&h, &n};
    ap_headers_each(&h, count, ud);
    const char *v;
    size_t vn;
    const char *names[] = {"retry-after", "request-id", "content-type", "date", "x-ms-ags-diagnostic"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ap_header_find(&h, names[i], &v, &vn) && (v < h.data || v + vn > h.data + h.len))
            abort();
    lua_State *L = luaL_newstate();
    if (L) {
        ap_push_headers(L, &h);
        lua_close(L);
    }
    ap_buf_free(&h);
    return 0;
}
