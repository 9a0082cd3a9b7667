/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot: an immutable, reference-counted picture of the scrape targets,
 * rendered once into the bytes the HTTP server hands to Prometheus, and the
 * store that publishes the current one.
 *
 * DESIGN: the refresher builds a snapshot off to the side and publishes it
 * by swapping a pointer under a tiny mutex. A reader (an HTTP thread) takes
 * a reference under that mutex, serves the bytes without any lock, and drops
 * its reference when libmicrohttpd has sent them; the last reference frees
 * the snapshot, never under the lock.
 *
 * The rendered JSON is the http_sd answer: "[" group ("," group)* "]". Each
 * group's byte range is kept, with its namespace, service and the hash that
 * Prometheus's hashmod relabeling uses on its address, so that filtered and
 * sharded answers are assembled from ranges without rendering again. Names
 * are interned: one copy per namespace and service, not per target.
 */
#ifndef CLOUDMAP_SNAPSHOT_H
#define CLOUDMAP_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targets.h"

struct snapshot_gzip;

/* Cap on the rendered JSON. */
#define SNAPSHOT_MAX_JSON_BYTES (1024u << 20)

struct snapshot_group {
	size_t offset;		/* of the group's '{' in json */
	size_t len;		/* up to and including its '}' */
	uint32_t namespace_idx; /* into names */
	uint32_t service_idx;	/* into names */
	uint64_t address_hash;	/* md5(__address__), last 8 bytes big-endian */
};

/* Targets and skipped instances per service, for /metrics and the status
 * page: every service of the inventory, in its order. */
struct snapshot_service {
	uint32_t namespace_idx;
	uint32_t service_idx;
	unsigned targets;
	unsigned skipped;
};

struct snapshot_skip {
	uint32_t namespace_idx;
	uint32_t service_idx;
	char *instance_id; /* always set */
	enum target_skip_reason reason;
	char *detail; /* or NULL */
};

struct snapshot {
	atomic_uint refcount;
	char *json; /* NUL-terminated */
	size_t json_len;
	struct snapshot_group *groups;
	size_t n_groups;
	char **names; /* interned namespace and service names */
	size_t n_names;
	struct snapshot_service *services;
	size_t n_services;
	struct snapshot_skip *skips;
	size_t n_skips;
	unsigned skipped[TARGET_SKIP_COUNT];
	unsigned invalid_knobs;	   /* copied from the target set */
	unsigned label_collisions; /* copied from the target set */
	unsigned invalid_utf8;	   /* copied from the target set */
	/* When AWS last confirmed the data it holds. The one field that moves
	 * after publication: a refresh that finds nothing changed confirms the
	 * snapshot in service instead of rendering an identical one. Atomic:
	 * every access is an atomic load or store. */
	_Atomic int64_t refreshed_at_unix;
	bool warm_start; /* loaded from a file, not yet confirmed by AWS */
	/* The answer compressed (snapshot_gzip.h), or NULL: then every answer
	 * is sent uncompressed. */
	struct snapshot_gzip *gzip;
};

/* Renders ts into a new snapshot (one reference, owned by the caller), with
 * its gzip forms; ts is only read and may be freed afterwards: the snapshot
 * keeps copies.
 * ts->services must list the service of every target and skip, as
 * targets_build() makes it. Returns 0 and *ret, -EINVAL when a service is
 * missing, -EMSGSIZE when the JSON would pass SNAPSHOT_MAX_JSON_BYTES, or
 * -ENOMEM. Refresher thread. */
int snapshot_new(const struct target_set *ts, int64_t refreshed_at_unix, struct snapshot **ret);

/* Takes a reference; accepts NULL. Thread-safe. */
struct snapshot *snapshot_ref(struct snapshot *s);

/* Drops a reference, freeing the snapshot with the last; accepts NULL;
 * returns NULL. Thread-safe. */
struct snapshot *snapshot_unref(struct snapshot *s);

/* hashmod's value for an address, as Prometheus's relabel hashmod computes it
 * before the modulus: the last 8 bytes of its MD5, big-endian. Returns 0 and
 * *ret_hash, or -ENOMEM when OpenSSL fails. */
int snapshot_address_hash(const char *address, size_t len, uint64_t *ret_hash);

struct snapshot_store {
	pthread_mutex_t lock;
	struct snapshot *current; /* NULL until the first publish */
};

/* Initialises an empty store. Before any thread uses it. */
void snapshot_store_init(struct snapshot_store *st);

/* Drops the current snapshot and destroys the lock. After every thread is
 * done with the store. */
void snapshot_store_done(struct snapshot_store *st);

/* The current snapshot with a new reference the caller owns, or NULL.
 * Thread-safe; holds the lock only to take the reference. */
struct snapshot *snapshot_store_get(struct snapshot_store *st);

/* Publishes next (consumes the caller's reference) and drops the previous
 * one outside the lock. Thread-safe. */
void snapshot_store_publish(struct snapshot_store *st, struct snapshot *next);

#endif
