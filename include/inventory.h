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
 * inventory's errors, not in the shared objects. A refresh keeps the
 * previous service object whenever the service is unchanged
 * (cm_service_same()), so between consecutive inventories the same
 * cm_service pointer means the same service content: caches may key on it.
 * The counts are plain integers: every inventory object is made, shared and
 * freed by the refresher thread alone. Once built and published in an
 * inventory, an object is never modified.
 *
 * Every array is sorted: namespaces by name, services by name (ties by id),
 * instances by id, tags and attributes by key (byte order), so output built from an
 * inventory is deterministic.
 */
#ifndef CLOUDMAP_INVENTORY_H
#define CLOUDMAP_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One key and value. In a service's tags each string is its own allocation
 * (kv_array_free()); in an instance's attributes they lie in the
 * instance's block. */
struct kv {
	char *key;
	char *value;
};

/* One instance, compact: a single allocation (block) holds the attrs array
 * and every string (id, health, each key and value, NUL-terminated), and
 * the other fields point into it. Build one only with cm_instance_init()
 * (the parser uses it too), never field by field: cm_instance_done() frees
 * the block alone. */
struct cm_instance {
	char *id;
	char *health;	  /* "HEALTHY", "UNHEALTHY" or "UNKNOWN" */
	struct kv *attrs; /* sorted by key; inside block */
	size_t n_attrs;
	void *block; /* owns everything above */
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
	int64_t revision; /* InstancesRevision of the instances held */
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

/* Builds *in in one new block holding copies of id, health and the n
 * attributes keys[i] = values[i] (NUL-terminated strings, borrowed), sorted
 * by key; duplicate keys are kept, in no particular order. Returns 0, or
 * -ENOMEM with *in untouched. */
int cm_instance_init(struct cm_instance *in, const char *id, const char *health,
		     const char *const *keys, const char *const *values, size_t n);

/* Frees what an instance owns, its block (not the instance itself), and
 * zeroes it; accepts a zeroed instance. */
void cm_instance_done(struct cm_instance *in);

/* Whether two services hold the same content: id, name, arn, tags (keys and
 * values, in order), revision and instances (ids, health and attributes, in
 * order). The reference counts are not compared. Arrays are sorted
 * (above), so equal content compares equal. */
bool cm_service_same(const struct cm_service *a, const struct cm_service *b);

/* Finds a namespace or a service by its Cloud Map id; NULL if absent. */
struct cm_namespace *inventory_find_namespace(const struct inventory *inv, const char *id);
struct cm_service *cm_namespace_find_service(const struct cm_namespace *ns, const char *id);

#endif
