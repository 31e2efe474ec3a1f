/*
 * lua-autopilot: the Session userdata (autopilot.Session). Options, submit/poll/request, counters and
 * the one idempotent close shared by close, __gc and __close. Every C resource (the multi handle, each
 * transfer with its easy handle, header lists and buffers) is owned by the session and freed in
 * close; the userdata is created closed first so __gc tolerates a half-initialised session.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* ---- helpers ------------------------------------------------------------------------------------- */

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

static char *dup_lstring(lua_State *L, const char *v, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        luaL_error(L, "not enough memory");
    memcpy(d, v, n);
    d[n] = '\0';
    return d;
}

void ap_check_keys(lua_State *L, int idx, const char *what, const char *const *allowed)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: option names must be strings", what);
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0)
                ok = 1;
        if (!ok)
            luaL_error(L, "%s: unknown option '%s'", what, k);
    }
}

/* opts.key as a number in [lo, hi], or dflt when absent. */
static double opt_number(lua_State *L, int idx, const char *key, double dflt, double lo, double hi)
{
    int t = lua_getfield(L, idx, key);
    double v = dflt;
    if (t != LUA_TNIL) {
        if (t != LUA_TNUMBER)
            luaL_error(L, "option '%s' must be a number (got %s)", key, lua_typename(L, t));
        v = lua_tonumber(L, -1);
        if (!(v >= lo && v <= hi))
            luaL_error(L, "option '%s' must be between %g and %g", key, lo, hi);
    }
    lua_pop(L, 1);
    return v;
}

static lua_Integer opt_integer(lua_State *L, int idx, const char *key, lua_Integer dflt, lua_Integer lo,
                               lua_Integer hi)
{
    int t = lua_getfield(L, idx, key);
    lua_Integer v = dflt;
    if (t != LUA_TNIL) {
        int isint = 0;
        v = lua_tointegerx(L, -1, &isint);
        if (t != LUA_TNUMBER || !isint)
            luaL_error(L, "option '%s' must be an integer (got %s)", key, lua_typename(L, t));
        if (v < lo || v > hi)
            luaL_error(L, "option '%s' must be between %d and %d", key, (int)lo, (int)hi);
    }
    lua_pop(L, 1);
    return v;
}

static char *opt_string(lua_State *L, int idx, const char *key)
{
    int t = lua_getfield(L, idx, key);
    char *v = NULL;
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING)
            luaL_error(L, "option '%s' must be a string (got %s)", key, lua_typename(L, t));
        size_t n;
        const char *p = lua_tolstring(L, -1, &n);
        if (strlen(p) != n)
            luaL_error(L, "option '%s' must not contain NUL", key);
        v = dup_lstring(L, p, n);
    }
    lua_pop(L, 1);
    return v;
}

/* ---- construction -------------------------------------------------------------------------------- */

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
                                           "auth",
                                           "decode",
                                           NULL};

/* Installs a write budget of `writes` per `seconds` (writes 0: none), keeping the most recent starts
 * of the previous one so a change at run time does not hand out a fresh burst. */
static void set_limit(lua_State *L, ap_session *s, int writes, double seconds)
{
    double *ring = NULL;
    int count = 0;
    if (writes > 0) {
        ring = calloc((size_t)writes, sizeof *ring);
        if (!ring)
            luaL_error(L, "not enough memory");
        int keep = s->write_count < writes ? s->write_count : writes;
        for (int i = 0; i < keep; i++) /* oldest first */
            ring[i] = s->write_starts[(s->write_head + s->write_count - keep + i) % s->limit_writes];
        count = keep;
    }
    free(s->write_starts);
    s->write_starts = ring;
    s->limit_writes = writes;
    s->limit_seconds = seconds;
    s->write_head = 0;
    s->write_count = count;
}

static void parse_limit(lua_State *L, ap_session *s, int idx)
{
    int t = lua_getfield(L, idx, "limit");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        set_limit(L, s, 0, 0);
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "option 'limit' must be a table or false (got %s)", lua_typename(L, t));
    static const char *const keys[] = {"writes", "seconds", NULL};
    int li = lua_gettop(L);
    ap_check_keys(L, li, "limit", keys);
    int writes = (int)opt_integer(L, li, "writes", 100, 1, 1000000);
    double seconds = opt_number(L, li, "seconds", 20, 0.001, 86400);
    set_limit(L, s, writes, seconds);
    lua_pop(L, 1);
}

