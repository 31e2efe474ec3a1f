/*
 * lua-autopilot: reading the session's `auth` option table into an ap_auth.
 */
#ifndef AP_AUTH_OPTIONS_H
#define AP_AUTH_OPTIONS_H

#include <lua.h>

#include "auth.h"

/* Reads the auth table at idx (or none) into a, raising on a mistake; returns 1 when it pushed a table of
 * callbacks (on_device_code, on_refresh_token) the session keeps for the gate, 0 otherwise. */
int ap_auth_options(lua_State *L, ap_auth *a, int idx);

#endif
