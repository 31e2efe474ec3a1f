/*
 * lua-autopilot: luaopen_autopilot_core, registration only. The transport engine lives in
 * session.c/engine.c/transfer.c, retries in retry.c, pacing in pacing.c, tokens in auth.c;
 * client assertions in assertion.c and the token cache in token_cache.c.
 */
#include <pthread.h>

#include "internal.h"
#include "internal_open.h"

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
    autopilot_open_assertion(L);   /* issue 4: certificate credentials */
    autopilot_open_token_cache(L); /* issue 4: refresh-token cache */
    autopilot_open_system(L);      /* clock, sleep, fsync for the bulk runner */
    lua_pushliteral(L, AP_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    return 1;
}
