/*
 * lua-autopilot: token_info (token_info.h).
 */
#include <math.h>
#include <string.h>

#include "base64url.h"
#include "json.h"
#include "token_info.h"

/* The JWT payload of a token as JSON text, or nothing pushed (0) when it is not a JWT. */
static int push_claims(lua_State *L, const char *token)
{
    const char *p = strchr(token, '.');
    const char *end = p ? strchr(p + 1, '.') : NULL;
    if (!end)
        return 0;
    ap_buf payload = {0};
    ap_json root;
    int ok = ap_b64url_decode(&payload, p + 1, (size_t)(end - p - 1), 0, NULL) == 0 && payload.len > 0 &&
             ap_json_parse(payload.data, payload.len, &root) == 0 && ap_json_type(root) == AP_JSON_OBJECT;
    if (ok)
        lua_pushlstring(L, payload.data, payload.len);
    ap_buf_free(&payload);
    return ok;
}

void ap_push_token_info(lua_State *L, const ap_auth *a)
{
    const ap_token *t = &a->token;
    lua_createtable(L, 0, 6);
    lua_pushstring(L, a->flow_name[0] ? a->flow_name : "none");
    lua_setfield(L, -2, "flow");
    const char *scope = t->granted_scope ? t->granted_scope : a->scope;
    if (scope) {
        lua_pushstring(L, scope);
        lua_setfield(L, -2, "scope");
    }
    if (ap_auth_acquired(a) && t->value) {
        lua_Integer at; /* a huge expires_in must not overflow the cast (UB): a float then */
        if (lua_numbertointeger(floor(t->expires_epoch), &at))
            lua_pushinteger(L, at);
        else
            lua_pushnumber(L, floor(t->expires_epoch));
        lua_setfield(L, -2, "expires_at");
    }
    lua_pushboolean(L, t->value != NULL);
    lua_setfield(L, -2, "has_token");
    if (a->kind == AP_AUTH_DELEGATED) {
        lua_pushboolean(L, a->refresh_token != NULL);
        lua_setfield(L, -2, "has_refresh_token");
    }
    if (t->value && push_claims(L, t->value))
        lua_setfield(L, -2, "claims");
}
