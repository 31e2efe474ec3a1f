/*
 * lua-autopilot emulator host: the server's own lua_State.
 * Every entry into it runs under lua_pcall with the server lock held, so no Lua error ever unwinds through
 * libmicrohttpd; values cross back into C only after the protected call has returned.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <lualib.h>

#include "clock.h"
#include "host.h"

#define JSON_KEY "autopilot.emulator.host.json" /* registry: the server state's private cjson.safe */

static const char *const fault_names[] = {"none", "reset", "truncate", "stall", "drop", "trickle", NULL};

/* ---- opening ---- */

struct open_args {
    const char *app, *config, *path, *cpath;
    size_t config_len;
    int ref;
};

static int open_protected(lua_State *L)
{
    struct open_args *a = lua_touserdata(L, 1);
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_autopilot_emulator_crypto);
    lua_setfield(L, -2, "autopilot.emulator.crypto");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    if (a->path) {
        lua_pushstring(L, a->path);
        lua_setfield(L, -2, "path");
    }
    if (a->cpath) {
        lua_pushstring(L, a->cpath);
        lua_setfield(L, -2, "cpath");
    }
    lua_pop(L, 1);
    /* a private cjson.safe instance for config, call arguments and results */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson.safe");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, JSON_KEY);
    if (a->config) {
        lua_getfield(L, -1, "decode");
        lua_pushlstring(L, a->config, a->config_len);
        lua_call(L, 1, 2);
        if (lua_isnil(L, -2))
            return luaL_error(L, "config is not valid JSON: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
    } else {
        lua_newtable(L);
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, a->app);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "module '%s' is not a table", a->app);
    lua_getfield(L, -1, "new");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "module '%s' has no function 'new'", a->app);
    lua_pushvalue(L, -3); /* config */
    lua_pushnumber(L, ap_now());
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1))
        return luaL_error(L, "%s.new returned no app", a->app);
    a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int state_open(struct server *s, const char *app, const char *config, size_t config_len, const char *path,
               const char *cpath, const char **err)
{
    struct open_args a;
    a.app = app;
    a.config = config;
    a.config_len = config_len;
    a.path = path;
    a.cpath = cpath;
    a.ref = LUA_NOREF;
    s->L = luaL_newstate();
    if (!s->L) {
        *err = "cannot create the server's Lua state (out of memory)";
        return 0;
    }
    lua_pushcfunction(s->L, open_protected);
    lua_pushlightuserdata(s->L, &a);
    if (lua_pcall(s->L, 1, 0, 0) != LUA_OK) {
        *err = lua_tostring(s->L, -1); /* stays on the server stack until state_close */
        if (!*err)
            *err = "the app failed to start";
        return 0;
    }
    s->app_ref = a.ref;
    return 1;
}

void state_close(struct server *s)
{
    if (s->L) {
        lua_close(s->L);
        s->L = NULL;
    }
}

/* ---- handling a request ---- */

struct handle_args {
    struct exchange *ex;
    const char *method;
    int app_ref;
};

static void push_headers(lua_State *L, const struct exchange *ex)
{
    size_t i, j;
    lua_createtable(L, 0, (int)(ex->hdr_count / 2));
    for (i = 0; i + 1 < ex->hdr_count; i += 2) {
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, ex->hdr_len[i] + 1);
        for (j = 0; j < ex->hdr_len[i]; j++)
            p[j] = (char)tolower((unsigned char)ex->hdr[i][j]);
        luaL_pushresultsize(&b, ex->hdr_len[i]);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, -3) == LUA_TSTRING) { /* a repeated header: join the values as HTTP allows */
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, ex->hdr[i + 1], ex->hdr_len[i + 1]);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, ex->hdr[i + 1], ex->hdr_len[i + 1]);
        }
        lua_rawset(L, -3);
    }
}

