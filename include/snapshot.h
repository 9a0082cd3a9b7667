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
 * A snapshot is made of parts, one per service: a part holds the service's
 * groups rendered as JSON, the same bytes as one raw deflate segment, and
 * the service's skipped instances and counts. Parts are immutable and
 * reference-counted on their own, so consecutive snapshots share the parts
 * of the services that did not change: a refresh renders and compresses
 * only what moved, and a snapshot kept alive by a slow answer keeps only
 * its own changed parts, not a second copy of everything.
 *
 * The http_sd answer is "[" part ("," part)* "]" over the parts that hold
 * groups; json_pieces lists exactly those bytes, to be sent as they are
 * (an I/O vector), and gzip_pieces the same answer as one gzip member made
 * of the parts' segments. Each group's byte range is indexed, with its
 * namespace, service and the hash that Prometheus's hashmod relabeling uses
 * on its address, so that filtered and sharded answers are assembled from
 * ranges without rendering again (answer.h).
 */
#ifndef CLOUDMAP_SNAPSHOT_H
#define CLOUDMAP_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targets.h"

/* Cap on the rendered JSON of one snapshot. */
#define SNAPSHOT_MAX_JSON_BYTES (1024u << 20)

/* Bytes lent by a snapshot (or static ones). */
struct snapshot_piece {
	const void *p;
	size_t len;
};

/* ---- parts ---- */

struct snapshot_part_group {
	size_t offset;	       /* of the group's '{' in the part's json */
	size_t len;	       /* up to and including its '}' */
	uint64_t address_hash; /* md5(__address__), last 8 bytes big-endian */
};

/* A part's JSON as one raw deflate segment, closed by a full flush
 * (byte-aligned, no reference outside itself). */
struct snapshot_segment {
	size_t len;
	unsigned char bytes[];
};

struct snapshot_part_skip {
	char *instance_id; /* always set */
	enum target_skip_reason reason;
	char *detail; /* or NULL */
};

struct snapshot_part {
	atomic_uint refcount;
	char *namespace_name;
	char *service_name;
	char *json; /* the groups separated by ',', no brackets; NULL when none */
	size_t json_len;
	struct snapshot_part_group *groups;
	size_t n_groups;
	/* json as raw deflate (snapshot_part_segment()): NULL when json is,
	 * and until the part is compressed. The one field that moves after a
	 * part is shared: set once, from NULL, by snapshot_part_compress(). */
	_Atomic(struct snapshot_segment *) segment;
	uint32_t crc; /* CRC-32 of json */
	struct snapshot_part_skip *skips;
	size_t n_skips;
	unsigned skipped[TARGET_SKIP_COUNT];
	unsigned invalid_knobs, label_collisions, invalid_utf8; /* as in target_set */
	char *notes; /* the target notes as "ns/svc: text; ...", or NULL */
	size_t n_notes;
};

/* Makes a part of service i of ts (its targets, skips, notes and counts,
 * found by their svc pointer), one reference owned by the caller; ts is
 * only read. With SNAPSHOT_PART_PLAIN the part is not compressed (yet:
 * see snapshot_part_compress()). Returns
 * 0 and *ret, -EINVAL when i is out of range, -EMSGSIZE past the JSON cap,
 * or -ENOMEM. Refresher thread (any thread: it touches nothing shared). */
#define SNAPSHOT_PART_PLAIN 1u
int snapshot_part_new(const struct target_set *ts, size_t i, unsigned flags,
		      struct snapshot_part **ret);

/* Makes a part of groups already rendered: takes json (malloc'ed, len
 * bytes, groups separated by ',', may be NULL when n_groups is 0) and
 * groups (malloc'ed, may be NULL), copies the names, compresses unless
 * SNAPSHOT_PART_PLAIN. On failure json and groups are freed too. */
int snapshot_part_adopt(const char *namespace_name, const char *service_name, char *json,
			size_t len, struct snapshot_part_group *groups, size_t n_groups,
			unsigned flags, struct snapshot_part **ret);

/* Compresses p's JSON into its segment, unless it has one or no JSON.
 * Readers see the segment as soon as it is set (an atomic pointer): the
 * snapshots assembled afterwards offer gzip, and filtered answers of
 * earlier ones may use it. One writer per part at a time (the refresher
 * and its helpers). Returns 0, -EMSGSIZE or -ENOMEM. */
int snapshot_part_compress(struct snapshot_part *p);

/* The segment of p, or NULL. Thread-safe. */
static inline const struct snapshot_segment *snapshot_part_segment(const struct snapshot_part *p)
{
	return atomic_load_explicit(&p->segment, memory_order_acquire);
}

/* Takes a reference; accepts NULL. Thread-safe. */
struct snapshot_part *snapshot_part_ref(struct snapshot_part *p);

/* Drops a reference, freeing the part with the last; accepts NULL; returns
 * NULL. Thread-safe. */
struct snapshot_part *snapshot_part_unref(struct snapshot_part *p);

/* ---- snapshots ---- */

