/*
 * lua-autopilot: certificate credentials (RFC 7523, Microsoft identity platform "certificate
 * credentials"). A signer is a certificate and its RSA private key, parsed and checked once; it makes a
 * fresh client assertion (a JWT with a new jti) for every token request, PS256 with x5t#S256 or RS256
 * with x5t. Plain C that never raises; messages name what is wrong, never key material or a passphrase.
 */
#ifndef AP_SIGNER_H
#define AP_SIGNER_H

#include <stddef.h>

#define AP_SIGNER_ERRLEN 256
#define AP_ASSERTION_LIFETIME 600 /* seconds; Microsoft accepts at most 10 minutes */

typedef struct ap_signer ap_signer;

/* Parses and checks (RSA, >= 2048 bits, the key matches the certificate). NULL with *msg set on failure
 * (*msg may point into err). pass may be NULL. */
ap_signer *ap_signer_new(const char *cert, size_t cert_len, const char *key, size_t key_len, const char *pass,
                         size_t pass_len, int pss, char err[AP_SIGNER_ERRLEN], const char **msg);
/* A signed JWT (malloc'd; the caller wipes and frees it), or NULL with *msg set. */
char *ap_signer_assertion(const ap_signer *g, const char *client_id, const char *audience, long long now,
                          int lifetime, char err[AP_SIGNER_ERRLEN], const char **msg);
const char *ap_signer_alg(const ap_signer *g); /* "PS256" or "RS256" */
void ap_signer_free(ap_signer *g);             /* NULL is fine; libcrypto clears the private parts */

/* A certificate's thumbprints and validity, for diagnostics. */
typedef struct ap_cert_info {
    unsigned char sha1[20], sha256[32];
    long long not_before, not_after; /* epoch seconds, -1 when unreadable */
} ap_cert_info;
int ap_certificate_info(const char *cert, size_t len, ap_cert_info *out, char err[AP_SIGNER_ERRLEN],
                        const char **msg); /* 0 ok */

#endif
