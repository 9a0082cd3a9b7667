/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot: renders each service's targets once into a part (http_sd JSON
 * and its deflate segment), assembles parts into snapshots with an index of
 * their groups, and publishes snapshots to the HTTP threads. See
 * include/snapshot.h.
 *
 * Parts and snapshots are made on the refresher thread and copy what they
 * keep, so the target set and the inventory may go once they are made.
 * They are immutable after that: readers share them without a lock, and
 * the reference counts (C11 atomics) free them with the last reference. The
 * store's mutex guards only its pointer, as the house style's "one writer,
 * many readers" example shows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "snapshot.h"
#include "snapshot_gzip.h"

/* ---- hashmod: MD5 of the address, the last 8 bytes big-endian ---- */

struct hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

static void hasher_done(struct hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
}

static int hasher_init(struct hasher *h)
{
	h->md = EVP_MD_fetch(NULL, "MD5", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (!h->md || !h->ctx) {
		hasher_done(h);
		return -ENOMEM;
	}
	return 0;
}

static int hasher_hash(struct hasher *h, const char *s, size_t len, uint64_t *ret)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	uint64_t v = 0;

	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 || EVP_DigestUpdate(h->ctx, s, len) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, d, &n) != 1 || n != 16)
		return -ENOMEM;
	for (i = 8; i < 16; i++)
		v = v << 8 | d[i];
	*ret = v;
	return 0;
}

int snapshot_address_hash(const char *address, size_t len, uint64_t *ret_hash)
{
	struct hasher h;
	int r;

	r = hasher_init(&h);
	if (r < 0)
		return r;
	r = hasher_hash(&h, address, len, ret_hash);
	hasher_done(&h);
	return r;
}

/* ---- JSON ---- */

static int json_put_escape(struct buf *out, unsigned char c)
{
	char e = 0;

	switch (c) {
	case '"':
		e = '"';
		break;
	case '\\':
		e = '\\';
		break;
	case '\b':
		e = 'b';
		break;
	case '\f':
		e = 'f';
		break;
	case '\n':
		e = 'n';
		break;
	case '\r':
		e = 'r';
		break;
	case '\t':
		e = 't';
		break;
	}
	if (e)
		return buf_append(out, (char[]){ '\\', e }, 2);
	return buf_printf(out, "\\u%04x", c);
}

