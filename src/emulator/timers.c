/*
 * lua-autopilot emulator host: the timer heap of suspended exchanges.
 * A binary min-heap on exchange->due; each exchange knows its slot (index + 1) so it can be removed.
 * Only the server thread touches it.
 */
#include <stdlib.h>

#include "host.h"

static void heap_set(struct server *s, size_t i, struct exchange *ex)
{
    s->heap[i] = ex;
    ex->heap_slot = i + 1;
}

static void heap_up(struct server *s, size_t i)
{
    struct exchange *ex = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (s->heap[parent]->due <= ex->due)
            break;
        heap_set(s, i, s->heap[parent]);
        i = parent;
    }
    heap_set(s, i, ex);
}

static void heap_down(struct server *s, size_t i)
{
    struct exchange *ex = s->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= s->heap_len)
            break;
        if (child + 1 < s->heap_len && s->heap[child + 1]->due < s->heap[child]->due)
            child++;
        if (ex->due <= s->heap[child]->due)
            break;
        heap_set(s, i, s->heap[child]);
        i = child;
    }
    heap_set(s, i, ex);
}

/* Queues ex; returns 0 when out of memory. */
int timers_push(struct server *s, struct exchange *ex)
{
    if (s->heap_len == s->heap_cap) {
        size_t cap = s->heap_cap ? 2 * s->heap_cap : 64;
        struct exchange **h = realloc(s->heap, cap * sizeof *h);
        if (!h)
            return 0;
        s->heap = h;
        s->heap_cap = cap;
    }
    s->heap[s->heap_len++] = ex;
    heap_up(s, s->heap_len - 1);
    return 1;
}

/* Takes ex out of the heap if it is queued. */
void timers_remove(struct server *s, struct exchange *ex)
{
    size_t i;
    struct exchange *moved;
    if (!ex->heap_slot)
        return;
    i = ex->heap_slot - 1;
    ex->heap_slot = 0;
    s->heap_len--;
    if (i == s->heap_len)
        return;
    moved = s->heap[s->heap_len];
    heap_set(s, i, moved);
    heap_down(s, i);
    heap_up(s, moved->heap_slot - 1);
}

/* The earliest exchange, or NULL. */
struct exchange *timers_first(const struct server *s)
{
    return s->heap_len ? s->heap[0] : NULL;
}
