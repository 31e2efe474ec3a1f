/*
 * lua-autopilot: the clocks. Every elapsed time and deadline is CLOCK_MONOTONIC seconds; CLOCK_REALTIME
 * only where a date goes on the wire or is shown (token expiry, assertions, HTTP-dates).
 */
#ifndef AP_CLOCK_H
#define AP_CLOCK_H

double ap_now(void);           /* CLOCK_MONOTONIC seconds */
double ap_epoch(void);         /* CLOCK_REALTIME seconds */
void ap_sleep(double seconds); /* at least that long, restarted after signals; <= 0 returns at once */

#endif
