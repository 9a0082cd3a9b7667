/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report: what the last refresh did, for the status page and its JSON.
 *
 * The refresher publishes one immutable, reference-counted report after
 * every refresh, whether it succeeded or not (a failed refresh publishes no
 * snapshot, but the status page must say that it failed and why). Readers
 * take a reference from the store exactly as with snapshots.
 */
#ifndef CLOUDMAP_REPORT_H
#define CLOUDMAP_REPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct inventory;

struct report_error {
	char *namespace_name; /* NULL: the namespaces could not be determined */
	char *service_name;   /* NULL: the namespace's services could not be listed */
	char *text;
};

struct refresh_report {
	atomic_uint refcount;
	int64_t finished_at_ms; /* wall clock */
	int64_t duration_ms;
	const char *kind;   /* "full" or "light" (static) */
	const char *result; /* "success", "partial" or "failure" (static) */
	struct report_error *errors;
	size_t n_errors;
	unsigned namespaces;
	unsigned services;
	unsigned instances;
	unsigned services_truncated;
	unsigned namespaces_missing;
	int64_t last_success_ms;       /* wall clock; 0: never */
	unsigned consecutive_failures; /* refreshes that failed in a row */
};

/* A new report (one reference) of a refresh that built inv (may be NULL);
 * the errors are copied from inv. Returns 0 and *ret, or -ENOMEM. */
int report_new(const struct inventory *inv, struct refresh_report **ret);

/* Takes or drops a reference; both accept NULL; _unref returns NULL.
 * Thread-safe. */
struct refresh_report *report_ref(struct refresh_report *r);
struct refresh_report *report_unref(struct refresh_report *r);

struct report_store {
	pthread_mutex_t lock;
	struct refresh_report *current; /* NULL before the first refresh ends */
};

void report_store_init(struct report_store *st);
void report_store_done(struct report_store *st);

/* The current report with a new reference, or NULL. Thread-safe. */
struct refresh_report *report_store_get(struct report_store *st);

/* Publishes next (consumes the reference) and drops the previous one
 * outside the lock. Thread-safe. */
void report_store_publish(struct report_store *st, struct refresh_report *next);

#endif
