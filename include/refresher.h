/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refresher: the background thread that keeps the targets fresh.
 *
 * DESIGN: the only writer. Every refresh interval (with +-10% jitter, so a
 * fleet of side-cars does not call AWS in step) it runs a discovery, full
 * at least every full interval and light in between, turns the inventory
 * into targets and publishes a new snapshot. It is the only user of the AWS
 * client and so of libcurl. It waits on a condition variable: a stop or a
 * wake-up (SIGHUP) takes effect at once, and a stop also aborts the AWS
 * calls under way, so the daemon stops within a second.
 *
 * Faults: a refresh that cannot determine the namespaces publishes nothing;
 * the snapshot in service ages until the server calls it stale. A refresh
 * where some namespaces or services failed publishes the rest with their
 * last good state. Each failed refresh logs one line saying what failed.
 */
#ifndef CLOUDMAP_REFRESHER_H
#define CLOUDMAP_REFRESHER_H

#include <stdbool.h>
#include <stdint.h>

#include "discovery.h"
#include "targets.h"

struct aws_client;
struct report_store;
struct snapshot;
struct snapshot_store;
struct telemetry;

struct refresher_config {
	struct discovery_options discovery; /* borrowed */
	struct target_options targets;	    /* borrowed */
	int64_t interval_ms;
	int64_t full_interval_ms;
};

/* Called after each publish, in the refresher thread (file_sd output). The
 * snapshot is borrowed for the call. */
typedef void (*refresher_publish_fn)(void *userdata, struct snapshot *published);

/* Called after each full refresh, whatever its result (but not when the
 * refresher is stopping), in the refresher thread, with the AWS client that
 * only this thread may use (the drop-in mode's prometheus.yaml). */
typedef void (*refresher_full_fn)(void *userdata, struct aws_client *client);

struct refresher_deps {
	struct aws_client *client;	 /* borrowed; used by the refresher thread only */
	struct snapshot_store *store;	 /* borrowed */
	struct report_store *reports;	 /* borrowed, may be NULL */
	struct telemetry *telemetry;	 /* borrowed, may be NULL */
	refresher_publish_fn on_publish; /* may be NULL */
	void *on_publish_userdata;
	refresher_full_fn on_full_refresh; /* may be NULL */
	void *on_full_refresh_userdata;
};

struct refresher;

/* Starts the thread; the first refresh begins at once. Returns 0 and *ret,
 * or a negative errno. cfg and deps are copied; what they point to is
 * borrowed. */
int refresher_start(const struct refresher_config *cfg, const struct refresher_deps *deps,
		    struct refresher **ret);

/* Asks for a full refresh now (SIGHUP). Thread-safe. */
void refresher_wake(struct refresher *r);

/* Stops the thread (aborting AWS calls under way), joins it and frees r.
 * Accepts NULL; returns NULL. */
struct refresher *refresher_stop(struct refresher *r);

#endif
