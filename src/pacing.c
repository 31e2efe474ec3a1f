/*
 * lua-autopilot: pacing (pacing.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pacing.h"

#define SPREAD_RATE 1.5       /* starts leave at this many times the budget's rate */
#define BURST_SHARE 0.5       /* ... after a burst of this share of the window */
#define MIN_BURST 5           /* ... or of this many: a small budget is not dripped out one by one */
#define DECREASE_AT_MOST 0.98 /* a decrease takes at least 2% off (in-flight 429s refine it further) */
#define GROW_STEP 0.25        /* writes per window added per clean window */
#define PROBE_AFTER 8         /* clean windows in a row before growth speeds up (doubling per window) */
#define STEP_MAX 64           /* ... up to this many writes per window at once */
#define DEFAULT_MARGIN 0.05   /* seconds, until the session has measured its own */

int ap_is_write(const ap_xfer *x)
{
    /* an envelope is not one: each of its items is */
    return x->kind == AP_XK_GRAPH && strcmp(x->method, "GET") != 0 && strcmp(x->method, "HEAD") != 0;
}

void ap_pacing_init(ap_pacing *p)
{
    memset(p, 0, sizeof *p);
    p->margin = DEFAULT_MARGIN;
    p->reply_min = HUGE_VAL;
    p->last_decrease = p->pause_decided = -HUGE_VAL;
}

static double at_index(const ap_pacing *p, int i) /* i-th oldest */
{
    return p->starts[(p->head + i) % p->limit_writes];
}

int ap_pacing_set_limit(ap_pacing *p, int writes, double seconds)
{
    double *ring = NULL;
    int count = 0;
    if (writes > 0) {
        ring = calloc((size_t)writes, sizeof *ring);
        if (!ring)
            return -1;
        int keep = p->count < writes ? p->count : writes;
        for (int i = 0; i < keep; i++) /* oldest first */
            ring[i] = at_index(p, p->count - keep + i);
        count = keep;
    }
    free(p->starts);
    p->starts = ring;
    p->head = 0;
    p->count = count;
    p->limit_writes = writes;
    p->limit_seconds = seconds;
    if (!(p->adapted > 0) || p->adapted > writes)
        p->adapted = writes;
    return 0;
}

static double window(const ap_pacing *p)
{
    return p->limit_seconds + p->margin;
}

static double spread_rate(const ap_pacing *p)
{
    return SPREAD_RATE * p->adapted / p->limit_seconds;
}

double ap_pacing_write_at(const ap_pacing *p, double now, int n)
{
    if (p->limit_writes <= 0)
        return now;
    double at = now;
    int k = (int)floor(p->adapted);
    if (k < 1)
        k = 1;
    if (n > k)
        n = k;
    if (n < 1)
        n = 1;
    if (p->count > k - n) { /* the (k - n + 1)-th newest start must leave the window first */
        double t = at_index(p, p->count - (k - n + 1)) + window(p);
        if (t > at)
            at = t;
    }
    double burst = p->adapted * BURST_SHARE;
    if (burst < MIN_BURST)
        burst = p->adapted < MIN_BURST ? p->adapted : MIN_BURST;
    if (burst < n)
        burst = n;
    double t = p->tat + (n - burst) / spread_rate(p);
    return t > at ? t : at;
}

void ap_pacing_write_started(ap_pacing *p, double now)
{
    p->writes++;
    if (p->limit_writes <= 0)
        return;
    if (p->count < p->limit_writes) {
        p->starts[(p->head + p->count) % p->limit_writes] = now;
        p->count++;
    } else {
        p->starts[p->head] = now;
        p->head = (p->head + 1) % p->limit_writes;
    }
    p->tat = (p->tat > now ? p->tat : now) + 1 / spread_rate(p);
}

/* A throttled start spent none of the server's budget: it leaves the ring (searched from the newest). */
static void forget_start(ap_pacing *p, double started)
{
    for (int i = p->count - 1; i >= 0; i--) {
        if (at_index(p, i) != started)
            continue;
        for (int j = i; j < p->count - 1; j++)
            p->starts[(p->head + j) % p->limit_writes] = at_index(p, j + 1);
        p->count--;
        return;
    }
}

/* Our starts in the window before `started` that the server did not refuse (or has not answered yet). */
static int accepted_before(const ap_pacing *p, double started)
{
    int n = 0;
    for (int i = p->count - 1; i >= 0; i--) {
        double t = at_index(p, i);
        if (t <= started - window(p))
            break;
        n += t <= started;
    }
    return n;
}

static void decrease(ap_pacing *p, double started, double now)
{
    double to = accepted_before(p, started);
    if (to > p->adapted * DECREASE_AT_MOST)
        to = p->adapted * DECREASE_AT_MOST;
    p->adapted = to > 1 ? to : 1;
    p->last_decrease = now;
    p->hold_until = now + window(p); /* let the decrease show before growing again */
    p->grow_mark = 0;
    p->streak = 0;
    p->decreases++;
}

