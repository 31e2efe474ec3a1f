/*
 * lua-autopilot: pacing (pacing.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pacing.h"

int ap_is_write(const ap_xfer *x)
{
    return x->kind == AP_XK_GRAPH && strcmp(x->method, "GET") != 0 && strcmp(x->method, "HEAD") != 0;
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
            ring[i] = p->starts[(p->head + p->count - keep + i) % p->limit_writes];
        count = keep;
    }
    free(p->starts);
    p->starts = ring;
    p->limit_writes = writes;
    p->limit_seconds = seconds;
    p->head = 0;
    p->count = count;
    return 0;
}

double ap_pacing_write_at(const ap_pacing *p, double now)
{
    if (p->limit_writes <= 0 || p->count < p->limit_writes)
        return now;
    double at = p->starts[p->head] + p->limit_seconds; /* the ring is full: head is the oldest start */
    return at > now ? at : now;
}

void ap_pacing_record_write(ap_pacing *p, double now)
{
    if (p->limit_writes <= 0)
        return;
    if (p->count < p->limit_writes) {
        p->starts[(p->head + p->count) % p->limit_writes] = now;
        p->count++;
    } else {
        p->starts[p->head] = now;
        p->head = (p->head + 1) % p->limit_writes;
    }
}

void ap_pacing_pause(ap_pacing *p, double now, double until)
{
    if (until <= p->paused_until)
        return;
    double from = p->paused_until > now ? p->paused_until : now;
    if (until > from)
        p->paused_seconds += until - from;
    p->paused_until = until;
}

int ap_pacing_paused(const ap_pacing *p, double now)
{
    return p->paused_until > now;
}

void ap_pacing_free(ap_pacing *p)
{
    free(p->starts);
    memset(p, 0, sizeof *p);
}

void ap_pacing_push(lua_State *L, const ap_pacing *p, double now, int queued_writes)
{
    double at = ap_pacing_write_at(p, now);
    if (p->paused_until > at)
        at = p->paused_until;
    lua_pushinteger(L, queued_writes);
    lua_setfield(L, -2, "queued_writes");
    lua_pushnumber(L, queued_writes > 0 && at > now ? at - now : 0);
    lua_setfield(L, -2, "write_wait");
    if (p->limit_writes > 0) {
        lua_pushnumber(L, p->limit_writes / p->limit_seconds);
        lua_setfield(L, -2, "write_rate");
    }
}
