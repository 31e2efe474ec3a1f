/*
 * lua-autopilot: the auth state and the dispatch to its flow (auth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

void ap_auth_wipe(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

int ap_auth_needs_token(const ap_auth *a)
{
    return a->kind != AP_AUTH_NONE;
}

int ap_auth_acquired(const ap_auth *a)
{
    return a->flow != NULL;
}

void ap_auth_fail_with(ap_auth *a, const char *error, const char *description)
{
    ap_auth_failure_clear(&a->failure);
    snprintf(a->failure.error, sizeof a->failure.error, "%s", error);
    snprintf(a->failure.description, sizeof a->failure.description, "%s", description);
}

void ap_auth_fail_with_reply(ap_auth *a, const ap_xfer *t)
{
    ap_auth_failure *f = &a->failure;
    ap_auth_failure_clear(f);
    f->code = t->code;
    f->status = t->code == CURLE_OK ? t->status : 0;
    memcpy(f->errmsg, t->errbuf, sizeof f->errmsg);
    f->errmsg[sizeof f->errmsg - 1] = '\0';
    /* a 2xx reply without a usable token may still hold one: never pass it on */
    if (t->code == CURLE_OK && (t->status < 200 || t->status > 299) && t->resp_body.len &&
        ap_buf_append(&f->body, t->resp_body.data, t->resp_body.len) != 0) {
        f->status = 0;
        f->code = CURLE_OUT_OF_MEMORY;
        f->errmsg[0] = '\0';
    }
}

ap_flow_outcome ap_auth_take_token(ap_auth *a, const ap_xfer *t, double now)
{
    ap_flow_outcome out = AP_FLOW_FAILED;
    ap_token_reply r;
    if (t->code == CURLE_OK && t->status == 200 &&
        ap_token_reply_parse(&r, t->resp_body.data, t->resp_body.len) == 0) {
        if (ap_token_take(&a->token, &r, now))
            out = AP_FLOW_TOKEN;
        ap_token_reply_free(&r);
    }
    if (out == AP_FLOW_FAILED)
        ap_auth_fail_with_reply(a, t);
    return out;
}

ap_flow_outcome ap_auth_no_question(ap_auth *a, int ok, const char *text, double now)
{
    (void)ok, (void)text, (void)now;
    ap_auth_fail_with(a, "internal_error", "the sign-in asked the host nothing");
    return AP_FLOW_FAILED;
}

ap_xfer *ap_auth_begin(ap_auth *a)
{
    a->fetch = a->flow->request(a);
    if (!a->fetch) {
        ap_auth_failure_clear(&a->failure);
        a->failure.code = CURLE_OUT_OF_MEMORY;
    }
    return a->fetch;
}

ap_flow_outcome ap_auth_reply(ap_auth *a, const ap_xfer *t, double now)
{
    if (a->fetch == t)
        a->fetch = NULL;
    return a->flow->reply(a, t, now);
}

ap_flow_outcome ap_auth_answer(ap_auth *a, int ok, const char *text, double now)
{
    a->question = AP_ASK_NONE;
    return a->flow->answer(a, ok, text, now);
}

void ap_device_code_info_free(ap_device_code_info *d)
{
    free(d->user_code);
    free(d->verification_uri);
    free(d->message);
    memset(d, 0, sizeof *d);
}

void ap_auth_free(ap_auth *a)
{
    ap_token_free(&a->token);
    ap_auth_wipe(&a->client_secret);
    ap_auth_wipe(&a->refresh_token);
    ap_auth_wipe(&a->device_code);
    ap_auth_wipe(&a->header);
    ap_auth_wipe(&a->rotated);
    ap_signer_free(a->signer);
    a->signer = NULL;
    free(a->token_url), a->token_url = NULL;
    free(a->client_id), a->client_id = NULL;
    free(a->scope), a->scope = NULL;
    free(a->devicecode_url), a->devicecode_url = NULL;
    ap_device_code_info_free(&a->shown);
    ap_xfer_free(a->fetch);
    a->fetch = NULL;
    ap_auth_failure_clear(&a->failure);
}
