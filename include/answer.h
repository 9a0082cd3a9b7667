/* SPDX-License-Identifier: Apache-2.0 */
/*
 * answer: a filtered /targets answer, assembled from a snapshot's bytes
 * without rendering or compressing anything per request.
 *
 * An answer is a list of pieces that borrow the snapshot's bytes (and a few
 * static ones and its own trailer), which the server streams in order:
 *  - JSON: "[", the kept groups separated by ",", "]"; consecutive groups
 *    are one piece, with the snapshot's own separator between them;
 *  - gzip (when the snapshot has its gzip forms): a gzip header, the "["
 *    segment, the kept groups' segments with the "," segment after each but
 *    the last, the "]" segment, an empty final block, and the trailer: the
 *    CRC-32 combined from the pieces' CRCs (crc32_combine_op, no pass over
 *    the bytes) and the length. It inflates to the canonical JSON form.
 *
 * Work per request: one call of keep() per group, and for gzip two CRC
 * combinations per kept group.
 *
 * An answer borrows from its snapshot: hold a reference to the snapshot
 * until the answer is freed. One thread at a time.
 */
#ifndef CLOUDMAP_ANSWER_H
#define CLOUDMAP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

struct snapshot;
struct snapshot_group;

/* Whether group g of s belongs in the answer. */
typedef bool (*answer_keep_fn)(const struct snapshot *s, const struct snapshot_group *g,
			       void *userdata);

struct answer_piece {
	const void *p;
	size_t len;
};

struct answer {
	struct answer_piece *pieces;
	size_t n_pieces;
	size_t len;		  /* of all the pieces together */
	size_t n_groups;	  /* groups kept */
	bool gzip;		  /* a gzip member, else JSON */
	unsigned char trailer[8]; /* gzip: CRC-32 and length, little-endian */
};

/* Assembles the answer of s's groups that keep() accepts, in order: gzip
 * when gzip is true and s->gzip is set, else JSON. Returns 0 and a new
 * answer in *ret (free it with answer_free(), before s goes), or -ENOMEM. */
int answer_new(const struct snapshot *s, answer_keep_fn keep, void *userdata, bool gzip,
	       struct answer **ret);

/* Frees a; accepts NULL; returns NULL. */
struct answer *answer_free(struct answer *a);

#endif
