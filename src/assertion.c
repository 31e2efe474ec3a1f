/* Client assertions for certificate credentials: a JWT signed with the app's private key
 * (RFC 7523, Microsoft identity platform "certificate credentials"), PS256 with x5t#S256 or
 * RS256 with x5t. Takes PEM text only; the Lua facade reads files.
 *
 * The signer (ap_signer_new / ap_signer_assertion, plain C that never raises) is what a session
 * holds for the certificate flow: the parsed key lives in session memory and a fresh assertion
 * is made for every token request. The Lua functions keep every libcrypto object in a
 * to-be-closed "scratch" userdata, so a Lua error raised half way still frees it. Error
 * messages name what is wrong and never include key material or the passphrase. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

#include "internal.h"
#include "internal_open.h"

#define SCRATCH_META  "autopilot.AssertionScratch"
#define MAX_LIFETIME  600        /* seconds; Microsoft accepts at most 10 minutes */
#define MIN_RSA_BITS  2048       /* what Microsoft Entra accepts for certificate credentials */
#define MAX_SIG_BYTES 1024       /* RSA up to 8192 bits */
#define ERRLEN        AP_SIGNER_ERRLEN

typedef struct {
  BIO *bio;
  X509 *cert;
  EVP_PKEY *key;
  EVP_MD_CTX *md;
  ap_signer *signer;       /* client_assertion's signer and result, freed by __close */
  char *jwt;
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
  ap_signer_free(s->signer);   s->signer = NULL;
  if (s->jwt) {
    explicit_bzero(s->jwt, strlen(s->jwt));
    free(s->jwt);
    s->jwt = NULL;
  }
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

/* ---------------------------------------------------------------- the C signer */

/* A loaded certificate and private key, ready to sign assertions for as long as a session lives.
 * The key's private parts are cleared by libcrypto when freed; nothing here raises. */
struct ap_signer {
  EVP_PKEY *key;
  int pss;
  unsigned char thumb[EVP_MAX_MD_SIZE];
  unsigned int thumb_len;
};

void ap_signer_free(ap_signer *g) {
  if (g == NULL) return;
  EVP_PKEY_free(g->key);
  explicit_bzero(g, sizeof *g);
  free(g);
  ERR_clear_error();
}

ap_signer *ap_signer_new(const char *cert, size_t cert_len, const char *key, size_t key_len,
                         const char *pass, size_t pass_len, int pss, char err[AP_SIGNER_ERRLEN],
                         const char **msg) {
  Scratch s;
  memset(&s, 0, sizeof s);
  Passphrase pw = { pass, pass_len, 0, 0 };
  ap_signer *g = NULL;
  *msg = NULL;
  if ((*msg = load_cert(&s, cert, cert_len, err)) != NULL
      || (*msg = load_key(&s, key, key_len, &pw, err)) != NULL)
    goto done;
  if (EVP_PKEY_eq(X509_get0_pubkey(s.cert), s.key) != 1) {
    *msg = "private key does not match the certificate";
    goto done;
  }
  g = calloc(1, sizeof *g);
  if (g == NULL) {
    *msg = "out of memory loading the certificate";
    goto done;
  }
  g->pss = pss;
  if (X509_digest(s.cert, pss ? EVP_sha256() : EVP_sha1(), g->thumb, &g->thumb_len) != 1) {
    snprintf(err, ERRLEN, "cannot hash the certificate (%s)", reason_of_last_error());
    *msg = err;
    free(g);
    g = NULL;
    goto done;
  }
  g->key = s.key;             /* ownership moves to the signer */
  s.key = NULL;
done:
  scratch_free(&s);
  return g;
}

/* ap_buf writers that remember a failed append (out of memory) instead of checking each call. */
typedef struct { ap_buf b; int failed; } Out;

static void out_add(Out *o, const char *p, size_t n) {
  if (!o->failed && ap_buf_append(&o->b, p, n) != 0) o->failed = 1;
}

static void out_str(Out *o, const char *p) { out_add(o, p, strlen(p)); }

static void out_b64url(Out *o, const unsigned char *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char q[4];
  for (; n >= 3; p += 3, n -= 3) {
    q[0] = tab[p[0] >> 2];
    q[1] = tab[((p[0] & 3) << 4) | (p[1] >> 4)];
    q[2] = tab[((p[1] & 15) << 2) | (p[2] >> 6)];
    q[3] = tab[p[2] & 63];
    out_add(o, q, 4);
  }
  if (n == 1) {
    q[0] = tab[p[0] >> 2];
    q[1] = tab[(p[0] & 3) << 4];
    out_add(o, q, 2);
  } else if (n == 2) {
    q[0] = tab[p[0] >> 2];
    q[1] = tab[((p[0] & 3) << 4) | (p[1] >> 4)];
    q[2] = tab[(p[1] & 15) << 2];
    out_add(o, q, 3);
  }
}

static void out_json_string(Out *o, const char *s, size_t n) {
  out_add(o, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = { '\\', (char)c };
      out_add(o, e, 2);
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      out_str(o, esc);
    } else {
      out_add(o, (const char *)&c, 1);
    }
  }
  out_add(o, "\"", 1);
}

