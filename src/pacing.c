/*
 * lua-autopilot: pacing. The client-side write budget (a sliding window of at most `limit.writes`
 * non-GET request starts per `limit.seconds`, so a bulk run stays under Intune's per-app limit instead
 * of bouncing off it) and the session-wide pause that follows a 429.
 */
#include <string.h>

#include "internal.h"

int ap_is_write(const ap_xfer *x)
{
    return x->kind == AP_XK_GRAPH && strcmp(x->method, "GET") != 0 && strcmp(x->method, "HEAD") != 0;
}

double ap_budget_at(const ap_session *s, double now)
{
    if (s->limit_writes <= 0 || s->write_count < s->limit_writes)
        return now;
    double oldest = s->write_starts[s->write_head]; /* the ring is full: head is the oldest start */
    double at = oldest + s->limit_seconds;
    return at > now ? at : now;
}

void ap_budget_record(ap_session *s, double now)
{
    if (s->limit_writes <= 0)
        return;
    if (s->write_count < s->limit_writes) {
        s->write_starts[(s->write_head + s->write_count) % s->limit_writes] = now;
        s->write_count++;
    } else {
        s->write_starts[s->write_head] = now;
        s->write_head = (s->write_head + 1) % s->limit_writes;
    }
}

/* paused_seconds counts the union of the pause intervals, not their sum. */
void ap_pause(ap_session *s, double now, double until)
{
    if (until <= s->paused_until)
        return;
    double from = s->paused_until > now ? s->paused_until : now;
    if (until > from)
        s->stats.paused_seconds += until - from;
    s->paused_until = until;
}

/* What the write budget holds back right now, for progress displays: writes queued, and the seconds until
 * the next one may start (0: now), whether the budget or a pause after a 429 holds it. */
void ap_push_pacing(lua_State *L, const ap_session *s, double now)
{
    lua_Integer queued = 0;
    for (const ap_xfer *x = s->queued.head; x; x = x->next)
        if (ap_is_write(x))
            queued++;
    double at = ap_budget_at(s, now);
    if (s->paused_until > at)
        at = s->paused_until;
    lua_pushinteger(L, queued);
    lua_setfield(L, -2, "queued_writes");
    lua_pushnumber(L, queued > 0 && at > now ? at - now : 0);
    lua_setfield(L, -2, "write_wait");
    if (s->limit_writes > 0) {
        lua_pushnumber(L, s->limit_writes / s->limit_seconds);
        lua_setfield(L, -2, "write_rate");
    }
}
