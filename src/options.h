/*
 * lua-autopilot: the one reader of option tables given to C (core.session, its auth table, core.signer,
 * core.client_assertion, the emulator's host.start). A wrong key, type or value raises with a message that
 * names the option and what it must be; the value itself is never quoted (it may be a secret).
 *
 * Fields are named "option 'timeout'" in a top-level table and "auth.client_id" in a nested one.
 */
#ifndef AP_OPTIONS_H
#define AP_OPTIONS_H

#include <stddef.h>

#include <lua.h>

typedef struct ap_opts {
    lua_State *L;
    int idx;           /* absolute index of the table */
    const char *table; /* "session", "auth", "limit", ... (NULL: messages without a prefix) */
    int nested;        /* fields are called table.key, not option 'key' */
} ap_opts;

/* The reader of the table at idx (made absolute). */
ap_opts ap_opts_of(lua_State *L, int idx, const char *table, int nested);

/* Raises on a key not in allowed (a NULL-terminated list). */
void ap_opts_check_keys(const ap_opts *o, const char *const *allowed);

/* Whether the field is present (not nil). */
int ap_opts_has(const ap_opts *o, const char *key);

double ap_opts_number(const ap_opts *o, const char *key, double dflt, double lo, double hi);
lua_Integer ap_opts_integer(const ap_opts *o, const char *key, lua_Integer dflt, lua_Integer lo,
                            lua_Integer hi);
int ap_opts_boolean(const ap_opts *o, const char *key, int dflt);
/* One of names (a NULL-terminated list): its index; dflt when absent. */
int ap_opts_choice(const ap_opts *o, const char *key, const char *const *names, int dflt);

/* String rules, or-ed together. */
#define AP_OPT_REQUIRED 1u  /* absent raises "... must be a string (got nil)" */
#define AP_OPT_NONEMPTY 2u  /* "" raises */
#define AP_OPT_NO_CTRL 4u   /* control characters raise (header-safe; NUL included) */
#define AP_OPT_NO_NUL 8u    /* an embedded NUL raises */
#define AP_OPT_HTTP_URL 16u /* must start with http:// or https:// */

/* A string field, borrowed from the table (valid while the table holds it), or NULL when absent. */
const char *ap_opts_lstring(const ap_opts *o, const char *key, unsigned rules, size_t *len);
/* The same, copied into malloc'd memory the caller owns (raises when out of memory). */
char *ap_opts_strdup(const ap_opts *o, const char *key, unsigned rules);

/* Raises "<field> <what>" for a check the reader cannot make itself. */
int ap_opts_error(const ap_opts *o, const char *key, const char *what);

#endif
