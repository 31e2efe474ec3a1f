/*
 * lua-autopilot: the clocks of clock.h (shared by autopilot.core and the emulator host).
 */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "clock.h"

static double read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double ap_now(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

double ap_epoch(void)
{
    return read_clock(CLOCK_REALTIME);
}

void ap_sleep(double seconds)
{
    if (!(seconds > 0))
        return;
    struct timespec want;
    want.tv_sec = (time_t)floor(seconds);
    want.tv_nsec = (long)((seconds - floor(seconds)) * 1e9);
    if (want.tv_nsec >= 1000000000L)
        want.tv_nsec = 999999999L;
    while (nanosleep(&want, &want) != 0 && errno == EINTR)
        ;
}
