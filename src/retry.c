/*
 * lua-autopilot: the retry policy of retry.h.
 */
#include <math.h>

#include "curl_names.h"
#include "headers.h"
#include "random.h"
#include "retry.h"
#include "retry_after.h"

double ap_ceil_ms(double seconds)
{
    if (!(seconds > 0))
        return 0;
    return ceil(seconds * 1000.0 - 1e-6) / 1000.0;
}

int ap_should_retry(const ap_xfer *x)
{
    if (x->code != CURLE_OK)
        return x->idempotent && ap_curl_transient_msg(x->code, x->errbuf);
    return x->status == 429 || x->status == 503 || x->status == 504;
}

double ap_retry_after_of(const ap_xfer *x)
{
    const char *v;
    size_t n;
    if (x->code != CURLE_OK || !ap_header_find(&x->resp_headers, "retry-after", &v, &n))
        return -1;
    return ap_parse_retry_after(v, n, &x->resp_headers);
}

double ap_backoff(ap_retry_policy *p, int retry)
{
    double cap = p->backoff_base * ldexp(1.0, retry > 60 ? 60 : retry);
    if (cap > p->backoff_cap)
        cap = p->backoff_cap;
    return ap_random_unit(&p->rng) * cap; /* full jitter */
}

double ap_retry_wait(ap_retry_policy *p, const ap_xfer *x, double retry_after)
{
    return ap_ceil_ms(retry_after >= 0 ? retry_after : ap_backoff(p, x->retries));
}

int ap_schedule_retry(const ap_retry_policy *p, ap_xfer *x, double now, double wait)
{
    if (x->retries >= p->max_retries || x->waited + wait > p->max_retry_wait + 1e-9)
        return 0;
    x->retries++;
    x->waited += wait;
    x->not_before = now + wait;
    x->state = AP_XS_QUEUED;
    return 1;
}
