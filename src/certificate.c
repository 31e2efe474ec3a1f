/*
 * lua-autopilot: certificate credentials for Lua (certificate.h): core.signer, core.client_assertion,
 * core.certificate_thumbprints. PEM text only: the Lua facade reads files.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "base64url.h"
#include "certificate.h"
#include "core_open.h"
#include "options.h"

#define SIGNER_MT "autopilot.Signer"
#define SECRET_MT "autopilot.Secret"

typedef struct signer_box {
    ap_signer *g; /* NULL once taken by a session or collected */
} signer_box;

static const char *const algs[] = {"PS256", "RS256", NULL};

/* Reads cert, key, passphrase and alg from the table at o->idx into a new signer; NULL with *msg set when
 * the certificate or key is not usable. */
static ap_signer *signer_from(const ap_opts *o, char err[AP_SIGNER_ERRLEN], const char **msg)
{
    size_t cn, kn, pn;
    const char *cert = ap_opts_lstring(o, "cert", AP_OPT_REQUIRED, &cn);
    const char *key = ap_opts_lstring(o, "key", AP_OPT_REQUIRED, &kn);
    const char *pass = ap_opts_lstring(o, "passphrase", 0, &pn);
    int pss = ap_opts_choice(o, "alg", algs, 0) == 0;
    return ap_signer_new(cert, cn, key, kn, pass, pn, pss, err, msg);
}

/***
 * Parses a certificate and its private key once, for a session's certificate flow.
 * @function signer
 * @tparam table opts `cert` (PEM text), `key` (PEM text; may be the same text), `passphrase`, `alg`
 *   ("PS256", the default, with x5t#S256; or "RS256" with x5t)
 * @treturn[1] autopilot.Signer to give as `auth.signer` (a session takes it over)
 * @return[2] nil
 * @treturn[2] string what is wrong with the certificate or key (never key material or the passphrase)
 */
static int l_signer(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    ap_opts o = ap_opts_of(L, 1, "signer", 0);
    static const char *const keys[] = {"cert", "key", "passphrase", "alg", NULL};
    ap_opts_check_keys(&o, keys);
    signer_box *b = lua_newuserdatauv(L, sizeof *b, 0); /* closed first: __gc copes with a failure below */
    b->g = NULL;
    luaL_setmetatable(L, SIGNER_MT);
    char err[AP_SIGNER_ERRLEN];
    const char *msg = NULL;
    b->g = signer_from(&o, err, &msg);
    if (!b->g) {
        luaL_pushfail(L);
        lua_pushstring(L, msg);
        return 2;
    }
    return 1;
}

ap_signer *ap_signer_take(lua_State *L, int idx, const char *what)
{
    signer_box *b = luaL_testudata(L, idx, SIGNER_MT);
    if (!b)
        luaL_error(L, "%s must be an autopilot.Signer (got %s)", what, luaL_typename(L, idx));
    if (!b->g)
        luaL_error(L, "%s was taken by another session already", what);
    ap_signer *g = b->g;
    b->g = NULL;
    return g;
}

static int signer_gc(lua_State *L)
{
    signer_box *b = luaL_checkudata(L, 1, SIGNER_MT);
    ap_signer_free(b->g);
    b->g = NULL;
    return 0;
}

static int signer_tostring(lua_State *L)
{
    signer_box *b = luaL_checkudata(L, 1, SIGNER_MT);
    if (b->g)
        lua_pushfstring(L, "%s (%s)", SIGNER_MT, ap_signer_alg(b->g));
    else
        lua_pushfstring(L, "%s (taken by a session)", SIGNER_MT);
    return 1;
}

/* A malloc'd secret held by a to-be-closed userdata while it is pushed: wiped and freed even when pushing
 * raises (out of memory). */
typedef struct secret_box {
    char *p;
} secret_box;

static int secret_close(lua_State *L)
{
    secret_box *b = luaL_checkudata(L, 1, SECRET_MT);
    if (b->p) {
        explicit_bzero(b->p, strlen(b->p));
        free(b->p);
        b->p = NULL;
    }
    return 0;
}

/***
 * Makes a client assertion JWT for the certificate credentials flow (for checks and tests: a session
 * signs its own).
 * @function client_assertion
 * @tparam table opts `cert`, `key`, `passphrase`, `alg` as for `signer`; `client_id`, `audience` (the token
 *   endpoint URL), `lifetime` (seconds, 1..600, default 600), `now` (epoch seconds, tests)
 * @treturn[1] string the signed JWT
 * @return[2] nil
 * @treturn[2] string what is wrong with the certificate or key (never key material or passphrase)
 * @raise on unknown options, wrong types, missing fields, a bad `alg` or `lifetime`
 */
