/*
 * lua-autopilot: when a transfer is tried again and how long it waits: 429, 503, 504 and (for idempotent
 * requests) transient transport failures; the server's Retry-After when it gives one, else exponential
 * backoff with full jitter; caps on retries and on the total time waited.
 */
#ifndef AP_RETRY_H
#define AP_RETRY_H

#include <stdint.h>

#include "transfer.h"

typedef struct ap_retry_policy {
    int max_retries;       /* retries after the first attempt */
    double max_retry_wait; /* seconds one request may spend waiting in all */
    double backoff_base, backoff_cap;
    uint64_t rng; /* splitmix64 state for the jitter */
} ap_retry_policy;

int ap_should_retry(const ap_xfer *x);            /* its last attempt failed in a way worth retrying */
double ap_retry_after_of(const ap_xfer *x);       /* the last reply's Retry-After in seconds, < 0: none */
double ap_backoff(ap_retry_policy *p, int retry); /* a jittered wait for the n-th retry */
double ap_retry_wait(ap_retry_policy *p, const ap_xfer *x, double retry_after); /* the wait, ms-rounded up */
/* Schedules another attempt after `wait` seconds if the caps allow it (1), else leaves x alone (0). */
int ap_schedule_retry(const ap_retry_policy *p, ap_xfer *x, double now, double wait);
double ap_ceil_ms(double seconds);

#endif
