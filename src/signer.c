/*
 * lua-autopilot: the certificate signer of signer.h, on libcrypto.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base64url.h"
#include "buf.h"
#include "json.h"
#include "random.h"
#include "signer.h"

#define MIN_RSA_BITS 2048  /* what Microsoft Entra accepts for certificate credentials */
#define MAX_SIG_BYTES 1024 /* RSA up to 8192 bits */
#define ERRLEN AP_SIGNER_ERRLEN

struct ap_signer {
    EVP_PKEY *key;
    int pss;
    unsigned char thumb[EVP_MAX_MD_SIZE];
    unsigned int thumb_len;
};

/* What the passphrase callback sees: a pointer into the caller's string, never a copy of ours. */
typedef struct passphrase {
    const char *pass;
    size_t len;
    int asked, too_long;
} passphrase;

static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    passphrase *pw = u;
    (void)rwflag;
    if (!pw)
        return -1;
    pw->asked = 1;
    if (!pw->pass)
        return -1;
    if (size < 0 || pw->len > (size_t)size || pw->len > INT_MAX) {
        pw->too_long = 1;
        return -1;
    }
    memcpy(buf, pw->pass, pw->len); /* into libcrypto's buffer, which it cleanses */
    return (int)pw->len;
}

static const char *reason_of_last_error(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());
    return r ? r : "unknown reason";
}

static int last_error_is_no_start_line(void)
{
    unsigned long e = ERR_peek_last_error();
    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static int has_pem_header(const char *s, size_t n)
{
    return s && memmem(s, n, "-----BEGIN ", 11) != NULL;
}

/* The first certificate of a PEM text, an RSA one; NULL with *msg set otherwise. */
static X509 *load_cert(const char *pem, size_t len, char *err, const char **msg)
{
    *msg = NULL;
    if (!has_pem_header(pem, len)) {
        *msg = "unreadable certificate: not PEM text (give the text of a PEM file with "
               "-----BEGIN CERTIFICATE-----, not a path, DER or PKCS#12)";
        return NULL;
    }
    if (!memmem(pem, len, "CERTIFICATE-----", 16) || len > INT_MAX) {
        *msg = len > INT_MAX
                   ? "unreadable certificate: text too large"
                   : "unreadable certificate: no -----BEGIN CERTIFICATE----- block in the certificate text";
        return NULL;
    }
    ERR_clear_error();
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        *msg = "out of memory reading the certificate";
        return NULL;
    }
    X509 *cert = PEM_read_bio_X509(bio, NULL, passphrase_cb, NULL);
    BIO_free(bio);
    if (!cert) {
        if (last_error_is_no_start_line()) {
            *msg = "unreadable certificate: no -----BEGIN CERTIFICATE----- block in the certificate text";
        } else {
            snprintf(err, ERRLEN, "unreadable certificate: damaged PEM certificate (%s)",
                     reason_of_last_error());
            *msg = err;
        }
        return NULL;
    }
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    if (!pub) {
        snprintf(err, ERRLEN, "unreadable certificate: cannot decode its public key (%s)",
                 reason_of_last_error());
        *msg = err;
    } else if (!EVP_PKEY_is_a(pub, "RSA")) {
        const char *type = EVP_PKEY_get0_type_name(pub);
        snprintf(err, ERRLEN, "certificate has a %s key: only RSA certificates are supported",
                 type ? type : "non-RSA");
        *msg = err;
    }
    if (*msg) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* The private key of a PEM text, an RSA one of a size Entra accepts; NULL with *msg set otherwise. */
static EVP_PKEY *load_key(const char *pem, size_t len, passphrase *pw, char *err, const char **msg)
{
    *msg = NULL;
    if (!has_pem_header(pem, len)) {
        *msg = "unreadable private key: not PEM text (give the text of a PEM file with "
               "-----BEGIN PRIVATE KEY-----, not a path, DER or PKCS#12)";
        return NULL;
    }
    if (!memmem(pem, len, "PRIVATE KEY-----", 16) || len > INT_MAX) {
        *msg = len > INT_MAX ? "unreadable private key: text too large"
                             : "unreadable private key: no -----BEGIN PRIVATE KEY----- block in the key text";
        return NULL;
    }
    ERR_clear_error();
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        *msg = "out of memory reading the private key";
        return NULL;
    }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, passphrase_cb, pw);
    BIO_free(bio);
    if (!key) {
        if (pw->too_long)
            *msg = "wrong passphrase for the private key: it is longer than libcrypto accepts";
        else if (pw->asked && !pw->pass)
            *msg = "private key is encrypted: a passphrase is required";
        else if (pw->asked)
            *msg = "wrong passphrase for the private key (or the encrypted key is damaged)";
        else if (last_error_is_no_start_line())
            *msg = "unreadable private key: no -----BEGIN PRIVATE KEY----- block in the key text";
        else {
            snprintf(err, ERRLEN, "unreadable private key: damaged PEM key (%s)", reason_of_last_error());
            *msg = err;
        }
        return NULL;
    }
    int bits = EVP_PKEY_get_bits(key);
    if (!EVP_PKEY_is_a(key, "RSA")) {
        const char *type = EVP_PKEY_get0_type_name(key);
        snprintf(err, ERRLEN, "private key is not an RSA key (%s): only RSA keys are supported",
                 type ? type : "unknown type");
        *msg = err;
    } else if (bits < MIN_RSA_BITS) {
        snprintf(err, ERRLEN, "RSA key has %d bits: Microsoft Entra requires at least %d", bits,
                 MIN_RSA_BITS);
        *msg = err;
    } else if (EVP_PKEY_get_size(key) > MAX_SIG_BYTES) {
        snprintf(err, ERRLEN, "RSA key has %d bits: at most %d are supported", bits, MAX_SIG_BYTES * 8);
        *msg = err;
    }
    if (*msg) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

