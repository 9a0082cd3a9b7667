/* SPDX-License-Identifier: Apache-2.0 */
/*
 * partcache: builds each snapshot from the previous one's parts, rendering
 * only the services that changed.
 *
 * Discovery keeps the cm_service object of a service that did not change
 * (a light refresh whose revision did not move, a full refresh that fetched
 * the same data again), so "same object" means "same data". The cache maps
 * each service object of the last build (holding a reference, so that no
 * other object can take its address) to the part rendered from it; the
 * next build takes that part again when the service object and its
 * namespace's labelled identity (id, name, type) are the same, and renders
 * the rest with targets_build_service() and snapshot_part_new().
 *
 * Compressing (gzip) is left out of the build and done after the snapshot
 * is published: the targets are served sooner, and the snapshot that
 * follows, made of the same parts, offers gzip.
 *
 * The services to render are rendered in parallel, on the calling thread
 * and up to 3 short-lived helper threads (no more than the CPUs online),
 * joined before partcache_build() returns: a first refresh of thousands
 * of targets is bound by rendering and compressing.
 *
 * The target options must stay the same for the life of a cache.
 * Refresher thread only (service reference counts are not atomic); the
 * parts themselves go to the HTTP threads inside snapshots.
 */
#ifndef CLOUDMAP_PARTCACHE_H
#define CLOUDMAP_PARTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "inventory.h"
#include "snapshot.h"
#include "targets.h"

struct partcache;

struct partcache_stats {
	size_t reused;	 /* parts taken from the last build */
	size_t rendered; /* parts rendered anew */
};

/* A new empty cache for opts (borrowed: it must outlive the cache), or NULL
 * on ENOMEM. */
struct partcache *partcache_new(const struct target_options *opts);

/* Frees the cache and its references; accepts NULL; returns NULL. */
struct partcache *partcache_free(struct partcache *c);

/* Builds inv's snapshot (one reference, owned by the caller) stamped
 * refreshed_at_unix, its new parts not compressed yet (so it offers no
 * gzip until partcache_compress()); on success the cache holds this
 * build's parts, on failure it is as it was. Returns 0, or what snapshot_part_new(),
 * targets_build_service() and snapshot_assemble() return. */
int partcache_build(struct partcache *c, const struct inventory *inv, int64_t refreshed_at_unix,
		    struct snapshot **ret, struct partcache_stats *ret_stats);

/* Compresses the parts of the last build that have no segment yet (in
 * parallel, like the rendering). Returns 0 and how many it compressed
 * (then a snapshot assembled again from the same parts offers gzip), or
 * what snapshot_part_compress() returns. */
int partcache_compress(struct partcache *c, size_t *ret_compressed);

#endif
