/*
 * lua-autopilot: the multi engine, the one owner of a session's transfer lists. It starts queued transfers
 * up to the concurrency cap while honouring the write budget, the pause after a 429, each retry's earliest
 * start and the token's availability; drives libcurl's multi socket interface (sockets.h); decides retries
 * when transfers end; and acts on the auth flows' outcomes. It never calls Lua and never blocks but in
 * ap_engine_wait.
 */
#ifndef AP_ENGINE_H
#define AP_ENGINE_H

#include "session.h"

void ap_engine_queue(ap_session *s, ap_xfer *x); /* a new Graph transfer, owned by the engine from now on */
/* One pass that does all that is ready now; returns how many transfers ended or were put back for a retry,
 * and sets *next to the earliest monotonic time something held back by time (a retry, the budget, a pause,
 * a token poll) may start (HUGE_VAL: nothing). */
int ap_engine_step(ap_session *s, double *next);
/* The monotonic time the engine next needs a step without news on its descriptor: what it holds back by
 * time, or curl's timer (0: at once; HUGE_VAL: nothing pending). */
double ap_engine_wake_at(const ap_session *s);
void ap_engine_wait(ap_session *s, double until); /* sleeps in epoll_wait until activity or until */
void ap_engine_auth_outcome(ap_session *s, ap_flow_outcome o, double now); /* after the host answered */
int ap_engine_active(const ap_session *s);                                 /* queued or running transfers */
int ap_engine_queued_writes(const ap_session *s);
int ap_engine_cancel(ap_session *s, lua_Integer id);    /* a queued transfer ends as cancelled: 1, else 0 */
ap_xfer *ap_engine_take(ap_session *s, lua_Integer id); /* a finished transfer (0: the first one), or NULL */
void ap_engine_close(ap_session *s);                    /* frees every transfer and the multi handle */

#endif