void ap_signer_free(ap_signer *g)
{
    if (!g)
        return;
    EVP_PKEY_free(g->key);
    explicit_bzero(g, sizeof *g);
    free(g);
    ERR_clear_error(); /* leave no stale errors for libcurl's TLS on this thread */
}

ap_signer *ap_signer_new(const char *cert, size_t cert_len, const char *key, size_t key_len, const char *pass,
                         size_t pass_len, int pss, char err[AP_SIGNER_ERRLEN], const char **msg)
{
    passphrase pw = {pass, pass_len, 0, 0};
    ap_signer *g = NULL;
    EVP_PKEY *k = NULL;
    X509 *c = load_cert(cert, cert_len, err, msg);
    if (c)
        k = load_key(key, key_len, &pw, err, msg);
    if (k && EVP_PKEY_eq(X509_get0_pubkey(c), k) != 1)
        *msg = "private key does not match the certificate";
    else if (k && !(g = calloc(1, sizeof *g)))
        *msg = "out of memory loading the certificate";
    if (g) {
        g->pss = pss;
        if (X509_digest(c, pss ? EVP_sha256() : EVP_sha1(), g->thumb, &g->thumb_len) != 1) {
            snprintf(err, ERRLEN, "cannot hash the certificate (%s)", reason_of_last_error());
            *msg = err;
            free(g);
            g = NULL;
        } else {
            g->key = k; /* ownership moves to the signer */
            k = NULL;
        }
    }
    EVP_PKEY_free(k);
    X509_free(c);
    ERR_clear_error();
    return g;
}

const char *ap_signer_alg(const ap_signer *g)
{
    return g->pss ? "PS256" : "RS256";
}

static const char *sign(const ap_signer *g, const char *in, size_t inlen, unsigned char *sig, size_t *siglen,
                        char *err)
{
    EVP_PKEY_CTX *pctx = NULL;
    ERR_clear_error();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return "out of memory signing the assertion";
    int ok = EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, g->key) == 1;
    if (ok && g->pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
    else if (ok)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    *siglen = MAX_SIG_BYTES;
    if (ok)
        ok = EVP_DigestSign(md, sig, siglen, (const unsigned char *)in, inlen) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        snprintf(err, ERRLEN, "cannot sign the assertion (%s)", reason_of_last_error());
        return err;
    }
    return NULL;
}

