/*
 * lua-autopilot: the first SIGINT or SIGTERM is recorded for the caller to poll; a second one while the
 * first is pending puts the default action back and re-raises, so an impatient administrator stops the
 * process at once (the journal is written line by line and stays valid).
 *
 * The handler only writes sig_atomic_t variables and calls sigaction and raise, which are async-signal-safe.
 * SA_RESTART keeps reads and writes going; curl's poll() is never restarted (it returns EINTR, which curl
 * takes as a wake-up), and the bulk runner polls at most a quarter second anyway, so a signal is noticed
 * within one step.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "core_open.h"
#include "signals.h"

static volatile sig_atomic_t pending_signal; /* SIGINT, SIGTERM or 0 */
static volatile sig_atomic_t caught;         /* signals seen, for the count */
static int installed;

static void on_signal(int sig)
{
    if (caught < 1000)
        caught = caught + 1;
    if (pending_signal == 0) {
        pending_signal = sig;
        return;
    }
    /* a second signal: the default action (the signal is blocked in here; it ends us on return) */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

int ap_signals_catch(void)
{
    if (installed)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* one handler runs at a time: a SIGTERM arriving inside the SIGINT handler waits for it to return */
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    installed = 1;
    return 0;
}

int ap_signals_pending(void)
{
    return pending_signal;
}

int ap_signals_count(void)
{
    return caught;
}

/* core.catch_signals() -> true | nil, message: SIGINT and SIGTERM are recorded from now on. */
static int l_catch_signals(lua_State *L)
{
    if (ap_signals_catch() != 0) {
        int e = errno;
        luaL_pushfail(L);
        lua_pushfstring(L, "sigaction: %s", strerror(e));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.pending_signal() -> "SIGINT" | "SIGTERM" | nil, and how many signals were caught. */
static int l_pending_signal(lua_State *L)
{
    int sig = ap_signals_pending();
    if (sig == SIGINT)
        lua_pushliteral(L, "SIGINT");
    else if (sig == SIGTERM)
        lua_pushliteral(L, "SIGTERM");
    else
        lua_pushnil(L);
    lua_pushinteger(L, ap_signals_count());
    return 2;
}

static const luaL_Reg signal_functions[] = {
    {"catch_signals", l_catch_signals},
    {"pending_signal", l_pending_signal},
    {NULL, NULL},
};

void ap_open_signals(lua_State *L)
{
    luaL_setfuncs(L, signal_functions, 0);
}