static int l_client_assertion(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    ap_opts o = ap_opts_of(L, 1, "client_assertion", 0);
    static const char *const keys[] = {"cert",     "key",      "passphrase", "alg", "client_id",
                                       "audience", "lifetime", "now",        NULL};
    ap_opts_check_keys(&o, keys);
    const char *client_id =
        ap_opts_lstring(&o, "client_id", AP_OPT_REQUIRED | AP_OPT_NONEMPTY | AP_OPT_NO_NUL, NULL);
    const char *aud =
        ap_opts_lstring(&o, "audience", AP_OPT_REQUIRED | AP_OPT_NONEMPTY | AP_OPT_NO_NUL, NULL);
    int lifetime = (int)ap_opts_integer(&o, "lifetime", AP_ASSERTION_LIFETIME, 1, AP_ASSERTION_LIFETIME);
    lua_Integer now =
        ap_opts_integer(&o, "now", (lua_Integer)time(NULL), 0, LUA_MAXINTEGER - AP_ASSERTION_LIFETIME);
    secret_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->p = NULL;
    luaL_setmetatable(L, SECRET_MT);
    lua_toclose(L, -1);
    char err[AP_SIGNER_ERRLEN];
    const char *msg = NULL;
    ap_signer *g = signer_from(&o, err, &msg);
    box->p = g ? ap_signer_assertion(g, client_id, aud, (long long)now, lifetime, err, &msg) : NULL;
    ap_signer_free(g);
    if (!box->p) {
        luaL_pushfail(L);
        lua_pushstring(L, msg);
        return 2;
    }
    lua_pushstring(L, box->p); /* the box wipes its copy when this function returns or raises */
    return 1;
}

static void push_b64url(lua_State *L, const unsigned char *p, size_t n)
{
    ap_buf b = {0};
    if (ap_b64url_encode(&b, p, n) != 0) {
        ap_buf_free(&b);
        luaL_error(L, "not enough memory");
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    ap_buf_free(&b);
}

/***
 * Thumbprints and validity of a certificate, for diagnostics.
 * @function certificate_thumbprints
 * @tparam string cert_pem PEM text of the certificate (the first one is used)
 * @treturn[1] table `{ sha1 = b64url, sha256 = b64url, not_before = epoch s, not_after = epoch s }`
 * @return[2] nil
 * @treturn[2] string why the certificate cannot be read
 */
static int l_certificate_thumbprints(lua_State *L)
{
    size_t len;
    const char *pem = luaL_checklstring(L, 1, &len);
    char err[AP_SIGNER_ERRLEN];
    const char *msg = NULL;
    ap_cert_info info;
    if (ap_certificate_info(pem, len, &info, err, &msg) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, msg);
        return 2;
    }
    lua_createtable(L, 0, 4);
    push_b64url(L, info.sha1, sizeof info.sha1);
    lua_setfield(L, -2, "sha1");
    push_b64url(L, info.sha256, sizeof info.sha256);
    lua_setfield(L, -2, "sha256");
    if (info.not_before >= 0) {
        lua_pushinteger(L, (lua_Integer)info.not_before);
        lua_setfield(L, -2, "not_before");
    }
    if (info.not_after >= 0) {
        lua_pushinteger(L, (lua_Integer)info.not_after);
        lua_setfield(L, -2, "not_after");
    }
    return 1;
}

static const luaL_Reg certificate_funcs[] = {{"signer", l_signer},
                                             {"client_assertion", l_client_assertion},
                                             {"certificate_thumbprints", l_certificate_thumbprints},
                                             {NULL, NULL}};

static const luaL_Reg signer_meta[] = {
    {"__gc", signer_gc}, {"__close", signer_gc}, {"__tostring", signer_tostring}, {NULL, NULL}};

static const luaL_Reg secret_meta[] = {{"__gc", secret_close}, {"__close", secret_close}, {NULL, NULL}};

void ap_open_certificate(lua_State *L)
{
    luaL_newmetatable(L, SIGNER_MT);
    luaL_setfuncs(L, signer_meta, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, SECRET_MT);
    luaL_setfuncs(L, secret_meta, 0);
    lua_pop(L, 1);
    luaL_setfuncs(L, certificate_funcs, 0);
}