static void out_member(Out *o, const char *name, const char *s, size_t n, int first) {
  if (!first) out_add(o, ",", 1);
  out_json_string(o, name, strlen(name));
  out_add(o, ":", 1);
  out_json_string(o, s, n);
}

static void out_integer(Out *o, const char *name, long long v) {
  char num[32];
  snprintf(num, sizeof num, "%lld", v);
  out_add(o, ",", 1);
  out_json_string(o, name, strlen(name));
  out_add(o, ":", 1);
  out_str(o, num);
}

char *ap_signer_assertion(ap_signer *g, const char *client_id, size_t id_len, const char *aud,
                          size_t aud_len, long long now, int lifetime, char err[AP_SIGNER_ERRLEN],
                          const char **msg) {
  Out head = { { 0 }, 0 }, claims = { { 0 }, 0 }, jwt = { { 0 }, 0 };
  Scratch s;
  memset(&s, 0, sizeof s);
  unsigned char sig[MAX_SIG_BYTES];
  size_t sig_len = 0;
  char jti[37];
  char *result = NULL;
  *msg = NULL;
  if ((*msg = new_jti(jti)) != NULL) goto done;

  out_add(&head, "{", 1);
  out_member(&head, "alg", g->pss ? "PS256" : "RS256", 5, 1);
  out_member(&head, "typ", "JWT", 3, 0);
  out_str(&head, g->pss ? ",\"x5t#S256\":\"" : ",\"x5t\":\"");
  out_b64url(&head, g->thumb, g->thumb_len);
  out_str(&head, "\"}");
  out_add(&claims, "{", 1);
  out_member(&claims, "aud", aud, aud_len, 1);
  out_integer(&claims, "exp", now + lifetime);
  out_member(&claims, "iss", client_id, id_len, 0);
  out_member(&claims, "jti", jti, 36, 0);
  out_integer(&claims, "nbf", now);
  out_integer(&claims, "iat", now);
  out_member(&claims, "sub", client_id, id_len, 0);
  out_add(&claims, "}", 1);
  if (head.failed || claims.failed) goto oom;
  out_b64url(&jwt, (const unsigned char *)head.b.data, head.b.len);
  out_add(&jwt, ".", 1);
  out_b64url(&jwt, (const unsigned char *)claims.b.data, claims.b.len);
  if (jwt.failed) goto oom;
  s.key = g->key;                           /* borrowed for sign(); not freed below */
  *msg = sign(&s, g->pss, jwt.b.data, jwt.b.len, sig, &sig_len, err);
  s.key = NULL;
  if (*msg != NULL) goto done;
  out_add(&jwt, ".", 1);
  out_b64url(&jwt, sig, sig_len);
  if (jwt.failed) goto oom;
  result = jwt.b.data;                      /* ownership moves to the caller */
  jwt.b.data = NULL;
  goto done;
oom:
  *msg = "out of memory building the assertion";
done:
  scratch_free(&s);
  explicit_bzero(sig, sizeof sig);
  ap_buf_free(&head.b, 1);
  ap_buf_free(&claims.b, 1);
  ap_buf_free(&jwt.b, 1);
  return result;
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

  Scratch *s = scratch_new(L);                                        /* index 2, to-be-closed */
  s->signer = ap_signer_new(cert, cert_len, key, key_len, pass, pw_len, pss, err, &msg);
  if (s->signer != NULL)
    s->jwt = ap_signer_assertion(s->signer, client_id, id_len, aud, aud_len, (long long)now,
                                 (int)lifetime, err, &msg);
  if (s->jwt == NULL) {
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    scratch_free(s);
    return 2;
  }
  lua_pushstring(L, s->jwt);
  scratch_free(s);
  return 1;
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
