/*
 * lua-autopilot: randomness. GUIDs (client-request-id, assertion jti) come from the kernel's CSPRNG;
 * backoff jitter uses a per-session splitmix64 seeded from the same source.
 */
#ifndef AP_RANDOM_H
#define AP_RANDOM_H

#include <stddef.h>
#include <stdint.h>

int ap_random_bytes(void *buf, size_t n); /* 0 ok, -1 no entropy source */
void ap_guid(char out[37]);               /* a version 4 GUID, lower case */
uint64_t ap_random_seed(void);            /* a seed for ap_random_unit */
double ap_random_unit(uint64_t *state);   /* uniform in [0, 1) */

#endif
