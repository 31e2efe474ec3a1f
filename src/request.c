/*
 * lua-autopilot: one request as the caller submits it. Checks the request table completely (method,
 * URL, body, headers free of CR/LF and NUL, unknown keys) and raises before anything is allocated or
 * queued, so bad input sends nothing; then copies it into a transfer owned by the session.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", NULL};
static const char *const submit_keys[] = {"method", "url", "body", "headers", "idempotent", "tag", NULL};

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

/* Validates the request table at idx (raising on any mistake, before anything is allocated), then
 * queues it. Returns the new transfer's id. */
lua_Integer ap_submit(lua_State *L, ap_session *s, int idx)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    ap_check_keys(L, idx, "request", submit_keys);
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
    int url_i = lua_gettop(L);

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
    int idempotent = strcmp(method, "POST") != 0 && strcmp(method, "PATCH") != 0;
    t = lua_getfield(L, idx, "idempotent");
    if (t != LUA_TNIL) {
        if (t != LUA_TBOOLEAN)
            luaL_error(L, "request idempotent must be a boolean (got %s)", lua_typename(L, t));
        idempotent = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);

    /* Building: no Lua call below can raise until the transfer is owned by the session. */
    ap_xfer *x = ap_xfer_new();
    int oom = !x;
    if (x) {
        x->kind = AP_XK_GRAPH;
        strcpy(x->method, method);
        x->idempotent = idempotent;
        x->url = malloc(url_len + 1);
        oom = !x->url;
        if (x->url)
            memcpy(x->url, url, url_len + 1);
        if (body && !oom) {
            x->has_body = 1;
            x->body_len = body_len;
            x->body = malloc(body_len + 1);
            oom = !x->body;
            if (x->body)
                memcpy(x->body, body, body_len), x->body[body_len] = '\0';
        }
        if (hi && !oom) {
            lua_pushnil(L);
            while (!oom && lua_next(L, hi)) {
                size_t nn, vn;
                const char *name = lua_tolstring(L, -2, &nn), *v = lua_tolstring(L, -1, &vn);
                if (strcasecmp(name, "accept") == 0)
                    x->user_has |= AP_H_ACCEPT;
                if (strcasecmp(name, "content-type") == 0)
                    x->user_has |= AP_H_CTYPE;
                if (strcasecmp(name, "authorization") == 0)
                    x->user_has |= AP_H_AUTH;
                if (strcasecmp(name, "client-request-id") == 0)
                    x->user_has |= AP_H_REQID;
                char *line = malloc(nn + vn + 3);
                if (line) {
                    memcpy(line, name, nn);
                    memcpy(line + nn, ": ", 2);
                    memcpy(line + nn + 2, v, vn);
                    line[nn + 2 + vn] = '\0';
                    struct curl_slist *l = curl_slist_append(x->user_headers, line);
                    explicit_bzero(line, nn + vn + 3); /* it may be the caller's Authorization */
                    free(line);
                    if (l)
                        x->user_headers = l;
                    else
                        oom = 1;
                } else {
                    oom = 1;
                }
                lua_pop(L, 1);
            }
            if (oom)
                lua_pop(L, 1); /* the key lua_next left */
        }
    }
    if (oom) {
        ap_xfer_free(x);
        luaL_error(L, "not enough memory");
    }
    if (x->user_has & AP_H_REQID) { /* the caller's own id, kept for the result */
        for (struct curl_slist *u = x->user_headers; u; u = u->next) {
            if (strncasecmp(u->data, "client-request-id:", 18) == 0) {
                const char *v = u->data + 18;
                while (*v == ' ')
                    v++;
                size_t vn = strlen(v);
                if (vn > 36)
                    vn = 36;
                memcpy(x->request_guid, v, vn);
                x->request_guid[vn] = '\0';
            }
        }
    } else {
        ap_guid(x->request_guid);
    }
    x->id = s->next_id++;
    x->state = AP_XS_QUEUED;
    ap_list_push(&s->queued, x); /* owned from here on */

    lua_settop(L, url_i - 1);
    lua_getiuservalue(L, 1, AP_UV_TAGS);
    lua_getfield(L, idx, "tag");
    lua_rawseti(L, -2, x->id);
    lua_pop(L, 1);
    return x->id;
}
