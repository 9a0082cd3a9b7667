/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delay: a timer thread over a binary min-heap of deadlines. See delay.h.
 *
 * The heap, the closed flag and the thread's wake-ups live under one mutex;
 * the thread waits on a condition variable bound to CLOCK_MONOTONIC and
 * calls the callbacks outside the mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "delay.h"

struct delay_entry {
	uint64_t at_ns;
	delay_fn fn;
	void *arg;
};

struct delay {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct delay_entry *heap; /* min-heap on at_ns; under lock */
	size_t n, max;
	bool closing; /* under lock */
	bool joined;  /* owner only */
	pthread_t thread;
};

uint64_t delay_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void delay_swap(struct delay_entry *h, size_t i, size_t j)
{
	struct delay_entry t = h[i];

	h[i] = h[j];
	h[j] = t;
}

static void delay_sift_up(struct delay_entry *h, size_t i)
{
	while (i > 0 && h[(i - 1) / 2].at_ns > h[i].at_ns) {
		delay_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void delay_sift_down(struct delay_entry *h, size_t n, size_t i)
{
	size_t least, l, r;

	for (;;) {
		least = i;
		l = 2 * i + 1;
		r = l + 1;
		if (l < n && h[l].at_ns < h[least].at_ns)
			least = l;
		if (r < n && h[r].at_ns < h[least].at_ns)
			least = r;
		if (least == i)
			return;
		delay_swap(h, i, least);
		i = least;
	}
}

/* Removes the earliest entry; called with the lock held and n > 0. */
static struct delay_entry delay_pop_locked(struct delay *d)
{
	struct delay_entry e = d->heap[0];

	d->heap[0] = d->heap[--d->n];
	delay_sift_down(d->heap, d->n, 0);
	return e;
}

/* Waits until the earliest deadline or a wake-up; called with the lock. */
static void delay_wait_locked(struct delay *d)
{
	struct timespec ts;
	uint64_t at;

	if (!d->n) {
		pthread_cond_wait(&d->wake, &d->lock);
		return;
	}
	at = d->heap[0].at_ns;
	ts.tv_sec = (time_t)(at / 1000000000u);
	ts.tv_nsec = (long)(at % 1000000000u);
	pthread_cond_timedwait(&d->wake, &d->lock, &ts);
}

static void *delay_run(void *arg)
{
	struct delay *d = arg;
	struct delay_entry e;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		if (d->n && (d->closing || d->heap[0].at_ns <= delay_now_ns())) {
			e = delay_pop_locked(d);
			pthread_mutex_unlock(&d->lock);
			e.fn(e.arg);
			pthread_mutex_lock(&d->lock);
		} else if (d->closing) {
			break;
		} else {
			delay_wait_locked(d);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static int delay_init_sync(struct delay *d)
{
	pthread_condattr_t attr;
	int r;

	r = pthread_condattr_init(&attr);
	if (r)
		return -r;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!r)
		r = pthread_cond_init(&d->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (r)
		return -r;
	pthread_mutex_init(&d->lock, NULL);
	return 0;
}

int delay_new(size_t max_pending, struct delay **ret)
{
	struct delay *d;
	int r;

	if (!max_pending)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->max = max_pending;
	d->heap = malloc(max_pending * sizeof(*d->heap));
	r = d->heap ? delay_init_sync(d) : -ENOMEM;
	if (r < 0)
		goto out_free;
	r = -pthread_create(&d->thread, NULL, delay_run, d);
	if (r < 0)
		goto out_sync;
	*ret = d;
	return 0;
out_sync:
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
out_free:
	free(d->heap);
	free(d);
	return r;
}

int delay_schedule(struct delay *d, uint64_t at_ns, delay_fn fn, void *arg)
{
	int r = 0;

	pthread_mutex_lock(&d->lock);
	if (d->closing) {
		r = -ECANCELED;
	} else if (d->n == d->max) {
		r = -ENOSPC;
	} else {
		d->heap[d->n] = (struct delay_entry){ at_ns, fn, arg };
		delay_sift_up(d->heap, d->n++);
		if (d->heap[0].at_ns == at_ns) /* a new earliest deadline */
			pthread_cond_signal(&d->wake);
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

void delay_close(struct delay *d)
{
	if (d->joined)
		return;
	pthread_mutex_lock(&d->lock);
	d->closing = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	d->joined = true;
}

struct delay *delay_free(struct delay *d)
{
	if (!d)
		return NULL;
	delay_close(d);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d->heap);
	free(d);
	return NULL;
}
