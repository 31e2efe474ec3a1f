/*
 * lua-autopilot: the Session userdata (autopilot.Session): construction from its options, submit / poll /
 * request, configure, counters, and the one idempotent close shared by close, __gc and __close. Every C
 * resource (the multi handle, each transfer with its easy handle, header lists and buffers) is owned by
 * the session and freed in close; the userdata is created closed first so __gc tolerates a
 * half-initialised session. Between engine steps, the gate runs what waits for Lua.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "auth_options.h"
#include "clock.h"
#include "core_open.h"
#include "engine.h"
#include "gate.h"
#include "options.h"
#include "random.h"
#include "request.h"
#include "result.h"
#include "session.h"
#include "token_info.h"

#define DEFAULT_MAX_BODY ((lua_Integer)64 << 20)     /* a real Graph page is a few MB at most */
#define DEFAULT_MAX_HEADERS ((lua_Integer)256 << 10) /* a real Graph reply's are a few KB */
#define MAX_CAP ((lua_Integer)1 << 40)
#define MAX_CONCURRENCY 4096 /* a bulk run adds read slots to the 1024 writes autopilot.checks allows */

static ap_session *check_session(lua_State *L)
{
    return luaL_checkudata(L, 1, AP_SESSION_MT);
}

static ap_session *check_open(lua_State *L)
{
    ap_session *s = check_session(L);
    if (!s->open)
        luaL_error(L, "attempt to use a closed session");
    if (s->busy)
        luaL_error(L, "session is busy (re-entrant call)");
    return s;
}

/* ---- options ------------------------------------------------------------------------------------- */

static const char *const session_keys[] = {"user_agent",
                                           "timeout",
                                           "connect_timeout",
                                           "stall_timeout",
                                           "ca_file",
                                           "ca_path",
                                           "insecure_skip_tls_verify",
                                           "max_retries",
                                           "max_retry_wait",
                                           "backoff_base",
                                           "backoff_cap",
                                           "concurrency",
                                           "limit",
                                           "max_response_bytes",
                                           "max_header_bytes",
                                           "on_retry",
                                           "auth",
                                           NULL};

/* limit = { writes =, seconds = } | false | nil (keep). */
static void read_limit(lua_State *L, ap_session *s, int idx)
{
    int t = lua_getfield(L, idx, "limit");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    int writes = 0;
    double seconds = 0;
    if (t == LUA_TTABLE) {
        static const char *const keys[] = {"writes", "seconds", NULL};
        ap_opts o = ap_opts_of(L, -1, "limit", 1);
        ap_opts_check_keys(&o, keys);
        writes = (int)ap_opts_integer(&o, "writes", 100, 1, 1000000);
        seconds = ap_opts_number(&o, "seconds", 20, 0.001, 86400);
    } else if (t != LUA_TBOOLEAN || lua_toboolean(L, -1)) {
        luaL_error(L, "option 'limit' must be a table or false (got %s)", lua_typename(L, t));
    }
    lua_pop(L, 1);
    if (ap_pacing_set_limit(&s->pacing, writes, seconds) != 0)
        luaL_error(L, "not enough memory");
}

static long ms_of(double seconds)
{
    return (long)ceil(seconds * 1000.0);
}

static void set_concurrency(ap_session *s, int concurrency)
{
    s->concurrency = concurrency;
    /* keep enough idle connections for every transfer slot to find its own again */
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)(concurrency + 4));
}

