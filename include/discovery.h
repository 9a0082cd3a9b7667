/* SPDX-License-Identifier: Apache-2.0 */
/*
 * discovery: one refresh of the inventory from Cloud Map.
 *
 * A full refresh reads the namespace names from the SSM parameter (when one
 * is configured), lists the namespaces, each namespace's services, each
 * service's tags and instances. A light refresh asks only each known
 * service's DiscoverInstancesRevision and fetches the instances of those
 * whose revision moved: one call per service when nothing changed. All
 * calls of a refresh run concurrently on the AWS client (bounded by its
 * max_concurrency); lists are read to their last page.
 *
 * Fault isolation: what fails is recorded in the new inventory's errors and
 * its previous state is kept: a namespace whose services could not be
 * listed keeps its previous services; a service whose tags or instances
 * could not be fetched keeps its previous tags and instances (a new service
 * that fails is left out until it succeeds). A refresh that could confirm
 * nothing at all (the namespaces could not be determined, or every call
 * failed) is a failure: nothing new is published and the served targets
 * age toward --refresh.max-staleness.
 *
 * Refresher thread only.
 */
#ifndef CLOUDMAP_DISCOVERY_H
#define CLOUDMAP_DISCOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "inventory.h"

struct aws_client;

struct discovery_options {
	char *const *namespaces; /* names to watch; n_namespaces 0: all */
	size_t n_namespaces;
	const char *namespaces_parameter; /* SSM parameter holding the names, or NULL */
	const char *health_status;	  /* DiscoverInstances' HealthStatus */
};

enum discovery_result {
	DISCOVERY_OK,	   /* everything was fetched */
	DISCOVERY_PARTIAL, /* some namespaces or services kept their previous state */
	DISCOVERY_FAILED,  /* the namespaces could not be determined: nothing new */
};

struct discovery_stats {
	unsigned services_fetched;   /* services whose instances were fetched */
	unsigned services_unchanged; /* light refresh: revision did not move */
	unsigned services_truncated; /* DiscoverInstances hit its 1000-instance cap */
	unsigned namespaces_missing; /* names asked for that do not exist */
	unsigned confirmed;	     /* services (or empty namespaces) AWS confirmed */
};

/* Refreshes prev (NULL on the first refresh, which is always full). On
 * DISCOVERY_OK or DISCOVERY_PARTIAL, *ret is a new inventory sharing what
 * did not change with prev and listing what failed in its errors. Every
 * service whose content is unchanged (cm_service_same()), full refresh or
 * light, is prev's object: a service pointer found in both prev and *ret
 * means an unchanged service. A full refresh's namespaces are new objects
 * (that may hold prev's services); a light refresh keeps a namespace object
 * when none of its services was fetched again or failed. On
 * DISCOVERY_FAILED, *ret is a new inventory with prev's namespaces (none
 * without prev) and the error. Returns the result (>= 0), or -ENOMEM. */
int discovery_refresh(struct aws_client *client, const struct discovery_options *opts,
		      const struct inventory *prev, bool full, int64_t now_unix,
		      struct inventory **ret, struct discovery_stats *stats);

#endif
