/* Client assertions for certificate credentials: a JWT signed with the app's private key
 * (RFC 7523, Microsoft identity platform "certificate credentials"), PS256 with x5t#S256 or
 * RS256 with x5t. Takes PEM text only; the Lua facade reads files.
 *
 * Every libcrypto object lives in a to-be-closed "scratch" userdata, so a Lua error raised
 * half way (out of memory in a luaL_Buffer) still frees it. Error messages name what is
 * wrong and never include key material or the passphrase. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <lua.h>
#include <lauxlib.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "internal_open.h"

#define SCRATCH_META  "autopilot.AssertionScratch"
#define MAX_LIFETIME  600        /* seconds; Microsoft accepts at most 10 minutes */
#define MIN_RSA_BITS  2048       /* what Microsoft Entra accepts for certificate credentials */
#define MAX_SIG_BYTES 1024       /* RSA up to 8192 bits */
#define ERRLEN        256

typedef struct {
  BIO *bio;
  X509 *cert;
  EVP_PKEY *key;
  EVP_MD_CTX *md;
} Scratch;

/* What the passphrase callback sees: a pointer into the Lua string, never a copy of ours. */
typedef struct {
  const char *pass;
  size_t len;
  int asked;
  int too_long;
} Passphrase;

/* ---------------------------------------------------------------- scratch */

static void scratch_free(Scratch *s) {
  BIO_free(s->bio);            s->bio = NULL;
  X509_free(s->cert);          s->cert = NULL;
  EVP_MD_CTX_free(s->md);      s->md = NULL;
  EVP_PKEY_free(s->key);       s->key = NULL;   /* RSA private parts are cleared by libcrypto */
  ERR_clear_error();           /* leave no stale errors for libcurl's TLS on this thread */
}

static int scratch_close(lua_State *L) {
  scratch_free(luaL_checkudata(L, 1, SCRATCH_META));
  return 0;
}

static int scratch_tostring(lua_State *L) {
  lua_pushliteral(L, "autopilot.AssertionScratch");
  return 1;
}

/* Pushes a new, empty scratch marked to-be-closed; returns it. */
static Scratch *scratch_new(lua_State *L) {
  Scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, SCRATCH_META);
  lua_toclose(L, -1);
  return s;
}

/* ---------------------------------------------------------------- encoding */

static void add_b64url(luaL_Buffer *b, const unsigned char *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char out[4];
  for (; n >= 3; p += 3, n -= 3) {
    out[0] = tab[p[0] >> 2];
    out[1] = tab[((p[0] & 3) << 4) | (p[1] >> 4)];
    out[2] = tab[((p[1] & 15) << 2) | (p[2] >> 6)];
    out[3] = tab[p[2] & 63];
    luaL_addlstring(b, out, 4);
  }
  if (n == 1) {
    out[0] = tab[p[0] >> 2];
    out[1] = tab[(p[0] & 3) << 4];
    luaL_addlstring(b, out, 2);
  } else if (n == 2) {
    out[0] = tab[p[0] >> 2];
    out[1] = tab[((p[0] & 3) << 4) | (p[1] >> 4)];
    out[2] = tab[(p[1] & 15) << 2];
    luaL_addlstring(b, out, 3);
  }
}

/* A JSON string literal; escapes quotes, backslashes and every control byte. */
static void add_json_string(luaL_Buffer *b, const char *s, size_t n) {
  luaL_addchar(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      luaL_addchar(b, '\\');
      luaL_addchar(b, (char)c);
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      luaL_addstring(b, esc);
    } else {
      luaL_addchar(b, (char)c);
    }
  }
  luaL_addchar(b, '"');
}

static void add_json_member(luaL_Buffer *b, const char *name, const char *s, size_t n, int first) {
  if (!first) luaL_addchar(b, ',');
  add_json_string(b, name, strlen(name));
  luaL_addchar(b, ':');
  add_json_string(b, s, n);
}

static void add_json_integer(luaL_Buffer *b, const char *name, lua_Integer v) {
  char num[32];
  snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)v);
  luaL_addchar(b, ',');
  add_json_string(b, name, strlen(name));
  luaL_addchar(b, ':');
  luaL_addstring(b, num);
}

