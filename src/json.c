/*
 * lua-autopilot: the small JSON reader and string writer of json.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

/* ---- checking ---------------------------------------------------------------------------------- */

static const char *skip_space(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *check_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (++p >= e)
                return NULL;
            if (*p == 'u') {
                if (e - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]))
                    return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p) || *p == '\0') {
                return NULL;
            }
        }
    }
    return NULL;
}

static const char *check_digits(const char *p, const char *e)
{
    if (p >= e || !is_digit(*p))
        return NULL;
    while (p < e && is_digit(*p))
        p++;
    return p;
}

static const char *check_number(const char *p, const char *e)
{
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (!(p = check_digits(p, e)))
        return NULL;
    if (p < e && *p == '.' && !(p = check_digits(p + 1, e)))
        return NULL;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!(p = check_digits(p, e)))
            return NULL;
    }
    return p;
}

static const char *check_literal(const char *p, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *check_value(const char *p, const char *e, int depth);

/* An object or an array: members "key": value (object) or values, comma separated. */
static const char *check_container(const char *p, const char *e, int depth, int object)
{
    char close = object ? '}' : ']';
    if (depth >= AP_JSON_DEPTH)
        return NULL;
    p = skip_space(p + 1, e);
    if (p < e && *p == close)
        return p + 1;
    for (;;) {
        if (object) {
            if (p >= e || *p != '"' || !(p = check_string(p, e)))
                return NULL;
            p = skip_space(p, e);
            if (p >= e || *p != ':')
                return NULL;
            p = skip_space(p + 1, e);
        }
        if (!(p = check_value(p, e, depth + 1)))
            return NULL;
        p = skip_space(p, e);
        if (p < e && *p == close)
            return p + 1;
        if (p >= e || *p != ',')
            return NULL;
        p = skip_space(p + 1, e);
    }
}

static const char *check_value(const char *p, const char *e, int depth)
{
    if (p >= e)
        return NULL;
    switch (*p) {
    case '{':
        return check_container(p, e, depth, 1);
    case '[':
        return check_container(p, e, depth, 0);
    case '"':
        return check_string(p, e);
    case 't':
        return check_literal(p, e, "true");
    case 'f':
        return check_literal(p, e, "false");
    case 'n':
        return check_literal(p, e, "null");
    default:
        return check_number(p, e);
    }
}

int ap_json_parse(const char *text, size_t n, ap_json *root)
{
    if (!text)
        return -1;
    const char *e = text + n, *p = skip_space(text, e);
    const char *end = check_value(p, e, 0);
    if (!end || skip_space(end, e) != e)
        return -1;
    root->p = p;
    root->n = (size_t)(end - p);
    return 0;
}

/* ---- walking a checked text --------------------------------------------------------------------- */

int ap_json_type(ap_json v)
{
    if (!v.p || v.n == 0)
        return AP_JSON_NONE;
    switch (v.p[0]) {
    case '{':
        return AP_JSON_OBJECT;
    case '[':
        return AP_JSON_ARRAY;
    case '"':
        return AP_JSON_STRING;
    case 't':
        return AP_JSON_TRUE;
    case 'f':
        return AP_JSON_FALSE;
    case 'n':
        return AP_JSON_NULL;
    default:
        return AP_JSON_NUMBER;
    }
}

int ap_json_next(ap_json c, size_t *pos, ap_json *key, ap_json *value)
{
    int t = ap_json_type(c);
    if (t != AP_JSON_OBJECT && t != AP_JSON_ARRAY)
        return 0;
    const char *e = c.p + c.n, *p = c.p + (*pos ? *pos : 1);
    p = skip_space(p, e);
    if (p < e && *p == ',')
        p = skip_space(p + 1, e);
    if (p >= e || *p == '}' || *p == ']')
        return 0;
    if (t == AP_JSON_OBJECT) {
        const char *ke = check_string(p, e);
        if (key) {
            key->p = p;
            key->n = (size_t)(ke - p);
        }
        p = skip_space(skip_space(ke, e) + 1, e); /* past ':' */
    }
    const char *ve = check_value(p, e, 0);
    value->p = p;
    value->n = (size_t)(ve - p);
    *pos = (size_t)(ve - c.p);
    return 1;
}

int ap_json_equals(ap_json v, const char *s)
{
    if (ap_json_type(v) != AP_JSON_STRING)
        return 0;
    size_t n = strlen(s);
    if (!memchr(v.p, '\\', v.n))
        return v.n == n + 2 && memcmp(v.p + 1, s, n) == 0;
    ap_buf b = {0};
    int eq = ap_json_string(v, &b) == 0 && b.len == n && memcmp(b.data, s, n) == 0;
    ap_buf_free(&b);
    return eq;
}

int ap_json_member(ap_json object, const char *key, ap_json *out)
{
    if (ap_json_type(object) != AP_JSON_OBJECT)
        return 0;
    size_t pos = 0;
    ap_json k, v;
    int found = 0;
    while (ap_json_next(object, &pos, &k, &v)) {
        if (ap_json_equals(k, key)) {
            *out = v; /* keep going: the last one wins */
            found = 1;
        }
    }
    return found;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static int put_utf8(ap_buf *out, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    return ap_buf_append(out, u, n);
}

int ap_json_string(ap_json v, ap_buf *out)
{
    if (ap_json_type(v) != AP_JSON_STRING)
        return -1;
    const char *p = v.p + 1, *e = v.p + v.n - 1; /* inside the quotes */
    while (p < e) {
        const char *run = p;
        while (p < e && *p != '\\')
            p++;
        if (p > run && ap_buf_append(out, run, (size_t)(p - run)))
            return -1;
        if (p >= e)
            break;
        char c = p[1], lit;
        p += 2;
        switch (c) {
        case 'b':
            lit = '\b';
            break;
        case 'f':
            lit = '\f';
            break;
        case 'n':
            lit = '\n';
            break;
        case 'r':
            lit = '\r';
            break;
        case 't':
            lit = '\t';
            break;
        case 'u': {
            unsigned cp = hex4(p);
            p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = hex4(p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd; /* a lone surrogate */
            if (put_utf8(out, cp))
                return -1;
            continue;
        }
        default:
            lit = c;
            break; /* " \ / */
        }
        if (ap_buf_append(out, &lit, 1))
            return -1;
    }
    if (!out->data && ap_buf_append(out, "", 1) == 0)
        out->len = 0; /* an empty string still gives a NUL-terminated buffer */
    return out->data ? 0 : -1;
}

/* A number in JSON's grammar, read without strtod (locale-free). */
static int read_number(const char *p, const char *e, double *out)
{
    const char *end = check_number(p, e);
    if (!end || end != e)
        return -1;
    int neg = *p == '-';
    if (neg)
        p++;
    double v = 0;
    for (; p < e && is_digit(*p); p++)
        v = v * 10 + (*p - '0');
    int scale = 0;
    if (p < e && *p == '.') {
        for (p++; p < e && is_digit(*p); p++) {
            if (scale > -300) {
                v = v * 10 + (*p - '0');
                scale--;
            }
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = *p == '-';
        if (*p == '+' || *p == '-')
            p++;
        int x = 0;
        for (; p < e && is_digit(*p); p++)
            if (x < 100000)
                x = x * 10 + (*p - '0');
        scale += eneg ? -x : x;
    }
    if (scale < 0)
        v /= pow(10, -scale); /* one division: "2.5" gives the same double as the literal */
    else if (scale > 0)
        v *= pow(10, scale);
    *out = neg ? -v : v;
    return 0;
}

int ap_json_number(ap_json v, double *out)
{
    int t = ap_json_type(v);
    if (t == AP_JSON_NUMBER)
        return read_number(v.p, v.p + v.n, out);
    if (t != AP_JSON_STRING || memchr(v.p, '\\', v.n))
        return -1;
    return read_number(v.p + 1, v.p + v.n - 1, out);
}

/* ---- writing --------------------------------------------------------------------------------------- */

int ap_json_put_string(ap_buf *out, const char *s, size_t n)
{
    if (ap_buf_append(out, "\"", 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t en = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, en = 2;
        } else if (c < 0x20 || c == 0x7f) {
            en = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            esc[0] = (char)c;
        }
        if (ap_buf_append(out, esc, en))
            return -1;
    }
    return ap_buf_append(out, "\"", 1);
}
