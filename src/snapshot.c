/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot: renders a target set once into the http_sd JSON, with an index
 * of its groups, and publishes it to the HTTP threads. See
 * include/snapshot.h.
 *
 * snapshot_new() runs on the refresher thread and copies what it keeps, so
 * the target set and the inventory may go once it returns. A snapshot is
 * immutable after that: readers share it without a lock, and the reference
 * count (C11 atomics) frees it with the last reference. The store's mutex
 * guards only its pointer, as the house style's "one writer, many readers" example shows.
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

/* ---- the index ---- */

/* The index of svc in ts->services, looked for from *cursor on (the targets
 * and skips come in the services' order), then from the start. */
static int service_find(const struct target_set *ts, size_t *cursor, const struct cm_service *svc)
{
	size_t i;

	for (i = *cursor; i < ts->n_services; i++)
		if (ts->services[i].svc == svc)
			goto found;
	for (i = 0; i < *cursor && i < ts->n_services; i++)
		if (ts->services[i].svc == svc)
			goto found;
	return -EINVAL;
found:
	*cursor = i;
	return 0;
}

static int name_add(struct snapshot *s, const char *name, uint32_t *ret_idx)
{
	char *copy = strdup(name ? name : "");

	if (!copy)
		return -ENOMEM;
	*ret_idx = (uint32_t)s->n_names;
	s->names[s->n_names++] = copy;
	return 0;
}

/* One name per namespace (consecutive in ts) and one per service. */
static int snapshot_index_services(struct snapshot *s, const struct target_set *ts)
{
	const struct target_service *ts_svc;
	uint32_t ns_idx = 0;
	size_t i;
	int r;

	s->names = calloc(2 * ts->n_services + 1, sizeof(*s->names));
	s->services = calloc(ts->n_services + 1, sizeof(*s->services));
	if (!s->names || !s->services)
		return -ENOMEM;
	for (i = 0; i < ts->n_services; i++) {
		ts_svc = &ts->services[i];
		if (i == 0 || ts_svc->ns != ts->services[i - 1].ns) {
			r = name_add(s, ts_svc->ns->name, &ns_idx);
			if (r < 0)
				return r;
		}
		s->services[i].namespace_idx = ns_idx;
		r = name_add(s, ts_svc->svc->name, &s->services[i].service_idx);
		if (r < 0)
			return r;
		s->services[i].targets = ts_svc->targets;
		s->services[i].skipped = ts_svc->skipped;
		s->n_services++;
	}
	return 0;
}

/* Renders target i as group i, with its index entry. */
static int group_add(struct snapshot *s, struct buf *out, struct hasher *h,
		     const struct target_set *ts, size_t i, size_t *cursor)
{
	const struct target *t = &ts->targets[i];
	struct snapshot_group *g = &s->groups[i];
	int r;

	r = service_find(ts, cursor, t->svc);
	if (r < 0)
		return r;
	g->namespace_idx = s->services[*cursor].namespace_idx;
	g->service_idx = s->services[*cursor].service_idx;
	g->offset = out->len;
	r = group_render(out, t);
	if (r < 0)
		return r;
	g->len = out->len - g->offset;
	return hasher_hash(h, t->address, strlen(t->address), &g->address_hash);
}

static int snapshot_render(struct snapshot *s, const struct target_set *ts)
{
	struct buf out;
	struct hasher h;
	size_t i, cursor = 0;
	int r;

	s->groups = calloc(ts->n_targets + 1, sizeof(*s->groups));
	if (!s->groups)
		return -ENOMEM;
	r = hasher_init(&h);
	if (r < 0)
		return r;
	buf_init(&out, SNAPSHOT_MAX_JSON_BYTES);
	r = buf_putc(&out, '[');
	for (i = 0; r >= 0 && i < ts->n_targets; i++) {
		if (i > 0)
			r = buf_putc(&out, ',');
		if (r >= 0)
			r = group_add(s, &out, &h, ts, i, &cursor);
	}
	if (r >= 0)
		r = buf_putc(&out, ']');
	if (r >= 0) {
		s->n_groups = ts->n_targets;
		s->json = buf_steal(&out, &s->json_len);
		r = s->json ? 0 : -ENOMEM;
	}
	buf_done(&out);
	hasher_done(&h);
	return r;
}

static int snapshot_copy_skips(struct snapshot *s, const struct target_set *ts)
{
	const struct target_skip *from;
	struct snapshot_skip *to;
	size_t i, cursor = 0;
	int r;

	s->skips = calloc(ts->n_skips + 1, sizeof(*s->skips));
	if (!s->skips)
		return -ENOMEM;
	for (i = 0; i < ts->n_skips; i++) {
		from = &ts->skips[i];
		to = &s->skips[i];
		r = service_find(ts, &cursor, from->svc);
		if (r < 0)
			return r;
		to->namespace_idx = s->services[cursor].namespace_idx;
		to->service_idx = s->services[cursor].service_idx;
		to->reason = from->reason;
		to->instance_id = strdup(from->instance_id);
		to->detail = from->detail ? strdup(from->detail) : NULL;
		s->n_skips++;
		if (!to->instance_id || (from->detail && !to->detail))
			return -ENOMEM;
	}
	return 0;
}

/* ---- lifetime ---- */

static void snapshot_free(struct snapshot *s)
{
	size_t i;

	free(s->json);
	free(s->groups);
	for (i = 0; i < s->n_names; i++)
		free(s->names[i]);
	free(s->names);
	free(s->services);
	for (i = 0; i < s->n_skips; i++) {
		free(s->skips[i].instance_id);
		free(s->skips[i].detail);
	}
	free(s->skips);
	snapshot_gzip_free(s->gzip);
	free(s);
}

int snapshot_new(const struct target_set *ts, int64_t refreshed_at_unix, struct snapshot **ret)
{
	struct snapshot *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refcount, 1);
	s->refreshed_at_unix = refreshed_at_unix;
	memcpy(s->skipped, ts->skipped, sizeof(s->skipped));
	s->invalid_knobs = ts->invalid_knobs;
	s->label_collisions = ts->label_collisions;
	s->invalid_utf8 = ts->invalid_utf8;
	r = snapshot_index_services(s, ts);
	if (r >= 0)
		r = snapshot_render(s, ts);
	if (r >= 0)
		r = snapshot_copy_skips(s, ts);
	if (r >= 0)
		r = snapshot_gzip_new(s, &s->gzip);
	if (r < 0) {
		snapshot_free(s);
		return r;
	}
	*ret = s;
	return 0;
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
