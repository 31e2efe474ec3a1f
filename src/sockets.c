/*
 * lua-autopilot: libcurl's socket interface (sockets.h).
 */
#ifndef __linux__
#error "lua-autopilot's core drives libcurl through epoll (Linux); another system needs a backend here"
#endif

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "sockets.h"

#define EVENTS_AT_ONCE 64
#define TIMER_ROUNDS 8 /* curl may ask for another timeout action at once; more waits for the next step */

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    ap_sockets *k = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(k->epfd, EPOLL_CTL_DEL, fd, NULL); /* ENOENT/EBADF: already gone */
        return 0;
    }
    struct epoll_event ev = {0};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (epoll_ctl(k->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        return epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -1;
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    ap_sockets *k = userp;
    k->timer_at = timeout_ms < 0 ? HUGE_VAL : ap_now() + (double)timeout_ms / 1000.0;
    return 0;
}

int ap_sockets_open(ap_sockets *k, CURLM *multi)
{
    k->multi = multi;
    k->timer_at = HUGE_VAL;
    k->nready = 0;
    k->ready = malloc(EVENTS_AT_ONCE * sizeof *k->ready);
    if (!k->ready)
        return -1;
    k->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (k->epfd < 0)
        return -1;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, k);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, k);
    return 0;
}

static int curl_flags(unsigned events)
{
    /* a hang-up is read as such: curl learns of the closed connection from recv() */
    return (events & (EPOLLIN | EPOLLHUP) ? CURL_CSELECT_IN : 0) |
           (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) | (events & EPOLLERR ? CURL_CSELECT_ERR : 0);
}

static void dispatch(ap_sockets *k, const struct epoll_event *ev, int n)
{
    int running;
    for (int i = 0; i < n; i++)
        curl_multi_socket_action(k->multi, ev[i].data.fd, curl_flags(ev[i].events), &running);
}

void ap_sockets_drive(ap_sockets *k)
{
    if (k->epfd < 0)
        return;
    int running, n = k->nready;
    if (n > 0) { /* what the wait just saw: the same events as asking again, one syscall fewer */
        k->nready = 0;
        dispatch(k, k->ready, n);
    }
    struct epoll_event ev[EVENTS_AT_ONCE];
    while (n == 0 || n == EVENTS_AT_ONCE) {
        n = epoll_wait(k->epfd, ev, EVENTS_AT_ONCE, 0);
        dispatch(k, ev, n > 0 ? n : 0);
        if (n <= 0)
            break;
    }
    for (int r = 0; r < TIMER_ROUNDS && k->timer_at <= ap_now(); r++) {
        k->timer_at = HUGE_VAL; /* the action sets it again if curl wants another */
        curl_multi_socket_action(k->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

void ap_sockets_wait(ap_sockets *k, double until)
{
    if (k->epfd < 0)
        return;
    if (k->timer_at < until)
        until = k->timer_at;
    double ms = ceil((until - ap_now()) * 1000.0);
    if (!(ms > 0))
        ms = 0;
    if (ms > 86400000.0)
        ms = 86400000.0;
    int n = epoll_wait(k->epfd, k->ready, EVENTS_AT_ONCE, (int)ms);
    k->nready = n > 0 ? n : 0;
}

void ap_sockets_close(ap_sockets *k)
{
    k->timer_at = HUGE_VAL;
    k->nready = 0;
    free(k->ready);
    k->ready = NULL;
    if (k->held)
        return;
    if (k->epfd >= 0)
        close(k->epfd);
    k->epfd = -1;
}

void ap_sockets_release(ap_sockets *k)
{
    k->held = 0;
    ap_sockets_close(k);
}
