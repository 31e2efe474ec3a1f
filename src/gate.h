/*
 * lua-autopilot: the one gate through which the C core calls Lua. It runs between engine steps, never
 * inside one, with the session userdata's stack index passed explicitly, every call under lua_pcall:
 * it shows a device code (the caller's on_device_code), hands a rotated refresh token to the token cache
 * (on_refresh_token(rt)), and asks the cache for a newer one when ours was refused
 * (on_refresh_token(false)); the answers go back to the auth flow, and the outcome to the engine.
 */
#ifndef AP_GATE_H
#define AP_GATE_H

#include <lua.h>

#include "session.h"

int ap_gate_pending(const ap_session *s); /* something waits for Lua */
/* Runs what waits for Lua. session_idx: where the session userdata is on L's stack. */
void ap_gate_run(lua_State *L, int session_idx, ap_session *s);

#endif
