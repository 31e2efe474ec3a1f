/* The core's JSON reader (token replies, managed identity replies, claims): parse, then walk every
 * value, reading strings and numbers. */
#include "../src/buf.h"
#include "../src/json.h"
#include "fuzz.h"

static void walk(ap_json v, int depth)
{
    if (depth > 64)
        return;
    ap_buf s = {0};
    double d;
    (void)ap_json_string(v, &s);
    (void)ap_json_number(v, &d);
    (void)ap_json_equals(v, "access_token");
    ap_buf_free(&s);
    size_t pos = 0;
    ap_json key, value;
    while (ap_json_next(v, &pos, &key, &value) == 1)
        walk(value, depth + 1);
    ap_json m;
    (void)ap_json_member(v, "expires_in", &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ap_json root;
    if (ap_json_parse((const char *)data, size, &root) == 0)
        walk(root, 0);
    return 0;
}
