/*
 * lua-autopilot: private declarations shared by the C core (module autopilot.core).
 * Only luaopen_autopilot_core is exported; everything here has hidden visibility.
 */
#ifndef AUTOPILOT_INTERNAL_H
#define AUTOPILOT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>

#define AP_VERSION "0.1.0"
#define AP_SESSION_MT "autopilot.Session"

/* Session user values (lua_newuserdatauv slots). */
#define AP_UV_TAGS 1   /* table: transfer id -> tag as submitted */
#define AP_UV_DECODE 2 /* the JSON decode function given at session creation */
#define AP_UV_AUTH 3   /* table: the auth callbacks (on_device_code, on_refresh_token) or nil */
#define AP_SESSION_UVS 3

/* ---- growable byte buffer (buf.c) ------------------------------------------------------------ */

typedef struct ap_buf {
    char *data;
    size_t len, cap;
    int secret; /* growing copies and wipes the old block (no realloc leaving a secret behind) */
} ap_buf;

int ap_buf_append(ap_buf *b, const char *p, size_t n); /* 0 ok, -1 out of memory */
void ap_buf_reset(ap_buf *b);                          /* len = 0, keeps the memory */
void ap_buf_free(ap_buf *b, int wipe);                 /* wipe: zero before freeing (secrets) */

/* ---- one transfer (transfer.c) --------------------------------------------------------------- */

enum ap_xfer_kind { AP_XK_GRAPH, AP_XK_TOKEN };
enum ap_xfer_state { AP_XS_QUEUED, AP_XS_RUNNING, AP_XS_DONE };

typedef struct ap_xfer {
    struct ap_xfer *prev, *next; /* in exactly one of the session's lists (or the token slot) */
    lua_Integer id;
    int kind, state;
    char method[8];
    char *url;
    char *body; /* request body (may hold a secret for token requests: wiped on free) */
    size_t body_len;
    int has_body;
    struct curl_slist *user_headers; /* "Name: value" copies of the caller's headers */
    unsigned user_has;               /* AP_H_* bits: default headers the caller replaced */
    int idempotent;
    char request_guid[37]; /* client-request-id: one per request, kept across its retries */

    /* current attempt */
    CURL *easy;
    struct curl_slist *req_headers;
    ap_buf resp_body, resp_headers;
    char errbuf[CURL_ERROR_SIZE];
    long status;
    CURLcode code;
    unsigned token_gen; /* generation of the token the attempt carried */

    /* across attempts */
    int attempts;       /* HTTP attempts sent */
    int retries;        /* retries scheduled for 429/503/504/transport (max_retries applies) */
    int auth_retried;   /* the one retry after a 401 on a session-acquired token */
    double waited;      /* seconds scheduled to wait before retries */
    double retry_after; /* last Retry-After seen, seconds; < 0 when none */
    double not_before;  /* monotonic time before which it must not start */
    int awaiting_token; /* blocked on the session's token fetch */

    /* token endpoint failure copied into a Graph transfer */
    int auth_failed;
    long auth_status;
    ap_buf auth_body;
    CURLcode auth_code;
    char auth_errmsg[CURL_ERROR_SIZE];
} ap_xfer;

#define AP_H_ACCEPT 1u
#define AP_H_CTYPE 2u
#define AP_H_AUTH 4u
#define AP_H_REQID 8u

typedef struct ap_list {
    ap_xfer *head, *tail;
    int count;
} ap_list;

void ap_list_push(ap_list *l, ap_xfer *x);
void ap_list_push_front(ap_list *l, ap_xfer *x);
void ap_list_remove(ap_list *l, ap_xfer *x);

/* ---- the session ----------------------------------------------------------------------------- */

enum ap_auth_kind {
    AP_AUTH_NONE,
    AP_AUTH_TOKEN,            /* brought by the caller */
    AP_AUTH_CLIENT_SECRET,    /* client credentials, secret */
    AP_AUTH_CERTIFICATE,      /* client credentials, client assertion signed in C */
    AP_AUTH_DELEGATED,        /* refresh token and/or device code (flow "device_code" or "refresh_token") */
    AP_AUTH_MANAGED_IDENTITY, /* App Service IDENTITY_ENDPOINT or IMDS */
};

