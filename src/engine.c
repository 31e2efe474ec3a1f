/*
 * lua-autopilot: the multi engine. Starts queued transfers up to the concurrency cap while honouring
 * the write budget, the pause after a 429, each retry's earliest start and the token's availability;
 * drives libcurl's multi interface; decides retries when transfers end; and sleeps only inside
 * curl_multi_poll, for exactly as long as nothing can happen. Called from poll/request (session.c)
 * with the session userdata at stack index 1, so token replies and error bodies can be decoded
 * between multi iterations (never inside a curl callback).
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "internal.h"

static void finish(ap_session *s, ap_xfer *x)
{
    x->state = AP_XS_DONE;
    ap_list_push(&s->done, x);
}

/* Starts one attempt. A transfer whose easy handle cannot even be set up ends at once with that
 * curl error (a malformed URL, say): it was never sent. */
static void start(ap_session *s, ap_xfer *x, double now)
{
    CURLcode rc = (CURLcode)ap_xfer_setup(s, x);
    if (rc == CURLE_OK && curl_multi_add_handle(s->multi, x->easy) != CURLM_OK)
        rc = CURLE_FAILED_INIT;
    if (rc != CURLE_OK) {
        x->code = rc;
        ap_xfer_end_attempt(x);
        if (x->kind == AP_XK_TOKEN)
            return; /* the caller ends it */
        finish(s, x);
        return;
    }
    x->state = AP_XS_RUNNING;
    x->attempts++;
    if (x->kind == AP_XK_GRAPH) {
        ap_list_push(&s->running, x);
        s->stats.requests++;
        if (ap_is_write(x))
            ap_budget_record(s, now);
    }
}

static void token_done(lua_State *L, ap_session *s, ap_xfer *t, double now);

static void start_token(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    start(s, t, now);
    if (t->state != AP_XS_RUNNING)
        token_done(L, s, t, now); /* could not even start */
}

/* Starts what may start now; returns the earliest time something blocked by time could start. */
static double start_ready(lua_State *L, ap_session *s, double now, int *started)
{
    double next = HUGE_VAL;
    int fetch_tried = 0;
    ap_xfer *t = s->auth.fetch;
    if (t && t->state == AP_XS_QUEUED) {
        if (t->not_before <= now) {
            start_token(L, s, t, now);
            (*started)++;
        } else {
            next = t->not_before;
        }
    }
    ap_xfer *x, *after;
    for (x = s->queued.head; x; x = after) {
        after = x->next;
        if (s->running.count >= s->concurrency)
            break;
        if (x->not_before > now) {
            if (x->not_before < next)
                next = x->not_before;
            continue;
        }
        if (s->paused_until > now) { /* throttled: no new transfer at all until the pause ends */
            if (s->paused_until < next)
                next = s->paused_until;
            break;
        }
        if (ap_is_write(x)) {
            double at = ap_budget_at(s, now);
            if (at > now) {
                if (at < next)
                    next = at;
                continue; /* reads may still go */
            }
        }
        if (ap_auth_needs_token(s) && !(x->user_has & AP_H_AUTH)) {
            int usable = ap_auth_usable(s, now);
            if (!usable)
                x->awaiting_token = 1;
            if (!ap_auth_fresh(s, now) && !s->auth.fetch) {
                if (fetch_tried) { /* one fetch per pass; it failed at once: try again next pass */
                    if (!usable) {
                        next = now;
                        continue;
                    }
                } else {
                    fetch_tried = 1;
                    ap_xfer *f = ap_auth_request(s);
                    if (!f) { /* out of memory: fail this one rather than let it wait forever */
                        x->auth_failed = 1;
                        x->auth_code = CURLE_OUT_OF_MEMORY;
                        ap_list_remove(&s->queued, x);
                        finish(s, x);
                        (*started)++;
                        continue;
                    }
                    s->auth.fetch = f;
                    f->state = AP_XS_QUEUED;
                    start_token(L, s, f, now);
                    (*started)++;
                    if (x->state != AP_XS_QUEUED) { /* failed at once, ending x and others: rescan */
                        after = s->queued.head;
                        continue;
                    }
                    after = x->next; /* a failed fetch may have ended the one after x */
                }
            }
            if (!ap_auth_usable(s, now))
                continue; /* waits for the fetch in progress */
        }
        x->awaiting_token = 0;
        ap_list_remove(&s->queued, x);
        start(s, x, now);
        (*started)++;
    }
    return next;
}

static double retry_after_of(const ap_xfer *x)
{
    const char *v;
    size_t n;
    if (x->code != CURLE_OK || !ap_header_find(&x->resp_headers, "retry-after", &v, &n))
        return -1;
    return ap_parse_retry_after(v, n, &x->resp_headers);
}

