/*
 * lua-autopilot: the few system calls Lua lacks and the bulk runner needs: a monotonic clock,
 * a sleep that does not spin, and fsync of a Lua file so a journal line survives a crash.
 */
#include <errno.h>
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
    {"clock", sys_clock},
    {"sleep", sys_sleep},
    {"fsync", sys_fsync},
    {NULL, NULL},
};

void ap_open_system(lua_State *L)
{
    luaL_setfuncs(L, system_functions, 0);
}
