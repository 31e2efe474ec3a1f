/*
 * lua-autopilot: delegated sign-in (an administrator's own account). A refresh token, when there is one,
 * is redeemed first and rotated (each new one is left for the host to persist). When it is refused, the
 * host is asked for a newer one another process may have stored; failing that, and when signing in
 * interactively is allowed, the device code flow runs: the devicecode reply is shown by the host, then
 * the token endpoint is polled every `interval` seconds as a transfer whose earliest start is set:
 * authorization_pending polls again, slow_down adds 5 seconds, anything else ends the sign-in with the
 * service's answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "json.h"
#include "token_request.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define DEFAULT_INTERVAL 5.0
#define MIN_INTERVAL 1.0 /* a floor: a reply's interval of 1e-6 must not make us poll in a loop */
#define DEFAULT_CODE_LIFETIME 900.0
#define MAX_CODE_LIFETIME 86400.0 /* seconds */
#define SLOW_DOWN_STEP 5.0

enum step { STEP_REFRESH, STEP_DEVICECODE, STEP_POLL };

static ap_xfer *delegated_request(ap_auth *a)
{
    ap_buf form = {0};
    form.secret = 1;
    const char *url = a->token_url;
    int bad;
    if (a->device_code) {
        a->step = STEP_POLL;
        bad = ap_form_add(&form, "grant_type", DEVICE_GRANT) ||
              ap_form_add(&form, "client_id", a->client_id) ||
              ap_form_add(&form, "device_code", a->device_code);
    } else if (a->refresh_token || !a->devicecode_url) {
        a->step = STEP_REFRESH;
        bad = ap_form_add(&form, "grant_type", "refresh_token") ||
              ap_form_add(&form, "client_id", a->client_id) ||
              ap_form_add(&form, "refresh_token", a->refresh_token ? a->refresh_token : "") ||
              ap_form_add(&form, "scope", a->scope);
    } else {
        a->step = STEP_DEVICECODE;
        url = a->devicecode_url;
        bad = ap_form_add(&form, "client_id", a->client_id) || ap_form_add(&form, "scope", a->scope);
    }
    if (bad) {
        ap_buf_free(&form);
        return NULL;
    }
    return ap_token_post(url, &form);
}

/* Queues the next request of the sign-in, not before `at` (monotonic). */
static ap_flow_outcome next_step(ap_auth *a, double at)
{
    if (!ap_auth_begin(a))
        return AP_FLOW_FAILED;
    a->fetch->not_before = at;
    return AP_FLOW_NEXT;
}

static char *string_of(ap_json obj, const char *key)
{
    ap_json v;
    ap_buf b = {0};
    if (!ap_json_member(obj, key, &v) || ap_json_string(v, &b) != 0 || b.len == 0 ||
        strlen(b.data) != b.len) {
        ap_buf_free(&b);
        return NULL;
    }
    return ap_buf_take(&b);
}

static double seconds_of(ap_json obj, const char *key, double dflt)
{
    ap_json v;
    double d;
    return ap_json_member(obj, key, &v) && ap_json_number(v, &d) == 0 && d > 0 ? d : dflt;
}

/* The devicecode reply: keeps the device code, and what the host shows; asks the host to show it. */
static ap_flow_outcome devicecode_done(ap_auth *a, const ap_xfer *t)
{
    ap_json root;
    if (t->code != CURLE_OK || t->status != 200) {
        ap_auth_fail_with_reply(a, t);
        return AP_FLOW_FAILED;
    }
    if (ap_json_parse(t->resp_body.data, t->resp_body.len, &root) != 0 ||
        ap_json_type(root) != AP_JSON_OBJECT) {
        ap_auth_fail_with(a, "invalid_response", "the devicecode reply is not JSON");
        return AP_FLOW_FAILED;
    }
    ap_device_code_info_free(&a->shown);
    ap_auth_wipe(&a->device_code);
    ap_device_code_info *d = &a->shown;
    a->device_code = string_of(root, "device_code");
    d->user_code = string_of(root, "user_code");
    d->verification_uri = string_of(root, "verification_uri");
    if (!d->verification_uri)
        d->verification_uri = string_of(root, "verification_url");
    d->message = string_of(root, "message");
    const char *missing = !a->device_code        ? "device_code"
                          : !d->user_code        ? "user_code"
                          : !d->verification_uri ? "verification_uri"
                                                 : NULL;
    if (missing) {
        char why[96];
        snprintf(why, sizeof why, "the devicecode reply has no usable %s", missing);
        ap_auth_wipe(&a->device_code);
        ap_auth_fail_with(a, "invalid_response", why);
        return AP_FLOW_FAILED;
    }
    /* a reply with absurd times must not park the session forever: a code lives a day at most, and is
     * polled at least once before it expires */
    d->expires_in = seconds_of(root, "expires_in", DEFAULT_CODE_LIFETIME);
    if (d->expires_in > MAX_CODE_LIFETIME)
        d->expires_in = MAX_CODE_LIFETIME;
    d->interval = seconds_of(root, "interval", DEFAULT_INTERVAL);
    if (d->interval > d->expires_in)
        d->interval = d->expires_in;
    if (d->interval < MIN_INTERVAL)
        d->interval = MIN_INTERVAL;
    a->dc_interval = d->interval;
    a->question = AP_ASK_SHOW_DEVICE_CODE;
    return AP_FLOW_HOST;
}