/* What the token request in flight asks for (delegated flows have several steps). */
enum ap_auth_step { AP_STEP_TOKEN, AP_STEP_REFRESH, AP_STEP_DEVICECODE, AP_STEP_DEVICE_POLL };

/* A loaded certificate + private key that signs client assertions (assertion.c; never raises). */
typedef struct ap_signer ap_signer;
#define AP_SIGNER_ERRLEN 256
ap_signer *ap_signer_new(const char *cert, size_t cert_len, const char *key, size_t key_len, const char *pass,
                         size_t pass_len, int pss, char err[AP_SIGNER_ERRLEN], const char **msg);
char *ap_signer_assertion(ap_signer *g, const char *client_id, size_t id_len, const char *aud, size_t aud_len,
                          long long now, int lifetime, char err[AP_SIGNER_ERRLEN], const char **msg);
void ap_signer_free(ap_signer *g);

typedef struct ap_auth {
    int kind;
    char *access_token;   /* current token (bring-your-own or acquired); wiped on free */
    unsigned gen;         /* bumped on every new or invalidated token */
    double expires_mono;  /* monotonic expiry of an acquired token (0: none) */
    double refresh_mono;  /* monotonic time after which a fresh token is fetched ahead */
    double expires_epoch; /* the same expiry as epoch seconds, for token_info */
    char *token_url, *client_id, *client_secret, *scope;
    ap_xfer *fetch; /* the token request in progress (queued or running), or NULL */
    char flow[24];  /* name shown by token_info */
    int step;       /* enum ap_auth_step of `fetch` */
    ap_signer *signer;    /* certificate: the parsed key, freed (and cleared by libcrypto) on close */
    int alg_pss;          /* certificate: PS256 (else RS256) */
    char *refresh_token;  /* delegated: current refresh token; wiped */
    int newer_tried;      /* delegated: a refused one was replaced by the cache's newer one already */
    char *devicecode_url; /* delegated: NULL when signing in interactively is not allowed */
    char *device_code;    /* delegated: the pending device code; wiped */
    double dc_interval;   /* seconds between polls (grows by 5 on slow_down) */
    double dc_expires;    /* monotonic time the device code expires */
    char *header;         /* managed identity: "X-IDENTITY-HEADER: ..." or "Metadata: true"; wiped */
    char *granted_scope;  /* the scope the token endpoint says it granted */
} ap_auth;

typedef struct ap_stats {
    lua_Integer requests, retries, throttled, tokens_fetched, connections;
    double paused_seconds;
} ap_stats;

typedef struct ap_session {
    int open; /* 0 until fully initialised, and again after close */
    int busy; /* inside poll/request: re-entrant calls raise */
    CURLM *multi;
    CURLSH *share;

    /* options */
    char *user_agent, *ca_file, *ca_path;
    int insecure;
    long timeout_ms, connect_timeout_ms, stall_seconds;
    int max_retries;
    double max_retry_wait, backoff_base, backoff_cap;
    int concurrency;

    /* write budget: sliding window of limit_writes starts per limit_seconds (pacing.c) */
    int limit_writes;
    double limit_seconds;
    double *write_starts; /* ring buffer of monotonic start times */
    int write_head, write_count;
    double paused_until; /* monotonic: no new transfer starts before (after a 429) */

    ap_auth auth;
    ap_list queued, running, done;
    lua_Integer next_id;
    uint64_t rng; /* splitmix64 state for backoff jitter */
    ap_stats stats;
} ap_session;

/* clock and randomness (guid.c) */
double ap_now(void);   /* CLOCK_MONOTONIC seconds */
double ap_epoch(void); /* CLOCK_REALTIME seconds */
int ap_random_bytes(void *buf, size_t n);
void ap_guid(char out[37]);
double ap_random_unit(uint64_t *state); /* uniform in [0, 1) */

