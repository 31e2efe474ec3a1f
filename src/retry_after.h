/*
 * lua-autopilot: reading Retry-After: whole seconds, decimal seconds (Graph sent "2.128" in 2021), an
 * HTTP-date (measured against the reply's own Date), and the comma lists some Graph services send
 * ("30,120": the first value is the wait, as the official SDKs settled).
 */
#ifndef AP_RETRY_AFTER_H
#define AP_RETRY_AFTER_H

#include <stddef.h>

#include "buf.h"

/* Seconds to wait, or < 0 when the value is absent or unreadable. headers: the reply's header block, for
 * its Date (may be NULL: the local clock then). */
double ap_parse_retry_after(const char *v, size_t n, const ap_buf *headers);
/* An HTTP-date (IMF-fixdate, RFC 850 or asctime) as epoch seconds, or < 0. */
double ap_parse_http_date(const char *v, size_t n);

#endif
