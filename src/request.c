/*
 * lua-autopilot: requests as submitted (request.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "batch.h"
#include "options.h"
#include "request.h"

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", NULL};
static const char *const request_keys[] = {"method",     "url", "body",  "headers",
                                           "idempotent", "tag", "batch", NULL};

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_headers(lua_State *L, int idx)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "request headers: names must be strings");
        size_t nn, vn;
        const char *name = lua_tolstring(L, -2, &nn);
        if (nn == 0 || nn > 100)
            luaL_error(L, "request header name of length %d", (int)nn);
        for (size_t i = 0; i < nn; i++)
            if (!is_tchar((unsigned char)name[i]))
                luaL_error(L, "invalid request header name '%s'", name);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "request header '%s' must be a string", name);
        const char *v = lua_tolstring(L, -1, &vn);
        if (vn > 16384)
            luaL_error(L, "request header '%s' is too long", name);
        for (size_t i = 0; i < vn; i++) {
            unsigned char c = (unsigned char)v[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                luaL_error(L, "request header '%s' contains a control character", name);
        }
        lua_pop(L, 1);
    }
}

static void check_url(lua_State *L, const char *u, size_t n)
{
    if (n > 65536)
        luaL_error(L, "request url is too long");
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        luaL_error(L, "request url must start with http:// or https://");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c == 0x7f)
            luaL_error(L, "request url contains a space or control character");
    }
}

/* Copies the caller's headers into x (noting which defaults they replace); -1 when out of memory. */
static int copy_headers(lua_State *L, int hi, ap_xfer *x)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {{"accept", AP_H_ACCEPT},
                 {"content-type", AP_H_CTYPE},
                 {"authorization", AP_H_AUTH},
                 {"client-request-id", AP_H_REQID}};
    lua_pushnil(L);
    while (lua_next(L, hi)) {
        size_t nn, vn;
        const char *name = lua_tolstring(L, -2, &nn), *v = lua_tolstring(L, -1, &vn);
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcasecmp(name, known[i].name) == 0)
                x->user_has |= known[i].bit;
        char *line = malloc(nn + vn + 3);
        int bad = !line;
        if (line) {
            memcpy(line, name, nn);
            memcpy(line + nn, ": ", 2);
            memcpy(line + nn + 2, v, vn);
            line[nn + 2 + vn] = '\0';
            bad = ap_xfer_add_header(x, line) != 0;
            explicit_bzero(line, nn + vn + 3); /* it may be the caller's Authorization */
            free(line);
        }
        lua_pop(L, 1);
        if (bad) {
            lua_pop(L, 1); /* the key lua_next left */
            return -1;
        }
        if (x->user_has & AP_H_REQID && strcasecmp(name, "client-request-id") == 0) {
            size_t n = vn > 36 ? 36 : vn; /* the caller's own id, kept for the result */
            memcpy(x->request_guid, v, n);
            x->request_guid[n] = '\0';
        }
    }
    return 0;
}

ap_xfer *ap_request_new(lua_State *L, int idx)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    idx = lua_absindex(L, idx);
    ap_opts o = ap_opts_of(L, idx, "request", 0);
    ap_opts_check_keys(&o, request_keys);
    const char *method = "GET";
    int t = lua_getfield(L, idx, "method");
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING)
            luaL_error(L, "request method must be a string (got %s)", lua_typename(L, t));
        method = lua_tostring(L, -1);
    }
    int m = 0;
    while (methods[m] && strcmp(methods[m], method) != 0)
        m++;
    if (!methods[m])
        luaL_error(L, "unsupported request method '%s'", method);
    method = methods[m];
    lua_pop(L, 1);

    if ((t = lua_getfield(L, idx, "url")) != LUA_TSTRING)
        luaL_error(L, "request url must be a string (got %s)", lua_typename(L, t));
    size_t url_len;
    const char *url = lua_tolstring(L, -1, &url_len);
    check_url(L, url, url_len);
    int top = lua_gettop(L);

    size_t body_len = 0;
    const char *body = NULL;
    t = lua_getfield(L, idx, "body");
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING)
            luaL_error(L, "request body must be a string (got %s)", lua_typename(L, t));
        body = lua_tolstring(L, -1, &body_len);
    }
    int hi = 0;
    t = lua_getfield(L, idx, "headers");
    if (t != LUA_TNIL) {
        if (t != LUA_TTABLE)
            luaL_error(L, "request headers must be a table (got %s)", lua_typename(L, t));
        hi = lua_gettop(L);
        check_headers(L, hi);
    }
    size_t batch_len = 0;
    const char *batch = NULL;
    t = lua_getfield(L, idx, "batch");
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING)
            luaL_error(L, "request batch must be a string (got %s)", lua_typename(L, t));
        batch = lua_tolstring(L, -1, &batch_len);
        check_url(L, batch, batch_len);
        if (!ap_batch_relative(batch, url))
            luaL_error(L, "request url must be under the batch URL's version");
    }
    int idempotent = strcmp(method, "POST") != 0 && strcmp(method, "PATCH") != 0;
    t = lua_getfield(L, idx, "idempotent");
    if (t != LUA_TNIL) {
        if (t != LUA_TBOOLEAN)
            luaL_error(L, "request idempotent must be a boolean (got %s)", lua_typename(L, t));
        idempotent = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);

    /* Building: nothing below raises until x is complete (or freed). */
    ap_xfer *x = ap_xfer_new(AP_XK_GRAPH, method, url);
    int oom = !x;
    if (x) {
        x->idempotent = idempotent;
        if (batch && !(x->batch_url = strdup(batch)))
            oom = 1;
        if (body && !oom) {
            x->has_body = 1;
            x->body_len = body_len;
            x->body = malloc(body_len + 1);
            oom = !x->body;
            if (x->body)
                memcpy(x->body, body, body_len), x->body[body_len] = '\0';
        }
        if (hi && !oom)
            oom = copy_headers(L, hi, x) != 0;
    }
    lua_settop(L, top - 1);
    if (oom) {
        ap_xfer_free(x);
        luaL_error(L, "not enough memory");
    }
    return x;
}
