/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_gzip: a snapshot's answer compressed once, when the snapshot is
 * made, so that no request ever compresses.
 *
 * Two forms:
 *  - whole: the full answer as one gzip member (level SNAPSHOT_GZIP_LEVEL),
 *    for the unfiltered /targets;
 *  - segments: the answer in canonical form, "[" g0 "," g1 ... "]", as raw
 *    deflate, one segment per piece, each ended by a full flush
 *    (Z_FULL_FLUSH: byte-aligned, no reference to earlier data). Any of
 *    these segments in order, closed by an empty final block, is a valid
 *    deflate stream, so a filtered answer is a gzip header, the chosen
 *    segments and a trailer whose CRC-32 comes from the pieces' CRCs
 *    (crc32_combine): see answer.h.
 *
 * Compressing each group alone costs ratio: on 10k typical targets
 * (test-snapshot's test_gzip_10k_targets: 6.9 MB of JSON) the whole form
 * is about 23 times smaller than the JSON, the segments about 2.1 times,
 * and making both takes about 165 ms of CPU. Both are kept: the common
 * unfiltered answer gets the small one.
 *
 * Immutable once made; owned by its snapshot (snapshot.gzip), freed with it.
 */
#ifndef CLOUDMAP_SNAPSHOT_GZIP_H
#define CLOUDMAP_SNAPSHOT_GZIP_H

#include <stddef.h>
#include <stdint.h>

struct snapshot;

#define SNAPSHOT_GZIP_LEVEL 6

/* A gzip member header: no name, no time, OS unknown-as-Unix (3). */
#define SNAPSHOT_GZIP_HEADER	 "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
#define SNAPSHOT_GZIP_HEADER_LEN 10
/* An empty final fixed-Huffman block: closes a stream of segments. */
#define SNAPSHOT_DEFLATE_END	 "\x03\x00"
#define SNAPSHOT_DEFLATE_END_LEN 2

struct snapshot_gzip_group {
	size_t offset;	 /* of the group's segment in segments */
	size_t len;	 /* of the group's segment; the "," segment follows it
			    up to the next group's offset (but after the last) */
	uint32_t crc;	 /* CRC-32 of the group's JSON bytes */
	uint32_t crc_op; /* crc32_combine_gen() of their length */
};

struct snapshot_gzip {
	unsigned char *whole; /* the full answer: a gzip member */
	size_t whole_len;
	unsigned char *segments; /* raw deflate, no final block */
	size_t segments_len;
	size_t open_len;		    /* the "[" segment, at offset 0 */
	size_t close_offset;		    /* the "]" segment, up to segments_len */
	struct snapshot_gzip_group *groups; /* parallel to snapshot.groups */
};

/* Compresses s's answer: s->json and s->groups (their byte ranges must be
 * right) are read; s is not changed. Returns 0 and a new snapshot_gzip in
 * *ret (attach it as s->gzip, which snapshot_unref() frees), -EMSGSIZE past
 * the JSON cap, or -ENOMEM. Whoever builds the snapshot, before publishing
 * it: snapshot_new() does; a snapshot built another way may. */
int snapshot_gzip_new(const struct snapshot *s, struct snapshot_gzip **ret);

/* Frees g; accepts NULL; returns NULL. */
struct snapshot_gzip *snapshot_gzip_free(struct snapshot_gzip *g);

#endif