static int l_session(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    ap_session *s = lua_newuserdatauv(L, sizeof *s, AP_SESSION_UVS);
    memset(s, 0, sizeof *s); /* closed: every pointer NULL, __gc has nothing to free */
    s->sockets.epfd = -1;
    ap_pacing_init(&s->pacing);
    luaL_setmetatable(L, AP_SESSION_MT);
    lua_newtable(L);
    lua_setiuservalue(L, 2, AP_UV_TAGS);

    ap_opts o = ap_opts_of(L, 1, "session", 0);
    ap_opts_check_keys(&o, session_keys);
    ap_transport *tp = &s->transport;
    tp->user_agent = ap_opts_strdup(&o, "user_agent", AP_OPT_NO_CTRL);
    if (!tp->user_agent) {
        lua_pushfstring(L, "lua-autopilot/%s libcurl/%s", AP_VERSION,
                        curl_version_info(CURLVERSION_NOW)->version);
        tp->user_agent = strdup(lua_tostring(L, -1));
        lua_pop(L, 1);
        if (!tp->user_agent)
            luaL_error(L, "not enough memory");
    }
    tp->timeout_ms = ms_of(ap_opts_number(&o, "timeout", 100, 0.001, 86400));
    tp->connect_timeout_ms = ms_of(ap_opts_number(&o, "connect_timeout", 10, 0.001, 86400));
    /* curl's low-speed window is whole seconds: less than one cannot be kept */
    tp->stall_seconds = (long)ceil(ap_opts_number(&o, "stall_timeout", 30, 1, 86400));
    tp->max_body = (size_t)ap_opts_integer(&o, "max_response_bytes", DEFAULT_MAX_BODY, 1, MAX_CAP);
    tp->max_headers = (size_t)ap_opts_integer(&o, "max_header_bytes", DEFAULT_MAX_HEADERS, 1, MAX_CAP);
    tp->ca_file = ap_opts_strdup(&o, "ca_file", AP_OPT_NO_NUL);
    tp->ca_path = ap_opts_strdup(&o, "ca_path", AP_OPT_NO_NUL);
    tp->insecure = ap_opts_boolean(&o, "insecure_skip_tls_verify", 0);
    s->retry.max_retries = (int)ap_opts_integer(&o, "max_retries", 6, 0, 100);
    s->retry.max_retry_wait = ap_opts_number(&o, "max_retry_wait", 600, 0, 86400 * 7);
    s->retry.backoff_base = ap_opts_number(&o, "backoff_base", 1, 0, 86400);
    s->retry.backoff_cap = ap_opts_number(&o, "backoff_cap", 60, 0, 86400);
    s->retry.rng = ap_random_seed();
    int concurrency = (int)ap_opts_integer(&o, "concurrency", 8, 1, MAX_CONCURRENCY);
    read_limit(L, s, 1);
    int t = lua_getfield(L, 1, "on_retry");
    if (t == LUA_TFUNCTION) {
        s->retry_events.enabled = 1;
        lua_setiuservalue(L, 2, AP_UV_ON_RETRY);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'on_retry' must be a function (got %s)", lua_typename(L, t));
    } else {
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "auth");
    if (ap_auth_options(L, &s->auth, lua_gettop(L)))
        lua_setiuservalue(L, 2, AP_UV_AUTH); /* the callbacks the gate calls */
    lua_settop(L, 2);

    s->multi = curl_multi_init();
    if (!s->multi)
        luaL_error(L, "curl_multi_init failed");
    if (ap_sockets_open(&s->sockets, s->multi) != 0)
        luaL_error(L, "epoll_create1 failed: %s", strerror(errno));
    set_concurrency(s, concurrency);
    tp->share = curl_share_init(); /* TLS session resumption across the session's easy handles */
    if (tp->share)
        curl_share_setopt(tp->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    s->next_id = 1;
    s->open = 1;
    return 1;
}

/* ---- submitting and running ---------------------------------------------------------------------- */

/* Checks and queues the request table at index 2; returns its id. */
static lua_Integer queue_request(lua_State *L, ap_session *s)
{
    ap_xfer *x = ap_request_new(L, 2);
    x->id = s->next_id++;
    ap_engine_queue(s, x); /* owned by the session from here on */
    lua_getiuservalue(L, 1, AP_UV_TAGS);
    lua_getfield(L, 2, "tag");
    lua_rawseti(L, -2, x->id);
    lua_pop(L, 1);
    return x->id;
}

static int l_submit(lua_State *L)
{
    lua_pushinteger(L, queue_request(L, check_open(L)));
    return 1;
}

static int has_done(const ap_session *s, lua_Integer id)
{
    for (const ap_xfer *x = s->done.head; x; x = x->next)
        if (id == 0 || x->id == id)
            return 1;
    return 0;
}

/* engine_loop(session, deadline, stop_id): steps the engine and the gate until the transfer stop_id (0:
 * any) is done, nothing is left that could end, or the deadline passes; sleeps only while nothing can
 * happen. */
static int engine_loop(lua_State *L)
{
    ap_session *s = lua_touserdata(L, 1);
    double deadline = lua_tonumber(L, 2);
    lua_Integer stop_id = lua_tointeger(L, 3);
    for (;;) {
        double next;
        int ended = ap_engine_step(s, &next);
        if (ap_gate_pending(s)) {
            ap_gate_run(L, 1, s);
            ended++;
        }
        if (has_done(s, stop_id) || ap_engine_active(s) == 0)
            return 0;
        if (ended)
            continue; /* a slot or the token may have freed up */
        if (ap_now() >= deadline)
            return 0;
        ap_engine_wait(s, next < deadline ? next : deadline);
    }
}

/* Runs the loop under lua_pcall so the busy flag is always cleared; re-raises its error. */
static void run(lua_State *L, ap_session *s, double deadline, lua_Integer stop_id)
{
    lua_pushcfunction(L, engine_loop);
    lua_pushvalue(L, 1);
    lua_pushnumber(L, deadline);
    lua_pushinteger(L, stop_id);
    s->busy = 1;
    int rc = lua_pcall(L, 3, 0, 0);
    s->busy = 0;
    if (rc != LUA_OK)
        lua_error(L);
}

/* Pushes a finished transfer's result, forgets its tag and frees it. */
static void push_taken(lua_State *L, ap_xfer *x, int tags)
{
    ap_push_result(L, x, tags);
    lua_pushnil(L);
    lua_rawseti(L, tags, x->id);
    ap_xfer_free(x);
}

static int l_poll(lua_State *L)
{
    ap_session *s = check_open(L);
    double timeout = HUGE_VAL;
    if (!lua_isnoneornil(L, 2)) {
        timeout = luaL_checknumber(L, 2);
        luaL_argcheck(L, timeout >= 0, 2, "timeout must not be negative");
    }
    lua_settop(L, 1);
    if (s->done.count == 0 && ap_engine_active(s) > 0)
        run(L, s, timeout == HUGE_VAL ? HUGE_VAL : ap_now() + timeout, 0);
    lua_getiuservalue(L, 1, AP_UV_TAGS);
    int tags = lua_gettop(L);
    lua_createtable(L, s->done.count, 0);
    lua_Integer i = 1;
    ap_xfer *x;
    while ((x = ap_engine_take(s, 0))) {
        push_taken(L, x, tags);
        lua_rawseti(L, -2, i++);
    }
    return 1;
}

static int l_request(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_settop(L, 2);
    lua_Integer id = queue_request(L, s);
    lua_settop(L, 1);
    run(L, s, HUGE_VAL, id);
    lua_getiuservalue(L, 1, AP_UV_TAGS);
    ap_xfer *x = ap_engine_take(s, id);
    if (!x)
        return luaL_error(L, "request %d did not finish", (int)id); /* not reached */
    push_taken(L, x, lua_gettop(L));
    return 1;
}

static int l_cancel(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_pushboolean(L, ap_engine_cancel(s, luaL_checkinteger(L, 2)));
    return 1;
}

static int l_configure(lua_State *L)
{
    ap_session *s = check_open(L);
    static const char *const keys[] = {"concurrency", "limit", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    ap_opts o = ap_opts_of(L, 2, "configure", 0);
    ap_opts_check_keys(&o, keys);
    int concurrency = (int)ap_opts_integer(&o, "concurrency", s->concurrency, 1, MAX_CONCURRENCY);
    read_limit(L, s, 2);
    if (concurrency != s->concurrency)
        set_concurrency(s, concurrency);
    return 0;
}

/* ---- the rest ---------------------------------------------------------------------------------- */

static int l_pending(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_pushinteger(L, ap_engine_active(s) + s->done.count);
    return 1;
}

static int l_stats(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, s->stats.requests);
    lua_setfield(L, -2, "requests");
    lua_pushinteger(L, s->stats.retries);
    lua_setfield(L, -2, "retries");
    lua_pushinteger(L, s->stats.throttled);
    lua_setfield(L, -2, "throttled");
    lua_pushnumber(L, ap_pacing_paused_seconds(&s->pacing, ap_now()));
    lua_setfield(L, -2, "paused_seconds");
    lua_pushinteger(L, s->auth.token.fetched);
    lua_setfield(L, -2, "tokens_fetched");
    lua_pushinteger(L, s->stats.connections);
    lua_setfield(L, -2, "connections");
    lua_pushinteger(L, s->stats.batch_items);
    lua_setfield(L, -2, "batch_items");
    ap_pacing_push(L, &s->pacing, ap_now(), ap_engine_queued_writes(s));
    return 1;
}

/* The descriptor a host's event loop waits on: readable when the session has socket work for step. */
static int l_pollfd(lua_State *L)
{
    lua_pushinteger(L, check_open(L)->sockets.epfd);
    return 1;
}

/* hold_descriptor(): close leaves the descriptor open (watching nothing) until the session is collected,
 * for a host loop that may still have it registered when the session closes. */
static int l_hold_descriptor(lua_State *L)
{
    check_open(L)->sockets.held = 1;
    return 0;
}

/* Seconds until the session needs a step without news on its descriptor: 0 when results or callbacks
 * wait, nil when no time is due (nothing pending, or only the descriptor can bring news). */
static int l_timeout(lua_State *L)
{
    ap_session *s = check_open(L);
    double at = s->done.count > 0 || ap_gate_pending(s) ? 0 : ap_engine_wake_at(s);
    if (at == HUGE_VAL) {
        lua_pushnil(L);
        return 1;
    }
    double now = ap_now();
    lua_pushnumber(L, at > now ? at - now : 0);
    return 1;
}

static int l_token_info(lua_State *L)
{
    ap_session *s = check_open(L);
    ap_push_token_info(L, &s->auth);
    return 1;
}

/* The one close: idempotent, safe on a half-initialised session. */
static void session_close(ap_session *s)
{
    s->open = 0;
    ap_engine_close(s);
    ap_auth_free(&s->auth);
    ap_pacing_free(&s->pacing);
    ap_transport *tp = &s->transport;
    if (tp->share)
        curl_share_cleanup(tp->share);
    tp->share = NULL;
    free(tp->user_agent), tp->user_agent = NULL;
    free(tp->ca_file), tp->ca_file = NULL;
    free(tp->ca_path), tp->ca_path = NULL;
}

static int l_close(lua_State *L)
{
    ap_session *s = check_session(L);
    if (s->busy)
        return luaL_error(L, "session is busy (re-entrant call)");
    session_close(s);
    return 0;
}

static int l_gc(lua_State *L)
{
    ap_session *s = check_session(L);
    session_close(s);
    ap_sockets_release(&s->sockets);
    return 0;
}

static int l_tostring(lua_State *L)
{
    ap_session *s = check_session(L);
    if (s->open)
        lua_pushfstring(L, "%s (open, %d pending)", AP_SESSION_MT, ap_engine_active(s) + s->done.count);
    else
        lua_pushfstring(L, "%s (closed)", AP_SESSION_MT);
    return 1;
}

/* ---- registration ------------------------------------------------------------------------------ */

static const luaL_Reg session_methods[] = {{"submit", l_submit},
                                           {"poll", l_poll},
                                           {"request", l_request},
                                           {"pending", l_pending},
                                           {"stats", l_stats},
                                           {"close", l_close},
                                           {"token_info", l_token_info},
                                           {"configure", l_configure},
                                           {"cancel", l_cancel},
                                           {"pollfd", l_pollfd},
                                           {"timeout", l_timeout},
                                           {"hold_descriptor", l_hold_descriptor},
                                           {NULL, NULL}};

static const luaL_Reg session_meta[] = {
    {"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring}, {"__index", NULL}, {NULL, NULL}};

static const luaL_Reg module_funcs[] = {{"session", l_session}, {NULL, NULL}};

void ap_open_session(lua_State *L)
{
    luaL_newmetatable(L, AP_SESSION_MT);
    luaL_setfuncs(L, session_meta, 0);
    luaL_newlibtable(L, session_methods);
    luaL_setfuncs(L, session_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_setfuncs(L, module_funcs, 0); /* into the module table below */
}
