/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_gzip: compresses a part's JSON into an independent deflate
 * segment, and assembles segments into gzip members. See
 * include/snapshot_gzip.h.
 */
#define ZLIB_CONST
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "buf.h"
#include "snapshot_gzip.h"

#define GZIP_CHUNK_BYTES (64u << 10)
#define GZIP_WINDOW_BITS 15
#define GZIP_MEM_LEVEL	 8
/* Room above the JSON cap for deflate's worst case and the flush marker. */
#define GZIP_MAX_BYTES (SNAPSHOT_MAX_JSON_BYTES + (SNAPSHOT_MAX_JSON_BYTES >> 3))

/* One byte as a stored block, not final: 0 (BFINAL 0, BTYPE 00, padding),
 * LEN 1 and NLEN, little-endian, then the byte. Byte-aligned like the
 * segments, so it may stand between any two of them. */
#define GZIP_STORED_BYTE(c)                       \
	{                                         \
		0x00, 0x01, 0x00, 0xfe, 0xff, (c) \
	}
#define GZIP_STORED_LEN 6

static const unsigned char gzip_open[GZIP_STORED_LEN] = GZIP_STORED_BYTE('[');
static const unsigned char gzip_comma[GZIP_STORED_LEN] = GZIP_STORED_BYTE(',');
static const unsigned char gzip_close[GZIP_STORED_LEN] = GZIP_STORED_BYTE(']');

uint32_t snapshot_gzip_crc32(const void *data, size_t len)
{
	return len ? (uint32_t)crc32_z(0, data, len) : 0;
}

/* Feeds n bytes to zs with flush (Z_NO_FLUSH, Z_FULL_FLUSH or Z_FINISH)
 * and appends the output. */
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

/* window_bits: -15 for raw deflate, 15 + 16 for a gzip member. */
static int gzip_begin(z_stream *zs, int window_bits)
{
	memset(zs, 0, sizeof(*zs));
	if (deflateInit2(zs, SNAPSHOT_GZIP_LEVEL, Z_DEFLATED, window_bits, GZIP_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	return 0;
}

int snapshot_gzip_compress(const struct snapshot_piece *pieces, size_t n, unsigned char **ret,
			   size_t *ret_len)
{
	struct buf out;
	z_stream zs;
	size_t i;
	int r;

	r = gzip_begin(&zs, GZIP_WINDOW_BITS + 16);
	if (r < 0)
		return r;
	buf_init(&out, GZIP_MAX_BYTES);
	for (i = 0; r == 0 && i < n; i++)
		r = gzip_deflate(&zs, &out, pieces[i].p, pieces[i].len, Z_NO_FLUSH);
	if (r == 0)
		r = gzip_deflate(&zs, &out, NULL, 0, Z_FINISH);
	deflateEnd(&zs);
	if (r == 0) {
		*ret = (unsigned char *)buf_steal(&out, ret_len);
		r = *ret ? 0 : -ENOMEM;
	}
	buf_done(&out);
	return r;
}

int snapshot_gzip_segment(const void *data, size_t len, struct snapshot_segment **ret)
{
	struct snapshot_segment *seg;
	struct buf out;
	z_stream zs;
	int r;

	if (len > SNAPSHOT_MAX_JSON_BYTES)
		return -EMSGSIZE;
	r = gzip_begin(&zs, -GZIP_WINDOW_BITS);
	if (r < 0)
		return r;
	buf_init(&out, GZIP_MAX_BYTES);
	r = gzip_deflate(&zs, &out, data, len, Z_FULL_FLUSH);
	deflateEnd(&zs); /* unfinished on purpose: no final block */
	if (r == 0) {
		seg = malloc(sizeof(*seg) + out.len);
		if (seg) {
			seg->len = out.len;
			memcpy(seg->bytes, out.data, out.len);
			*ret = seg;
		}
		r = seg ? 0 : -ENOMEM;
	}
	buf_done(&out);
	return r;
}

static void member_put(struct snapshot_gzip_member *m, const void *p, size_t len)
{
	m->pieces[m->n_pieces++] = (struct snapshot_piece){ p, len };
	m->len += len;
}

/* Adds one byte of JSON, stored. */
static void member_byte(struct snapshot_gzip_member *m, const unsigned char *block)
{
	uLong crc = crc32_z(0, block + GZIP_STORED_LEN - 1, 1);

	member_put(m, block, GZIP_STORED_LEN);
	m->crc = crc32_combine((uLong)m->crc, crc, 1);
	m->json_len++;
}

void snapshot_gzip_member_begin(struct snapshot_gzip_member *m, struct snapshot_piece *pieces)
{
	*m = (struct snapshot_gzip_member){ .pieces = pieces };
	member_put(m, SNAPSHOT_GZIP_HEADER, SNAPSHOT_GZIP_HEADER_LEN);
	member_byte(m, gzip_open);
}

void snapshot_gzip_member_add(struct snapshot_gzip_member *m, const void *segment, size_t len,
			      uint32_t crc, size_t json_len)
{
	if (m->n_segments++ > 0)
		member_byte(m, gzip_comma);
	member_put(m, segment, len);
	m->crc = crc32_combine((uLong)m->crc, crc, (z_off_t)json_len);
	m->json_len += json_len;
}

static void gzip_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

void snapshot_gzip_member_end(struct snapshot_gzip_member *m, unsigned char *trailer)
{
	member_byte(m, gzip_close);
	member_put(m, SNAPSHOT_DEFLATE_END, SNAPSHOT_DEFLATE_END_LEN);
	gzip_put_le32(trailer, (uint32_t)m->crc);
	gzip_put_le32(trailer + 4, (uint32_t)m->json_len);
	member_put(m, trailer, 8);
}
