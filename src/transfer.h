/*
 * lua-autopilot: one transfer, a request the session sends (to Graph, or to the token endpoint) with its
 * attempts. The easy handle of the current attempt, the captured response, and what is kept across
 * attempts (retries, waits, the client-request-id). Transfers are owned by the session's engine.
 */
#ifndef AP_TRANSFER_H
#define AP_TRANSFER_H

#include <curl/curl.h>
#include <lua.h>

#include "buf.h"

enum ap_xfer_kind { AP_XK_GRAPH, AP_XK_TOKEN, AP_XK_BATCH }; /* BATCH: a $batch envelope of Graph items */
enum ap_xfer_state { AP_XS_QUEUED, AP_XS_RUNNING, AP_XS_DONE };

/* Default headers the caller replaced with its own. */
#define AP_H_ACCEPT 1u
#define AP_H_CTYPE 2u
#define AP_H_AUTH 4u
#define AP_H_REQID 8u

/* Why a Graph transfer ended without being sent: the token endpoint failed us. */
typedef struct ap_auth_failure {
    long status;                  /* the endpoint's HTTP status (0: no answer) */
    CURLcode code;                /* transport failure talking to it */
    char errmsg[CURL_ERROR_SIZE]; /* curl's message for code */
    ap_buf body;                  /* its answer (non-2xx only: a 2xx answer may hold a token) */
    char error[40];               /* set when the client ended the sign-in itself: an OAuth-style code */
    char description[200];        /* ... and what happened */
} ap_auth_failure;

void ap_auth_failure_copy(ap_auth_failure *dst, const ap_auth_failure *src); /* -1 out of memory */
void ap_auth_failure_clear(ap_auth_failure *f);

typedef struct ap_xfer {
    struct ap_xfer *prev, *next; /* in one of the engine's lists, or the auth's token slot */
    lua_Integer id;
    int kind, state;
    char method[8];
    char *url;
    char *body; /* request body (a token request's carries a secret: wiped on free) */
    size_t body_len;
    int has_body;
    struct curl_slist *user_headers; /* "Name: value" copies of the caller's headers */
    unsigned user_has;               /* AP_H_* */
    int idempotent;
    char request_guid[37]; /* client-request-id: one per request, kept across its retries */

    /* the current attempt */
    CURL *easy;
    struct curl_slist *req_headers;
    ap_buf resp_body, resp_headers;
    char errbuf[CURL_ERROR_SIZE];
    long status;
    CURLcode code;
    unsigned token_gen;           /* generation of the token the attempt carried */
    double started;               /* monotonic time the attempt started */
    double send_time, reply_time; /* seconds from start to the request sent, to the first reply byte */
    size_t max_body, max_headers; /* the session's caps, bytes (0: none): a reply beyond them is refused */
    int too_large; /* AP_TOO_LARGE_*: which cap the reply broke (the write callback said stop) */

    /* across attempts */
    int attempts;       /* HTTP attempts sent */
    int retries;        /* retries scheduled for 429/503/504/transport (max_retries applies) */
    int auth_retried;   /* the one retry after a 401 on a session-acquired token */
    double waited;      /* seconds scheduled to wait before retries */
    double retry_after; /* last Retry-After seen, seconds; < 0 when none */
    double not_before;  /* monotonic time before which it must not start */
    int awaiting_token; /* was ready to start, but the session had no usable token */

    char *batch_url;        /* a Graph item: sent inside $batch envelopes to this URL (NULL: on its own) */
    struct ap_xfer **items; /* an envelope: the items it carries (owned by the engine, in no list) */
    int nitems;

    int cancelled;   /* taken out of the queue by the caller before its next attempt */
    int auth_failed; /* ended by the token endpoint: auth_failure says how */
    ap_auth_failure auth_failure;
} ap_xfer;

enum { AP_TOO_LARGE_NONE, AP_TOO_LARGE_BODY, AP_TOO_LARGE_HEADERS };

/* A transfer moving fewer bytes a second than this for stall_timeout seconds is a stall (curl's low-speed
 * rule): at 1 B/s a trickled body would run every attempt to the full timeout. A real Graph reply never
 * comes this slowly once it has started. */
#define AP_STALL_RATE 1024L

/* How every attempt of a session is sent: the session's transport options. */
typedef struct ap_transport {
    char *user_agent, *ca_file, *ca_path;
    int insecure;
    long timeout_ms, connect_timeout_ms, stall_seconds;
    size_t max_body, max_headers; /* max_response_bytes (after decoding) and max_header_bytes */
    CURLSH *share;                /* TLS session resumption across the session's handles */
} ap_transport;

ap_xfer *ap_xfer_new(int kind, const char *method, const char *url); /* NULL: out of memory */
void ap_xfer_free(ap_xfer *x);
/* Sets up the easy handle of a new attempt; bearer (may be NULL) goes into Authorization. 0 ok, else a
 * CURLcode (errbuf filled when curl said more). */
int ap_xfer_setup(const ap_transport *tp, ap_xfer *x, const char *bearer);
void ap_xfer_end_attempt(ap_xfer *x); /* frees the easy handle and request headers */
/* After curl ended an attempt with rc: the attempt's own verdict (a cap broken: FILESIZE_EXCEEDED, with a
 * message naming the option), else rc. */
CURLcode ap_xfer_verdict(ap_xfer *x, CURLcode rc);
int ap_xfer_add_header(ap_xfer *x, const char *line); /* a caller's header line; 0 ok, -1 out of memory */

#endif
