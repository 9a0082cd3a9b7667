/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_gzip: the deflate pieces that gzip answers are assembled from,
 * so that no request ever compresses.
 *
 * Each snapshot part's JSON is compressed once, when the part is made, into
 * a raw deflate segment closed by a full flush (Z_FULL_FLUSH: byte-aligned,
 * no reference to earlier data). Such segments in any order, with the
 * answer's "[", "," and "]" between them as tiny stored blocks, closed by
 * an empty final block, are one valid deflate stream: a gzip answer is a
 * gzip header, those pieces and a trailer whose CRC-32 comes from the
 * parts' CRCs (crc32_combine), without a pass over the bytes.
 *
 * A part is one service, so the dictionary is shared within a service: on
 * 10k typical targets in 20 services the segments are about as small as
 * one stream of the whole answer (test-snapshot measures the ratio).
 *
 * Pure functions; zlib streams are local to each call.
 */
#ifndef CLOUDMAP_SNAPSHOT_GZIP_H
#define CLOUDMAP_SNAPSHOT_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

#define SNAPSHOT_GZIP_LEVEL 6

/* A gzip member header: no name, no time, OS unknown-as-Unix (3). */
#define SNAPSHOT_GZIP_HEADER	 "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
#define SNAPSHOT_GZIP_HEADER_LEN 10
/* An empty final fixed-Huffman block: closes a stream of segments. */
#define SNAPSHOT_DEFLATE_END	 "\x03\x00"
#define SNAPSHOT_DEFLATE_END_LEN 2

/* CRC-32 (gzip's) of len bytes; 0 for none. */
uint32_t snapshot_gzip_crc32(const void *data, size_t len);

/* Compresses len (> 0) bytes into a new raw deflate segment closed by a
 * full flush (free() it). Returns 0 and *ret; -EMSGSIZE past the JSON cap;
 * or -ENOMEM. */
int snapshot_gzip_segment(const void *data, size_t len, struct snapshot_segment **ret);

/* Compresses the bytes of n pieces, in order, into one new gzip member
 * (free() it). For answers no segment can make (a shard's); the caller
 * keeps the result (snapshot_memo_put()) so it is made once. Returns 0,
 * -EMSGSIZE past the JSON cap, or -ENOMEM. */
int snapshot_gzip_compress(const struct snapshot_piece *pieces, size_t n, unsigned char **ret,
			   size_t *ret_len);

/* Assembles "[" seg ("," seg)* "]" as a gzip member into pieces, which must
 * have room for 2 x (segments) + 6. The pieces borrow the segments, static
 * bytes and the trailer given to _end(). */
struct snapshot_gzip_member {
	struct snapshot_piece *pieces;
	size_t n_pieces;
	size_t len;	   /* of the pieces so far */
	size_t n_segments; /* added so far */
	uint64_t crc;	   /* of the JSON so far */
	uint64_t json_len; /* of the JSON so far */
};

void snapshot_gzip_member_begin(struct snapshot_gzip_member *m, struct snapshot_piece *pieces);

/* Adds a segment of json_len bytes of JSON whose CRC-32 is crc. */
void snapshot_gzip_member_add(struct snapshot_gzip_member *m, const void *segment, size_t len,
			      uint32_t crc, size_t json_len);

/* Closes the member; trailer (8 bytes: CRC-32 and length) must live as
 * long as the pieces. */
void snapshot_gzip_member_end(struct snapshot_gzip_member *m, unsigned char *trailer);

#endif
