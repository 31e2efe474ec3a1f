/*
 * lua-autopilot: a finished transfer as the result table of doc/INTERNALS.md.
 */
#ifndef AP_RESULT_H
#define AP_RESULT_H

#include <lua.h>

#include "transfer.h"

/* Pushes the result of x; tags_idx: the session's table of tags (id -> tag). */
void ap_push_result(lua_State *L, const ap_xfer *x, int tags_idx);

#endif
