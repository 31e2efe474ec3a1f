/*
 * lua-autopilot: the multi engine (engine.h).
 */
#include <math.h>
#include <string.h>

#include "batch.h"
#include "clock.h"
#include "engine.h"
#include "json.h"

static void finish(ap_session *s, ap_xfer *x)
{
    x->state = AP_XS_DONE;
    ap_list_push(&s->done, x);
}

static int needs_token(const ap_session *s, const ap_xfer *x)
{
    return ap_auth_needs_token(&s->auth) && !(x->user_has & AP_H_AUTH);
}

/* Starts one attempt: 0, or the curl error that kept it from starting (a malformed URL, say: nothing was
 * sent). */
static CURLcode start(ap_session *s, ap_xfer *x, double now)
{
    const char *bearer = NULL;
    if (x->kind != AP_XK_TOKEN && needs_token(s, x)) {
        bearer = s->auth.token.value;
        x->token_gen = s->auth.token.gen;
    }
    CURLcode rc = (CURLcode)ap_xfer_setup(&s->transport, x, bearer);
    if (rc == CURLE_OK && curl_multi_add_handle(s->multi, x->easy) != CURLM_OK)
        rc = CURLE_FAILED_INIT;
    if (rc != CURLE_OK) {
        x->code = rc;
        ap_xfer_end_attempt(x);
        return rc;
    }
    x->state = AP_XS_RUNNING;
    x->attempts++;
    x->started = now;
    if (x->kind != AP_XK_TOKEN) {
        ap_list_push(&s->running, x);
        s->stats.requests++;
        if (ap_is_write(x))
            ap_pacing_write_started(&s->pacing, now);
    }
    return CURLE_OK;
}

/* ---- acting on the auth flows ----------------------------------------------------------------------- */

void ap_engine_auth_outcome(ap_session *s, ap_flow_outcome o, double now)
{
    (void)now;
    if (o == AP_FLOW_TOKEN) {
        for (ap_xfer *x = s->queued.head; x; x = x->next)
            x->awaiting_token = 0;
    } else if (o == AP_FLOW_FAILED) {
        /* every transfer waiting for the token ends with the token endpoint's answer: nothing is sent */
        ap_xfer *next;
        for (ap_xfer *x = s->queued.head; x; x = next) {
            next = x->next;
            if (!x->awaiting_token)
                continue;
            x->awaiting_token = 0;
            x->auth_failed = 1;
            ap_auth_failure_copy(&x->auth_failure, &s->auth.failure);
            ap_list_remove(&s->queued, x);
            finish(s, x);
        }
    }
}

/* A token request ended: retried like any request (but it never pauses Graph traffic), else its flow
 * says what comes next. */
/* A retry was scheduled for x: what it waits for, for the caller's on_retry. */
static void retry_scheduled(ap_session *s, const ap_xfer *x, double wait)
{
    ap_retry_event e = {x->id, x->code, x->code == CURLE_OK ? x->status : 0, x->retries, s->retry.max_retries,
                        wait};
    ap_retry_event_record(&s->retry_events, &e);
}

static void token_done(ap_session *s, ap_xfer *t, double now)
{
    if (ap_should_retry(t)) {
        double wait = ap_retry_wait(&s->retry, t, ap_retry_after_of(t));
        if (ap_schedule_retry(&s->retry, t, now, wait)) {
            retry_scheduled(s, t, wait);
            return; /* stays in auth.fetch, queued */
        }
    }
    ap_flow_outcome o = ap_auth_reply(&s->auth, t, now);
    ap_xfer_free(t);
    ap_engine_auth_outcome(s, o, now);
}

static void start_token(ap_session *s, double now, int *started)
{
    ap_xfer *t = s->auth.fetch;
    (*started)++;
    if (start(s, t, now) != CURLE_OK)
        token_done(s, t, now); /* could not even start */
}

/* ---- starting what may start ------------------------------------------------------------------------ */

static double earlier(double a, double b)
{
    return a < b ? a : b;
}

