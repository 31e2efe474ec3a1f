/*
 * lua-autopilot emulator host: module autopilot.emulator.host.
 * host.start{...} -> server (a userdata owning the daemon, the server thread and the server lua_State),
 * host.clock(), host.wait_signal(), host.block_signals(). See doc/INTERNALS.md, "Emulator host".
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "clock.h"
#include "host.h"
#include "options.h"

#define SERVER_MT "autopilot.emulator.Server"
#define HOST_VERSION "0.1.0"

typedef struct {
    struct server *s; /* NULL once stopped */
} Box;

/* ---- the server handle ---- */

static void server_free(struct server *s)
{
    server_stop(s); /* joins the thread, stops the daemon */
    state_close(s);
    if (s->lock_ready)
        pthread_mutex_destroy(&s->lock);
    free(s->heap);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->callbuf);
    free(s);
}

static Box *check_box(lua_State *L)
{
    return (Box *)luaL_checkudata(L, 1, SERVER_MT);
}

static struct server *check_open(lua_State *L)
{
    Box *b = check_box(L);
    if (!b->s)
        luaL_error(L, "attempt to use a stopped emulator server");
    return b->s;
}

static const char *const start_keys[] = {"bind",  "port",     "app",     "config", "path",
                                         "cpath", "tls_cert", "tls_key", NULL};

static char *dup_string(const char *p)
{
    return p ? strdup(p) : NULL;
}

/**
 * host.start{bind=, port=, app=, config=, path=, cpath=, tls_cert=, tls_key=}
 * Returns the server, or nil and a message when the world says no (port taken, app failing to load).
 */