/* ---------------------------------------------------------------- options */

static const char *const assertion_options[] = {
  "cert", "key", "passphrase", "alg", "client_id", "audience", "lifetime", "now", NULL
};

/* Programmer errors (unknown option, wrong type) raise, as everywhere in autopilot.core. */
static void check_known_options(lua_State *L, int idx, const char *fname, const char *const *known) {
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int ok = 0;
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      for (int i = 0; known[i] && !ok; i++) ok = strcmp(k, known[i]) == 0;
      if (!ok) luaL_error(L, "%s: unknown option '%s'", fname, k);
    } else {
      luaL_error(L, "%s: option names must be strings (got a %s)", fname, luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }
}

/* The returned pointer stays valid: the table at idx still references the string. */
static const char *opt_string(lua_State *L, int idx, const char *name, int required, size_t *len) {
  const char *s = NULL;
  int t = lua_getfield(L, idx, name);
  if (t == LUA_TNIL) {
    if (required) luaL_error(L, "client_assertion: option '%s' is required", name);
    *len = 0;
  } else if (t != LUA_TSTRING) {
    luaL_error(L, "client_assertion: option '%s' must be a string (got a %s)", name, lua_typename(L, t));
  } else {
    s = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1);
  return s;
}

static lua_Integer opt_integer(lua_State *L, int idx, const char *name, lua_Integer dflt) {
  lua_Integer v = dflt;
  int isint = 0;
  int t = lua_getfield(L, idx, name);
  if (t != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isint);
    if (t != LUA_TNUMBER || !isint)
      luaL_error(L, "client_assertion: option '%s' must be an integer number of seconds", name);
  }
  lua_pop(L, 1);
  return v;
}

static int has_pem_header(const char *s, size_t n) {
  return s != NULL && memmem(s, n, "-----BEGIN ", 11) != NULL;
}

/* ---------------------------------------------------------------- reading PEM */

static int passphrase_cb(char *buf, int size, int rwflag, void *u) {
  Passphrase *pw = u;
  (void)rwflag;
  if (pw == NULL) return -1;
  pw->asked = 1;
  if (pw->pass == NULL) return -1;
  if (size < 0 || pw->len > (size_t)size || pw->len > INT_MAX) {
    pw->too_long = 1;
    return -1;
  }
  memcpy(buf, pw->pass, pw->len);          /* into libcrypto's buffer, which it cleanses */
  return (int)pw->len;
}

static const char *reason_of_last_error(void) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  return r ? r : "unknown reason";
}