static void parse_decode(lua_State *L, int opts, int ud)
{
    int t = lua_getfield(L, opts, "decode");
    if (t == LUA_TNIL) { /* default: a private cjson.safe instance */
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "cjson.safe");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "new");
        lua_call(L, 0, 1);
        lua_getfield(L, -1, "decode");
        lua_replace(L, -3);
        lua_pop(L, 1);
    } else if (t != LUA_TFUNCTION) {
        luaL_error(L, "option 'decode' must be a function (got %s)", lua_typename(L, t));
    }
    lua_setiuservalue(L, ud, AP_UV_DECODE);
}

static long ms_of(double seconds)
{
    return (long)ceil(seconds * 1000.0);
}

static int l_session(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    ap_session *s = lua_newuserdatauv(L, sizeof *s, AP_SESSION_UVS);
    memset(s, 0, sizeof *s); /* closed: every pointer NULL, __gc has nothing to free */
    luaL_setmetatable(L, AP_SESSION_MT);
    lua_newtable(L);
    lua_setiuservalue(L, 2, AP_UV_TAGS);

    ap_check_keys(L, 1, "session", session_keys);
    s->user_agent = opt_string(L, 1, "user_agent");
    if (!s->user_agent) {
        const char *cv = curl_version_info(CURLVERSION_NOW)->version;
        lua_pushfstring(L, "lua-autopilot/%s libcurl/%s", AP_VERSION, cv);
        s->user_agent = dup_lstring(L, lua_tostring(L, -1), lua_rawlen(L, -1));
        lua_pop(L, 1);
    }
    s->timeout_ms = ms_of(opt_number(L, 1, "timeout", 100, 0.001, 86400));
    s->connect_timeout_ms = ms_of(opt_number(L, 1, "connect_timeout", 10, 0.001, 86400));
    s->stall_seconds = (long)ceil(opt_number(L, 1, "stall_timeout", 30, 0.001, 86400));
    s->ca_file = opt_string(L, 1, "ca_file");
    s->ca_path = opt_string(L, 1, "ca_path");
    int t = lua_getfield(L, 1, "insecure_skip_tls_verify");
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_error(L, "option 'insecure_skip_tls_verify' must be a boolean (got %s)", lua_typename(L, t));
    s->insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    s->max_retries = (int)opt_integer(L, 1, "max_retries", 6, 0, 100);
    s->max_retry_wait = opt_number(L, 1, "max_retry_wait", 600, 0, 86400 * 7);
    s->backoff_base = opt_number(L, 1, "backoff_base", 1, 0, 86400);
    s->backoff_cap = opt_number(L, 1, "backoff_cap", 60, 0, 86400);
    s->concurrency = (int)opt_integer(L, 1, "concurrency", 8, 1, 4096);
    parse_limit(L, s, 1);
    parse_decode(L, 1, 2);
    lua_getfield(L, 1, "auth");
    ap_auth_parse(L, s, lua_gettop(L), 2);
    lua_pop(L, 1);

    if (ap_random_bytes(&s->rng, sizeof s->rng) != 0)
        s->rng = (uint64_t)(ap_now() * 1e9);
    s->multi = curl_multi_init();
    if (!s->multi)
        luaL_error(L, "curl_multi_init failed");
    /* keep enough idle connections for every transfer slot to find its own again */
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)(s->concurrency + 4));
    s->share = curl_share_init(); /* TLS session resumption across the session's easy handles */
    if (s->share)
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    s->next_id = 1;
    s->open = 1;
    return 1;
}

static int l_submit(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_pushinteger(L, ap_submit(L, s, 2));
    return 1;
}

/* ---- running the engine -------------------------------------------------------------------------- */

static int engine_step(lua_State *L)
{
    ap_session *s = lua_touserdata(L, 1);
    ap_engine_run(L, s, lua_tonumber(L, 2), lua_tointeger(L, 3));
    return 0;
}

/* Runs the engine under lua_pcall so the busy flag is always cleared; re-raises its error. */
static void run(lua_State *L, ap_session *s, double deadline, lua_Integer stop_id)
{
    lua_pushcfunction(L, engine_step);
    lua_pushvalue(L, 1);
    lua_pushnumber(L, deadline);
    lua_pushinteger(L, stop_id);
    s->busy = 1;
    int rc = lua_pcall(L, 3, 0, 0);
    s->busy = 0;
    if (rc != LUA_OK)
        lua_error(L);
}

