/*
 * lua-autopilot: Retry-After (retry_after.h).
 */
#include <string.h>

#include <curl/curl.h>
#include <lauxlib.h>

#include "clock.h"
#include "core_open.h"
#include "headers.h"
#include "retry_after.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Digits with at most one '.', e.g. "10", "2.128", ".5": parsed without strtod (locale-free); the
 * fraction is divided once so "2.128" gives the same double as the literal 2.128. */
static double parse_seconds(const char *v, size_t n)
{
    double whole = 0, frac = 0, scale = 1;
    int dot = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '.' && !dot) {
            dot = 1;
        } else if (c >= '0' && c <= '9') {
            digits++;
            if (!dot) {
                whole = whole * 10 + (c - '0');
            } else if (scale < 1e15) {
                frac = frac * 10 + (c - '0');
                scale *= 10;
            }
        } else {
            return -1;
        }
    }
    return digits ? (whole * scale + frac) / scale : -1;
}

double ap_parse_http_date(const char *v, size_t n)
{
    char tmp[128];
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    time_t t = curl_getdate(tmp, NULL);
    return t < 0 ? -1 : (double)t;
}

double ap_parse_retry_after(const char *v, size_t n, const ap_buf *headers)
{
    while (n > 0 && is_space(*v))
        v++, n--;
    while (n > 0 && is_space(v[n - 1]))
        n--;
    if (n == 0)
        return -1;
    if ((*v >= '0' && *v <= '9') || *v == '.') {
        const char *comma = memchr(v, ',', n);
        if (comma) { /* "30,120": the first value */
            n = (size_t)(comma - v);
            while (n > 0 && is_space(v[n - 1]))
                n--;
        }
        return parse_seconds(v, n);
    }
    double at = ap_parse_http_date(v, n);
    if (at < 0)
        return -1;
    /* Measure against the response's own Date when it has one: immune to clock skew, and since Date
     * is truncated to the second the wait can only come out longer, never early. */
    const char *d;
    size_t dn;
    double ref = -1;
    if (headers && ap_header_find(headers, "date", &d, &dn))
        ref = ap_parse_http_date(d, dn);
    if (ref < 0)
        ref = ap_epoch();
    return at > ref ? at - ref : 0;
}

/* core.retry_after(value [, date]) -> seconds | nil: what the engine reads from a reply (for tests and
 * tools). */
static int l_retry_after(lua_State *L)
{
    size_t n, dn = 0;
    const char *v = luaL_checklstring(L, 1, &n);
    const char *date = luaL_optlstring(L, 2, NULL, &dn);
    ap_buf headers = {0};
    if (date && (ap_buf_append(&headers, "Date: ", 6) || ap_buf_append(&headers, date, dn))) {
        ap_buf_free(&headers);
        return luaL_error(L, "not enough memory");
    }
    double wait = ap_parse_retry_after(v, n, date ? &headers : NULL);
    ap_buf_free(&headers);
    if (wait < 0)
        luaL_pushfail(L);
    else
        lua_pushnumber(L, wait);
    return 1;
}

void ap_open_retry_after(lua_State *L)
{
    lua_pushcfunction(L, l_retry_after);
    lua_setfield(L, -2, "retry_after");
}
