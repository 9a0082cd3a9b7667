/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_gzip: compresses a snapshot's answer twice, whole and in
 * independent segments. See include/snapshot_gzip.h.
 *
 * Runs where the snapshot is built (the refresher thread), once per
 * snapshot. zlib streams are local to each call.
 */
#define ZLIB_CONST
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "buf.h"
#include "snapshot.h"
#include "snapshot_gzip.h"

#define GZIP_CHUNK_BYTES (64u << 10)
#define GZIP_WINDOW_BITS 15
#define GZIP_MEM_LEVEL	 8
/* Room above the JSON cap for deflate's worst case and the segments' flush
 * markers (about 12 bytes per group). */
#define GZIP_MAX_BYTES (SNAPSHOT_MAX_JSON_BYTES + (SNAPSHOT_MAX_JSON_BYTES >> 3))

/* Feeds n bytes to zs and appends what comes out, with flush Z_FULL_FLUSH
 * or Z_FINISH. Returns 0, -ENOMEM, or a buf error. */
static int gzip_deflate(z_stream *zs, struct buf *out, const void *p, size_t n, int flush)
{
	unsigned char chunk[GZIP_CHUNK_BYTES];
	int zr, r;

	zs->next_in = p;
	zs->avail_in = (uInt)n;
	do {
		zs->next_out = chunk;
		zs->avail_out = sizeof(chunk);
		zr = deflate(zs, flush);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return -ENOMEM;
		r = buf_append(out, chunk, sizeof(chunk) - zs->avail_out);
		if (r < 0)
			return r;
	} while (zs->avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

/* window_bits: 15 + 16 for a gzip member, -15 for raw deflate. */
static int gzip_begin(z_stream *zs, int window_bits)
{
	memset(zs, 0, sizeof(*zs));
	if (deflateInit2(zs, SNAPSHOT_GZIP_LEVEL, Z_DEFLATED, window_bits, GZIP_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	return 0;
}

static int gzip_whole(struct snapshot_gzip *g, const struct snapshot *s)
{
	struct buf out;
	z_stream zs;
	int r;

	r = gzip_begin(&zs, GZIP_WINDOW_BITS + 16);
	if (r < 0)
		return r;
	buf_init(&out, GZIP_MAX_BYTES);
	r = gzip_deflate(&zs, &out, s->json, s->json_len, Z_FINISH);
	deflateEnd(&zs);
	if (r == 0) {
		g->whole = (unsigned char *)buf_steal(&out, &g->whole_len);
		r = g->whole ? 0 : -ENOMEM;
	}
	buf_done(&out);
	return r;
}

/* Group i's segment, then the "," segment when another group follows. */
static int gzip_group(struct snapshot_gzip *g, const struct snapshot *s, size_t i, z_stream *zs,
		      struct buf *out)
{
	const struct snapshot_group *sg = &s->groups[i];
	struct snapshot_gzip_group *gg = &g->groups[i];
	const char *json = s->json + sg->offset;
	int r;

	gg->crc = (uint32_t)crc32(0, (const Bytef *)json, (uInt)sg->len);
	gg->crc_op = (uint32_t)crc32_combine_gen((z_off_t)sg->len);
	gg->offset = out->len;
	r = gzip_deflate(zs, out, json, sg->len, Z_FULL_FLUSH);
	gg->len = out->len - gg->offset;
	if (r == 0 && i + 1 < s->n_groups)
		r = gzip_deflate(zs, out, ",", 1, Z_FULL_FLUSH);
	return r;
}

static int gzip_segments(struct snapshot_gzip *g, const struct snapshot *s)
{
	struct buf out;
	z_stream zs;
	size_t i;
	int r;

	g->groups = calloc(s->n_groups + 1, sizeof(*g->groups));
	if (!g->groups)
		return -ENOMEM;
	r = gzip_begin(&zs, -GZIP_WINDOW_BITS);
	if (r < 0)
		return r;
	buf_init(&out, GZIP_MAX_BYTES);
	r = gzip_deflate(&zs, &out, "[", 1, Z_FULL_FLUSH);
	g->open_len = out.len;
	for (i = 0; r == 0 && i < s->n_groups; i++)
		r = gzip_group(g, s, i, &zs, &out);
	g->close_offset = out.len;
	if (r == 0)
		r = gzip_deflate(&zs, &out, "]", 1, Z_FULL_FLUSH);
	deflateEnd(&zs); /* unfinished on purpose: no final block */
	if (r == 0) {
		g->segments = (unsigned char *)buf_steal(&out, &g->segments_len);
		r = g->segments ? 0 : -ENOMEM;
	}
	buf_done(&out);
	return r;
}

int snapshot_gzip_new(const struct snapshot *s, struct snapshot_gzip **ret)
{
	struct snapshot_gzip *g;
	int r;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	r = gzip_whole(g, s);
	if (r == 0)
		r = gzip_segments(g, s);
	if (r < 0) {
		snapshot_gzip_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

struct snapshot_gzip *snapshot_gzip_free(struct snapshot_gzip *g)
{
	if (!g)
		return NULL;
	free(g->whole);
	free(g->segments);
	free(g->groups);
	free(g);
	return NULL;
}
