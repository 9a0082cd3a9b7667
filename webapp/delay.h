/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delay: a timer thread that calls each scheduled callback once its
 * deadline on the monotonic clock has passed.
 *
 * The web app's simulated work suspends the HTTP connection and schedules
 * its resumption here, so that a slow /work holds no HTTP thread.
 * Callbacks run on the timer thread, one at a time, and must be quick.
 *
 * Threads: delay_schedule() may be called from any thread; delay_close()
 * and delay_free() by the owner (main), once.
 */
#ifndef WEBAPP_DELAY_H
#define WEBAPP_DELAY_H

#include <stddef.h>
#include <stdint.h>

typedef void (*delay_fn)(void *arg);

struct delay;

/* The monotonic clock, in nanoseconds. */
uint64_t delay_now_ns(void);

/* Starts a timer thread that holds at most max_pending callbacks. Returns
 * 0 and *ret, -EINVAL when max_pending is 0, -ENOMEM, or a negative errno
 * from pthread_create(). */
int delay_new(size_t max_pending, struct delay **ret);

/* Calls fn(arg) on the timer thread once delay_now_ns() >= at_ns. Returns
 * 0; -ENOSPC when max_pending callbacks wait already; -ECANCELED after
 * delay_close(). fn is then never called. Thread-safe. */
int delay_schedule(struct delay *d, uint64_t at_ns, delay_fn fn, void *arg);

/* Calls every waiting callback at once, refuses new ones and joins the
 * thread. Idempotent. */
void delay_close(struct delay *d);

/* Closes d and frees it; accepts NULL; returns NULL. */
struct delay *delay_free(struct delay *d);

#endif
