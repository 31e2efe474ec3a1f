/*
 * lua-autopilot: the randomness of random.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "random.h"

static int urandom_bytes(unsigned char *p, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    close(fd);
    return 0;
}

int ap_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return urandom_bytes(p, n); /* kernels without getrandom */
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

void ap_guid(char out[37])
{
    unsigned char b[16] = {0};
    if (ap_random_bytes(b, sizeof b) != 0) {
        /* no entropy source at all: still unique enough for a correlation id, never a secret */
        uint64_t a = (uint64_t)(ap_now() * 1e9),
                 c = (uint64_t)(ap_epoch() * 1e6) ^ ((uint64_t)getpid() << 32);
        for (int i = 0; i < 8; i++) {
            b[i] = (unsigned char)(a >> (8 * i));
            b[8 + i] = (unsigned char)(c >> (8 * i));
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

uint64_t ap_random_seed(void)
{
    uint64_t seed;
    if (ap_random_bytes(&seed, sizeof seed) != 0)
        seed = (uint64_t)(ap_now() * 1e9);
    return seed;
}

double ap_random_unit(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