/* "name":"value" or "name":number, after a comma unless first. Returns nonzero when out of memory. */
static int put_member(ap_buf *b, const char *name, const char *value, long long number, int first)
{
    char num[32];
    int bad = (!first && ap_buf_append(b, ",", 1)) || ap_json_put_string(b, name, strlen(name)) ||
              ap_buf_append(b, ":", 1);
    if (bad)
        return -1;
    if (value)
        return ap_json_put_string(b, value, strlen(value));
    snprintf(num, sizeof num, "%lld", number);
    return ap_buf_append_str(b, num);
}

char *ap_signer_assertion(const ap_signer *g, const char *client_id, const char *audience, long long now,
                          int lifetime, char err[AP_SIGNER_ERRLEN], const char **msg)
{
    ap_buf head = {0}, claims = {0}, jwt = {0};
    jwt.secret = 1; /* a signed assertion is a credential for its lifetime */
    unsigned char sig[MAX_SIG_BYTES];
    size_t sig_len = 0;
    char jti[37];
    char *result = NULL;
    *msg = NULL;
    ap_guid(jti); /* a new id per assertion: the service refuses a replayed one */
    int bad = ap_buf_append(&head, "{", 1) || put_member(&head, "alg", ap_signer_alg(g), 0, 1) ||
              put_member(&head, "typ", "JWT", 0, 0) ||
              ap_buf_append_str(&head, g->pss ? ",\"x5t#S256\":\"" : ",\"x5t\":\"") ||
              ap_b64url_encode(&head, g->thumb, g->thumb_len) || ap_buf_append_str(&head, "\"}") ||
              ap_buf_append(&claims, "{", 1) || put_member(&claims, "aud", audience, 0, 1) ||
              put_member(&claims, "exp", NULL, now + lifetime, 0) ||
              put_member(&claims, "iss", client_id, 0, 0) || put_member(&claims, "jti", jti, 0, 0) ||
              put_member(&claims, "nbf", NULL, now, 0) || put_member(&claims, "iat", NULL, now, 0) ||
              put_member(&claims, "sub", client_id, 0, 0) || ap_buf_append(&claims, "}", 1) ||
              ap_b64url_encode(&jwt, (const unsigned char *)head.data, head.len) ||
              ap_buf_append(&jwt, ".", 1) ||
              ap_b64url_encode(&jwt, (const unsigned char *)claims.data, claims.len);
    if (!bad && !(*msg = sign(g, jwt.data, jwt.len, sig, &sig_len, err))) {
        bad = ap_buf_append(&jwt, ".", 1) || ap_b64url_encode(&jwt, sig, sig_len);
        if (!bad)
            result = ap_buf_take(&jwt);
    }
    if (bad)
        *msg = "out of memory building the assertion";
    explicit_bzero(sig, sizeof sig);
    ap_buf_free(&head);
    ap_buf_free(&claims);
    ap_buf_free(&jwt);
    return result;
}

static long long asn1_epoch(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    return (long long)timegm(&tm);
}

int ap_certificate_info(const char *cert, size_t len, ap_cert_info *out, char err[AP_SIGNER_ERRLEN],
                        const char **msg)
{
    X509 *c = load_cert(cert, len, err, msg);
    if (!c)
        return -1;
    unsigned int n1 = 0, n256 = 0;
    unsigned char d1[EVP_MAX_MD_SIZE], d256[EVP_MAX_MD_SIZE];
    int ok = X509_digest(c, EVP_sha1(), d1, &n1) == 1 && X509_digest(c, EVP_sha256(), d256, &n256) == 1 &&
             n1 == sizeof out->sha1 && n256 == sizeof out->sha256;
    if (ok) {
        memcpy(out->sha1, d1, n1);
        memcpy(out->sha256, d256, n256);
        out->not_before = asn1_epoch(X509_get0_notBefore(c));
        out->not_after = asn1_epoch(X509_get0_notAfter(c));
    } else {
        snprintf(err, ERRLEN, "cannot hash the certificate (%s)", reason_of_last_error());
        *msg = err;
    }
    X509_free(c);
    ERR_clear_error();
    return ok ? 0 : -1;
}
