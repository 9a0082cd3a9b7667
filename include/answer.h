/* SPDX-License-Identifier: Apache-2.0 */
/*
 * answer: a filtered /targets answer, assembled from a snapshot's bytes
 * without rendering or compressing anything per request.
 *
 * An answer is a list of pieces that borrow the snapshot's bytes (and a few
 * static ones and its own trailer), which the server streams in order:
 *  - JSON: "[", the kept groups separated by ",", "]"; consecutive groups
 *    of a part are one piece, with the part's own separator between them;
 *  - gzip, when asked for, when the snapshot's parts are compressed, and
 *    when every part is kept whole or not at all (filters by namespace or
 *    service): a gzip member of the kept parts' deflate segments
 *    (snapshot_gzip.h);
 *  - gzip of a selection that cuts through a part (a shard), whose segment
 *    cannot be split: compressed by the first request that asks for it
 *    and kept with the snapshot under the request's memo key (the raw query
 *    string), so each shard is compressed at most once per snapshot; past
 *    SNAPSHOT_MEMO_MAX such keys, or without a key, it is answered as JSON.
 *
 * Work per request: one call of keep() per group, and for gzip one CRC
 * combination per kept part (or, once per snapshot and shard, compressing
 * the shard).
 *
 * An answer borrows from its snapshot: hold a reference to the snapshot
 * until the answer is freed. One thread at a time.
 */
#ifndef CLOUDMAP_ANSWER_H
#define CLOUDMAP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

/* Whether group g of s belongs in the answer. */
typedef bool (*answer_keep_fn)(const struct snapshot *s, const struct snapshot_group *g,
			       void *userdata);

struct answer {
	struct snapshot_piece *pieces;
	size_t n_pieces;
	size_t len;		  /* of all the pieces together */
	size_t n_groups;	  /* groups kept */
	bool gzip;		  /* a gzip member, else JSON */
	unsigned char trailer[8]; /* gzip: CRC-32 and length, little-endian */
};

/* Assembles the answer of s's groups that keep() accepts, in order: gzip
 * when gzip is true and the selection allows it (see above; memo_key may be
 * NULL), else JSON. s is only read, but for its memos. Returns 0 and a new
 * answer in *ret (free it with answer_free(), before s goes), or -ENOMEM. */
int answer_new(struct snapshot *s, answer_keep_fn keep, void *userdata, bool gzip,
	       const char *memo_key, struct answer **ret);

/* Frees a; accepts NULL; returns NULL. */
struct answer *answer_free(struct answer *a);

#endif
