/* Registration functions of the parts of autopilot.core that live outside core.c.
 * Each adds its functions as fields of the module table on top of the stack and leaves
 * the stack as it found it. core.c calls them from luaopen_autopilot_core. */
#ifndef AUTOPILOT_INTERNAL_OPEN_H
#define AUTOPILOT_INTERNAL_OPEN_H

#include <lua.h>

/* core.client_assertion, core.certificate_thumbprints (src/assertion.c) */
void autopilot_open_assertion(lua_State *L);

/* core.token_cache_read, core.token_cache_write, core.token_cache_lock (src/token_cache.c) */
void autopilot_open_token_cache(lua_State *L);

/* core.clock, core.sleep, core.fsync (src/system.c) */
void autopilot_open_system(lua_State *L);

#endif