/* How many writes leave together with x: an envelope's worth of the $batch items queued with it. */
static int burst_of(const ap_session *s, const ap_xfer *x)
{
    if (!x->batch_url)
        return 1;
    int n = 0;
    for (const ap_xfer *y = s->queued.head; y && n < AP_BATCH_MAX; y = y->next)
        n += y->batch_url && strcmp(y->batch_url, x->batch_url) == 0;
    return n;
}

/* Whether a queued item may go along in an envelope now (the budget was checked for the envelope). */
static int ready(ap_session *s, const ap_xfer *x, double now)
{
    return x->not_before <= now && !ap_pacing_paused(&s->pacing, now) &&
           (!needs_token(s, x) || ap_token_usable(&s->auth.token, now));
}

static void item_started(ap_session *s, ap_xfer *x, double now)
{
    x->state = AP_XS_RUNNING;
    x->attempts++;
    x->started = now;
    if (ap_is_write(x))
        ap_pacing_write_started(&s->pacing, now);
}

/* Starts an envelope for x and the other items to the same batch URL that are ready too, up to n (what
 * the budget allows at once, at most AP_BATCH_MAX); each item spends its own write of budget. */
static void start_envelope(ap_session *s, ap_xfer *x, double now, int n)
{
    ap_xfer *e = ap_batch_new(x->batch_url);
    ap_list_remove(&s->queued, x);
    if (!e) {
        x->code = CURLE_OUT_OF_MEMORY;
        finish(s, x);
        return;
    }
    ap_batch_add(e, x);
    item_started(s, x, now);
    ap_xfer *y, *next;
    for (y = s->queued.head; y && e->nitems < n; y = next) {
        next = y->next;
        if (y->batch_url && strcmp(y->batch_url, x->batch_url) == 0 && ready(s, y, now)) {
            ap_list_remove(&s->queued, y);
            ap_batch_add(e, y);
            item_started(s, y, now);
        }
    }
    CURLcode rc = ap_batch_seal(e) == 0 ? start(s, e, now) : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK) {
        s->stats.batch_items += e->nitems;
        for (int i = 0; i < e->nitems; i++)
            e->items[i]->token_gen = e->token_gen;
        return;
    }
    for (int i = 0; i < e->nitems; i++) { /* never sent */
        e->items[i]->code = rc;
        finish(s, e->items[i]);
    }
    ap_xfer_free(e);
}

/* Starts what may start now (counted in *started); returns the earliest time something held back by time
 * could start. */
static double start_ready(ap_session *s, double now, int *started)
{
    ap_auth *a = &s->auth;
    double next = HUGE_VAL;
    if (a->fetch && a->fetch->state == AP_XS_QUEUED) {
        if (a->fetch->not_before <= now)
            start_token(s, now, started);
        else
            next = a->fetch->not_before;
    }
    int begun = 0; /* one new sign-in per pass: if it fails at once, the next pass tries again */
    ap_xfer *x, *after;
    for (x = s->queued.head; x; x = after) {
        after = x->next;
        if (s->running.count >= s->concurrency)
            break;
        if (x->not_before > now) {
            next = earlier(next, x->not_before);
            continue;
        }
        if (ap_pacing_paused(&s->pacing, now)) { /* throttled: no new transfer at all until the pause ends */
            next = earlier(next, s->pacing.paused_until);
            break;
        }
        int together = burst_of(s, x);
        if (ap_is_write(x)) {
            double at = ap_pacing_write_at(&s->pacing, now, together);
            if (at > now) {
                next = earlier(next, at);
                continue; /* reads may still go */
            }
        }
        if (needs_token(s, x)) {
            if (!ap_token_usable(&a->token, now))
                x->awaiting_token = 1;
            if (!ap_token_fresh(&a->token, now) && !a->fetch && a->question == AP_ASK_NONE) {
                if (begun) {
                    if (!ap_token_usable(&a->token, now))
                        next = now;
                } else {
                    begun = 1;
                    if (ap_auth_begin(a))
                        start_token(s, now, started);
                    else
                        ap_engine_auth_outcome(s, AP_FLOW_FAILED, now);
                    if (x->state != AP_XS_QUEUED) { /* the sign-in failed at once, ending x and others */
                        after = s->queued.head;
                        continue;
                    }
                    after = x->next; /* a failed sign-in may have ended the one after x */
                }
            }
            if (!ap_token_usable(&a->token, now))
                continue; /* waits for the sign-in in progress */
        }
        x->awaiting_token = 0;
        (*started)++;
        if (x->batch_url) {
            start_envelope(s, x, now, together);
            after = s->queued.head; /* it took others along */
            continue;
        }
        ap_list_remove(&s->queued, x);
        if (start(s, x, now) != CURLE_OK)
            finish(s, x);
    }
    return next;
}

