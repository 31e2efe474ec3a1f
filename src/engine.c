/*
 * lua-autopilot: the multi engine (engine.h).
 */
#include <math.h>
#include <string.h>

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
    if (x->kind == AP_XK_GRAPH && needs_token(s, x)) {
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
    if (x->kind == AP_XK_GRAPH) {
        ap_list_push(&s->running, x);
        s->stats.requests++;
        if (ap_is_write(x))
            ap_pacing_record_write(&s->pacing, now);
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
static void token_done(ap_session *s, ap_xfer *t, double now)
{
    if (ap_should_retry(t) &&
        ap_schedule_retry(&s->retry, t, now, ap_retry_wait(&s->retry, t, ap_retry_after_of(t))))
        return; /* stays in auth.fetch, queued */
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
        if (ap_is_write(x)) {
            double at = ap_pacing_write_at(&s->pacing, now);
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
        ap_list_remove(&s->queued, x);
        (*started)++;
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

static void graph_done(ap_session *s, ap_xfer *x, double now)
{
    ap_list_remove(&s->running, x);
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
    if (throttled) {
        s->stats.throttled++;
        /* a huge (or infinite) Retry-After must not stall the session beyond what the caller waits */
        ap_pacing_pause(&s->pacing, now, now + earlier(wait, s->retry.max_retry_wait));
    }
    if (retry && ap_schedule_retry(&s->retry, x, now, wait)) {
        s->stats.retries++;
        ap_list_push_front(&s->queued, x);
        return;
    }
    finish(s, x);
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
}

int ap_engine_step(ap_session *s, double *next)
{
    int running;
    curl_multi_perform(s->multi, &running);
    int ended = process_messages(s), started = 0, done_before = s->done.count;
    *next = start_ready(s, ap_now(), &started);
    ended += s->done.count - done_before; /* failed at once: a transfer that could not start, a sign-in */
    if (started) {
        curl_multi_perform(s->multi, &running); /* send the new requests now, not after the next wait */
        ended += process_messages(s);
    }
    return ended;
}

void ap_engine_wait(ap_session *s, double until)
{
    double ms = ceil((until - ap_now()) * 1000.0);
    if (!(ms > 0))
        ms = 0;
    if (ms > 86400000.0)
        ms = 86400000.0;
    curl_multi_poll(s->multi, NULL, 0, (int)ms, NULL);
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
}
