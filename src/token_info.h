/*
 * lua-autopilot: what the session is signed in as, for token_info(): never the token itself.
 */
#ifndef AP_TOKEN_INFO_H
#define AP_TOKEN_INFO_H

#include <lua.h>

#include "auth.h"

/* Pushes { flow =, scope =, expires_at = (epoch s), has_token =, has_refresh_token = (delegated),
 * claims = "<JSON>" (the access token's payload, decoded from base64url without verifying: the header and
 * signature never leave C) }. */
void ap_push_token_info(lua_State *L, const ap_auth *a);

#endif
