/*
 * lua-autopilot: curl's error names without the CURLE_ prefix, and which failures are transient.
 */
#ifndef AP_CURL_NAMES_H
#define AP_CURL_NAMES_H

#include <curl/curl.h>

const char *ap_curl_name(CURLcode c); /* "OPERATION_TIMEDOUT" */
int ap_curl_transient(CURLcode c);    /* worth retrying for an idempotent request */
/* The same, knowing curl's message: a TLS handshake that met plain HTTP is not transient. */
int ap_curl_transient_msg(CURLcode c, const char *msg);
/* A short hint for a failure retrying cannot heal ("is this URL https on a plain-http server?"), or NULL. */
const char *ap_curl_hint(CURLcode c, const char *msg);

#endif