/* A token reply of a refresh or a poll; a rotated refresh token replaces ours and goes to the host. */
static int took_token(ap_auth *a, const ap_xfer *t, double now)
{
    ap_token_reply r;
    int ok = 0;
    if (t->code == CURLE_OK && t->status == 200 &&
        ap_token_reply_parse(&r, t->resp_body.data, t->resp_body.len) == 0) {
        ok = ap_token_take(&a->token, &r, now);
        if (ok && r.refresh_token.len && strlen(r.refresh_token.data) == r.refresh_token.len) {
            ap_auth_wipe(&a->refresh_token);
            a->refresh_token = ap_buf_take(&r.refresh_token); /* the old one is spent */
            ap_auth_wipe(&a->rotated);
            if (a->has_refresh_hook)
                a->rotated = strdup(a->refresh_token); /* NULL when out of memory: not persisted */
        }
        ap_token_reply_free(&r);
    }
    return ok;
}

static void oauth_error(const ap_xfer *t, char *out, size_t size)
{
    ap_token_reply r;
    out[0] = '\0';
    if (t->code == CURLE_OK && ap_token_reply_parse(&r, t->resp_body.data, t->resp_body.len) == 0)
        snprintf(out, size, "%s", r.error);
    if (t->code == CURLE_OK)
        ap_token_reply_free(&r);
}

static ap_flow_outcome poll_done(ap_auth *a, const ap_xfer *t, double now)
{
    if (took_token(a, t, now)) {
        ap_auth_wipe(&a->device_code);
        return AP_FLOW_TOKEN;
    }
    char err[64];
    oauth_error(t, err, sizeof err);
    int pending = strcmp(err, "authorization_pending") == 0, slow = strcmp(err, "slow_down") == 0;
    if (pending || slow) {
        if (slow)
            a->dc_interval += SLOW_DOWN_STEP;
        if (now > a->dc_expires + 2 * a->dc_interval + 30) { /* the service should have said expired_token */
            ap_auth_wipe(&a->device_code);
            ap_auth_fail_with(a, "expired_token", "the device code expired before the sign-in was completed");
            return AP_FLOW_FAILED;
        }
        return next_step(a, now + a->dc_interval);
    }
    /* declined, expired, bad code, or anything else: this sign-in is over; the next call starts anew */
    ap_auth_wipe(&a->device_code);
    ap_auth_fail_with_reply(a, t);
    return AP_FLOW_FAILED;
}

/* Without a refresh token that works: sign in again with a device code when allowed. */
static ap_flow_outcome after_refusal(ap_auth *a, double now)
{
    a->newer_tried = 0;
    if (!a->devicecode_url)
        return AP_FLOW_FAILED; /* a->failure holds the refusal */
    ap_auth_wipe(&a->refresh_token);
    return next_step(a, now);
}

static ap_flow_outcome refresh_done(ap_auth *a, const ap_xfer *t, double now)
{
    if (took_token(a, t, now)) {
        a->newer_tried = 0;
        return AP_FLOW_TOKEN;
    }
    char err[64];
    oauth_error(t, err, sizeof err);
    ap_auth_fail_with_reply(a, t);
    if (strcmp(err, "invalid_grant") != 0) {
        a->newer_tried = 0;
        return AP_FLOW_FAILED;
    }
    /* refused (expired, revoked, or already used because another process rotated it): the host's cache may
     * hold that process's newer token */
    if (a->has_refresh_hook) { /* asked even after a newer one failed too: the host then forgets it */
        a->question = AP_ASK_NEWER_REFRESH_TOKEN;
        return AP_FLOW_HOST;
    }
    return after_refusal(a, now);
}

static ap_flow_outcome delegated_reply(ap_auth *a, const ap_xfer *t, double now)
{
    switch (a->step) {
    case STEP_DEVICECODE:
        if (devicecode_done(a, t) == AP_FLOW_HOST) {
            a->dc_expires = now + a->shown.expires_in;
            return AP_FLOW_HOST;
        }
        return AP_FLOW_FAILED;
    case STEP_POLL:
        return poll_done(a, t, now);
    default:
        return refresh_done(a, t, now);
    }
}

static ap_flow_outcome delegated_answer(ap_auth *a, int ok, const char *text, double now)
{
    if (a->step == STEP_DEVICECODE) {
        if (ok)
            return next_step(a, now + a->dc_interval);
        char why[sizeof a->failure.description];
        snprintf(why, sizeof why, "device code sign-in stopped: %s",
                 text ? text : "the callback raised an error");
        ap_auth_wipe(&a->device_code);
        ap_auth_fail_with(a, "device_code_callback_failed", why);
        return AP_FLOW_FAILED;
    }
    /* a newer refresh token from the host, once per sign-in, and never the same one again */
    if (ok && text && *text && !a->newer_tried &&
        !(a->refresh_token && strcmp(text, a->refresh_token) == 0)) {
        char *newer = strdup(text);
        if (newer) {
            ap_auth_wipe(&a->refresh_token);
            a->refresh_token = newer;
            a->newer_tried = 1;
            return next_step(a, now);
        }
    }
    return after_refusal(a, now);
}

const ap_flow ap_flow_device_code = {"device_code", delegated_request, delegated_reply, delegated_answer};
const ap_flow ap_flow_refresh_token = {"refresh_token", delegated_request, delegated_reply, delegated_answer};
