/*
 * lua-autopilot: what a retry waits for, kept for the caller's on_retry(event) so a script or the CLI can
 * print "retrying: connection refused (2 of 6, next in 1.2 s)" while a call waits. The engine records an
 * event when it schedules a retry (never calling Lua); the gate hands the events over between steps. A
 * bounded ring: when the caller's function is slow to be called, the oldest events are dropped, counted.
 */
#ifndef AP_RETRY_EVENT_H
#define AP_RETRY_EVENT_H

#include <curl/curl.h>
#include <lua.h>

#define AP_RETRY_EVENTS 64

typedef struct ap_retry_event {
    lua_Integer id; /* the transfer's id (0: a token request) */
    CURLcode code;  /* the transport failure retried, or CURLE_OK */
    long status;    /* the HTTP status retried (429, 503, 504), or 0 */
    int retry, of;  /* this is retry `retry` of at most `of` */
    double wait;    /* seconds until it starts */
} ap_retry_event;

typedef struct ap_retry_events {
    int enabled; /* the caller gave on_retry: record, else nothing */
    int head, count;
    lua_Integer dropped;
    ap_retry_event ring[AP_RETRY_EVENTS];
} ap_retry_events;

void ap_retry_event_record(ap_retry_events *q, const ap_retry_event *e);
/* The oldest event into *e and out of the queue: 1, or 0 when none. */
int ap_retry_event_take(ap_retry_events *q, ap_retry_event *e);
/* What was retried, in a few words: "connection refused", "HTTP 429 (throttled)", "timed out". */
const char *ap_retry_event_reason(const ap_retry_event *e, char *buf, size_t size);
/* Pushes the event table { id, token, reason, code, status, retry, of, wait } (tag added by the caller). */
void ap_retry_event_push(lua_State *L, const ap_retry_event *e);

#endif
