/*
 * lua-autopilot: libcurl's socket interface, driven from one epoll descriptor. curl tells us which of its
 * sockets to watch (socket callback) and when it next needs a call (timer callback); the descriptor is
 * readable whenever one of them has an event, so a host's event loop can wait on it alone (with the
 * timer) and the blocking API waits on it in epoll_wait. Level-triggered: an event not handled yet keeps
 * the descriptor readable.
 */
#ifndef AP_SOCKETS_H
#define AP_SOCKETS_H

#include <curl/curl.h>
#include <sys/epoll.h>

typedef struct ap_sockets {
    int epfd;        /* -1 when closed */
    int held;        /* a host loop registered it: close leaves it open (empty) until released */
    double timer_at; /* monotonic time curl next needs a timeout action (HUGE_VAL: none) */
    CURLM *multi;
    struct epoll_event *ready; /* events the last wait returned, for the next drive (saves a syscall) */
    int nready;
} ap_sockets;

/* Creates the epoll descriptor and installs the callbacks on multi. 0 ok, -1 with errno set. */
int ap_sockets_open(ap_sockets *k, CURLM *multi);
/* Hands every ready socket event to curl, then curl's timer if it is due; never blocks. */
void ap_sockets_drive(ap_sockets *k);
/* Sleeps until a socket has an event, curl's timer is due, or until (monotonic); a signal ends it early.
 * The events it saw are kept for the next drive. */
void ap_sockets_wait(ap_sockets *k, double until);
/* Idempotent; the multi handle stays the caller's. A held descriptor stays open, watching nothing, so that a
 * loop that still has it registered can remove it (cqueues fails on a descriptor closed under it). */
void ap_sockets_close(ap_sockets *k);
void ap_sockets_release(ap_sockets *k); /* closes the descriptor, held or not */

#endif
