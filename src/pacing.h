/*
 * lua-autopilot: pacing. The client-side write budget (a sliding window of at most `writes` non-GET
 * request starts per `seconds`, so a bulk run stays under Intune's per-app limit instead of bouncing off
 * it) and the session-wide pause that follows a 429. Its state lives here and nowhere else.
 */
#ifndef AP_PACING_H
#define AP_PACING_H

#include <lua.h>

#include "transfer.h"

typedef struct ap_pacing {
    int limit_writes; /* 0: no budget */
    double limit_seconds;
    double *starts; /* ring buffer of the last limit_writes write starts (monotonic) */
    int head, count;
    double paused_until;   /* monotonic: no new transfer starts before (after a 429) */
    double paused_seconds; /* the union of the pauses */
} ap_pacing;

int ap_is_write(const ap_xfer *x);
/* Installs a budget of writes per seconds (writes 0: none), keeping the most recent starts so a change
 * at run time does not hand out a fresh burst. 0 ok, -1 out of memory (the old budget stays). */
int ap_pacing_set_limit(ap_pacing *p, int writes, double seconds);
double ap_pacing_write_at(const ap_pacing *p, double now); /* earliest start of a write */
void ap_pacing_record_write(ap_pacing *p, double now);
void ap_pacing_pause(ap_pacing *p, double now, double until);
int ap_pacing_paused(const ap_pacing *p, double now);
void ap_pacing_free(ap_pacing *p);
/* Pushes the budget's view into the table on top: write_wait, write_rate (queued_writes: the caller). */
void ap_pacing_push(lua_State *L, const ap_pacing *p, double now, int queued_writes);

#endif
