/* base64url decoding of JWT payloads (lenient) and of strict values; a strict decode re-encodes to
 * its input. */
#include "../src/base64url.h"
#include "../src/buf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ap_buf out = {0}, back = {0};
    const char *why = NULL;
    (void)ap_b64url_decode(&out, (const char *)data, size, 0, &why);
    ap_buf_reset(&out);
    if (ap_b64url_decode(&out, (const char *)data, size, 1, &why) == 0) {
        if (ap_b64url_encode(&back, (const unsigned char *)out.data, out.len) == 0 &&
            (back.len != size || (size && memcmp(back.data, data, size) != 0)))
            abort(); /* strict means canonical */
    }
    ap_buf_free(&out);
    ap_buf_free(&back);
    return 0;
}
