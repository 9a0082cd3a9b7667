/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inventory: what discovery found in Cloud Map, as plain immutable data.
 *
 * An inventory lists the namespaces watched, each with its services (and
 * their tags), each service with its instances (and their attributes). It is
 * what the refresher hands to the target rules (targets.h); nothing in it is
 * Prometheus-specific.
 *
 * Namespaces and services are reference-counted so that one refresh can
 * keep what did not change (or what it failed to fetch again) from the
 * previous inventory without a copy; what failed is listed in the
 * inventory's errors, not in the shared objects. The counts are plain integers: every
 * inventory object is made, shared and freed by the refresher thread alone.
 * Once built and published in an inventory, an object is never modified.
 *
 * Every array is sorted: namespaces by name, services by name (ties by id),
 * instances by id, tags and attributes by key (byte order), so output built from an
 * inventory is deterministic.
 */
#ifndef CLOUDMAP_INVENTORY_H
#define CLOUDMAP_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

/* One key and value, both owned. */
struct kv {
	char *key;
	char *value;
};

struct cm_instance {
	char *id;
	char *health; /* "HEALTHY", "UNHEALTHY" or "UNKNOWN" */
	struct kv *attrs;
	size_t n_attrs;
};

struct cm_service {
	unsigned refcount;
	char *id;
	char *name;
	char *arn;
	struct kv *tags;
	size_t n_tags;
	struct cm_instance *instances;
	size_t n_instances;
	int64_t revision;	 /* InstancesRevision of the instances held */
	int64_t fetched_at_unix; /* when the instances were fetched */
};

struct cm_namespace {
	unsigned refcount;
	char *id;
	char *name;
	char *http_name; /* the name DiscoverInstances wants (Properties.HttpProperties.HttpName) */
	char *type;	 /* "DNS_PRIVATE", "DNS_PUBLIC" or "HTTP" */
	char *arn;
	char *owner; /* ResourceOwner (account id) of a shared namespace, or NULL */
	struct cm_service **services;
	size_t n_services;
};

/* Something a refresh failed to fetch. What it held before is kept: the
 * namespace's previous services, or the service's previous instances. */
struct inventory_error {
	char *namespace_name; /* NULL when the namespaces themselves could not be listed */
	char *service_name;   /* NULL when a namespace's services could not be listed */
	char *text;	      /* e.g. "ListServices: ThrottlingException: Rate exceeded" */
};

struct inventory {
	struct cm_namespace **namespaces;
	size_t n_namespaces;
	struct inventory_error *errors; /* of the refresh that built it */
	size_t n_errors;
	int64_t built_at_unix;
};

/* Reference counting (refresher thread only). _unref frees the last
 * reference and everything it owns; both accept NULL; _unref returns NULL. */
struct cm_service *cm_service_ref(struct cm_service *s);
struct cm_service *cm_service_unref(struct cm_service *s);
struct cm_namespace *cm_namespace_ref(struct cm_namespace *ns);
struct cm_namespace *cm_namespace_unref(struct cm_namespace *ns);

/* Frees an inventory and drops its references; accepts NULL; returns NULL. */
struct inventory *inventory_free(struct inventory *inv);

/* Frees the strings of an array of n pairs, and the array. */
void kv_array_free(struct kv *kv, size_t n);

/* Sorts n pairs by key. */
void kv_array_sort(struct kv *kv, size_t n);

/* Returns the value of key in a sorted array, or NULL. */
const char *kv_array_get(const struct kv *kv, size_t n, const char *key);

/* Frees what an instance owns (not the instance itself). */
void cm_instance_done(struct cm_instance *in);

/* Finds a namespace or a service by its Cloud Map id; NULL if absent. */
struct cm_namespace *inventory_find_namespace(const struct inventory *inv, const char *id);
struct cm_service *cm_namespace_find_service(const struct cm_namespace *ns, const char *id);

#endif
