/*
 * lua-autopilot: luaopen_autopilot_core, registration only. Which file owns what: doc/INTERNALS.md.
 */
#include <pthread.h>

#include <curl/curl.h>
#include <lauxlib.h>

#include "core_open.h"
#include "session.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT; /* written once, under curl_once */

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

__attribute__((visibility("default"))) int luaopen_autopilot_core(lua_State *L);

int luaopen_autopilot_core(lua_State *L)
{
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK)
        return luaL_error(L, "curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
    lua_newtable(L);
    ap_open_session(L);
    ap_open_certificate(L);
    ap_open_token_cache(L);
    ap_open_system(L);
    ap_open_retry_after(L);
    ap_open_signals(L);
    lua_pushliteral(L, AP_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    return 1;
}