/* Checks resp (at idx) and leaves status, body, delay, fault, flat headers {n1, v1, n2, v2, ...}. */
static void normalize(lua_State *L, int idx)
{
    lua_Integer status;
    double delay;
    int fault, n = 0;
    if (!lua_istable(L, idx))
        luaL_error(L, "handle returned %s, not a table", luaL_typename(L, idx));
    lua_getfield(L, idx, "status");
    if (lua_isnil(L, -1)) {
        status = 200;
    } else {
        int isint = 0;
        status = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || status < 100 || status > 999)
            luaL_error(L, "resp.status must be an HTTP status code");
    }
    lua_pop(L, 1);
    lua_pushinteger(L, status);
    lua_getfield(L, idx, "body");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "");
    } else if (lua_type(L, -1) != LUA_TSTRING) {
        luaL_error(L, "resp.body must be a string, not %s", luaL_typename(L, -1));
    }
    lua_getfield(L, idx, "delay");
    delay = lua_isnil(L, -1) ? 0 : lua_tonumber(L, -1);
    if ((!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER) || !(delay >= 0) || !isfinite(delay) ||
        delay > 86400)
        luaL_error(L, "resp.delay must be a number of seconds between 0 and 86400");
    lua_pop(L, 1);
    lua_pushnumber(L, delay);
    lua_getfield(L, idx, "fault");
    fault = FAULT_NONE;
    if (!lua_isnil(L, -1)) {
        const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        for (fault = 1; fault_names[fault] && strcmp(fault_names[fault], name) != 0; fault++) {
        }
        if (!fault_names[fault])
            luaL_error(L, "resp.fault must be one of reset, truncate, stall, drop, trickle");
    }
    lua_pop(L, 1);
    lua_pushinteger(L, fault);
    lua_newtable(L);
    lua_getfield(L, idx, "headers");
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                luaL_error(L, "resp.headers keys must be strings");
            if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
                luaL_error(L, "resp.headers['%s'] must be a string", lua_tostring(L, -2));
            lua_pushvalue(L, -2);
            lua_rawseti(L, -5, ++n);
            lua_pushstring(L, lua_tostring(L, -1)); /* a copy, so numbers convert without disturbing next */
            lua_rawseti(L, -5, ++n);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static int handle_protected(lua_State *L)
{
    struct handle_args *a = lua_touserdata(L, 1);
    struct exchange *ex = a->ex;
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->app_ref); /* 2 */
    lua_getfield(L, 2, "handle");
    lua_pushvalue(L, 2);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, ex->srv->tls ? "https" : "http");
    lua_setfield(L, -2, "scheme");
    lua_pushstring(L, a->method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, ex->target);
    lua_setfield(L, -2, "target");
    push_headers(L, ex);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, ex->body ? ex->body : "", ex->body_len);
    lua_setfield(L, -2, "body");
    lua_pushnumber(L, ap_now());
    lua_setfield(L, -2, "now");
    lua_call(L, 2, 1); /* 3: resp */
    normalize(L, 3);
    return 5;
}

/* One line on stderr: the method, the path without its query (it may carry codes), the error. */
static void log_app_error(const char *method, const char *target, const char *msg)
{
    size_t plen = strcspn(target, "?");
    char line[1024];
    size_t i;
    snprintf(line, sizeof line, "%s", msg ? msg : "(error object is not a string)");
    for (i = 0; line[i]; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    fprintf(stderr, "autopilot-emulator: app error on %s %.*s: %s\n", method, (int)(plen > 200 ? 200 : plen),
            target, line);
}

static int has_header(lua_State *L, int flat, const char *name)
{
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, flat);
    for (i = 1; i <= n; i += 2) {
        int same;
        lua_rawgeti(L, flat, i);
        same = strcasecmp(lua_tostring(L, -1), name) == 0;
        lua_pop(L, 1);
        if (same)
            return 1;
    }
    return 0;
}

/* Builds the MHD reply from the normalized values on top of L (no Lua call here can raise). */
static void build_reply(lua_State *L, struct exchange *ex, const char *method, int want_gzip)
{
    size_t len;
    lua_Integer i, n;
    int status = (int)lua_tointeger(L, -5);
    const char *body = lua_tolstring(L, -4, &len);
    enum host_fault fault = (enum host_fault)lua_tointeger(L, -2);
    int bodyless = len == 0 || status < 200 || status == 204 || status == 304 || strcmp(method, "HEAD") == 0;
    struct MHD_Response *r = NULL;
    ex->status = (unsigned)status;
    ex->fault = fault;
    if (fault == FAULT_DROP || fault == FAULT_STALL)
        return;
    if (fault == FAULT_RESET || fault == FAULT_TRUNCATE || fault == FAULT_TRICKLE) {
        if (bodyless)
            return; /* nothing to cut: reset (RST) or close at once */
        r = reply_fault(ex->srv, ex->conn, fault, body, len);
    } else {
        want_gzip = want_gzip && !has_header(L, lua_gettop(L), "Content-Encoding");
        r = reply_plain(body, len, want_gzip);
        if (r && want_gzip && len > 0 && !has_header(L, lua_gettop(L), "Vary"))
            MHD_add_response_header(r, "Vary", "Accept-Encoding");
    }
    if (!r) {
        ex->fault = FAULT_NONE;
        ex->status = 500;
        ex->reply = reply_error("InternalServerError", "The emulator ran out of memory.");
        return;
    }
    n = (lua_Integer)lua_rawlen(L, -1);
    for (i = 1; i + 1 <= n; i += 2) {
        lua_rawgeti(L, -1, i);
        lua_rawgeti(L, -2, i + 1);
        reply_header(r, lua_tostring(L, -2), lua_tostring(L, -1));
        lua_pop(L, 2);
    }
    ex->reply = r;
}

