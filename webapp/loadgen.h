/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen: the web app's internal load generator. A thread of its own sends
 * GET requests to a URL (the app's own /work) over real HTTP at a steady
 * rate, paced by the monotonic clock, on a curl multi handle so that slow
 * answers do not lower the rate (at most LOADGEN_MAX_IN_FLIGHT at once;
 * ticks beyond that are skipped and counted as failed).
 *
 * Threads: the owner (main) starts and stops it; the loadgen thread is the
 * only user of its curl handles. curl_global_init() must have run.
 */
#ifndef WEBAPP_LOADGEN_H
#define WEBAPP_LOADGEN_H

#include <stdint.h>

#define LOADGEN_MAX_IN_FLIGHT 64
#define LOADGEN_MAX_BURST     16 /* requests started at one tick, after a stall */
#define LOADGEN_TIMEOUT_MS    5000L

struct loadgen;

struct loadgen_stats {
	uint64_t sent;	 /* requests started */
	uint64_t ok;	 /* answered 2xx */
	uint64_t failed; /* other answers, transport errors, skipped ticks */
};

/* Starts sending rate_per_sec GET requests a second to url (copied).
 * Returns 0 and *ret, -EINVAL when rate_per_sec is 0, -ENOMEM, or a
 * negative errno from pthread_create(). */
int loadgen_start(const char *url, unsigned int rate_per_sec, struct loadgen **ret);

/* Counts so far. Thread-safe. */
void loadgen_stats(const struct loadgen *lg, struct loadgen_stats *ret);

/* Stops the thread at once (requests in flight are abandoned), joins it
 * and frees lg; accepts NULL; returns NULL. */
struct loadgen *loadgen_stop(struct loadgen *lg);

#endif
