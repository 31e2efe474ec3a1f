/* Retry-After values (integer, decimal, HTTP-date, comma list) against a reply's header block (its Date).
 * Input: the value, then "\n\n", then the header block. */
#include <math.h>

#include "../src/buf.h"
#include "../src/retry_after.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *rest;
    size_t rest_len;
    size_t n = fuzz_split(data, size, &rest, &rest_len);
    ap_buf headers = {0};
    if (rest && ap_buf_append(&headers, (const char *)rest, rest_len) != 0)
        return 0;
    double s = ap_parse_retry_after((const char *)data, n, rest ? &headers : NULL);
    if (!(s < 0) && !(s >= 0 && !isnan(s)))
        abort(); /* a wait is a number >= 0, or "none" (< 0) */
    double d = ap_parse_http_date((const char *)data, n);
    if (isnan(d))
        abort();
    ap_buf_free(&headers);
    return 0;
}
