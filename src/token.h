/*
 * lua-autopilot: the session's access token and when to use and renew it. A token brought by the caller
 * never expires here; an acquired one is used until shortly before it expires (2% of its lifetime, at
 * most 30 s) and fetched again ahead of that (from 10% before, at most 5 minutes) without holding
 * transfers back. The token lives only in this memory, wiped when replaced or freed.
 */
#ifndef AP_TOKEN_H
#define AP_TOKEN_H

#include <lua.h>

#include "buf.h"

typedef struct ap_token {
    char *value;          /* NULL: none */
    unsigned gen;         /* bumped whenever the token changes or is dropped */
    int lasting;          /* brought by the caller: no expiry known */
    double expires_mono;  /* acquired: do not use from then on (monotonic) */
    double refresh_mono;  /* acquired: fetch the next one ahead from then on */
    double expires_epoch; /* the same expiry as epoch seconds, for token_info */
    char *granted_scope;  /* the scope the token endpoint says it granted */
    lua_Integer fetched;  /* tokens acquired so far */
} ap_token;

/* A token endpoint reply, read in C (json.c): the tokens never become Lua strings. */
typedef struct ap_token_reply {
    ap_buf access_token, refresh_token; /* secret */
    ap_buf scope;
    double expires_in; /* seconds, < 0 when absent */
    double expires_on; /* epoch seconds (managed identity), < 0 when absent */
    char error[64];    /* the OAuth `error`, "" when none */
} ap_token_reply;

/* Reads a reply body into r (initialised here); 0 when it is a JSON object, -1 otherwise. */
int ap_token_reply_parse(ap_token_reply *r, const char *body, size_t n);
void ap_token_reply_free(ap_token_reply *r);

int ap_token_usable(const ap_token *t, double now);
int ap_token_fresh(const ap_token *t, double now);
/* Takes the reply's access token (moved out of r): 1, or 0 when the reply holds no usable token. */
int ap_token_take(ap_token *t, ap_token_reply *r, double now);
int ap_token_set_lasting(ap_token *t, const char *value, size_t n); /* brought by the caller; -1 no memory */
void ap_token_drop(ap_token *t, unsigned gen);                      /* a 401 said it is no good */
void ap_token_free(ap_token *t);

#endif
