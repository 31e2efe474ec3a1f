/*
 * lua-autopilot: the session's `auth` table (doc/INTERNALS.md, "Client"): which flow, and its
 * credentials, checked through the one option reader and copied into session memory. Messages name the
 * field, never its value.
 */
#include <string.h>

#include <lauxlib.h>

#include "auth.h"
#include "auth_options.h"
#include "certificate.h"
#include "options.h"

#define DEFAULT_SCOPE "https://graph.microsoft.com/.default"
#define TOKEN_TEXT (AP_OPT_NONEMPTY | AP_OPT_NO_CTRL)

static void set_flow(ap_auth *a, int kind, const ap_flow *flow, const char *name)
{
    a->kind = kind;
    a->flow = flow;
    strncpy(a->flow_name, name, sizeof a->flow_name - 1);
}

static void default_scope(const ap_opts *o, ap_auth *a)
{
    a->scope = ap_opts_strdup(o, "scope", TOKEN_TEXT);
    if (!a->scope && !(a->scope = strdup(DEFAULT_SCOPE)))
        luaL_error(o->L, "not enough memory");
}

/* Copies the callbacks (on_device_code, on_refresh_token) into a new table on the stack. */
static void push_callbacks(const ap_opts *o, ap_auth *a)
{
    lua_State *L = o->L;
    lua_createtable(L, 0, 2);
    static const char *const names[] = {"on_device_code", "on_refresh_token"};
    for (int i = 0; i < 2; i++) {
        int t = lua_getfield(L, o->idx, names[i]);
        if (t != LUA_TNIL && t != LUA_TFUNCTION)
            luaL_error(L, "auth.%s must be a function (got %s)", names[i], lua_typename(L, t));
        lua_setfield(L, -2, names[i]);
    }
    lua_getfield(L, -1, "on_refresh_token");
    a->has_refresh_hook = lua_isfunction(L, -1);
    lua_pop(L, 1);
}

static const char *const kinds[] = {"token",         "client_secret",    "certificate", "device_code",
                                    "refresh_token", "managed_identity", NULL};

int ap_auth_options(lua_State *L, ap_auth *a, int idx)
{
    if (lua_isnoneornil(L, idx)) {
        set_flow(a, AP_AUTH_NONE, NULL, "none");
        return 0;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "option 'auth' must be a table (got %s)", luaL_typename(L, idx));
    ap_opts o = ap_opts_of(L, idx, "auth", 1);
    if (lua_getfield(L, o.idx, "kind") != LUA_TSTRING)
        luaL_error(L, "auth.kind must be a string");
    lua_pop(L, 1);
    switch (ap_opts_choice(&o, "kind", kinds, -1)) {
    case 0: {
        static const char *const keys[] = {"kind", "access_token", NULL};
        ap_opts_check_keys(&o, keys);
        size_t n;
        const char *tok = ap_opts_lstring(&o, "access_token", AP_OPT_REQUIRED | TOKEN_TEXT, &n);
        set_flow(a, AP_AUTH_TOKEN, NULL, "token");
        if (ap_token_set_lasting(&a->token, tok, n) != 0)
            luaL_error(L, "not enough memory");
        return 0;
    }
    case 1: {
        static const char *const keys[] = {"kind", "token_url", "client_id", "client_secret", "scope", NULL};
        ap_opts_check_keys(&o, keys);
        set_flow(a, AP_AUTH_CLIENT_SECRET, &ap_flow_client_secret, "client_secret");
        a->token_url = ap_opts_strdup(&o, "token_url", AP_OPT_REQUIRED | TOKEN_TEXT | AP_OPT_HTTP_URL);
        a->client_id = ap_opts_strdup(&o, "client_id", AP_OPT_REQUIRED | TOKEN_TEXT);
        a->client_secret = ap_opts_strdup(&o, "client_secret", AP_OPT_REQUIRED | TOKEN_TEXT);
        default_scope(&o, a);
        return 0;
    }
    case 2: {
        static const char *const keys[] = {"kind", "token_url", "client_id", "signer", "scope", NULL};
        ap_opts_check_keys(&o, keys);
        set_flow(a, AP_AUTH_CERTIFICATE, &ap_flow_certificate, "certificate");
        a->token_url = ap_opts_strdup(&o, "token_url", AP_OPT_REQUIRED | TOKEN_TEXT | AP_OPT_HTTP_URL);
        a->client_id = ap_opts_strdup(&o, "client_id", AP_OPT_REQUIRED | TOKEN_TEXT);
        default_scope(&o, a);
        lua_getfield(L, o.idx, "signer");
        a->signer = ap_signer_take(L, -1, "auth.signer");
        lua_pop(L, 1);
        return 0;
    }
    case 3:
    case 4: {
        static const char *const keys[] = {"kind",  "token_url",     "devicecode_url", "client_id",
                                           "scope", "refresh_token", "on_device_code", "on_refresh_token",
                                           NULL};
        int interactive = ap_opts_choice(&o, "kind", kinds, -1) == 3;
        ap_opts_check_keys(&o, keys);
        if (interactive)
            set_flow(a, AP_AUTH_DELEGATED, &ap_flow_device_code, "device_code");
        else
            set_flow(a, AP_AUTH_DELEGATED, &ap_flow_refresh_token, "refresh_token");
        unsigned url = TOKEN_TEXT | AP_OPT_HTTP_URL;
        a->token_url = ap_opts_strdup(&o, "token_url", AP_OPT_REQUIRED | url);
        a->devicecode_url = ap_opts_strdup(&o, "devicecode_url", (interactive ? AP_OPT_REQUIRED : 0) | url);
        a->client_id = ap_opts_strdup(&o, "client_id", AP_OPT_REQUIRED | TOKEN_TEXT);
        a->scope = ap_opts_strdup(&o, "scope", AP_OPT_REQUIRED | TOKEN_TEXT);
        a->refresh_token =
            ap_opts_strdup(&o, "refresh_token", (interactive ? 0 : AP_OPT_REQUIRED) | TOKEN_TEXT);
        push_callbacks(&o, a);
        if (interactive) {
            int has = lua_getfield(L, -1, "on_device_code") == LUA_TFUNCTION;
            lua_pop(L, 1);
            if (!has)
                luaL_error(L, "auth.on_device_code must be a function for kind \"device_code\"");
        }
        return 1;
    }
    case 5: {
        static const char *const keys[] = {"kind", "token_url", "header", "scope", NULL};
        ap_opts_check_keys(&o, keys);
        set_flow(a, AP_AUTH_MANAGED_IDENTITY, &ap_flow_managed_identity, "managed_identity");
        a->token_url = ap_opts_strdup(&o, "token_url", AP_OPT_REQUIRED | TOKEN_TEXT | AP_OPT_HTTP_URL);
        a->header = ap_opts_strdup(&o, "header", AP_OPT_REQUIRED | TOKEN_TEXT);
        if (!strchr(a->header, ':'))
            luaL_error(L, "auth.header must be a \"Name: value\" line");
        a->scope = ap_opts_strdup(&o, "scope",
                                  TOKEN_TEXT); /* shown by token_info only: the URL names the resource */
        return 0;
    }
    }
    return 0; /* not reached: ap_opts_choice raised */
}
