/* Certificate and key files: a certificate's thumbprints and validity, and a signer from a certificate
 * and key. Input: the certificate, then "\n\n", then the key (PEM or DER, maybe encrypted). */
#include "../src/signer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[AP_SIGNER_ERRLEN];
    const char *msg = NULL;
    ap_cert_info info;
    (void)ap_certificate_info((const char *)data, size, &info, err, &msg);
    const uint8_t *key;
    size_t key_len;
    size_t n = fuzz_split(data, size, &key, &key_len);
    if (key) {
        ap_signer *g =
            ap_signer_new((const char *)data, n, (const char *)key, key_len, "pass", 4, 1, err, &msg);
        ap_signer_free(g);
    }
    return 0;
}
