/*
 * lua-autopilot: a request as the caller submits it ({ method, url, body, headers, idempotent, tag }).
 */
#ifndef AP_REQUEST_H
#define AP_REQUEST_H

#include <lua.h>

#include "transfer.h"

/* Checks the request table at idx completely (method, URL, body, headers free of CR/LF and NUL, unknown
 * keys) and raises before anything is allocated, so bad input sends nothing; then copies it into a new
 * Graph transfer the caller owns. */
ap_xfer *ap_request_new(lua_State *L, int idx);

#endif
