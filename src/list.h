/*
 * lua-autopilot: the intrusive doubly linked lists that hold a session's transfers (queued, running,
 * done). Only the engine changes them.
 */
#ifndef AP_LIST_H
#define AP_LIST_H

#include "transfer.h"

typedef struct ap_list {
    ap_xfer *head, *tail;
    int count;
} ap_list;

void ap_list_push(ap_list *l, ap_xfer *x);
void ap_list_push_front(ap_list *l, ap_xfer *x);
void ap_list_remove(ap_list *l, ap_xfer *x);

#endif
