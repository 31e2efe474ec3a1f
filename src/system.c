/*
 * lua-autopilot: the few system calls Lua lacks and the bulk runner needs: a monotonic clock,
 * a sleep that does not spin, a wait on several descriptors (autopilot.async's scheduler), and fsync of a
 * Lua file so a journal line survives a crash.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "clock.h"
#include "core_open.h"

/* core.clock() -> seconds of CLOCK_MONOTONIC, as a float: for elapsed times and deadlines. */
static int sys_clock(lua_State *L)
{
    lua_pushnumber(L, ap_now());
    return 1;
}

/* core.sleep(seconds): sleeps at least that long (restarted after signals); 0 or less returns at once. */
static int sys_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s == s && s < 1e9, 1, "seconds must be a number below 1e9");
    ap_sleep(s);
    return 0;
}

#define MAX_WAIT_FDS 1024

/* core.wait_readable(fds, seconds | nil) -> n: sleeps until one of the descriptors (an array of integers)
 * is readable or the time has passed (nil: no limit); n is how many are ready (0: the time passed, or a
 * signal came). */
static int sys_wait_readable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    double seconds = luaL_optnumber(L, 2, -1);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n <= MAX_WAIT_FDS, 1, "at most 1024 descriptors");
    struct pollfd fds[MAX_WAIT_FDS];
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        int isnum;
        lua_Integer fd = lua_tointegerx(L, -1, &isnum);
        luaL_argcheck(L, isnum && fd >= 0 && fd <= 0x7fffffff, 1, "descriptors must be integers");
        lua_pop(L, 1);
        fds[i].fd = (int)fd;
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    double ms = lua_isnoneornil(L, 2) ? -1 : ceil(seconds * 1000.0);
    if (ms > 86400000.0)
        ms = 86400000.0;
    if (!lua_isnoneornil(L, 2) && !(ms > 0))
        ms = 0;
    int ready = poll(fds, (nfds_t)n, (int)ms);
    lua_pushinteger(L, ready > 0 ? ready : 0);
    return 1;
}

/* core.fsync(file) -> true | nil, message: flushes Lua's buffer, then the kernel's, for an io file. */
static int sys_fsync(lua_State *L)
{
    luaL_Stream *p = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    if (p->closef == NULL)
        return luaL_error(L, "attempt to use a closed file");
    if (fflush(p->f) != 0 || fsync(fileno(p->f)) != 0) {
        int e = errno;
        luaL_pushfail(L);
        lua_pushfstring(L, "fsync: %s", strerror(e));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg system_functions[] = {
    {"clock", sys_clock}, {"sleep", sys_sleep}, {"fsync", sys_fsync}, {"wait_readable", sys_wait_readable},
    {NULL, NULL},
};

void ap_open_system(lua_State *L)
{
    luaL_setfuncs(L, system_functions, 0);
}
