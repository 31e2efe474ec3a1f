/* The emulator's request handling, parsers included (paths, OData query options and $filter, JSON bodies,
 * $batch, form-encoded token requests): the tenant app the host runs, fed one HTTP request per input.
 * Input: "METHOD TARGET" on the first line, "name: value" header lines, a blank line, the body. Each input
 * gets a fresh tenant and a valid token (its own header may replace it), so a finding replays alone. The
 * host answers a raising app with 500, so any Lua error here is a finding: the app must answer every
 * request as the service would. Run from the repository root (it loads lua/). */
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../src/emulator/host.h"
#include "fuzz.h"

int luaopen_autopilot_emulator_host(lua_State *L);

static const char HARNESS[] =
    "local app_mod = require 'autopilot.emulator.app'\n"
    "local cjson = require('cjson.safe')\n"
    "local function esc(s) return (s:gsub('[^%w]', function(c) return ('%%%02X'):format(c:byte()) end)) end\n"
    "return function(raw)\n"
    "  local app = app_mod.new({ devices = 12, seed = 3 }, 0)\n"
    "  local info = app:info()\n"
    "  local form = 'grant_type=client_credentials&client_id=' .. esc(info.client_id) .. '&client_secret='\n"
    "    .. esc(info.client_secret) .. '&scope=' .. esc('https://graph.microsoft.com/.default')\n"
    "  local t = app:handle({ method = 'POST', target = '/' .. info.tenant .. '/oauth2/v2.0/token',\n"
    "    headers = { ['content-type'] = 'application/x-www-form-urlencoded' }, body = form, now = 0 })\n"
    "  local token = assert(cjson.decode(t.body).access_token, 'no token')\n"
    "  local head, body = raw:match('^(.-)\\n\\n(.*)$')\n"
    "  if not head then head, body = raw, '' end\n"
    "  local first, rest = head:match('^([^\\n]*)\\n?(.*)$')\n"
    "  local method, target = first:match('^(%S*)%s*(.-)%s*$')\n"
    "  local headers = { authorization = 'Bearer ' .. token, host = '127.0.0.1' }\n"
    "  for line in rest:gmatch('[^\\n]+') do\n"
    "    local k, v = line:match('^([^:]+):%s*(.*)$')\n"
    "    if k then headers[k:lower()] = v end\n"
    "  end\n"
    "  if method == '' then method = 'GET' end\n"
    "  if target:sub(1, 1) ~= '/' then target = '/' .. target end\n"
    "  local resp = app:handle({ method = method, target = target, headers = headers, body = body, now = 1 "
    "})\n"
    "  assert(type(resp) == 'table' and math.type(resp.status) == 'integer', 'no status')\n"
    "  assert(resp.status >= 100 and resp.status < 600, 'status out of range')\n"
    "  assert(resp.body == nil or type(resp.body) == 'string', 'body not a string')\n"
    "end\n";

static lua_State *L;
static int handler = LUA_NOREF;

static void start(void)
{
    L = luaL_newstate();
    if (!L)
        abort();
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_autopilot_emulator_crypto);
    lua_setfield(L, -2, "autopilot.emulator.crypto");
    lua_pushcfunction(L, luaopen_autopilot_emulator_host);
    lua_setfield(L, -2, "autopilot.emulator.host");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushliteral(L, "lua/?.lua;lua/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, HARNESS, sizeof HARNESS - 1, "=harness") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "emulator_request: %s\n", lua_tostring(L, -1));
        abort();
    }
    handler = luaL_ref(L, LUA_REGISTRYINDEX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L)
        start();
    lua_rawgeti(L, LUA_REGISTRYINDEX, handler);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "emulator_request: the app raised: %s\n", lua_tostring(L, -1));
        abort();
    }
    static unsigned runs;
    if (++runs % 64 == 0) /* a fresh tenant per input: collect before the garbage piles up */
        lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
