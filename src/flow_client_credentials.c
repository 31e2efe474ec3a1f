/*
 * lua-autopilot: client credentials, the app signing in as itself: with a client secret, or with a
 * certificate (a fresh client assertion, new jti and nbf now, for every token request).
 */
#include <stdlib.h>

#include "auth.h"
#include "clock.h"
#include "token_request.h"

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

static ap_xfer *client_credentials(ap_auth *a)
{
    ap_buf form = {0};
    form.secret = 1;
    char *assertion = NULL;
    if (a->signer) {
        char err[AP_SIGNER_ERRLEN];
        const char *msg;
        assertion = ap_signer_assertion(a->signer, a->client_id, a->token_url, (long long)ap_epoch(),
                                        AP_ASSERTION_LIFETIME, err, &msg);
        if (!assertion)
            return NULL;
    }
    int bad = ap_form_add(&form, "grant_type", "client_credentials") ||
              ap_form_add(&form, "client_id", a->client_id) ||
              (assertion ? ap_form_add(&form, "client_assertion_type", JWT_BEARER) ||
                               ap_form_add(&form, "client_assertion", assertion)
                         : ap_form_add(&form, "client_secret", a->client_secret)) ||
              ap_form_add(&form, "scope", a->scope);
    ap_auth_wipe(&assertion);
    if (bad) {
        ap_buf_free(&form);
        return NULL;
    }
    return ap_token_post(a->token_url, &form);
}

const ap_flow ap_flow_client_secret = {"client_secret", client_credentials, ap_auth_take_token,
                                       ap_auth_no_question};
const ap_flow ap_flow_certificate = {"certificate", client_credentials, ap_auth_take_token,
                                     ap_auth_no_question};
