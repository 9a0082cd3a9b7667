/* SPDX-License-Identifier: Apache-2.0 */
/*
 * telemetry: cloudmap-sd's own metrics, registered in one registry.
 *
 * Updated from three places: the AWS client's attempt observer (requests,
 * retries, throttles), the refresher (refresh duration, results, last
 * success) and the HTTP server (requests by handler and code). What belongs
 * to the published snapshot (targets by namespace and service, skipped
 * instances, snapshot age) is rendered at scrape time by a collector that
 * reads the current snapshot, so the numbers always match /targets.
 *
 * Created by main before any thread starts; every function is thread-safe.
 */
#ifndef CLOUDMAP_TELEMETRY_H
#define CLOUDMAP_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "awsclient.h"

struct metrics_registry;
struct metrics_family;
struct snapshot_store;

struct telemetry {
	struct metrics_registry *registry;
	struct snapshot_store *store;		 /* borrowed */
	struct metrics_family *refresh_duration; /* histogram {kind} */
	struct metrics_family *refreshes;	 /* counter {kind,result} */
	struct metrics_family *last_success;	 /* gauge */
	struct metrics_family *last_errors;	 /* gauge: errors of the last refresh */
	struct metrics_family *aws_requests;	 /* counter {service,operation,outcome} */
	struct metrics_family *aws_retries;	 /* counter {service,operation} */
	struct metrics_family *aws_throttles;	 /* counter {service,operation} */
	struct metrics_family *http_requests;	 /* counter {handler,code} */
	struct metrics_family *truncated;	 /* gauge: services at DiscoverInstances' cap */
	struct metrics_family *client_refresh_interval; /* gauge: what Prometheus announces */
	int64_t (*now_ms)(void);			/* wall clock, for the snapshot age */
};

/* Creates the registry and every family, with the build info, the process
 * collector and the snapshot collector. store is borrowed. Returns 0 or a
 * negative errno. */
int telemetry_init(struct telemetry *t, struct snapshot_store *store);

/* Frees the registry; no thread may use it any more. */
void telemetry_done(struct telemetry *t);

/* The AWS client's attempt observer (an aws_observe_fn; userdata is the
 * telemetry). */
void telemetry_observe_aws(void *userdata, const struct aws_attempt_info *attempt);

/* Records one refresh: kind "full" or "light", result "success", "partial"
 * or "failure", its duration, and how many errors it met. */
void telemetry_refresh(struct telemetry *t, const char *kind, const char *result,
		       double duration_sec, unsigned errors, unsigned truncated);

#endif