/* Pushes a finished transfer's result and frees it. */
static void take_result(lua_State *L, ap_session *s, ap_xfer *x, int tags)
{
    ap_push_result(L, s, x, tags);
    lua_pushnil(L);
    lua_rawseti(L, tags, x->id);
    ap_list_remove(&s->done, x);
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
    if (s->done.count == 0 && s->queued.count + s->running.count > 0)
        run(L, s, timeout == HUGE_VAL ? HUGE_VAL : ap_now() + timeout, 0);
    lua_getiuservalue(L, 1, AP_UV_TAGS);
    int tags = lua_gettop(L);
    lua_createtable(L, s->done.count, 0);
    lua_Integer i = 1;
    while (s->done.head) {
        take_result(L, s, s->done.head, tags);
        lua_rawseti(L, -2, i++);
    }
    return 1;
}

static int l_request(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_settop(L, 2);
    lua_Integer id = ap_submit(L, s, 2);
    lua_settop(L, 1);
    run(L, s, HUGE_VAL, id);
    lua_getiuservalue(L, 1, AP_UV_TAGS);
    int tags = lua_gettop(L);
    for (ap_xfer *x = s->done.head; x; x = x->next) {
        if (x->id == id) {
            take_result(L, s, x, tags);
            return 1;
        }
    }
    return luaL_error(L, "request %d did not finish", (int)id); /* not reached */
}

static int l_configure(lua_State *L)
{
    ap_session *s = check_open(L);
    static const char *const keys[] = {"concurrency", "limit", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    ap_check_keys(L, 2, "configure", keys);
    int concurrency = (int)opt_integer(L, 2, "concurrency", s->concurrency, 1, 4096);
    parse_limit(L, s, 2);
    if (concurrency != s->concurrency) {
        s->concurrency = concurrency;
        curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)(concurrency + 4));
    }
    return 0;
}

/* ---- the rest ---------------------------------------------------------------------------------- */

static int l_pending(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_pushinteger(L, s->queued.count + s->running.count + s->done.count);
    return 1;
}

static int l_stats(lua_State *L)
{
    ap_session *s = check_open(L);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, s->stats.requests);
    lua_setfield(L, -2, "requests");
    lua_pushinteger(L, s->stats.retries);
    lua_setfield(L, -2, "retries");
    lua_pushinteger(L, s->stats.throttled);
    lua_setfield(L, -2, "throttled");
    lua_pushnumber(L, s->stats.paused_seconds);
    lua_setfield(L, -2, "paused_seconds");
    lua_pushinteger(L, s->stats.tokens_fetched);
    lua_setfield(L, -2, "tokens_fetched");
    lua_pushinteger(L, s->stats.connections);
    lua_setfield(L, -2, "connections");
    ap_push_pacing(L, s, ap_now());
    return 1;
}

static int l_token_info(lua_State *L)
{
    ap_session *s = check_open(L);
    ap_push_token_info(L, s);
    return 1;
}

/* The one close: idempotent, safe on a half-initialised session. */
static void session_close(ap_session *s)
{
    s->open = 0;
    ap_engine_close(s);
    ap_auth_free(&s->auth);
    free(s->user_agent), s->user_agent = NULL;
    free(s->ca_file), s->ca_file = NULL;
    free(s->ca_path), s->ca_path = NULL;
    free(s->write_starts), s->write_starts = NULL;
    s->write_count = s->write_head = 0;
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
    return 0;
}

static int l_tostring(lua_State *L)
{
    ap_session *s = check_session(L);
    if (s->open)
        lua_pushfstring(L, "%s (open, %d pending)", AP_SESSION_MT,
                        s->queued.count + s->running.count + s->done.count);
    else
        lua_pushfstring(L, "%s (closed)", AP_SESSION_MT);
    return 1;
}

/* ---- registration ------------------------------------------------------------------------------ */

static const luaL_Reg session_methods[] = {
    {"submit", l_submit},         {"poll", l_poll},           {"request", l_request},
    {"pending", l_pending},       {"stats", l_stats},         {"close", l_close},
    {"token_info", l_token_info}, {"configure", l_configure}, {NULL, NULL}};

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