static int last_error_is_no_start_line(void) {
  unsigned long e = ERR_peek_last_error();
  return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

/* Reads the first certificate of the PEM text into s->cert. NULL or an error message in err. */
static const char *load_cert(Scratch *s, const char *pem, size_t len, char *err) {
  if (!has_pem_header(pem, len))
    return "unreadable certificate: not PEM text (give the text of a PEM file with "
           "-----BEGIN CERTIFICATE-----, not a path, DER or PKCS#12)";
  if (memmem(pem, len, "CERTIFICATE-----", 16) == NULL)
    return "unreadable certificate: no -----BEGIN CERTIFICATE----- block in the certificate text";
  if (len > INT_MAX) return "unreadable certificate: text too large";
  ERR_clear_error();
  s->bio = BIO_new_mem_buf(pem, (int)len);
  if (s->bio == NULL) return "out of memory reading the certificate";
  s->cert = PEM_read_bio_X509(s->bio, NULL, passphrase_cb, NULL);
  BIO_free(s->bio);
  s->bio = NULL;
  if (s->cert == NULL) {
    if (last_error_is_no_start_line())
      return "unreadable certificate: no -----BEGIN CERTIFICATE----- block in the certificate text";
    snprintf(err, ERRLEN, "unreadable certificate: damaged PEM certificate (%s)", reason_of_last_error());
    return err;
  }
  EVP_PKEY *pub = X509_get0_pubkey(s->cert);
  if (pub == NULL) {
    snprintf(err, ERRLEN, "unreadable certificate: cannot decode its public key (%s)", reason_of_last_error());
    return err;
  }
  if (!EVP_PKEY_is_a(pub, "RSA")) {
    const char *type = EVP_PKEY_get0_type_name(pub);
    snprintf(err, ERRLEN, "certificate has a %s key: only RSA certificates are supported",
             type ? type : "non-RSA");
    return err;
  }
  return NULL;
}

static const char *load_key(Scratch *s, const char *pem, size_t len, Passphrase *pw, char *err) {
  if (!has_pem_header(pem, len))
    return "unreadable private key: not PEM text (give the text of a PEM file with "
           "-----BEGIN PRIVATE KEY-----, not a path, DER or PKCS#12)";
  if (memmem(pem, len, "PRIVATE KEY-----", 16) == NULL)
    return "unreadable private key: no -----BEGIN PRIVATE KEY----- block in the key text";
  if (len > INT_MAX) return "unreadable private key: text too large";
  ERR_clear_error();
  s->bio = BIO_new_mem_buf(pem, (int)len);
  if (s->bio == NULL) return "out of memory reading the private key";
  s->key = PEM_read_bio_PrivateKey(s->bio, NULL, passphrase_cb, pw);
  BIO_free(s->bio);
  s->bio = NULL;
  if (s->key == NULL) {
    if (pw->too_long) return "wrong passphrase for the private key: it is longer than libcrypto accepts";
    if (pw->asked && pw->pass == NULL) return "private key is encrypted: a passphrase is required";
    if (pw->asked) return "wrong passphrase for the private key (or the encrypted key is damaged)";
    if (last_error_is_no_start_line())
      return "unreadable private key: no -----BEGIN PRIVATE KEY----- block in the key text";
    snprintf(err, ERRLEN, "unreadable private key: damaged PEM key (%s)", reason_of_last_error());
    return err;
  }
  if (!EVP_PKEY_is_a(s->key, "RSA")) {
    const char *type = EVP_PKEY_get0_type_name(s->key);
    snprintf(err, ERRLEN, "private key is not an RSA key (%s): only RSA keys are supported",
             type ? type : "unknown type");
    return err;
  }
  int bits = EVP_PKEY_get_bits(s->key);
  if (bits < MIN_RSA_BITS) {
    snprintf(err, ERRLEN, "RSA key has %d bits: Microsoft Entra requires at least %d", bits, MIN_RSA_BITS);
    return err;
  }
  if (EVP_PKEY_get_size(s->key) > MAX_SIG_BYTES) {
    snprintf(err, ERRLEN, "RSA key has %d bits: at most %d are supported", bits, MAX_SIG_BYTES * 8);
    return err;
  }
  return NULL;
}

/* ---------------------------------------------------------------- signing */

static const char *new_jti(char out[37]) {
  unsigned char r[16];
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = getrandom(r + got, sizeof r - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return "cannot get random bytes for the assertion id (getrandom failed)";
    }
    got += (size_t)n;
  }
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);   /* version 4 */
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
           r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
  return NULL;
}

static const char *sign(Scratch *s, int pss, const char *in, size_t inlen,
                        unsigned char *sig, size_t *siglen, char *err) {
  EVP_PKEY_CTX *pctx = NULL;
  ERR_clear_error();
  s->md = EVP_MD_CTX_new();
  if (s->md == NULL) return "out of memory signing the assertion";
  int ok = EVP_DigestSignInit(s->md, &pctx, EVP_sha256(), NULL, s->key) == 1;
  if (ok && pss)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
      && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0
      && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
  else if (ok)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
  *siglen = MAX_SIG_BYTES;
  if (ok) ok = EVP_DigestSign(s->md, sig, siglen, (const unsigned char *)in, inlen) == 1;
  if (!ok) {
    snprintf(err, ERRLEN, "cannot sign the assertion (%s)", reason_of_last_error());
    return err;
  }
  return NULL;
}

/* ---------------------------------------------------------------- functions */

