/*
 * lua-autopilot: the parts of autopilot.core, each registered by luaopen_autopilot_core (core.c). Each
 * adds its functions to the module table on top of the stack and leaves the stack as it found it.
 */
#ifndef AP_CORE_OPEN_H
#define AP_CORE_OPEN_H

#include <lua.h>

void ap_open_session(lua_State *L);     /* core.session (session.c) */
void ap_open_certificate(lua_State *L); /* core.signer, core.client_assertion, core.certificate_thumbprints */
void ap_open_token_cache(lua_State *L); /* core.token_cache_read, _write, _lock (token_cache.c) */
void ap_open_system(lua_State *L);      /* core.clock, core.sleep, core.fsync (system.c) */
void ap_open_retry_after(lua_State *L); /* core.retry_after (retry_after.c) */
void ap_open_signals(lua_State *L);     /* core.catch_signals, core.pending_signal (signals.c) */

#endif