/* ---- transfers that ended --------------------------------------------------------------------------- */

/* A 401 whose body says the token is no good (Graph: error.code InvalidAuthenticationToken). */
static int token_refused(const ap_xfer *x)
{
    ap_json root, e, code;
    return x->code == CURLE_OK && x->status == 401 &&
           ap_json_parse(x->resp_body.data, x->resp_body.len, &root) == 0 &&
           ap_json_member(root, "error", &e) && ap_json_member(e, "code", &code) &&
           ap_json_equals(code, "InvalidAuthenticationToken");
}

/* A Graph request's attempt ended (on its own, or inside an envelope): retry, or finish. */
static void judge(ap_session *s, ap_xfer *x, double now)
{
    double ra = ap_retry_after_of(x);
    if (ra >= 0)
        x->retry_after = ra;
    if (ap_auth_acquired(&s->auth) && !x->auth_retried && !(x->user_has & AP_H_AUTH) && token_refused(x)) {
        /* the service no longer accepts our token: drop it, get another, try once more */
        ap_token_drop(&s->auth.token, x->token_gen);
        x->auth_retried = 1;
        x->state = AP_XS_QUEUED;
        x->not_before = now;
        s->stats.retries++;
        ap_list_push_front(&s->queued, x);
        return;
    }
    int throttled = x->code == CURLE_OK && x->status == 429, retry = ap_should_retry(x);
    double wait = throttled || retry ? ap_retry_wait(&s->retry, x, ra) : 0;
    if (throttled)
        s->stats.throttled++;
    if (x->code == CURLE_OK)
        ap_pacing_sample(&s->pacing, x->send_time, x->reply_time);
    /* a huge (or infinite) Retry-After must not stall the session beyond what the caller waits */
    ap_pacing_reply(&s->pacing, ap_is_write(x), x->started, x->code == CURLE_OK ? x->status : 0,
                    earlier(wait, s->retry.max_retry_wait), now);
    if (retry && ap_schedule_retry(&s->retry, x, now, wait)) {
        retry_scheduled(s, x, wait);
        s->stats.retries++;
        ap_list_push_front(&s->queued, x);
        return;
    }
    finish(s, x);
}

/* An envelope ended: each item gets its own part of a 2xx reply, or the envelope's whole answer (a 429, a
 * 503, a transport failure: then the items are retried, or end, as the envelope would have). */
static void envelope_done(ap_session *s, ap_xfer *e, double now)
{
    int split = e->code == CURLE_OK && e->status >= 200 && e->status < 300;
    if (split)
        ap_batch_split(e);
    for (int i = 0; i < e->nitems; i++) {
        ap_xfer *x = e->items[i];
        x->send_time = e->send_time;
        x->reply_time = e->reply_time;
        if (!split) {
            x->code = e->code;
            x->status = e->status;
            memcpy(x->errbuf, e->errbuf, sizeof x->errbuf);
            ap_buf_reset(&x->resp_headers);
            ap_buf_reset(&x->resp_body);
            if (ap_buf_append(&x->resp_headers, e->resp_headers.data ? e->resp_headers.data : "",
                              e->resp_headers.len) ||
                ap_buf_append(&x->resp_body, e->resp_body.data ? e->resp_body.data : "", e->resp_body.len))
                x->code = CURLE_OUT_OF_MEMORY;
        }
        judge(s, x, now);
    }
    ap_xfer_free(e);
}