/***
 * Makes a client assertion JWT for the certificate credentials flow.
 * @function client_assertion
 * @tparam table opts `cert` (PEM text), `key` (PEM text; may be the same text as `cert`),
 *   `passphrase` (string|nil), `alg` ("PS256" default, or "RS256"), `client_id`, `audience`
 *   (the token endpoint URL), `lifetime` (seconds, 1..600, default 600), `now` (epoch seconds, tests)
 * @treturn[1] string the signed JWT
 * @return[2] nil
 * @treturn[2] string what is wrong with the certificate or key (never key material or passphrase)
 * @raise on unknown options, wrong types, missing fields, a bad `alg` or `lifetime`
 */
static int l_client_assertion(lua_State *L) {
  size_t cert_len, key_len, id_len, aud_len, pw_len, alg_len;
  char err[ERRLEN];
  const char *msg;
  unsigned char thumb[EVP_MAX_MD_SIZE];
  unsigned int thumb_len = 0;
  unsigned char sig[MAX_SIG_BYTES];
  size_t sig_len = 0;
  char jti[37];
  luaL_Buffer b;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  check_known_options(L, 1, "client_assertion", assertion_options);
  const char *cert = opt_string(L, 1, "cert", 1, &cert_len);
  const char *key = opt_string(L, 1, "key", 1, &key_len);
  const char *pass = opt_string(L, 1, "passphrase", 0, &pw_len);
  const char *alg = opt_string(L, 1, "alg", 0, &alg_len);
  const char *client_id = opt_string(L, 1, "client_id", 1, &id_len);
  const char *aud = opt_string(L, 1, "audience", 1, &aud_len);
  lua_Integer lifetime = opt_integer(L, 1, "lifetime", MAX_LIFETIME);
  lua_Integer now = opt_integer(L, 1, "now", (lua_Integer)time(NULL));
  int pss = alg == NULL || strcmp(alg, "PS256") == 0;
  if (!pss && strcmp(alg, "RS256") != 0)
    return luaL_error(L, "client_assertion: alg must be \"PS256\" or \"RS256\" (got \"%s\")", alg);
  if (lifetime < 1 || lifetime > MAX_LIFETIME)
    return luaL_error(L, "client_assertion: lifetime must be 1..%d seconds (got %I)", MAX_LIFETIME, lifetime);
  if (id_len == 0) return luaL_error(L, "client_assertion: client_id must not be empty");
  if (aud_len == 0) return luaL_error(L, "client_assertion: audience must not be empty");
  if (now < 0 || now > LUA_MAXINTEGER - MAX_LIFETIME)
    return luaL_error(L, "client_assertion: now is out of range");

  Passphrase pw = { pass, pw_len, 0, 0 };
  Scratch *s = scratch_new(L);                                        /* index 2 */
  if ((msg = load_cert(s, cert, cert_len, err)) != NULL
      || (msg = load_key(s, key, key_len, &pw, err)) != NULL)
    goto fail;
  if (EVP_PKEY_eq(X509_get0_pubkey(s->cert), s->key) != 1) {
    msg = "private key does not match the certificate";
    goto fail;
  }
  if (X509_digest(s->cert, pss ? EVP_sha256() : EVP_sha1(), thumb, &thumb_len) != 1) {
    snprintf(err, ERRLEN, "cannot hash the certificate (%s)", reason_of_last_error());
    msg = err;
    goto fail;
  }
  if ((msg = new_jti(jti)) != NULL) goto fail;

  luaL_buffinit(L, &b);                                               /* header JSON, index 3 */
  luaL_addchar(&b, '{');
  add_json_member(&b, "alg", pss ? "PS256" : "RS256", 5, 1);
  add_json_member(&b, "typ", "JWT", 3, 0);
  luaL_addstring(&b, pss ? ",\"x5t#S256\":\"" : ",\"x5t\":\"");
  add_b64url(&b, thumb, thumb_len);
  luaL_addstring(&b, "\"}");
  luaL_pushresult(&b);
  luaL_buffinit(L, &b);                                               /* claims JSON, index 4 */
  luaL_addchar(&b, '{');
  add_json_member(&b, "aud", aud, aud_len, 1);
  add_json_integer(&b, "exp", now + lifetime);
  add_json_member(&b, "iss", client_id, id_len, 0);
  add_json_member(&b, "jti", jti, 36, 0);
  add_json_integer(&b, "nbf", now);
  add_json_integer(&b, "iat", now);
  add_json_member(&b, "sub", client_id, id_len, 0);
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
  size_t hlen, clen, inlen;
  const char *hjson = lua_tolstring(L, 3, &hlen);
  const char *cjson = lua_tolstring(L, 4, &clen);
  luaL_buffinit(L, &b);                                               /* signing input, index 5 */
  add_b64url(&b, (const unsigned char *)hjson, hlen);
  luaL_addchar(&b, '.');
  add_b64url(&b, (const unsigned char *)cjson, clen);
  luaL_pushresult(&b);
  const char *input = lua_tolstring(L, 5, &inlen);
  if ((msg = sign(s, pss, input, inlen, sig, &sig_len, err)) != NULL) goto fail;

  luaL_buffinit(L, &b);
  luaL_addlstring(&b, input, inlen);
  luaL_addchar(&b, '.');
  add_b64url(&b, sig, sig_len);
  luaL_pushresult(&b);
  scratch_free(s);
  return 1;

fail:
  scratch_free(s);
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  return 2;
}