struct snapshot_group {
	uint32_t part;		/* into parts */
	uint32_t namespace_idx; /* into names */
	uint32_t service_idx;	/* into names */
	size_t offset;		/* in the part's json */
	size_t len;
	uint64_t address_hash;
};

/* Targets and skipped instances per service, for /metrics and the status
 * page: every service, in order (part i is service i). */
struct snapshot_service {
	uint32_t namespace_idx;
	uint32_t service_idx;
	unsigned targets;
	unsigned skipped;
};

/* Strings borrowed from the parts. */
struct snapshot_skip {
	uint32_t namespace_idx;
	uint32_t service_idx;
	const char *instance_id; /* always set */
	enum target_skip_reason reason;
	const char *detail; /* or NULL */
};

/* An answer made on request and kept with its snapshot (see
 * snapshot_memo_put()). */
#define SNAPSHOT_MEMO_MAX	16  /* per snapshot */
#define SNAPSHOT_MEMO_KEY_BYTES 512 /* longer keys are not kept */

struct snapshot_memo {
	char *key;
	unsigned char *bytes;
	size_t len;
};

struct snapshot {
	atomic_uint refcount;
	struct snapshot_part **parts; /* one reference each */
	size_t n_parts;
	size_t json_len; /* of the whole answer */
	struct snapshot_group *groups;
	size_t n_groups;
	const char **names; /* namespace and service names, borrowed from the parts */
	size_t n_names;
	struct snapshot_service *services; /* parallel to parts */
	size_t n_services;
	struct snapshot_skip *skips;
	size_t n_skips;
	unsigned skipped[TARGET_SKIP_COUNT];
	unsigned invalid_knobs;	   /* summed over the parts */
	unsigned label_collisions; /* summed over the parts */
	unsigned invalid_utf8;	   /* summed over the parts */
	/* The whole answer: JSON, and (when every part with JSON had its
	 * segment at assembly) one gzip member; gzip_pieces is NULL otherwise. */
	struct snapshot_piece *json_pieces;
	size_t n_json_pieces;
	struct snapshot_piece *gzip_pieces;
	size_t n_gzip_pieces;
	size_t gzip_len;
	unsigned char gzip_trailer[8]; /* CRC-32 and length, little-endian */
	/* When AWS last confirmed the data it holds. The one field that moves
	 * after publication: a refresh that finds nothing changed confirms the
	 * snapshot in service instead of rendering an identical one. Atomic:
	 * every access is an atomic load or store. */
	_Atomic int64_t refreshed_at_unix;
	bool warm_start; /* loaded from a file, not yet confirmed by AWS */
	/* Answers made on request (the gzip form of a shard), at most
	 * SNAPSHOT_MEMO_MAX; added under memo_lock, never changed or removed
	 * until the snapshot is freed. */
	pthread_mutex_t memo_lock;
	struct snapshot_memo memos[SNAPSHOT_MEMO_MAX];
	size_t n_memos;
};

/* A new snapshot (one reference, owned by the caller) of parts, in order;
 * it takes a reference to each. Returns 0 and *ret, -EMSGSIZE when the
 * answer would pass SNAPSHOT_MAX_JSON_BYTES, or -ENOMEM. */
int snapshot_assemble(struct snapshot_part *const *parts, size_t n_parts, int64_t refreshed_at_unix,
		      struct snapshot **ret);

/* Renders every service of ts into a part and assembles them: the whole
 * target set at once, for callers that keep no parts. ts->services must
 * list the service of every target and skip, as targets_build() makes it.
 * Returns what snapshot_part_new() and snapshot_assemble() return. */
int snapshot_new(const struct target_set *ts, int64_t refreshed_at_unix, struct snapshot **ret);

/* The bytes of group g of s. */
static inline const char *snapshot_group_json(const struct snapshot *s,
					      const struct snapshot_group *g)
{
	return s->parts[g->part]->json + g->offset;
}

/* The memo of key, or NULL. It stays as it is while s lives. Thread-safe. */
const struct snapshot_memo *snapshot_memo_get(struct snapshot *s, const char *key);

/* Whether s may still keep a memo of key (key short enough, fewer than
 * SNAPSHOT_MEMO_MAX memos): ask before making one. Thread-safe. */
bool snapshot_memo_room(struct snapshot *s, const char *key);

/* Keeps bytes (malloc'ed, taken) as the memo of key and returns it; when
 * key already has one (another thread made it meanwhile), frees bytes and
 * returns that one; when s holds SNAPSHOT_MEMO_MAX memos or key is too
 * long, frees bytes and returns NULL, as on ENOMEM. Thread-safe. */
const struct snapshot_memo *snapshot_memo_put(struct snapshot *s, const char *key,
					      unsigned char *bytes, size_t len);

/* The whole JSON answer in one new NUL-terminated buffer (for tests and
 * tools; serving sends json_pieces without copying). Returns 0, or
 * -ENOMEM. */
int snapshot_json_copy(const struct snapshot *s, char **ret, size_t *ret_len);

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
