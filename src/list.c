/*
 * lua-autopilot: the transfer lists of list.h.
 */
#include <stddef.h>

#include "list.h"

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