/* A later 429 of the writes already in flight when the rate was decreased: the refused starts have left
 * the ring since, so what the server accepted of ours before this one is known better now. Lowers the
 * adapted window further (never raises it); counts no new decrease. */
static void refine(ap_pacing *p, double started)
{
    double to = accepted_before(p, started);
    if (to < 1)
        to = 1;
    if (to < p->adapted)
        p->adapted = to;
}

/* Additive increase: a quarter write per clean window, as TCP's congestion avoidance, because two
 * processes sharing one app each probe for more, and the one whose writes reach the server first in each
 * window is never refused: what it gains by probing, the other loses, so the two finish apart (measured,
 * two processes: growing by a share of the distance to the ceiling took 1.12-1.27x the floor; one write
 * per window 1.07-1.19x, the children finishing 2.8 s apart; a quarter 1.05-1.08x with fixed windows,
 * 1.05-1.11x with a sliding one).
 * After PROBE_AFTER clean windows in a row the step doubles each window, so a long run recovers from a
 * passing burst of another app's writes. */
static void grow(ap_pacing *p, double now)
{
    if (now < p->hold_until || p->adapted >= p->limit_writes)
        return;
    if (p->grow_mark == 0) {
        p->grow_mark = now;
        return;
    }
    if (now - p->grow_mark < window(p))
        return;
    p->streak++;
    double step = GROW_STEP;
    if (p->streak > PROBE_AFTER)
        step = ldexp(1, (int)(p->streak - PROBE_AFTER) < 6 ? (int)(p->streak - PROBE_AFTER) : 6);
    if (step > STEP_MAX)
        step = STEP_MAX;
    p->adapted += step;
    if (p->adapted > p->limit_writes)
        p->adapted = p->limit_writes;
    p->grow_mark = now;
}

void ap_pacing_reply(ap_pacing *p, int write, double started, long status, double wait, double now)
{
    if (status == 429) {
        if (started >= p->pause_decided && now + wait > p->paused_until) {
            if (p->paused_until <= now) { /* a new stretch: the last one is over, count it whole */
                p->paused_seconds += p->paused_until - p->paused_from;
                p->paused_from = now;
            }
            p->paused_until = now + wait;
            p->pause_decided = now;
        }
        if (write) {
            p->throttled_writes++;
            if (p->limit_writes > 0) {
                forget_start(p, started);
                if (started >= p->last_decrease)
                    decrease(p, started, now);
                else if (started > p->last_decrease - window(p))
                    refine(p, started);
            }
        }
    } else if (status > 0 && write && p->limit_writes > 0) {
        grow(p, now);
    }
}

void ap_pacing_sample(ap_pacing *p, double send_seconds, double reply_seconds)
{
    if (!(send_seconds >= 0) || !(reply_seconds >= send_seconds))
        return;
    if (p->samples++ == 0) {
        p->send_avg = send_seconds;
        p->send_dev = send_seconds / 2;
    } else { /* as TCP's round-trip estimator: an average and a mean deviation */
        p->send_dev += (fabs(send_seconds - p->send_avg) - p->send_dev) / 4;
        p->send_avg += (send_seconds - p->send_avg) / 8;
    }
    double wire = reply_seconds - send_seconds;
    if (wire < p->reply_min)
        p->reply_min = wire;
    double m = p->send_avg + 4 * p->send_dev + p->reply_min / 2;
    double cap = p->limit_seconds > 0 ? p->limit_seconds / 4 : 1;
    p->margin = m < 0.002 ? 0.002 : m > cap ? cap : m;
}

int ap_pacing_paused(const ap_pacing *p, double now)
{
    return p->paused_until > now;
}

double ap_pacing_paused_seconds(const ap_pacing *p, double now)
{
    double end = p->paused_until < now ? p->paused_until : now;
    return p->paused_seconds + (end > p->paused_from ? end - p->paused_from : 0);
}

void ap_pacing_free(ap_pacing *p)
{
    free(p->starts);
    ap_pacing_init(p);
}

void ap_pacing_push(lua_State *L, const ap_pacing *p, double now, int queued_writes)
{
    double at = ap_pacing_write_at(p, now, 1);
    if (p->paused_until > at)
        at = p->paused_until;
    lua_pushinteger(L, queued_writes);
    lua_setfield(L, -2, "queued_writes");
    lua_pushnumber(L, queued_writes > 0 && at > now ? at - now : 0);
    lua_setfield(L, -2, "write_wait");
    lua_pushinteger(L, p->writes);
    lua_setfield(L, -2, "writes");
    lua_pushinteger(L, p->throttled_writes);
    lua_setfield(L, -2, "throttled_writes");
    if (p->limit_writes > 0) {
        lua_pushnumber(L, p->limit_writes / p->limit_seconds);
        lua_setfield(L, -2, "write_rate");
        lua_pushnumber(L, p->adapted / p->limit_seconds);
        lua_setfield(L, -2, "adapted_rate");
        lua_pushnumber(L, p->margin);
        lua_setfield(L, -2, "margin");
    }
}