/* transfer.c */
ap_xfer *ap_xfer_new(void);
void ap_xfer_free(ap_xfer *x);
void ap_xfer_end_attempt(ap_xfer *x);         /* frees the easy handle and request headers */
int ap_xfer_setup(ap_session *s, ap_xfer *x); /* 0 ok; else a CURLcode (xfer->errbuf filled) */
int ap_header_find(const ap_buf *h, const char *name, const char **val, size_t *vlen); /* last one */
void ap_push_headers(lua_State *L, const ap_buf *h);
void ap_push_result(lua_State *L, ap_session *s, ap_xfer *x, int tags_idx);

/* retry.c */
double ap_parse_retry_after(const char *v, size_t n, const ap_buf *headers); /* < 0: none/invalid */
double ap_backoff(ap_session *s, int retry);
int ap_should_retry(const ap_xfer *x);
double ap_ceil_ms(double seconds);

/* pacing.c */
int ap_is_write(const ap_xfer *x);
double ap_budget_at(const ap_session *s, double now); /* earliest start time for a write */
void ap_budget_record(ap_session *s, double now);
void ap_pause(ap_session *s, double now, double until);
void ap_push_pacing(lua_State *L, const ap_session *s, double now); /* into the table on top */

/* auth.c */
int ap_auth_parse(lua_State *L, ap_session *s, int idx, int ud); /* ud: the session userdata's index */
void ap_auth_free(ap_auth *a);
int ap_auth_needs_token(const ap_session *s);
int ap_auth_acquired(const ap_session *s); /* the session fetches its tokens (a 401 may renew them) */
int ap_auth_usable(const ap_session *s, double now);
int ap_auth_fresh(const ap_session *s, double now);
ap_xfer *ap_auth_request(ap_session *s); /* a new token request, or NULL when out of memory */
void ap_auth_on_done(lua_State *L, ap_session *s, ap_xfer *t, double now);
int ap_auth_is_token_error(lua_State *L, const ap_xfer *x); /* 401 body says InvalidAuthenticationToken */
void ap_auth_invalidate(ap_session *s, unsigned gen);
void ap_push_token_info(lua_State *L, const ap_session *s);
/* helpers shared by auth.c and auth_delegated.c */
void ap_auth_wipe_free(char **p);
int ap_auth_form_append(ap_buf *b, const char *name, const char *value);
ap_xfer *ap_auth_post(ap_session *s, const char *url, ap_buf *form); /* takes the form; NULL: no memory */
void ap_auth_fail_waiters(ap_session *s, long status, CURLcode code, const char *errmsg, const char *body,
                          size_t body_len);
int ap_auth_take_token(lua_State *L, ap_session *s, ap_xfer *t, double now); /* 1: got one */
/* auth_delegated.c */
ap_xfer *ap_auth_delegated_request(ap_session *s);
int ap_auth_delegated_done(lua_State *L, ap_session *s, ap_xfer *t, double now); /* 1: handled */
/* Gives a new refresh token to the cache callback; rt NULL says ours was refused, and returns a newer one
 * from the cache (malloc'd) or NULL (the cache forgot it). */
char *ap_auth_persist_refresh(lua_State *L, ap_session *s, const char *rt);

/* engine.c */
void ap_engine_run(lua_State *L, ap_session *s, double deadline, lua_Integer stop_id);
void ap_engine_close(ap_session *s);

/* curl_names.c */
const char *ap_curl_name(CURLcode c); /* "OPERATION_TIMEDOUT" */
int ap_curl_transient(CURLcode c);    /* worth retrying for an idempotent request */

/* session.c */
void ap_open_session(lua_State *L);
void ap_check_keys(lua_State *L, int idx, const char *what, const char *const *allowed); /* raises */

/* request.c */
lua_Integer ap_submit(lua_State *L, ap_session *s, int idx); /* validates, queues; returns the id */

#endif