double state_handle(struct server *s, struct exchange *ex, struct MHD_Connection *conn, const char *method)
{
    lua_State *L = s->L;
    struct handle_args a;
    int top;
    double delay = 0;
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    a.ex = ex;
    a.method = method;
    a.app_ref = s->app_ref;
    pthread_mutex_lock(&s->lock);
    top = lua_gettop(L);
    if (!lua_checkstack(L, 12)) {
        log_app_error(method, ex->target, "Lua stack overflow");
        ex->status = 500;
        ex->reply = reply_error("InternalServerError",
                                "The emulator's app failed; see the emulator's standard error.");
    } else {
        lua_pushcfunction(L, handle_protected);
        lua_pushlightuserdata(L, &a);
        if (lua_pcall(L, 1, 5, 0) != LUA_OK) {
            log_app_error(method, ex->target, lua_tostring(L, -1));
            ex->status = 500;
            ex->fault = FAULT_NONE;
            ex->reply = reply_error("InternalServerError",
                                    "The emulator's app failed; see the emulator's standard error.");
        } else {
            delay = lua_tonumber(L, -3);
            build_reply(L, ex, method, reply_accepts_gzip(ae));
        }
    }
    lua_settop(L, top);
    pthread_mutex_unlock(&s->lock);
    return delay;
}

/* ---- srv:call ---- */

struct call_args {
    const char *name, *arg;
    size_t len;
    int app_ref;
};

static int call_protected(lua_State *L)
{
    struct call_args *a = lua_touserdata(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, JSON_KEY);  /* 2 */
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->app_ref); /* 3 */
    lua_getfield(L, 3, a->name);                   /* 4 */
    if (!lua_isfunction(L, 4))
        return luaL_error(L, "the app has no method '%s'", a->name);
    lua_pushvalue(L, 3);
    if (a->arg && a->len > 0) {
        lua_getfield(L, 2, "decode");
        lua_pushlstring(L, a->arg, a->len);
        lua_call(L, 1, 2);
        if (lua_isnil(L, -2))
            return luaL_error(L, "argument is not valid JSON: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
    } else {
        lua_pushnil(L);
    }
    lua_pushnumber(L, ap_now());
    lua_call(L, 3, 1); /* 4: result */
    lua_getfield(L, 2, "encode");
    lua_pushvalue(L, 4);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2))
        return luaL_error(L, "cannot encode the result of '%s' as JSON: %s", a->name, lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
}

static int keep(struct server *s, const char *p, size_t len)
{
    if (len + 1 > s->callbuf_cap) {
        char *b = realloc(s->callbuf, len + 1);
        if (!b)
            return 0;
        s->callbuf = b;
        s->callbuf_cap = len + 1;
    }
    memcpy(s->callbuf, p, len);
    s->callbuf[len] = '\0';
    return 1;
}

int state_call(struct server *s, const char *name, const char *arg, size_t arg_len, const char **out,
               size_t *out_len)
{
    lua_State *L = s->L;
    struct call_args a;
    int top, ok;
    const char *p;
    size_t len = 0;
    a.name = name;
    a.arg = arg;
    a.len = arg_len;
    a.app_ref = s->app_ref;
    pthread_mutex_lock(&s->lock);
    top = lua_gettop(L);
    lua_pushcfunction(L, call_protected);
    lua_pushlightuserdata(L, &a);
    ok = lua_pcall(L, 1, 1, 0) == LUA_OK;
    p = lua_tolstring(L, -1, &len);
    if (!p) {
        p = "(error object is not a string)";
        len = strlen(p);
    }
    if (keep(s, p, len)) {
        *out = s->callbuf;
        *out_len = len;
    } else {
        ok = 0;
        *out = "out of memory";
        *out_len = 13;
    }
    lua_settop(L, top);
    pthread_mutex_unlock(&s->lock);
    return ok;
}
