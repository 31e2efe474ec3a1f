/*
 * lua-autopilot: the Lua side of certificate credentials: core.signer{...} parses a certificate and key
 * once into an autopilot.Signer, which a session then takes over (auth = { kind = "certificate",
 * signer = s }); core.client_assertion and core.certificate_thumbprints for checks and diagnostics.
 */
#ifndef AP_CERTIFICATE_H
#define AP_CERTIFICATE_H

#include <lua.h>

#include "signer.h"

/* The signer held by the autopilot.Signer at idx, now owned by the caller; raises when idx holds no
 * Signer or one already taken. what names the option in the message ("auth.signer"). */
ap_signer *ap_signer_take(lua_State *L, int idx, const char *what);

#endif
