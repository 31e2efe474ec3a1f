/*
 * lua-autopilot: curl's error names without the CURLE_ prefix, and which failures are transient.
 */
#ifndef AP_CURL_NAMES_H
#define AP_CURL_NAMES_H

#include <curl/curl.h>

const char *ap_curl_name(CURLcode c); /* "OPERATION_TIMEDOUT" */
int ap_curl_transient(CURLcode c);    /* worth retrying for an idempotent request */

#endif
