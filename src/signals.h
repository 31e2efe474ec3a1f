/*
 * lua-autopilot: SIGINT and SIGTERM noticed instead of ending the process, so the CLI's bulk run can stop
 * between steps, finish the writes in flight and write its report. Installed only on request
 * (core.catch_signals, called by the CLI): a library never changes its host's signal dispositions.
 */
#ifndef AP_SIGNALS_H
#define AP_SIGNALS_H

/* Installs the handlers (idempotent): 0, or -1 with errno set when sigaction failed. */
int ap_signals_catch(void);
/* The first signal caught and not yet acted on (SIGINT or SIGTERM), or 0. */
int ap_signals_pending(void);
/* How many signals were caught since the handlers were installed. */
int ap_signals_count(void);

#endif
