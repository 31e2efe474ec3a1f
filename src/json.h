/*
 * lua-autopilot: the few JSON texts the C core must read itself, so that what they carry never becomes a
 * Lua value it need not be: token endpoint replies (the access and refresh tokens stay in session memory),
 * the devicecode reply, a Graph error's code, and $batch replies. Everything else is decoded by lua-cjson
 * in Lua (autopilot.json).
 *
 * A text is checked once (ap_json_parse: RFC 8259, nesting at most AP_JSON_DEPTH); the accessors then walk
 * the checked text without copying it. Strings are unescaped (\uXXXX and surrogate pairs to UTF-8) only
 * when asked for, into a caller's buffer. Duplicate members: the last one wins, as in lua-cjson.
 */
#ifndef AP_JSON_H
#define AP_JSON_H

#include <stddef.h>

#include "buf.h"

#define AP_JSON_DEPTH 64

/* One JSON value inside a checked text: the bytes [p, p + n). */
typedef struct ap_json {
    const char *p;
    size_t n;
} ap_json;

enum ap_json_type {
    AP_JSON_NONE,
    AP_JSON_OBJECT,
    AP_JSON_ARRAY,
    AP_JSON_STRING,
    AP_JSON_NUMBER,
    AP_JSON_TRUE,
    AP_JSON_FALSE,
    AP_JSON_NULL
};

int ap_json_parse(const char *text, size_t n, ap_json *root); /* 0: one JSON value (white space around it) */
int ap_json_type(ap_json v);
int ap_json_member(ap_json object, const char *key, ap_json *out); /* 1 found, 0 not (or not an object) */
/* The next member of an object (key set) or element of an array (key unset); *pos starts at 0. 1 or 0 at end.
 */
int ap_json_next(ap_json container, size_t *pos, ap_json *key, ap_json *value);
int ap_json_string(ap_json v, ap_buf *out);   /* appends the unescaped string; -1 not a string, no memory */
int ap_json_equals(ap_json v, const char *s); /* 1 when v is the string s */
int ap_json_number(ap_json v, double *out);   /* 0: a number, or a string that holds one (managed identity) */

/* Appends s[0..n) as a JSON string literal, quotes included; 0 ok, -1 out of memory. */
int ap_json_put_string(ap_buf *out, const char *s, size_t n);

#endif