static void graph_done(ap_session *s, ap_xfer *x, double now)
{
    ap_list_remove(&s->running, x);
    if (x->kind == AP_XK_BATCH)
        envelope_done(s, x, now);
    else
        judge(s, x, now);
}

static int process_messages(ap_session *s)
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
        x->code = ap_xfer_verdict(x, rc);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        x->status = status;
        curl_off_t sent = -1, first = -1; /* microseconds from the start */
        curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &sent);
        curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &first);
        x->send_time = sent >= 0 ? (double)sent / 1e6 : -1;
        x->reply_time = first >= 0 ? (double)first / 1e6 : -1;
        long connects = 0; /* new connections this attempt opened (0: it reused one) */
        if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
            s->stats.connections += connects;
        ap_xfer_end_attempt(x);
        double now = ap_now();
        if (x->kind == AP_XK_TOKEN)
            token_done(s, x, now);
        else
            graph_done(s, x, now);
        n++;
    }
    return n;
}

/* ---- the engine's interface ------------------------------------------------------------------------- */

void ap_engine_queue(ap_session *s, ap_xfer *x)
{
    x->state = AP_XS_QUEUED;
    ap_list_push(&s->queued, x);
    s->next_at = 0; /* the next step looks at it */
}

int ap_engine_step(ap_session *s, double *next)
{
    ap_sockets_drive(&s->sockets);
    int ended = process_messages(s), started = 0, done_before = s->done.count;
    *next = start_ready(s, ap_now(), &started);
    ended += s->done.count - done_before; /* failed at once: a transfer that could not start, a sign-in */
    if (started) {
        ap_sockets_drive(&s->sockets); /* send the new requests now, not after the next wait */
        ended += process_messages(s);
    }
    s->next_at = ended ? 0 : *next; /* an ended transfer may have freed a slot: step again at once */
    return ended;
}

double ap_engine_wake_at(const ap_session *s)
{
    if (ap_engine_active(s) == 0 && s->auth.fetch == NULL)
        return HUGE_VAL;
    return earlier(s->next_at, s->sockets.timer_at);
}

void ap_engine_wait(ap_session *s, double until)
{
    ap_sockets_wait(&s->sockets, earlier(until, s->next_at));
}

int ap_engine_active(const ap_session *s)
{
    return s->queued.count + s->running.count;
}

int ap_engine_queued_writes(const ap_session *s)
{
    int n = 0;
    for (const ap_xfer *x = s->queued.head; x; x = x->next)
        n += ap_is_write(x);
    return n;
}

int ap_engine_cancel(ap_session *s, lua_Integer id)
{
    for (ap_xfer *x = s->queued.head; x; x = x->next) {
        if (x->id == id) {
            ap_list_remove(&s->queued, x);
            x->cancelled = 1;
            finish(s, x);
            return 1;
        }
    }
    return 0;
}

ap_xfer *ap_engine_take(ap_session *s, lua_Integer id)
{
    for (ap_xfer *x = s->done.head; x; x = x->next) {
        if (id == 0 || x->id == id) {
            ap_list_remove(&s->done, x);
            return x;
        }
    }
    return NULL;
}

static void free_list(ap_session *s, ap_list *l)
{
    ap_xfer *x;
    while ((x = l->head)) {
        ap_list_remove(l, x);
        if (x->easy && s->multi)
            curl_multi_remove_handle(s->multi, x->easy);
        for (int i = 0; i < x->nitems; i++) /* an envelope's items are in no list */
            ap_xfer_free(x->items[i]);
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
        curl_multi_cleanup(s->multi); /* curl removes its sockets from the epoll set as it closes them */
    s->multi = NULL;
    ap_sockets_close(&s->sockets);
}