/* The bytes a JSON string cannot hold as they are; NUL among them. */
static const bool json_escaped[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
	[0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
	[0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
	[0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
	[0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

/* Appends s escaped for the inside of a JSON string. s is valid UTF-8
 * (targets.h promises it), so only '"', '\\' and control characters need
 * escapes; the NUL ends the string and the scan. */
static int json_put_body(struct buf *out, const char *s)
{
	const char *p;
	int r;

	for (;;) {
		for (p = s; !json_escaped[(unsigned char)*p]; p++)
			;
		r = buf_append(out, s, (size_t)(p - s));
		if (r < 0 || *p == '\0')
			return r;
		r = json_put_escape(out, (unsigned char)*p);
		if (r < 0)
			return r;
		s = p + 1;
	}
}

/* {"targets":["ADDRESS"],"labels":{"KEY":"VALUE",...}} */
static int group_render(struct buf *out, const struct target *t)
{
	size_t i;
	int r;

	r = buf_puts(out, "{\"targets\":[\"");
	if (r >= 0)
		r = json_put_body(out, t->address);
	if (r >= 0)
		r = buf_puts(out, "\"],\"labels\":{");
	for (i = 0; r >= 0 && i < t->n_labels; i++) {
		r = i > 0 ? buf_append(out, ",\"", 2) : buf_putc(out, '"');
		if (r >= 0)
			r = json_put_body(out, t->labels[i].key);
		if (r >= 0)
			r = buf_append(out, "\":\"", 3);
		if (r >= 0)
			r = json_put_body(out, t->labels[i].value);
		if (r >= 0)
			r = buf_putc(out, '"');
	}
	if (r >= 0)
		r = buf_puts(out, "}}");
	return r;
}

/* ---- parts: rendering ---- */

/* Where service i's targets, skips and notes lie in a target set: each a
 * run, in the services' order. */
struct part_range {
	size_t t0, t1; /* targets */
	size_t k0, k1; /* skips */
	size_t n0, n1; /* notes */
};

/* Finds svc's runs in ts from r's starts on. With search, a run may start
 * later; without, it starts there or is empty, so that an element of an
 * unlisted service stays in front of the cursors (snapshot_new's check). */
static void part_range_find(const struct target_set *ts, const struct cm_service *svc, bool search,
			    struct part_range *r)
{
	while (search && r->t0 < ts->n_targets && ts->targets[r->t0].svc != svc)
		r->t0++;
	for (r->t1 = r->t0; r->t1 < ts->n_targets && ts->targets[r->t1].svc == svc;)
		r->t1++;
	while (search && r->k0 < ts->n_skips && ts->skips[r->k0].svc != svc)
		r->k0++;
	for (r->k1 = r->k0; r->k1 < ts->n_skips && ts->skips[r->k1].svc == svc;)
		r->k1++;
	while (search && r->n0 < ts->n_notes && ts->notes[r->n0].svc != svc)
		r->n0++;
	for (r->n1 = r->n0; r->n1 < ts->n_notes && ts->notes[r->n1].svc == svc;)
		r->n1++;
}

/* Moves out's bytes into p->json, without the slack of their growth. */
static int part_take_json(struct snapshot_part *p, struct buf *out)
{
	char *json = buf_steal(out, &p->json_len), *fit;

	if (!json)
		return -ENOMEM;
	fit = realloc(json, p->json_len + 1);
	p->json = fit ? fit : json;
	return 0;
}

/* Renders the targets [r->t0, r->t1) as "g0,g1,...", with their index. */
static int part_render(struct snapshot_part *p, const struct target_set *ts,
		       const struct part_range *rg)
{
	struct snapshot_part_group *g;
	struct buf out;
	struct hasher h;
	size_t i;
	int r;

	p->groups = calloc(rg->t1 - rg->t0 + 1, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	r = hasher_init(&h);
	if (r < 0)
		return r;
	buf_init(&out, SNAPSHOT_MAX_JSON_BYTES);
	for (i = rg->t0; r >= 0 && i < rg->t1; i++) {
		g = &p->groups[p->n_groups];
		r = p->n_groups > 0 ? buf_putc(&out, ',') : 0;
		g->offset = out.len;
		if (r >= 0)
			r = group_render(&out, &ts->targets[i]);
		g->len = out.len - g->offset;
		if (r >= 0)
			r = hasher_hash(&h, ts->targets[i].address, strlen(ts->targets[i].address),
					&g->address_hash);
		if (r >= 0)
			p->n_groups++;
	}
	if (r >= 0 && out.len > 0)
		r = part_take_json(p, &out);
	buf_done(&out);
	hasher_done(&h);
	return r;
}

static int part_copy_skips(struct snapshot_part *p, const struct target_set *ts,
			   const struct part_range *rg)
{
	const struct target_skip *from;
	struct snapshot_part_skip *to;
	size_t i;

	p->skips = calloc(rg->k1 - rg->k0 + 1, sizeof(*p->skips));
	if (!p->skips)
		return -ENOMEM;
	for (i = rg->k0; i < rg->k1; i++) {
		from = &ts->skips[i];
		to = &p->skips[p->n_skips++];
		to->reason = from->reason;
		to->instance_id = strdup(from->instance_id);
		to->detail = from->detail ? strdup(from->detail) : NULL;
		if (!to->instance_id || (from->detail && !to->detail))
			return -ENOMEM;
		p->skipped[from->reason]++;
	}
	return 0;
}

/* "ns/svc: text; ..." of the notes [n0, n1). */
static int part_copy_notes(struct snapshot_part *p, const struct target_set *ts,
			   const struct part_range *rg)
{
	struct buf b;
	size_t i;
	int r = 0;

	if (rg->n0 == rg->n1)
		return 0;
	buf_init(&b, SIZE_MAX / 2);
	for (i = rg->n0; r >= 0 && i < rg->n1; i++)
		r = buf_printf(&b, "%s%s/%s: %s", i > rg->n0 ? "; " : "", p->namespace_name,
			       p->service_name, ts->notes[i].text);
	if (r >= 0) {
		p->notes = buf_steal(&b, NULL);
		p->n_notes = rg->n1 - rg->n0;
		r = p->notes ? 0 : -ENOMEM;
	}
	buf_done(&b);
	return r;
}

static struct snapshot_part *part_alloc(const char *namespace_name, const char *service_name)
{
	struct snapshot_part *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	atomic_init(&p->refcount, 1);
	p->namespace_name = strdup(namespace_name ? namespace_name : "");
	p->service_name = strdup(service_name ? service_name : "");
	if (!p->namespace_name || !p->service_name)
		return snapshot_part_unref(p);
	return p;
}

int snapshot_part_compress(struct snapshot_part *p)
{
	struct snapshot_segment *seg;
	int r;

	if (!p->json || snapshot_part_segment(p))
		return 0;
	r = snapshot_gzip_segment(p->json, p->json_len, &seg);
	if (r < 0)
		return r;
	atomic_store_explicit(&p->segment, seg, memory_order_release);
	return 0;
}

/* The CRC and (unless plain) the deflate segment of p's JSON. */
static int part_compress(struct snapshot_part *p, unsigned flags)
{
	p->crc = snapshot_gzip_crc32(p->json, p->json_len);
	return flags & SNAPSHOT_PART_PLAIN ? 0 : snapshot_part_compress(p);
}

static int part_from_range(const struct target_set *ts, size_t i, const struct part_range *rg,
			   unsigned flags, struct snapshot_part **ret)
{
	const struct target_service *ts_svc = &ts->services[i];
	struct snapshot_part *p;
	int r;

	p = part_alloc(ts_svc->ns->name, ts_svc->svc->name);
	if (!p)
		return -ENOMEM;
	p->invalid_knobs = ts_svc->invalid_knobs;
	p->label_collisions = ts_svc->label_collisions;
	p->invalid_utf8 = ts_svc->invalid_utf8;
	r = part_render(p, ts, rg);
	if (r >= 0)
		r = part_copy_skips(p, ts, rg);
	if (r >= 0)
		r = part_copy_notes(p, ts, rg);
	if (r >= 0)
		r = part_compress(p, flags);
	if (r < 0) {
		snapshot_part_unref(p);
		return r;
	}
	*ret = p;
	return 0;
}

int snapshot_part_new(const struct target_set *ts, size_t i, unsigned flags,
		      struct snapshot_part **ret)
{
	struct part_range rg = { 0 };

	if (i >= ts->n_services)
		return -EINVAL;
	part_range_find(ts, ts->services[i].svc, true, &rg);
	return part_from_range(ts, i, &rg, flags, ret);
}

int snapshot_part_adopt(const char *namespace_name, const char *service_name, char *json,
			size_t len, struct snapshot_part_group *groups, size_t n_groups,
			unsigned flags, struct snapshot_part **ret)
{
	struct snapshot_part *p = part_alloc(namespace_name, service_name);
	int r;

	if (!p) {
		free(json);
		free(groups);
		return -ENOMEM;
	}
	if (json && len == 0) { /* no groups: no bytes, as parts made here */
		free(json);
		json = NULL;
	}
	p->json = json;
	p->json_len = json ? len : 0;
	p->groups = groups;
	p->n_groups = n_groups;
	r = part_compress(p, flags);
	if (r < 0) {
		snapshot_part_unref(p);
		return r;
	}
	*ret = p;
	return 0;
}

struct snapshot_part *snapshot_part_ref(struct snapshot_part *p)
{
	if (p)
		atomic_fetch_add_explicit(&p->refcount, 1, memory_order_relaxed);
	return p;
}

static void part_free(struct snapshot_part *p)
{
	size_t i;

	free(p->namespace_name);
	free(p->service_name);
	free(p->json);
	free(p->groups);
	free(atomic_load(&p->segment));
	for (i = 0; i < p->n_skips; i++) {
		free(p->skips[i].instance_id);
		free(p->skips[i].detail);
	}
	free(p->skips);
	free(p->notes);
	free(p);
}

struct snapshot_part *snapshot_part_unref(struct snapshot_part *p)
{
	if (p && atomic_fetch_sub_explicit(&p->refcount, 1, memory_order_acq_rel) == 1)
		part_free(p);
	return NULL;
}

/* ---- snapshots: the index ---- */

/* One name per namespace (consecutive parts share it) and one per service. */
static void snapshot_index_part(struct snapshot *s, size_t i)
{
	const struct snapshot_part *p = s->parts[i];
	struct snapshot_service *svc = &s->services[i];

	if (i > 0 && strcmp(p->namespace_name, s->parts[i - 1]->namespace_name) == 0) {
		svc->namespace_idx = s->services[i - 1].namespace_idx;
	} else {
		svc->namespace_idx = (uint32_t)s->n_names;
		s->names[s->n_names++] = p->namespace_name;
	}
	svc->service_idx = (uint32_t)s->n_names;
	s->names[s->n_names++] = p->service_name;
	svc->targets = (unsigned)p->n_groups;
	svc->skipped = (unsigned)p->n_skips;
	s->n_services++;
}

static void snapshot_index_groups(struct snapshot *s, size_t i)
{
	const struct snapshot_part *p = s->parts[i];
	const struct snapshot_service *svc = &s->services[i];
	size_t j;

	for (j = 0; j < p->n_groups; j++)
		s->groups[s->n_groups++] = (struct snapshot_group){
			.part = (uint32_t)i,
			.namespace_idx = svc->namespace_idx,
			.service_idx = svc->service_idx,
			.offset = p->groups[j].offset,
			.len = p->groups[j].len,
			.address_hash = p->groups[j].address_hash,
		};
}

static void snapshot_index_skips(struct snapshot *s, size_t i)
{
	const struct snapshot_part *p = s->parts[i];
	const struct snapshot_service *svc = &s->services[i];
	size_t j, k;

	for (j = 0; j < p->n_skips; j++)
		s->skips[s->n_skips++] = (struct snapshot_skip){
			.namespace_idx = svc->namespace_idx,
			.service_idx = svc->service_idx,
			.instance_id = p->skips[j].instance_id,
			.reason = p->skips[j].reason,
			.detail = p->skips[j].detail,
		};
	for (k = 0; k < TARGET_SKIP_COUNT; k++)
		s->skipped[k] += p->skipped[k];
	s->invalid_knobs += p->invalid_knobs;
	s->label_collisions += p->label_collisions;
	s->invalid_utf8 += p->invalid_utf8;
}

static int snapshot_index(struct snapshot *s)
{
	size_t i, n_groups = 0, n_skips = 0;

	for (i = 0; i < s->n_parts; i++) {
		n_groups += s->parts[i]->n_groups;
		n_skips += s->parts[i]->n_skips;
	}
	s->names = calloc(2 * s->n_parts + 1, sizeof(*s->names));
	s->services = calloc(s->n_parts + 1, sizeof(*s->services));
	s->groups = calloc(n_groups + 1, sizeof(*s->groups));
	s->skips = calloc(n_skips + 1, sizeof(*s->skips));
	if (!s->names || !s->services || !s->groups || !s->skips)
		return -ENOMEM;
	for (i = 0; i < s->n_parts; i++) {
		snapshot_index_part(s, i);
		snapshot_index_groups(s, i);
		snapshot_index_skips(s, i);
	}
	return 0;
}

/* ---- snapshots: the whole answer ---- */

static const char snapshot_open[] = "[";
static const char snapshot_comma[] = ",";
static const char snapshot_close[] = "]";

static void pieces_put(struct snapshot_piece *pieces, size_t *n, const void *p, size_t len)
{
	pieces[(*n)++] = (struct snapshot_piece){ p, len };
}

/* "[" part ("," part)* "]" over the parts with groups. */
static int snapshot_json_pieces(struct snapshot *s)
{
	const struct snapshot_part *p;
	size_t i, kept = 0;

	s->json_pieces = calloc(2 * s->n_parts + 2, sizeof(*s->json_pieces));
	if (!s->json_pieces)
		return -ENOMEM;
	pieces_put(s->json_pieces, &s->n_json_pieces, snapshot_open, 1);
	s->json_len = 2;
	for (i = 0; i < s->n_parts; i++) {
		p = s->parts[i];
		if (!p->json)
			continue;
		if (kept++ > 0)
			pieces_put(s->json_pieces, &s->n_json_pieces, snapshot_comma, 1);
		pieces_put(s->json_pieces, &s->n_json_pieces, p->json, p->json_len);
		s->json_len += p->json_len + (kept > 1);
		if (s->json_len > SNAPSHOT_MAX_JSON_BYTES)
			return -EMSGSIZE;
	}
	pieces_put(s->json_pieces, &s->n_json_pieces, snapshot_close, 1);
	return 0;
}

/* The same answer as one gzip member, when every part with groups has its
 * segment. */
static int snapshot_gzip_pieces(struct snapshot *s)
{
	const struct snapshot_segment *seg;
	struct snapshot_gzip_member m;
	size_t i;

	for (i = 0; i < s->n_parts; i++)
		if (s->parts[i]->json && !snapshot_part_segment(s->parts[i]))
			return 0; /* served uncompressed */
	s->gzip_pieces = calloc(2 * s->n_parts + 6, sizeof(*s->gzip_pieces));
	if (!s->gzip_pieces)
		return -ENOMEM;
	snapshot_gzip_member_begin(&m, s->gzip_pieces);
	for (i = 0; i < s->n_parts; i++) {
		seg = snapshot_part_segment(s->parts[i]);
		if (s->parts[i]->json)
			snapshot_gzip_member_add(&m, seg->bytes, seg->len, s->parts[i]->crc,
						 s->parts[i]->json_len);
	}
	snapshot_gzip_member_end(&m, s->gzip_trailer);
	s->n_gzip_pieces = m.n_pieces;
	s->gzip_len = m.len;
	return 0;
}

int snapshot_json_copy(const struct snapshot *s, char **ret, size_t *ret_len)
{
	char *out = malloc(s->json_len + 1);
	size_t i, len = 0;

	if (!out)
		return -ENOMEM;
	for (i = 0; i < s->n_json_pieces; i++) {
		memcpy(out + len, s->json_pieces[i].p, s->json_pieces[i].len);
		len += s->json_pieces[i].len;
	}
	out[len] = '\0';
	*ret = out;
	*ret_len = len;
	return 0;
}

/* ---- snapshots: memos ---- */

static const struct snapshot_memo *memo_find(const struct snapshot *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_memos; i++)
		if (strcmp(s->memos[i].key, key) == 0)
			return &s->memos[i];
	return NULL;
}

const struct snapshot_memo *snapshot_memo_get(struct snapshot *s, const char *key)
{
	const struct snapshot_memo *m;

	pthread_mutex_lock(&s->memo_lock);
	m = memo_find(s, key);
	pthread_mutex_unlock(&s->memo_lock);
	return m;
}

bool snapshot_memo_room(struct snapshot *s, const char *key)
{
	bool room;

	if (strlen(key) >= SNAPSHOT_MEMO_KEY_BYTES)
		return false;
	pthread_mutex_lock(&s->memo_lock);
	room = s->n_memos < SNAPSHOT_MEMO_MAX;
	pthread_mutex_unlock(&s->memo_lock);
	return room;
}

const struct snapshot_memo *snapshot_memo_put(struct snapshot *s, const char *key,
					      unsigned char *bytes, size_t len)
{
	const struct snapshot_memo *m = NULL;
	char *copy = NULL;

	if (strlen(key) < SNAPSHOT_MEMO_KEY_BYTES)
		copy = strdup(key);
	pthread_mutex_lock(&s->memo_lock);
	m = memo_find(s, key);
	if (!m && copy && s->n_memos < SNAPSHOT_MEMO_MAX) {
		s->memos[s->n_memos] = (struct snapshot_memo){ copy, bytes, len };
		m = &s->memos[s->n_memos++];
		copy = NULL;
		bytes = NULL;
	}
	pthread_mutex_unlock(&s->memo_lock);
	free(copy);
	free(bytes);
	return m;
}

/* ---- snapshots: lifetime ---- */

static void snapshot_free(struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->n_memos; i++) {
		free(s->memos[i].key);
		free(s->memos[i].bytes);
	}
	pthread_mutex_destroy(&s->memo_lock);

	for (i = 0; i < s->n_parts; i++)
		snapshot_part_unref(s->parts[i]);
	free(s->parts);
	free(s->groups);
	free(s->names);
	free(s->services);
	free(s->skips);
	free(s->json_pieces);
	free(s->gzip_pieces);
	free(s);
}

int snapshot_assemble(struct snapshot_part *const *parts, size_t n_parts, int64_t refreshed_at_unix,
		      struct snapshot **ret)
{
	struct snapshot *s;
	size_t i;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refcount, 1);
	s->refreshed_at_unix = refreshed_at_unix;
	pthread_mutex_init(&s->memo_lock, NULL);
	s->parts = calloc(n_parts + 1, sizeof(*s->parts));
	if (!s->parts) {
		snapshot_free(s);
		return -ENOMEM;
	}
	for (i = 0; i < n_parts; i++)
		s->parts[s->n_parts++] = snapshot_part_ref(parts[i]);
	r = snapshot_index(s);
	if (r >= 0)
		r = snapshot_json_pieces(s);
	if (r >= 0)
		r = snapshot_gzip_pieces(s);
	if (r < 0) {
		snapshot_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* Every target, skip and note of ts must belong to one of its services. */
static bool ranges_cover(const struct target_set *ts, const struct part_range *rg)
{
	return rg->t0 == ts->n_targets && rg->k0 == ts->n_skips && rg->n0 == ts->n_notes;
}

int snapshot_new(const struct target_set *ts, int64_t refreshed_at_unix, struct snapshot **ret)
{
	struct snapshot_part **parts = calloc(ts->n_services + 1, sizeof(*parts));
	struct part_range rg = { 0 };
	size_t i, n = 0;
	int r = parts ? 0 : -ENOMEM;

	for (i = 0; r >= 0 && i < ts->n_services; i++) {
		part_range_find(ts, ts->services[i].svc, false, &rg);
		r = part_from_range(ts, i, &rg, 0, &parts[n]);
		if (r >= 0)
			n++;
		rg = (struct part_range){ rg.t1, rg.t1, rg.k1, rg.k1, rg.n1, rg.n1 };
	}
	if (r >= 0 && !ranges_cover(ts, &rg))
		r = -EINVAL; /* a target or skip of a service not listed */
	if (r >= 0)
		r = snapshot_assemble(parts, n, refreshed_at_unix, ret);
	for (i = 0; i < n; i++)
		snapshot_part_unref(parts[i]);
	free(parts);
	return r;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refcount, 1, memory_order_relaxed);
	return s;
}

struct snapshot *snapshot_unref(struct snapshot *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refcount, 1, memory_order_acq_rel) == 1)
		snapshot_free(s);
	return NULL;
}

/* ---- the store ---- */

void snapshot_store_init(struct snapshot_store *st)
{
	pthread_mutex_init(&st->lock, NULL);
	st->current = NULL;
}

void snapshot_store_done(struct snapshot_store *st)
{
	st->current = snapshot_unref(st->current);
	pthread_mutex_destroy(&st->lock);
}

struct snapshot *snapshot_store_get(struct snapshot_store *st)
{
	struct snapshot *s;

	pthread_mutex_lock(&st->lock);
	s = snapshot_ref(st->current);
	pthread_mutex_unlock(&st->lock);
	return s;
}

void snapshot_store_publish(struct snapshot_store *st, struct snapshot *next)
{
	struct snapshot *old;

	pthread_mutex_lock(&st->lock);
	old = st->current;
	st->current = next;
	pthread_mutex_unlock(&st->lock);
	snapshot_unref(old); /* may free: outside the lock */
}
