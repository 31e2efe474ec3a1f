/*
 * lua-autopilot emulator host: module autopilot.emulator.crypto (libcrypto, OpenSSL 3 EVP APIs).
 * Hashes, HMAC, unpadded base64url, random bytes, and RS256/PS256 signature checks against a certificate.
 * OpenSSL objects live in a to-be-closed "guard" userdata, so a raising Lua call never leaks them.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <lauxlib.h>
#include <lua.h>

#include "base64url.h"
#include "host.h"

#define GUARD_MT "autopilot.emulator.crypto.Guard"
#define RANDOM_MAX (1024 * 1024)

/* ---- the guard: owns what OpenSSL allocated for one call ---- */

typedef struct {
    BIO *bio;
    X509 *cert;
    EVP_MD_CTX *md;
} Guard;

static int guard_close(lua_State *L)
{
    Guard *g = (Guard *)luaL_checkudata(L, 1, GUARD_MT);
    if (g->md)
        EVP_MD_CTX_free(g->md);
    if (g->cert)
        X509_free(g->cert);
    if (g->bio)
        BIO_free(g->bio);
    g->md = NULL;
    g->cert = NULL;
    g->bio = NULL;
    return 0;
}

static Guard *new_guard(lua_State *L)
{
    Guard *g = (Guard *)lua_newuserdatauv(L, sizeof *g, 0);
    memset(g, 0, sizeof *g);
    if (luaL_newmetatable(L, GUARD_MT)) {
        lua_pushcfunction(L, guard_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, guard_close);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    lua_toclose(L, -1);
    return g;
}

/* Parses the PEM certificate into g->cert; returns a message on failure. */
static const char *load_cert(Guard *g, const char *pem, size_t len)
{
    g->bio = BIO_new_mem_buf(pem, (int)len);
    if (!g->bio)
        return "out of memory";
    g->cert = PEM_read_bio_X509(g->bio, NULL, NULL, NULL);
    ERR_clear_error();
    return g->cert ? NULL : "not a PEM certificate";
}

/* ---- hashes ---- */

static int digest(lua_State *L, const EVP_MD *md)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(s, len, out, &n, md, NULL)) {
        ERR_clear_error();
        return luaL_error(L, "digest failed");
    }
    lua_pushlstring(L, (const char *)out, n);
    return 1;
}

/** sha256(s) -> 32 raw bytes. */
static int c_sha256(lua_State *L)
{
    return digest(L, EVP_sha256());
}

/** sha1(s) -> 20 raw bytes (certificate thumbprints, x5t). */
static int c_sha1(lua_State *L)
{
    return digest(L, EVP_sha1());
}

/** hmac_sha256(key, s) -> 32 raw bytes. */
static int c_hmac_sha256(lua_State *L)
{
    size_t klen, len;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *s = luaL_checklstring(L, 2, &len);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)s, len, out, &n)) {
        ERR_clear_error();
        return luaL_error(L, "HMAC failed");
    }
    lua_pushlstring(L, (const char *)out, n);
    return 1;
}

/* ---- base64url, no padding (src/base64url.c) ---- */

/* Pushes a buffer's bytes and frees it; raises when out of memory. */
static int push_buf(lua_State *L, ap_buf *b, int failed)
{
    if (failed) {
        ap_buf_free(b);
        return luaL_error(L, "not enough memory");
    }
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    ap_buf_free(b);
    return 1;
}

/** b64url_encode(s) -> base64url text without padding. */
static int c_b64url_encode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    ap_buf b = {0};
    return push_buf(L, &b, ap_b64url_encode(&b, (const unsigned char *)s, len) != 0);
}

/**
 * b64url_decode(s) -> bytes
 * Returns nil and a message for anything but canonical unpadded base64url.
 */
static int c_b64url_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len), *why = NULL;
    ap_buf b = {0};
    if (ap_b64url_decode(&b, s, len, 1, &why) != 0) {
        ap_buf_free(&b);
        luaL_pushfail(L);
        lua_pushstring(L, why);
        return 2;
    }
    return push_buf(L, &b, 0);
}

/* ---- random ---- */

