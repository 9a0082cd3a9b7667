/* SPDX-License-Identifier: Apache-2.0 */
/*
 * answer: assembles filtered answers from a snapshot's byte ranges and
 * its parts' deflate segments. See include/answer.h.
 *
 * Called by the HTTP threads; reads the snapshot (immutable) and writes
 * only the answer it makes.
 */
#define ZLIB_CONST
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "answer.h"
#include "snapshot.h"
#include "snapshot_gzip.h"

/* What keep() said of each part's groups. */
enum answer_part_kept { ANSWER_PART_NONE, ANSWER_PART_ALL, ANSWER_PART_SOME };

static const char answer_open[] = "[";
static const char answer_comma[] = ",";
static const char answer_close[] = "]";

/* Appends a piece, or grows the last one when p continues it. */
static void answer_put(struct answer *a, const void *p, size_t len)
{
	struct snapshot_piece *last = a->n_pieces ? &a->pieces[a->n_pieces - 1] : NULL;

	if (len == 0)
		return;
	if (last && (const char *)last->p + last->len == (const char *)p)
		last->len += len;
	else
		a->pieces[a->n_pieces++] = (struct snapshot_piece){ p, len };
	a->len += len;
}

/* Group g after group prev (NULL: the first kept): within a part the
 * separator is the part's own comma, which joins the pieces. */
static void answer_json_group(struct answer *a, const struct snapshot *s,
			      const struct snapshot_group *prev, const struct snapshot_group *g)
{
	const char *json = snapshot_group_json(s, g);

	if (prev && prev->part == g->part && prev->offset + prev->len + 1 == g->offset)
		answer_put(a, json - 1, 1);
	else if (prev)
		answer_put(a, answer_comma, 1);
	answer_put(a, json, g->len);
}

/* Marks kept[i] for each group i that keep() accepts; fills part_kept. */
static void answer_select(const struct snapshot *s, answer_keep_fn keep, void *userdata, bool *kept,
			  enum answer_part_kept *part_kept)
{
	const struct snapshot_group *g;
	size_t i, run = 0;

	for (i = 0; i < s->n_groups; i++) {
		g = &s->groups[i];
		kept[i] = keep(s, g, userdata);
		run = i > 0 && g->part == s->groups[i - 1].part ? run + 1 : 0;
		if (run == 0)
			part_kept[g->part] = kept[i] ? ANSWER_PART_ALL : ANSWER_PART_NONE;
		else if (part_kept[g->part] != (kept[i] ? ANSWER_PART_ALL : ANSWER_PART_NONE))
			part_kept[g->part] = ANSWER_PART_SOME;
	}
}

static void answer_json(struct answer *a, const struct snapshot *s, const bool *kept)
{
	const struct snapshot_group *prev = NULL;
	size_t i;

	answer_put(a, answer_open, 1);
	for (i = 0; i < s->n_groups; i++) {
		if (!kept[i])
			continue;
		answer_json_group(a, s, prev, &s->groups[i]);
		prev = &s->groups[i];
		a->n_groups++;
	}
	answer_put(a, answer_close, 1);
}

/* Whether every part with groups is compressed and kept whole or not at
 * all. */
static bool answer_gzip_possible(const struct snapshot *s, const enum answer_part_kept *part_kept)
{
	size_t i;

	for (i = 0; i < s->n_parts; i++)
		if (s->parts[i]->json &&
		    (!snapshot_part_segment(s->parts[i]) || part_kept[i] == ANSWER_PART_SOME))
			return false;
	return true;
}

static void answer_gzip(struct answer *a, const struct snapshot *s,
			const enum answer_part_kept *part_kept)
{
	const struct snapshot_segment *seg;
	struct snapshot_gzip_member m;
	const struct snapshot_part *p;
	size_t i;

	snapshot_gzip_member_begin(&m, a->pieces);
	for (i = 0; i < s->n_parts; i++) {
		p = s->parts[i];
		if (!p->json || part_kept[i] != ANSWER_PART_ALL)
			continue;
		seg = snapshot_part_segment(p); /* set: answer_gzip_possible() saw it */
		snapshot_gzip_member_add(&m, seg->bytes, seg->len, p->crc, p->json_len);
		a->n_groups += p->n_groups;
	}
	snapshot_gzip_member_end(&m, a->trailer);
	a->n_pieces = m.n_pieces;
	a->len = m.len;
}

/* Replaces a's JSON pieces by their gzip form, the memo of key in s, made
 * now if s has none yet. Keeps the JSON when the memo cannot be kept (s
 * holds SNAPSHOT_MEMO_MAX already: then nothing is compressed) or made. */
static void answer_memo(struct answer *a, struct snapshot *s, const char *key)
{
	const struct snapshot_memo *m = snapshot_memo_get(s, key);
	unsigned char *bytes;
	size_t len;

	if (!m && snapshot_memo_room(s, key) &&
	    snapshot_gzip_compress(a->pieces, a->n_pieces, &bytes, &len) == 0)
		m = snapshot_memo_put(s, key, bytes, len);
	if (!m)
		return;
	a->pieces[0] = (struct snapshot_piece){ m->bytes, m->len };
	a->n_pieces = 1;
	a->len = m->len;
	a->gzip = true;
}

int answer_new(struct snapshot *s, answer_keep_fn keep, void *userdata, bool gzip,
	       const char *memo_key, struct answer **ret)
{
	enum answer_part_kept *part_kept = calloc(s->n_parts + 1, sizeof(*part_kept));
	bool *kept = calloc(s->n_groups + 1, sizeof(*kept));
	struct answer *a = calloc(1, sizeof(*a));
	int r = -ENOMEM;

	/* JSON: at most a separator and a group per group, and two more;
	 * gzip: two per part, and six more. */
	if (a)
		a->pieces = calloc(2 * (s->n_groups + s->n_parts) + 6, sizeof(*a->pieces));
	if (!part_kept || !kept || !a || !a->pieces)
		goto out;
	answer_select(s, keep, userdata, kept, part_kept);
	a->gzip = gzip && answer_gzip_possible(s, part_kept);
	if (a->gzip) {
		answer_gzip(a, s, part_kept);
	} else {
		answer_json(a, s, kept);
		if (gzip && memo_key)
			answer_memo(a, s, memo_key);
	}
	*ret = a;
	a = NULL;
	r = 0;
out:
	answer_free(a);
	free(kept);
	free(part_kept);
	return r;
}

struct answer *answer_free(struct answer *a)
{
	if (!a)
		return NULL;
	free(a->pieces);
	free(a);
	return NULL;
}
