/*
 * lua-autopilot: token endpoint requests: form encoding and the token transfers the flows send.
 */
#ifndef AP_TOKEN_REQUEST_H
#define AP_TOKEN_REQUEST_H

#include "buf.h"
#include "transfer.h"

/* Appends name=value (URL-encoded), '&'-separated; 0 ok, -1 out of memory. */
int ap_form_add(ap_buf *form, const char *name, const char *value);
/* A POST of the form to url; takes the form (wiped) whatever happens. NULL: out of memory. */
ap_xfer *ap_token_post(const char *url, ap_buf *form);
/* A GET of url with one header line (a secret: wiped with the transfer). NULL: out of memory. */
ap_xfer *ap_token_get(const char *url, const char *header);

#endif
