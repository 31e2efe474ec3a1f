/*
 * lua-autopilot fuzzing: what every libFuzzer target shares. A target is one C file defining
 * LLVMFuzzerTestOneInput over one parser of server or file input; `make fuzz` builds each with
 * -fsanitize=fuzzer,address,undefined against the core's sources, and scripts/fuzz.sh runs it over its
 * seed corpus (fuzz/corpus/<target>/) for a given time.
 */
#ifndef AP_FUZZ_H
#define AP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated copy (parsers of C strings must not read past the input). */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

/* Splits the input at its first "\n\n" (two fields of one input); *second is NULL when there is none. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **second, size_t *second_len)
{
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == '\n' && data[i + 1] == '\n') {
            *second = data + i + 2;
            *second_len = size - i - 2;
            return i;
        }
    *second = NULL;
    *second_len = 0;
    return size;
}

#endif