/* Schedules another attempt after `wait` seconds if the caps allow it. */
static int schedule_retry(ap_session *s, ap_xfer *x, double now, double wait)
{
    if (x->retries >= s->max_retries || x->waited + wait > s->max_retry_wait + 1e-9)
        return 0;
    x->retries++;
    x->waited += wait;
    x->not_before = now + wait;
    x->state = AP_XS_QUEUED;
    return 1;
}

static void token_done(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    double ra = retry_after_of(t);
    if (ap_should_retry(t)) {
        double wait = ap_ceil_ms(ra >= 0 ? ra : ap_backoff(s, t->retries));
        if (schedule_retry(s, t, now, wait))
            return; /* stays in s->auth.fetch */
    }
    ap_auth_on_done(L, s, t, now);
}

static void graph_done(lua_State *L, ap_session *s, ap_xfer *x, double now)
{
    ap_list_remove(&s->running, x);
    double ra = retry_after_of(x);
    if (ra >= 0)
        x->retry_after = ra;
    int throttled = x->code == CURLE_OK && x->status == 429;
    if (x->code == CURLE_OK && x->status == 401 && ap_auth_acquired(s) &&
        !x->auth_retried && !(x->user_has & AP_H_AUTH) && ap_auth_is_token_error(L, x)) {
        /* the service no longer accepts our token: drop it, get another, try once more */
        ap_auth_invalidate(s, x->token_gen);
        x->auth_retried = 1;
        x->state = AP_XS_QUEUED;
        x->not_before = now;
        s->stats.retries++;
        ap_list_push_front(&s->queued, x);
        return;
    }
    double wait = 0;
    if (throttled || ap_should_retry(x))
        wait = ap_ceil_ms(ra >= 0 ? ra : ap_backoff(s, x->retries));
    if (throttled) {
        s->stats.throttled++;
        /* a huge (or infinite) Retry-After must not stall the session beyond what the caller waits */
        ap_pause(s, now, now + (wait < s->max_retry_wait ? wait : s->max_retry_wait));
    }
    if (ap_should_retry(x) && schedule_retry(s, x, now, wait)) {
        s->stats.retries++;
        ap_list_push_front(&s->queued, x);
        return;
    }
    finish(s, x);
}

static int process_messages(lua_State *L, ap_session *s)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result; /* m is invalid once the handle is removed */
        ap_xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(s->multi, e);
        x->code = rc;
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        x->status = status;
        long connects = 0; /* new connections this attempt opened (0: it reused one) */
        if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
            s->stats.connections += connects;
        ap_xfer_end_attempt(x);
        double now = ap_now();
        if (x->kind == AP_XK_TOKEN)
            token_done(L, s, x, now);
        else
            graph_done(L, s, x, now);
        n++;
    }
    return n;
}

static int is_done(const ap_session *s, lua_Integer id)
{
    for (const ap_xfer *x = s->done.head; x; x = x->next)
        if (x->id == id)
            return 1;
    return 0;
}

void ap_engine_run(lua_State *L, ap_session *s, double deadline, lua_Integer stop_id)
{
    for (;;) {
        int running;
        curl_multi_perform(s->multi, &running);
        process_messages(L, s);
        int started = 0;
        double next = start_ready(L, s, ap_now(), &started);
        int ended = 0;
        if (started) { /* send the new requests now, not after the next wait */
            curl_multi_perform(s->multi, &running);
            ended = process_messages(L, s);
        }
        if (stop_id ? is_done(s, stop_id) : s->done.count > 0)
            return;
        if (s->queued.count + s->running.count == 0)
            return; /* nothing left that could end */
        if (ended)
            continue; /* a slot or the token may have freed up */
        double now = ap_now();
        if (now >= deadline)
            return;
        double until = next < deadline ? next : deadline;
        double ms = ceil((until - now) * 1000.0);
        if (ms > 86400000.0)
            ms = 86400000.0;
        curl_multi_poll(s->multi, NULL, 0, (int)ms, NULL);
    }
}

static void free_list(ap_session *s, ap_list *l)
{
    ap_xfer *x;
    while ((x = l->head)) {
        ap_list_remove(l, x);
        if (x->easy && s->multi)
            curl_multi_remove_handle(s->multi, x->easy);
        ap_xfer_free(x);
    }
}

void ap_engine_close(ap_session *s)
{
    free_list(s, &s->running);
    free_list(s, &s->queued);
    free_list(s, &s->done);
    ap_xfer *t = s->auth.fetch;
    if (t) {
        if (t->easy && s->multi)
            curl_multi_remove_handle(s->multi, t->easy);
        ap_xfer_free(t);
        s->auth.fetch = NULL;
    }
    if (s->multi)
        curl_multi_cleanup(s->multi);
    s->multi = NULL;
    if (s->share)
        curl_share_cleanup(s->share);
    s->share = NULL;
}
