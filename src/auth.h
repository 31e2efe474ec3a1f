/*
 * lua-autopilot: how the session gets its access token. Each sign-in flow (client credentials with a
 * secret or a certificate, managed identity, delegated: refresh token and device code) sits behind one
 * small interface: start a token request, take a reply, take the host's answer; each step reports an
 * outcome, and the engine (the only owner of the transfer lists) acts on it. What only the host can do
 * (show a device code, persist a rotated refresh token, look up a newer one) is left in the auth state
 * for the gate (gate.c) to do between engine steps: no flow calls Lua.
 */
#ifndef AP_AUTH_H
#define AP_AUTH_H

#include "signer.h"
#include "token.h"
#include "transfer.h"

enum ap_auth_kind {
    AP_AUTH_NONE,
    AP_AUTH_TOKEN,            /* brought by the caller */
    AP_AUTH_CLIENT_SECRET,    /* client credentials, secret */
    AP_AUTH_CERTIFICATE,      /* client credentials, client assertion signed in C */
    AP_AUTH_DELEGATED,        /* refresh token and/or device code */
    AP_AUTH_MANAGED_IDENTITY, /* App Service IDENTITY_ENDPOINT or IMDS */
};

typedef enum ap_flow_outcome {
    AP_FLOW_TOKEN,  /* a token was taken: the transfers waiting for it may go */
    AP_FLOW_NEXT,   /* another request of this sign-in is queued (auth.fetch) */
    AP_FLOW_HOST,   /* waits for the host's answer to auth.question */
    AP_FLOW_FAILED, /* the sign-in ended: auth.failure says how */
} ap_flow_outcome;

/* What the host is asked (gate.c answers through ap_auth_answer). */
enum ap_question { AP_ASK_NONE, AP_ASK_SHOW_DEVICE_CODE, AP_ASK_NEWER_REFRESH_TOKEN };

typedef struct ap_device_code_info {
    char *user_code, *verification_uri, *message;
    double expires_in, interval;
} ap_device_code_info;

typedef struct ap_auth ap_auth;

typedef struct ap_flow {
    const char *name;                /* token_info's "flow" */
    ap_xfer *(*request)(ap_auth *a); /* the next request; NULL: no memory */
    ap_flow_outcome (*reply)(ap_auth *a, const ap_xfer *t, double now); /* a request of this flow ended */
    /* the host's answer: ok, and a text (an error message, or a newer refresh token) */
    ap_flow_outcome (*answer)(ap_auth *a, int ok, const char *text, double now);
} ap_flow;

struct ap_auth {
    int kind;
    const ap_flow *flow; /* NULL for kinds "none" and "token" */
    char flow_name[24];
    ap_token token;

    /* credentials (wiped when freed) */
    char *token_url, *client_id, *client_secret, *scope, *devicecode_url;
    char *header; /* managed identity: "X-IDENTITY-HEADER: ..." or "Metadata: true" */
    ap_signer *signer;

    /* delegated sign-in */
    char *refresh_token;
    int newer_tried;   /* a refused one was replaced by the cache's newer one already */
    char *device_code; /* the pending device code */
    double dc_interval, dc_expires;
    int step;
    ap_device_code_info shown;

    /* the sign-in in progress */
    ap_xfer *fetch;          /* its request (queued, running) or NULL */
    int question;            /* AP_ASK_* waiting for the host */
    char *rotated;           /* a new refresh token the host should persist (the gate hands it over) */
    int has_refresh_hook;    /* the host persists refresh tokens (on_refresh_token) */
    ap_auth_failure failure; /* how the last sign-in failed */
};

int ap_auth_needs_token(const ap_auth *a);
int ap_auth_acquired(const ap_auth *a); /* the session fetches its own tokens (a 401 may renew them) */
/* The next request of a new sign-in, stored in a->fetch; NULL when out of memory (a->failure says so). */
ap_xfer *ap_auth_begin(ap_auth *a);
/* A token request ended after its retries: what the flow makes of it. */
ap_flow_outcome ap_auth_reply(ap_auth *a, const ap_xfer *t, double now);
/* The host's answer to a->question. */
ap_flow_outcome ap_auth_answer(ap_auth *a, int ok, const char *text, double now);
/* Fills a->failure from an ended token request: its status, transport error and (non-2xx) body. */
void ap_auth_fail_with_reply(ap_auth *a, const ap_xfer *t);
/* Fills a->failure with an error of the client's own making ("expired_token", ...). */
void ap_auth_fail_with(ap_auth *a, const char *error, const char *description);
/* The reply handler of flows whose request answers with a token (client credentials, managed identity). */
ap_flow_outcome ap_auth_take_token(ap_auth *a, const ap_xfer *t, double now);
/* The answer handler of flows that never ask the host anything. */
ap_flow_outcome ap_auth_no_question(ap_auth *a, int ok, const char *text, double now);
void ap_auth_free(ap_auth *a);
void ap_auth_wipe(char **p); /* wipes and frees a secret string */
void ap_device_code_info_free(ap_device_code_info *d);

/* The flows (flow_*.c). */
extern const ap_flow ap_flow_client_secret, ap_flow_certificate, ap_flow_managed_identity,
    ap_flow_device_code, ap_flow_refresh_token;

#endif
