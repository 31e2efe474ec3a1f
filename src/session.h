/*
 * lua-autopilot: the session, what a core.session() userdata holds: the transport options, the libcurl
 * multi handle and the transfers (engine.c), pacing, retry policy, auth and counters.
 */
#ifndef AP_SESSION_H
#define AP_SESSION_H

#include <curl/curl.h>
#include <lua.h>

#include "auth.h"
#include "list.h"
#include "pacing.h"
#include "retry.h"
#include "retry_event.h"
#include "sockets.h"
#include "transfer.h"

#define AP_VERSION "0.1.0"
#define AP_SESSION_MT "autopilot.Session"

/* Session user values (lua_newuserdatauv slots). */
#define AP_UV_TAGS 1     /* table: transfer id -> tag as submitted */
#define AP_UV_AUTH 2     /* table: the auth callbacks (on_device_code, on_refresh_token) or nil */
#define AP_UV_ON_RETRY 3 /* function: the caller's on_retry(event), or nil */
#define AP_SESSION_UVS 3

typedef struct ap_stats {
    lua_Integer requests, retries, throttled, connections, batch_items;
} ap_stats;

typedef struct ap_session {
    int open; /* 0 until fully initialised, and again after close */
    int busy; /* inside a call that runs the engine or the gate: re-entrant calls raise */
    CURLM *multi;
    ap_sockets sockets; /* curl's sockets in one epoll descriptor, and its timer */
    double next_at;     /* when the engine next needs a step for what it holds back (0: at once) */
    ap_transport transport;
    ap_retry_policy retry;
    ap_retry_events retry_events; /* for on_retry, handed over by the gate */
    int concurrency;
    ap_pacing pacing;
    ap_auth auth;
    ap_list queued, running, done;
    lua_Integer next_id;
    ap_stats stats;
} ap_session;

#endif