/** random_bytes(n) -> n bytes from the CSPRNG; nil and a message if it fails. */
static int c_random_bytes(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_Buffer b;
    unsigned char *p;
    luaL_argcheck(L, n >= 0 && n <= RANDOM_MAX, 1, "must be between 0 and 1048576");
    p = (unsigned char *)luaL_buffinitsize(L, &b, (size_t)n);
    if (n > 0 && RAND_bytes(p, (int)n) != 1) {
        ERR_clear_error();
        luaL_pushfail(L);
        lua_pushliteral(L, "the random generator failed");
        return 2;
    }
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

/* ---- certificates and signatures ---- */

/**
 * verify(cert_pem, alg, data, signature) -> true | false
 * alg "RS256" (PKCS#1 v1.5) or "PS256" (PSS, MGF1 SHA-256, salt = 32); false for a wrong signature.
 * Returns nil and a message for a bad certificate, a non-RSA key or an unknown algorithm.
 */
static int c_verify(lua_State *L)
{
    size_t plen, dlen, slen;
    const char *pem = luaL_checklstring(L, 1, &plen);
    const char *alg = luaL_checkstring(L, 2);
    const char *data = luaL_checklstring(L, 3, &dlen);
    const char *sig = luaL_checklstring(L, 4, &slen);
    int pss = strcmp(alg, "PS256") == 0, ok;
    const char *err;
    EVP_PKEY *pkey;
    EVP_PKEY_CTX *pctx = NULL;
    Guard *g;
    if (!pss && strcmp(alg, "RS256") != 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "unsupported algorithm '%s'", alg);
        return 2;
    }
    g = new_guard(L);
    err = load_cert(g, pem, plen);
    if (err) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    pkey = X509_get0_pubkey(g->cert);
    if (!pkey || !EVP_PKEY_is_a(pkey, "RSA")) {
        ERR_clear_error();
        luaL_pushfail(L);
        lua_pushliteral(L, "the certificate's key is not an RSA key");
        return 2;
    }
    g->md = EVP_MD_CTX_new();
    if (!g->md || EVP_DigestVerifyInit(g->md, &pctx, EVP_sha256(), NULL, pkey) != 1 ||
        (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                 EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1))) {
        ERR_clear_error();
        luaL_pushfail(L);
        lua_pushliteral(L, "cannot set up the signature check");
        return 2;
    }
    ok = EVP_DigestVerify(g->md, (const unsigned char *)sig, slen, (const unsigned char *)data, dlen) == 1;
    ERR_clear_error();
    lua_pushboolean(L, ok);
    return 1;
}

/** cert_der(cert_pem) -> the certificate's DER bytes; nil and a message if it is not a PEM certificate. */
static int c_cert_der(lua_State *L)
{
    size_t plen;
    const char *pem = luaL_checklstring(L, 1, &plen);
    Guard *g = new_guard(L);
    const char *err = load_cert(g, pem, plen);
    unsigned char *p;
    int n;
    luaL_Buffer b;
    if (err) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    n = i2d_X509(g->cert, NULL);
    if (n <= 0) {
        ERR_clear_error();
        luaL_pushfail(L);
        lua_pushliteral(L, "cannot encode the certificate");
        return 2;
    }
    p = (unsigned char *)luaL_buffinitsize(L, &b, (size_t)n);
    n = i2d_X509(g->cert, &p);
    luaL_pushresultsize(&b, n > 0 ? (size_t)n : 0);
    return 1;
}

/* ---- registration ---- */

static const luaL_Reg crypto_funcs[] = {{"sha256", c_sha256},
                                        {"sha1", c_sha1},
                                        {"hmac_sha256", c_hmac_sha256},
                                        {"b64url_encode", c_b64url_encode},
                                        {"b64url_decode", c_b64url_decode},
                                        {"random_bytes", c_random_bytes},
                                        {"verify", c_verify},
                                        {"cert_der", c_cert_der},
                                        {NULL, NULL}};

__attribute__((visibility("default"))) int luaopen_autopilot_emulator_crypto(lua_State *L)
{
    luaL_newlib(L, crypto_funcs);
    return 1;
}