static lua_Integer asn1_epoch(const ASN1_TIME *t) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) return -1;
  return (lua_Integer)timegm(&tm);
}

/***
 * Thumbprints and validity of a certificate, for diagnostics.
 * @function certificate_thumbprints
 * @tparam string cert_pem PEM text of the certificate (the first one is used)
 * @treturn[1] table `{ sha1 = b64url, sha256 = b64url, not_before = epoch s, not_after = epoch s }`
 * @return[2] nil
 * @treturn[2] string why the certificate cannot be read
 */
static int l_certificate_thumbprints(lua_State *L) {
  size_t len;
  char err[ERRLEN];
  unsigned char sha1[EVP_MAX_MD_SIZE], sha256[EVP_MAX_MD_SIZE];
  unsigned int sha1_len = 0, sha256_len = 0;
  luaL_Buffer b;
  const char *pem = luaL_checklstring(L, 1, &len);
  lua_settop(L, 1);
  Scratch *s = scratch_new(L);
  const char *msg = load_cert(s, pem, len, err);
  if (msg == NULL
      && (X509_digest(s->cert, EVP_sha1(), sha1, &sha1_len) != 1
          || X509_digest(s->cert, EVP_sha256(), sha256, &sha256_len) != 1)) {
    snprintf(err, ERRLEN, "cannot hash the certificate (%s)", reason_of_last_error());
    msg = err;
  }
  if (msg != NULL) {
    scratch_free(s);
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
  }
  lua_Integer not_before = asn1_epoch(X509_get0_notBefore(s->cert));
  lua_Integer not_after = asn1_epoch(X509_get0_notAfter(s->cert));
  scratch_free(s);
  lua_createtable(L, 0, 4);
  luaL_buffinit(L, &b);
  add_b64url(&b, sha1, sha1_len);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "sha1");
  luaL_buffinit(L, &b);
  add_b64url(&b, sha256, sha256_len);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "sha256");
  if (not_before >= 0) {
    lua_pushinteger(L, not_before);
    lua_setfield(L, -2, "not_before");
  }
  if (not_after >= 0) {
    lua_pushinteger(L, not_after);
    lua_setfield(L, -2, "not_after");
  }
  return 1;
}

/* ---------------------------------------------------------------- registration */

static const luaL_Reg assertion_funcs[] = {
  { "client_assertion", l_client_assertion },
  { "certificate_thumbprints", l_certificate_thumbprints },
  { NULL, NULL }
};

static const luaL_Reg scratch_meta[] = {
  { "__close", scratch_close },
  { "__gc", scratch_close },
  { "__tostring", scratch_tostring },
  { NULL, NULL }
};

void autopilot_open_assertion(lua_State *L) {
  if (luaL_newmetatable(L, SCRATCH_META)) luaL_setfuncs(L, scratch_meta, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, assertion_funcs, 0);
}