static int host_start(lua_State *L)
{
    const char *err = NULL;
    size_t config_len = 0;
    Box *b;
    struct server *s;
    luaL_checktype(L, 1, LUA_TTABLE);
    ap_opts o = ap_opts_of(L, 1, NULL, 0);
    ap_opts_check_keys(&o, start_keys);
    const char *bind = ap_opts_lstring(&o, "bind", AP_OPT_NO_NUL, NULL);
    const char *app = ap_opts_lstring(&o, "app", AP_OPT_NO_NUL, NULL);
    const char *config = ap_opts_lstring(&o, "config", 0, &config_len);
    const char *path = ap_opts_lstring(&o, "path", AP_OPT_NO_NUL, NULL);
    const char *cpath = ap_opts_lstring(&o, "cpath", AP_OPT_NO_NUL, NULL);
    const char *cert = ap_opts_lstring(&o, "tls_cert", 0, NULL);
    const char *key = ap_opts_lstring(&o, "tls_key", 0, NULL);
    lua_Integer port = ap_opts_integer(&o, "port", 0, 0, 65535);
    if (!bind)
        bind = "127.0.0.1";
    if (!app)
        app = "autopilot.emulator.app";
    if (strlen(bind) >= sizeof(((struct server *)0)->bind))
        luaL_error(L, "option 'bind' is too long");
    if ((cert == NULL) != (key == NULL))
        luaL_error(L, "options 'tls_cert' and 'tls_key' go together");

    b = (Box *)lua_newuserdatauv(L, sizeof *b, 0); /* created closed, so __gc copes with any failure below */
    b->s = NULL;
    luaL_setmetatable(L, SERVER_MT);
    s = calloc(1, sizeof *s);
    if (!s)
        return luaL_error(L, "out of memory");
    s->wake_fd = -1;
    s->app_ref = LUA_NOREF;
    b->s = s;
    strcpy(s->bind, bind);
    s->port = (unsigned short)port;
    if (cert) {
        s->tls = 1;
        s->tls_cert = dup_string(cert);
        s->tls_key = dup_string(key);
        if (!s->tls_cert || !s->tls_key)
            return luaL_error(L, "out of memory");
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return luaL_error(L, "cannot create a mutex");
    s->lock_ready = 1;
    if (!state_open(s, app, config, config_len, path, cpath, &err) || !server_listen(s, &err) ||
        !server_run(s, &err)) {
        luaL_pushfail(L);
        lua_pushstring(L, err); /* err may live in s: push it before freeing */
        b->s = NULL;
        server_free(s);
        return 2;
    }
    return 1;
}

/** srv:port() -> the TCP port the server listens on. */
static int srv_port(lua_State *L)
{
    lua_pushinteger(L, check_open(L)->port);
    return 1;
}

/**
 * srv:call(name, json) -> json text of app:name(decoded json, now)
 * Returns nil and a message when the app fails or has no such method.
 */
static int srv_call(lua_State *L)
{
    struct server *s = check_open(L);
    const char *name = luaL_checkstring(L, 2);
    size_t len = 0, out_len = 0;
    const char *arg = luaL_optlstring(L, 3, NULL, &len);
    const char *out = NULL;
    if (state_call(s, name, arg, len, &out, &out_len)) {
        lua_pushlstring(L, out, out_len);
        return 1;
    }
    luaL_pushfail(L);
    lua_pushlstring(L, out, out_len);
    return 2;
}

/** srv:stop(): idempotent; also __gc and __close. */
static int srv_stop(lua_State *L)
{
    Box *b = check_box(L);
    struct server *s = b->s;
    b->s = NULL; /* cleared before freeing */
    if (s)
        server_free(s);
    return 0;
}

static int srv_tostring(lua_State *L)
{
    Box *b = check_box(L);
    if (b->s)
        lua_pushfstring(L, "autopilot.emulator.host server (%s %s:%d)", b->s->tls ? "https" : "http",
                        b->s->bind, (int)b->s->port);
    else
        lua_pushliteral(L, "autopilot.emulator.host server (stopped)");
    return 1;
}

/* ---- process helpers ---- */

/** host.clock() -> monotonic seconds (a double). */
static int host_clock_l(lua_State *L)
{
    lua_pushnumber(L, ap_now());
    return 1;
}

/* Wall-clock seconds with their fraction, for HTTP-dates whose second must be rounded up exactly. */
static int host_epoch_l(lua_State *L)
{
    lua_pushnumber(L, ap_epoch());
    return 1;
}

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

/** host.block_signals(): blocks SIGINT and SIGTERM in the calling thread, so none is lost before wait_signal.
 */
static int host_block_signals(lua_State *L)
{
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    (void)L;
    return 0;
}

/** host.wait_signal() -> "SIGINT" | "SIGTERM", blocking the calling thread until one arrives. */
static int host_wait_signal(lua_State *L)
{
    sigset_t set, old;
    int sig = 0;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    while (sigwait(&set, &sig) != 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    lua_pushstring(L, sig == SIGINT ? "SIGINT" : "SIGTERM");
    return 1;
}

/* ---- registration ---- */

static const luaL_Reg host_funcs[] = {{"start", host_start},
                                      {"clock", host_clock_l},
                                      {"epoch", host_epoch_l},
                                      {"wait_signal", host_wait_signal},
                                      {"block_signals", host_block_signals},
                                      {NULL, NULL}};

static const luaL_Reg srv_methods[] = {
    {"port", srv_port}, {"call", srv_call}, {"stop", srv_stop}, {NULL, NULL}};

static const luaL_Reg srv_meta[] = {
    {"__gc", srv_stop}, {"__close", srv_stop}, {"__tostring", srv_tostring}, {"__index", NULL}, {NULL, NULL}};

static void create_meta(lua_State *L)
{
    luaL_newmetatable(L, SERVER_MT);
    luaL_setfuncs(L, srv_meta, 0);
    luaL_newlib(L, srv_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

__attribute__((visibility("default"))) int luaopen_autopilot_emulator_host(lua_State *L);

int luaopen_autopilot_emulator_host(lua_State *L)
{
    create_meta(L);
    luaL_newlib(L, host_funcs);
    lua_pushliteral(L, HOST_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushfstring(L, "%s", MHD_get_version());
    lua_setfield(L, -2, "mhd_version");
    /* the crypto module, for the caller's state too: host.crypto and require "autopilot.emulator.crypto" */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    if (lua_getfield(L, -1, "autopilot.emulator.crypto") == LUA_TNIL) {
        lua_pushcfunction(L, luaopen_autopilot_emulator_crypto);
        lua_setfield(L, -3, "autopilot.emulator.crypto");
    }
    lua_pop(L, 2);
    luaL_requiref(L, "autopilot.emulator.crypto", luaopen_autopilot_emulator_crypto, 0);
    lua_setfield(L, -2, "crypto");
    return 1;
}
