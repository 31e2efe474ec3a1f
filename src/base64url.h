/*
 * lua-autopilot: base64url (RFC 4648 section 5), the encoding of JWTs and certificate thumbprints.
 */
#ifndef AP_BASE64URL_H
#define AP_BASE64URL_H

#include <stddef.h>

#include "buf.h"

/* Appends the unpadded base64url text of p[0..n) to out; 0 ok, -1 out of memory. */
int ap_b64url_encode(ap_buf *out, const unsigned char *p, size_t n);
/* Appends the bytes of a base64url text; 0 ok, -1 with *why set (why may be NULL). Lenient: base64's + and
 * / and padding are accepted too (JWT payloads of tokens we only read). Strict: canonical unpadded
 * base64url only, no stray bits (what a verifier of signatures must insist on). */
int ap_b64url_decode(ap_buf *out, const char *p, size_t n, int strict, const char **why);

#endif
