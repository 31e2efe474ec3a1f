/* A token endpoint's reply (client credentials, refresh, device code, managed identity): parsed in C,
 * the access token taken into the session's token. */
#include "../src/token.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ap_token_reply r;
    if (ap_token_reply_parse(&r, (const char *)data, size) == 0) {
        ap_token t = {0};
        if (ap_token_take(&t, &r, 1000.0)) {
            (void)ap_token_usable(&t, 1000.0);
            (void)ap_token_fresh(&t, 1000.0);
        }
        ap_token_free(&t);
    }
    ap_token_reply_free(&r);
    return 0;
}
