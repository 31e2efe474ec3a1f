/*
 * lua-autopilot: the two small containers of the core: a growable byte buffer (response bodies and
 * headers, geometric growth so a 2 MB listing page costs a handful of reallocations) and the
 * intrusive doubly linked lists that hold a session's transfers.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int ap_buf_append(ap_buf *b, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > SIZE_MAX - b->len - 1)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *d;
        if (b->secret) {
            d = malloc(cap);
            if (!d)
                return -1;
            if (b->data) {
                memcpy(d, b->data, b->len);
                explicit_bzero(b->data, b->cap);
                free(b->data);
            }
        } else {
            d = realloc(b->data, cap);
            if (!d)
                return -1;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void ap_buf_reset(ap_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void ap_buf_free(ap_buf *b, int wipe)
{
    if (b->data && wipe)
        explicit_bzero(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void ap_list_push(ap_list *l, ap_xfer *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
    l->count++;
}

void ap_list_push_front(ap_list *l, ap_xfer *x)
{
    x->prev = NULL;
    x->next = l->head;
    if (l->head)
        l->head->prev = x;
    else
        l->tail = x;
    l->head = x;
    l->count++;
}

void ap_list_remove(ap_list *l, ap_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
    l->count--;
}
