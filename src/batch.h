/*
 * lua-autopilot: JSON batching ($batch). Graph items submitted with a batch URL are carried, up to
 * AP_BATCH_MAX at a time, in one envelope request; the reply is taken apart so that each item ends (or is
 * retried) exactly as if it had been sent alone: its own status, headers and body, its own Retry-After.
 * Batching saves round trips, not throttle budget: each item is one write to the pacing.
 */
#ifndef AP_BATCH_H
#define AP_BATCH_H

#include "transfer.h"

#define AP_BATCH_MAX 20 /* Graph's limit per $batch request */

/* An envelope for items to batch_url; NULL when out of memory. */
ap_xfer *ap_batch_new(const char *batch_url);
int ap_batch_add(ap_xfer *envelope, ap_xfer *item); /* 0 ok, -1 full or out of memory */
/* Builds the envelope's request body from its items; 0 ok, -1 out of memory. */
int ap_batch_seal(ap_xfer *envelope);
/* The item's URL relative to its batch URL's version ("/deviceManagement/..."), or NULL when it is not
 * under it. */
const char *ap_batch_relative(const char *batch_url, const char *url);
/* Gives each item of a finished envelope (a 2xx reply) its own status, headers and body; an item the reply
 * leaves out, or a reply that is not a $batch reply, ends the item as a transport failure (retried as such).
 */
void ap_batch_split(ap_xfer *envelope);

#endif
