/*
 * lua-autopilot: pacing of writes (POST/PUT/PATCH/DELETE) under the service's per-app limit, and the
 * session-wide pause that follows a 429. All pacing state lives here.
 *
 * - The ceiling: at most `writes` starts in any window of `seconds` + margin, where the margin covers the
 *   difference between when the client starts a request and when the server counts it (measured: the
 *   time to send it, plus half the least reply time seen). The configured limit is never exceeded.
 * - The shape: within that, starts are spread at 1.5 times the budget's rate after a burst of half of it
 *   (at least 5), so a window's writes leave in a third of the window instead of all at once, and a second
 *   process starting together overshoots the server's budget by little before the first 429 comes back.
 * - Adaptation: a 429 on a write started since the last decrease lowers the adapted window to what the
 *   server accepted of ours in the window before it (at most 98% of what it was): other processes or apps
 *   spend the same per-app budget. Later 429s of writes already in flight then refine it (lower only), as
 *   the refused starts leave the count. After each window without a 429 it grows back toward the ceiling by
 *   a quarter write (additive increase); after 8 clean windows in a row the step doubles each window (at
 *   most 64).
 * - The pause: a 429 on a request started before the current pause was decided says nothing new (its
 *   Retry-After may be stale by its latency), so only fresh ones start or extend the pause.
 */
#ifndef AP_PACING_H
#define AP_PACING_H

#include <lua.h>

#include "transfer.h"

typedef struct ap_pacing {
    int limit_writes;     /* W; 0: no client-side budget */
    double limit_seconds; /* T */
    double *starts;       /* ring (capacity W) of write starts not known to be throttled, oldest first */
    int head, count;
    double adapted; /* the adapted window count, 1..W */
    double tat;     /* the spreading's next theoretical start */
    double last_decrease, hold_until, grow_mark;
    double streak;                        /* clean windows in a row since the last decrease */
    double margin;                        /* seconds added to the window (measured) */
    double send_avg, send_dev, reply_min; /* margin estimation, seconds */
    int samples;
    double paused_until, pause_decided, paused_from; /* the current (or last) stretch of pause */
    double paused_seconds;                           /* stretches that ended before paused_from */
    lua_Integer writes, throttled_writes, decreases;
} ap_pacing;

int ap_is_write(const ap_xfer *x);
void ap_pacing_init(ap_pacing *p);
/* Installs a ceiling of writes per seconds (writes 0: none), keeping the most recent starts so a change
 * at run time does not hand out a fresh burst. 0 ok, -1 out of memory (the old budget stays). */
int ap_pacing_set_limit(ap_pacing *p, int writes, double seconds);
/* Earliest time n writes may start together (n > 1: an envelope of $batch items, which leave at once). */
double ap_pacing_write_at(const ap_pacing *p, double now, int n);
void ap_pacing_write_started(ap_pacing *p, double now);
/* What an attempt's reply says: `started` when it was sent; status 0 for no reply. wait: the Retry-After
 * (or backoff) of a 429, seconds. A write's sending and reply times feed the margin. */
void ap_pacing_reply(ap_pacing *p, int write, double started, long status, double wait, double now);
void ap_pacing_sample(ap_pacing *p, double send_seconds, double reply_seconds);
int ap_pacing_paused(const ap_pacing *p, double now);
/* Seconds new transfers were held back so far: a pause still scheduled after now is not counted. */
double ap_pacing_paused_seconds(const ap_pacing *p, double now);
void ap_pacing_free(ap_pacing *p);
/* Pushes the pacing's view into the table on top: write_wait, write_rate, adapted_rate, margin, writes,
 * throttled_writes (queued_writes: the caller's count). */
void ap_pacing_push(lua_State *L, const ap_pacing *p, double now, int queued_writes);

#endif
