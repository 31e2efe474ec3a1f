/*
 * lua-autopilot: the option reader of options.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "options.h"

ap_opts ap_opts_of(lua_State *L, int idx, const char *table, int nested)
{
    ap_opts o = {L, lua_absindex(L, idx), table, nested};
    return o;
}

/* "option 'timeout'" or "auth.client_id" */
static void field_name(const ap_opts *o, const char *key, char *out, size_t size)
{
    if (o->nested)
        snprintf(out, size, "%s.%s", o->table, key);
    else
        snprintf(out, size, "option '%s'", key);
}

int ap_opts_error(const ap_opts *o, const char *key, const char *what)
{
    char name[128];
    field_name(o, key, name, sizeof name);
    return luaL_error(o->L, "%s %s", name, what);
}

static int type_error(const ap_opts *o, const char *key, const char *expected, int got)
{
    char what[96];
    snprintf(what, sizeof what, "must be %s (got %s)", expected, lua_typename(o->L, got));
    return ap_opts_error(o, key, what);
}

void ap_opts_check_keys(const ap_opts *o, const char *const *allowed)
{
    lua_State *L = o->L;
    lua_pushnil(L);
    while (lua_next(L, o->idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            if (o->table)
                luaL_error(L, "%s: option names must be strings", o->table);
            luaL_error(L, "option names must be strings");
        }
        const char *k = lua_tostring(L, -1);
        const char *const *a = allowed;
        while (*a && strcmp(*a, k) != 0)
            a++;
        if (!*a) {
            if (o->table)
                luaL_error(L, "%s: unknown option '%s'", o->table, k);
            luaL_error(L, "unknown option '%s'", k);
        }
    }
}

int ap_opts_has(const ap_opts *o, const char *key)
{
    int t = lua_getfield(o->L, o->idx, key);
    lua_pop(o->L, 1);
    return t != LUA_TNIL;
}

/* A number as a message shows it: whole numbers in full, others through %g (snprintf: lua_pushfstring has no
 * %g). */
static void number_text(char *out, size_t size, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, size, "%.0f", v);
    else
        snprintf(out, size, "%g", v);
}

/* kind: "a number" or "an integer"; got: the value given (NaN and infinities included) */
static int range_error(const ap_opts *o, const char *key, const char *kind, double lo, double hi, double got)
{
    char a[32], b[32], g[32], what[160];
    number_text(a, sizeof a, lo);
    number_text(b, sizeof b, hi);
    number_text(g, sizeof g, got);
    snprintf(what, sizeof what, "must be %s between %s and %s (got %s)", kind, a, b, g);
    return ap_opts_error(o, key, what);
}

double ap_opts_number(const ap_opts *o, const char *key, double dflt, double lo, double hi)
{
    lua_State *L = o->L;
    int t = lua_getfield(L, o->idx, key);
    double v = dflt;
    if (t != LUA_TNIL) {
        if (t != LUA_TNUMBER)
            type_error(o, key, "a number", t);
        v = lua_tonumber(L, -1);
        if (!(v >= lo && v <= hi)) /* NaN too */
            range_error(o, key, "a number", lo, hi, v);
    }
    lua_pop(L, 1);
    return v;
}

lua_Integer ap_opts_integer(const ap_opts *o, const char *key, lua_Integer dflt, lua_Integer lo,
                            lua_Integer hi)
{
    lua_State *L = o->L;
    int t = lua_getfield(L, o->idx, key);
    lua_Integer v = dflt;
    if (t != LUA_TNIL) {
        int isint = 0;
        v = lua_tointegerx(L, -1, &isint);
        if (t != LUA_TNUMBER)
            type_error(o, key, "an integer", t);
        if (!isint || v < lo || v > hi) /* 10.5 is a number outside the integers' range too */
            range_error(o, key, "an integer", (double)lo, (double)hi, lua_tonumber(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

int ap_opts_boolean(const ap_opts *o, const char *key, int dflt)
{
    lua_State *L = o->L;
    int t = lua_getfield(L, o->idx, key);
    int v = dflt;
    if (t != LUA_TNIL) {
        if (t != LUA_TBOOLEAN)
            type_error(o, key, "a boolean", t);
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

int ap_opts_choice(const ap_opts *o, const char *key, const char *const *names, int dflt)
{
    const char *v = ap_opts_lstring(o, key, 0, NULL);
    if (!v)
        return dflt;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    char what[160] = "must be";
    for (int i = 0; names[i]; i++) {
        size_t n = strlen(what);
        snprintf(what + n, sizeof what - n, "%s \"%s\"", i == 0 ? "" : names[i + 1] ? "," : " or", names[i]);
    }
    return ap_opts_error(o, key, what);
}

static int has_control(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return 1;
    return 0;
}

const char *ap_opts_lstring(const ap_opts *o, const char *key, unsigned rules, size_t *len)
{
    lua_State *L = o->L;
    int t = lua_getfield(L, o->idx, key);
    size_t n = 0;
    const char *v = NULL;
    if (t != LUA_TNIL || (rules & AP_OPT_REQUIRED)) {
        if (t != LUA_TSTRING)
            type_error(o, key, "a string", t);
        v = lua_tolstring(L, -1, &n);
        if ((rules & AP_OPT_NONEMPTY) && n == 0)
            ap_opts_error(o, key, "must not be empty");
        if ((rules & AP_OPT_NO_CTRL) && has_control(v, n))
            ap_opts_error(o, key, "must not contain control characters");
        if ((rules & AP_OPT_NO_NUL) && strlen(v) != n)
            ap_opts_error(o, key, "must not contain NUL");
        if ((rules & AP_OPT_HTTP_URL) && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            ap_opts_error(o, key, "must be an http or https URL");
    }
    lua_pop(L, 1); /* the table still holds the string */
    if (len)
        *len = n;
    return v;
}

char *ap_opts_strdup(const ap_opts *o, const char *key, unsigned rules)
{
    size_t n;
    const char *v = ap_opts_lstring(o, key, rules, &n);
    if (!v)
        return NULL;
    char *d = malloc(n + 1);
    if (!d)
        luaL_error(o->L, "not enough memory");
    memcpy(d, v, n);
    d[n] = '\0';
    return d;
}
