/*
 * lua-autopilot: managed identity: a GET of the App Service IDENTITY_ENDPOINT (with X-IDENTITY-HEADER) or
 * of IMDS (with Metadata: true); the URL already names the resource. Replies may give expires_on (epoch,
 * a string) instead of expires_in: token.c reads both.
 */
#include "auth.h"
#include "token_request.h"

static ap_xfer *identity_request(ap_auth *a)
{
    return ap_token_get(a->token_url, a->header);
}

const ap_flow ap_flow_managed_identity = {"managed_identity", identity_request, ap_auth_take_token,
                                          ap_auth_no_question};
