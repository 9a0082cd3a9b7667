/* SPDX-License-Identifier: Apache-2.0 */
/*
 * answer: assembles filtered answers from a snapshot's byte ranges and
 * deflate segments. See include/answer.h.
 *
 * Called by the HTTP threads; reads the snapshot (immutable) and writes
 * only the answer it makes.
 */
#define ZLIB_CONST
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <zlib.h>

#include "answer.h"
#include "snapshot.h"
#include "snapshot_gzip.h"

#define ANSWER_NONE SIZE_MAX /* no group kept yet */

static const char answer_open[] = "[";
static const char answer_comma[] = ",";
static const char answer_close[] = "]";

/* Appends a piece, or grows the last one when p continues it. */
static void answer_put(struct answer *a, const void *p, size_t len)
{
	struct answer_piece *last = a->n_pieces ? &a->pieces[a->n_pieces - 1] : NULL;

	if (len == 0)
		return;
	if (last && (const char *)last->p + last->len == (const char *)p)
		last->len += len;
	else
		a->pieces[a->n_pieces++] = (struct answer_piece){ p, len };
	a->len += len;
}

static void answer_json(struct answer *a, const struct snapshot *s, answer_keep_fn keep,
			void *userdata)
{
	const struct snapshot_group *g, *prev;
	size_t i, last = ANSWER_NONE;

	answer_put(a, answer_open, 1);
	for (i = 0; i < s->n_groups; i++) {
		g = &s->groups[i];
		if (!keep(s, g, userdata))
			continue;
		prev = last == ANSWER_NONE ? NULL : &s->groups[last];
		if (prev && last + 1 == i) /* the snapshot's own separator */
			answer_put(a, s->json + prev->offset + prev->len,
				   g->offset - (prev->offset + prev->len));
		else if (prev)
			answer_put(a, answer_comma, 1);
		answer_put(a, s->json + g->offset, g->len);
		last = i;
		a->n_groups++;
	}
	answer_put(a, answer_close, 1);
}

static void answer_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* The CRC-32 of the uncompressed answer, as it is assembled. */
struct answer_crc {
	uLong crc;
	uLong one_op; /* crc32_combine_gen(1) */
	size_t len;
};

static void answer_crc_byte(struct answer_crc *c, const char *byte)
{
	c->crc = crc32_combine_op(c->crc, crc32(0, (const Bytef *)byte, 1), c->one_op);
	c->len++;
}

/* Group i's segment, after the "," segment that follows group last. */
static void answer_gzip_group(struct answer *a, const struct snapshot *s, size_t last, size_t i,
			      struct answer_crc *c)
{
	const struct snapshot_gzip *z = s->gzip;
	const struct snapshot_gzip_group *g = &z->groups[i], *prev;

	if (last != ANSWER_NONE) {
		prev = &z->groups[last];
		answer_put(a, z->segments + prev->offset + prev->len,
			   z->groups[last + 1].offset - (prev->offset + prev->len));
		answer_crc_byte(c, answer_comma);
	}
	answer_put(a, z->segments + g->offset, g->len);
	c->crc = crc32_combine_op(c->crc, g->crc, g->crc_op);
	c->len += s->groups[i].len;
}

static void answer_gzip(struct answer *a, const struct snapshot *s, answer_keep_fn keep,
			void *userdata)
{
	const struct snapshot_gzip *z = s->gzip;
	struct answer_crc c = { crc32(0, (const Bytef *)answer_open, 1), crc32_combine_gen(1), 1 };
	size_t i, last = ANSWER_NONE;

	answer_put(a, SNAPSHOT_GZIP_HEADER, SNAPSHOT_GZIP_HEADER_LEN);
	answer_put(a, z->segments, z->open_len);
	for (i = 0; i < s->n_groups; i++) {
		if (!keep(s, &s->groups[i], userdata))
			continue;
		answer_gzip_group(a, s, last, i, &c);
		last = i;
		a->n_groups++;
	}
	answer_put(a, z->segments + z->close_offset, z->segments_len - z->close_offset);
	answer_crc_byte(&c, answer_close);
	answer_put(a, SNAPSHOT_DEFLATE_END, SNAPSHOT_DEFLATE_END_LEN);
	answer_put_le32(a->trailer, (uint32_t)c.crc);
	answer_put_le32(a->trailer + 4, (uint32_t)c.len);
	answer_put(a, a->trailer, sizeof(a->trailer));
}

int answer_new(const struct snapshot *s, answer_keep_fn keep, void *userdata, bool gzip,
	       struct answer **ret)
{
	struct answer *a;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	/* At most a separator and a group per group, and six more. */
	a->pieces = calloc(2 * s->n_groups + 6, sizeof(*a->pieces));
	if (!a->pieces) {
		free(a);
		return -ENOMEM;
	}
	a->gzip = gzip && s->gzip;
	if (a->gzip)
		answer_gzip(a, s, keep, userdata);
	else
		answer_json(a, s, keep, userdata);
	*ret = a;
	return 0;
}

struct answer *answer_free(struct answer *a)
{
	if (!a)
		return NULL;
	free(a->pieces);
	free(a);
	return NULL;
}
