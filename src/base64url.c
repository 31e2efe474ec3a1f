/*
 * lua-autopilot: base64url of base64url.h.
 */
#include "base64url.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int ap_b64url_encode(ap_buf *out, const unsigned char *p, size_t n)
{
    char q[4];
    for (; n >= 3; p += 3, n -= 3) {
        q[0] = alphabet[p[0] >> 2];
        q[1] = alphabet[((p[0] & 3) << 4) | (p[1] >> 4)];
        q[2] = alphabet[((p[1] & 15) << 2) | (p[2] >> 6)];
        q[3] = alphabet[p[2] & 63];
        if (ap_buf_append(out, q, 4))
            return -1;
    }
    if (n == 0)
        return 0;
    q[0] = alphabet[p[0] >> 2];
    if (n == 1) {
        q[1] = alphabet[(p[0] & 3) << 4];
        return ap_buf_append(out, q, 2);
    }
    q[1] = alphabet[((p[0] & 3) << 4) | (p[1] >> 4)];
    q[2] = alphabet[(p[1] & 15) << 2];
    return ap_buf_append(out, q, 3);
}

static int value_of(unsigned char c, int strict)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || (c == '+' && !strict))
        return 62;
    if (c == '_' || (c == '/' && !strict))
        return 63;
    return -1;
}

static int fail(const char **why, const char *text)
{
    if (why)
        *why = text;
    return -1;
}

int ap_b64url_decode(ap_buf *out, const char *p, size_t n, int strict, const char **why)
{
    while (!strict && n > 0 && p[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return fail(why, "invalid base64url: bad length");
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value_of((unsigned char)p[i], strict);
        if (v < 0)
            return fail(why, "invalid base64url: unexpected character");
        acc = ((acc << 6) | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            if (ap_buf_append(out, &c, 1))
                return fail(why, "out of memory");
        }
    }
    if (strict && bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return fail(why, "invalid base64url: non-zero trailing bits");
    return 0;
}
