/* SPDX-License-Identifier: Apache-2.0 */
/*
 * targets: the rules that turn an inventory into Prometheus targets. See
 * include/targets.h, and docs/TARGETS.md for the rule table.
 *
 * A build walks the inventory once, service by service. For a scraped
 * service it prepares what its instances share (the service-level labels,
 * sorted, and the extra endpoints); for each instance its own labels,
 * sorted; and for each endpoint it merges the two lists with the endpoint's
 * two labels into the target's sorted label array. No label is sorted per
 * target, and none is copied: labels point at inventory strings, at static
 * text, or at strings the build made in the set's arena. Label keys made
 * from a prefix and a sanitized tag or attribute key are interned, so every
 * target shares one copy of each.
 *
 * Refresher thread only; no locks, no logging.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "targets.h"

#define ARENA_CHUNK_BYTES  (64u << 10)
#define DETAIL_VALUE_BYTES 64 /* of an offending value quoted in a detail or note */
#define DURATION_MAX_MS	   ((uint64_t)INT64_MAX / 1000000u)

#define TAG_PREFIX	  "__meta_cloudmap_service_tag_"
#define ATTR_PREFIX	  "__meta_cloudmap_instance_attribute_"
#define NAMED_PORT_PREFIX "METRICS_PORT_"
#define NAMED_PATH_PREFIX "METRICS_PATH_"

/* ---- arena: the strings and label arrays a set owns ---- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct target_arena {
	struct arena_chunk *head;
};

static struct arena_chunk *arena_chunk_new(size_t size)
{
	struct arena_chunk *c;

	if (size > SIZE_MAX / 2)
		return NULL;
	c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = NULL;
	c->used = 0;
	c->size = size;
	return c;
}

/* Returns n bytes aligned to align (a power of two), or NULL. */
static void *arena_alloc(struct target_arena *a, size_t n, size_t align)
{
	struct arena_chunk *c = a->head;
	size_t at;

	at = c ? (c->used + align - 1) & ~(align - 1) : 0;
	if (!c || at > c->size || c->size - at < n) {
		c = arena_chunk_new(n > ARENA_CHUNK_BYTES / 4 ? n : ARENA_CHUNK_BYTES);
		if (!c)
			return NULL;
		/* A large block gets a chunk of its own behind the current one. */
		if (a->head && n > ARENA_CHUNK_BYTES / 4) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
		at = 0;
	}
	c->used = at + n;
	return (char *)c->data + at;
}

static void arena_free(struct target_arena *a)
{
	struct arena_chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 character at s (n > 0 bytes left), or 0 when
 * the bytes there are not one (overlong, surrogate, past U+10FFFF, cut). */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (len > 0) {
		n = utf8_char_len(p, len);
		if (n == 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* Copies s into the arena with each byte that is not part of a valid UTF-8
 * character replaced by U+FFFD, as Go's JSON encoder (and so Prometheus)
 * would. */
static int arena_utf8_copy(struct target_arena *a, const char *s, size_t len, const char **ret)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;
	size_t n;

	if (len > SIZE_MAX / 4)
		return -ENOMEM;
	out = arena_alloc(a, len * 3 + 1, 1);
	if (!out)
		return -ENOMEM;
	for (o = out; len > 0; p += n, len -= n) {
		n = utf8_char_len(p, len);
		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			n = 1;
		} else {
			memcpy(o, p, n);
			o += n;
		}
	}
	*o = '\0';
	*ret = out;
	return 0;
}

static bool label_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* One '_' per character (per byte where the UTF-8 is invalid), as
 * Prometheus's regexp replacement does. In place is fine: each character is
 * measured before anything is written over it, and out never passes key. */
void targets_sanitize_label(const char *key, char *out)
{
	const unsigned char *p = (const unsigned char *)key;
	size_t left = strlen(key), n;

	while (left > 0) {
		n = label_char_ok(*p) ? 1 : utf8_char_len(p, left);
		if (n == 0)
			n = 1;
		*out++ = label_char_ok(*p) ? (char)*p : '_';
		p += n;
		left -= n;
	}
	*out = '\0';
}

/* ---- value parsers ---- */

static int port_parse(const char *s, unsigned *ret)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -ERANGE;
	}
	if (v == 0)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

static const struct {
	const char *name;
	uint64_t ms;
} duration_units[] = {
	{ "y", 365ull * 24 * 3600 * 1000 },
	{ "w", 7ull * 24 * 3600 * 1000 },
	{ "d", 24ull * 3600 * 1000 },
	{ "h", 3600ull * 1000 },
	{ "m", 60ull * 1000 },
	{ "s", 1000 },
	{ "ms", 1 },
};

#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* Reads one or more digits at *p. */
static int duration_number(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > DURATION_MAX_MS)
			return -ERANGE;
	}
	*p = s;
	*ret = v;
	return 0;
}

/* Reads a unit at *p that comes after the previous one (*next: the index of
 * the first unit still allowed). */
static int duration_unit(const char **p, size_t *next, uint64_t *ret_ms)
{
	size_t len = strcspn(*p, "0123456789"), i;

	for (i = *next; i < N_DURATION_UNITS; i++) {
		if (strlen(duration_units[i].name) == len &&
		    strncmp(*p, duration_units[i].name, len) == 0) {
			*p += len;
			*next = i + 1;
			*ret_ms = duration_units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

int targets_parse_duration(const char *s, uint64_t *ret_ms)
{
	uint64_t total = 0, n, unit_ms;
	size_t next = 0;
	int r;

	if (*s == '\0')
		return -EINVAL;
	while (*s) {
		r = duration_number(&s, &n);
		if (r < 0)
			return r;
		r = duration_unit(&s, &next, &unit_ms);
		if (r < 0)
			return r;
		if (n > DURATION_MAX_MS / unit_ms || n * unit_ms > DURATION_MAX_MS - total)
			return -ERANGE;
		total += n * unit_ms;
	}
	if (total == 0)
		return -EINVAL;
	*ret_ms = total;
	return 0;
}

const char *target_skip_reason_name(enum target_skip_reason reason)
{
	switch (reason) {
	case TARGET_SKIP_NO_METRICS_PATH:
		return "no_metrics_path";
	case TARGET_SKIP_NO_ADDRESS:
		return "no_address";
	case TARGET_SKIP_BAD_PORT:
		return "bad_port";
	case TARGET_SKIP_BAD_PATH:
		return "bad_path";
	case TARGET_SKIP_COUNT:
		break;
	}
	return NULL;
}

/* ---- the build ---- */

struct label_vec {
	struct target_label *v;
	size_t n;
	size_t alloc;
};

/* A label with the original key it was made from, for collisions. */
struct ranked_label {
	const char *key;
	const char *value;
	const char *orig;
};

struct endpoint {
	const char *name; /* label value */
	const char *path; /* label value */
	unsigned port;
};

struct intern {
	const char **slots;
	size_t n_slots; /* 0 or a power of two */
	size_t used;
};

struct build {
	const struct target_options *opts;
	struct target_set *ts;
	struct intern keys;
	struct buf scratch;
	size_t alloc_targets, alloc_skips, alloc_notes, alloc_services;
	/* the service being built */
	const struct cm_namespace *ns;
	const struct cm_service *svc;
	size_t cur;	      /* its index in ts->services */
	const char *path;     /* METRICS_PATH tag or the default path; NULL: not scraped */
	const char *path_src; /* where path comes from, for details */
	struct label_vec svc_labels;
	struct endpoint *extra;
	size_t n_extra, alloc_extra;
	/* the instance being built */
	struct label_vec inst_labels;
	struct ranked_label *ranked;
	size_t alloc_ranked;
};

/* Where an instance is scraped. */
struct instance_addr {
	const char *host; /* borrowed: the IPv4 or IPv6 attribute */
	bool v6;
	struct endpoint app;
};

/* Makes room for one more element: returns arr, a larger copy, or NULL. */
static void *vec_grow(void *arr, size_t *alloc, size_t n, size_t size)
{
	size_t want;

	if (n < *alloc)
		return arr;
	want = *alloc ? *alloc * 2 : 16;
	if (want > SIZE_MAX / size)
		return NULL;
	arr = realloc(arr, want * size);
	if (arr)
		*alloc = want;
	return arr;
}

static int label_push(struct label_vec *v, const char *key, const char *value)
{
	struct target_label *p;

	p = vec_grow(v->v, &v->alloc, v->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	v->v = p;
	v->v[v->n++] = (struct target_label){ key, value };
	return 0;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct target_label *)a)->key, ((const struct target_label *)b)->key);
}

static void labels_sort(struct label_vec *v)
{
	if (v->n > 1)
		qsort(v->v, v->n, sizeof(*v->v), label_cmp);
}

/* Returns in *ret value itself when it is valid UTF-8, else a repaired
 * copy (and counts it). */
static int label_value(struct build *b, const char *value, const char **ret)
{
	size_t len = strlen(value);

	if (utf8_valid(value, len)) {
		*ret = value;
		return 0;
	}
	b->ts->invalid_utf8++;
	b->ts->services[b->cur].invalid_utf8++;
	return arena_utf8_copy(b->ts->arena, value, len, ret);
}

/* Pushes key=value with value checked; nothing when value is NULL. */
static int label_push_value(struct build *b, struct label_vec *v, const char *key,
			    const char *value)
{
	int r;

	if (!value)
		return 0;
	r = label_value(b, value, &value);
	if (r < 0)
		return r;
	return label_push(v, key, value);
}

/* Formats into the arena (valid UTF-8, the offending bytes replaced). */
__attribute__((format(printf, 3, 0))) static int build_vprintf(struct build *b, const char **ret,
							       const char *fmt, va_list ap)
{
	buf_reset(&b->scratch);
	if (buf_vprintf(&b->scratch, fmt, ap) < 0)
		return -ENOMEM;
	return arena_utf8_copy(b->ts->arena, b->scratch.data, b->scratch.len, ret);
}

__attribute__((format(printf, 3, 4))) static int build_printf(struct build *b, const char **ret,
							      const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = build_vprintf(b, ret, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- interned label keys ---- */

static size_t intern_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

static const char **intern_slot(const struct intern *in, const char *s, size_t len)
{
	size_t mask = in->n_slots - 1, i = intern_hash(s, len) & mask;

	while (in->slots[i] && (strncmp(in->slots[i], s, len) != 0 || in->slots[i][len] != '\0'))
		i = (i + 1) & mask;
	return &in->slots[i];
}

static int intern_grow(struct intern *in)
{
	struct intern next = { .n_slots = in->n_slots ? in->n_slots * 2 : 256, .used = in->used };
	size_t i;

	next.slots = calloc(next.n_slots, sizeof(*next.slots));
	if (!next.slots)
		return -ENOMEM;
	for (i = 0; i < in->n_slots; i++)
		if (in->slots[i])
			*intern_slot(&next, in->slots[i], strlen(in->slots[i])) = in->slots[i];
	free(in->slots);
	*in = next;
	return 0;
}

/* Returns in *ret the one arena copy of s (len bytes). */
static int intern_get(struct build *b, const char *s, size_t len, const char **ret)
{
	struct intern *in = &b->keys;
	const char **slot;
	char *copy;
	int r;

	if (in->used * 2 >= in->n_slots) {
		r = intern_grow(in);
		if (r < 0)
			return r;
	}
	slot = intern_slot(in, s, len);
	if (!*slot) {
		copy = arena_alloc(b->ts->arena, len + 1, 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, s, len);
		copy[len] = '\0';
		*slot = copy;
		in->used++;
	}
	*ret = *slot;
	return 0;
}

/* The interned label key prefix + sanitized key. */
static int label_key(struct build *b, const char *prefix, const char *key, const char **ret)
{
	size_t at;
	int r;

	buf_reset(&b->scratch);
	r = buf_puts(&b->scratch, prefix);
	if (r >= 0)
		r = buf_puts(&b->scratch, key);
	if (r < 0)
		return -ENOMEM;
	at = strlen(prefix);
	targets_sanitize_label(b->scratch.data + at, b->scratch.data + at);
	return intern_get(b, b->scratch.data, strlen(b->scratch.data), ret);
}

/* ---- sets, skips and notes ---- */

static int note_add(struct build *b, const char *text)
{
	struct target_set *ts = b->ts;
	struct target_note *p;

	p = vec_grow(ts->notes, &b->alloc_notes, ts->n_notes, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ts->notes = p;
	ts->notes[ts->n_notes++] = (struct target_note){ b->ns, b->svc, text };
	return 0;
}

__attribute__((format(printf, 2, 0))) static int note_vprintf(struct build *b, const char *fmt,
							      va_list ap)
{
	const char *text;
	int r;

	r = build_vprintf(b, &text, fmt, ap);
	return r < 0 ? r : note_add(b, text);
}

/* Counts and notes a bad knob or extra endpoint of the current service. */
__attribute__((format(printf, 2, 3))) static int knob_bad(struct build *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	b->ts->invalid_knobs++;
	b->ts->services[b->cur].invalid_knobs++;
	va_start(ap, fmt);
	r = note_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Notes a problem of the current service without counting it. */
__attribute__((format(printf, 2, 3))) static int note_printf(struct build *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = note_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Records that in is skipped. Returns 1 (skipped) or -ENOMEM. */
static int instance_skip(struct build *b, const struct cm_instance *in,
			 enum target_skip_reason reason, const char *detail)
{
	struct target_set *ts = b->ts;
	struct target_skip *p;

	p = vec_grow(ts->skips, &b->alloc_skips, ts->n_skips, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ts->skips = p;
	ts->skips[ts->n_skips++] = (struct target_skip){ b->ns, b->svc, in->id, reason, detail };
	ts->skipped[reason]++;
	ts->services[b->cur].skipped++;
	return 1;
}

static struct target *target_push(struct build *b)
{
	struct target_set *ts = b->ts;
	struct target *p;

	p = vec_grow(ts->targets, &b->alloc_targets, ts->n_targets, sizeof(*p));
	if (!p)
		return NULL;
	ts->targets = p;
	ts->services[b->cur].targets++;
	return &ts->targets[ts->n_targets++];
}

/* ---- tags and attributes as labels ---- */

static int ranked_cmp(const void *pa, const void *pb)
{
	const struct ranked_label *a = pa, *b = pb;
	int r = strcmp(a->key, b->key);

	return r ? r : strcmp(a->orig, b->orig);
}

/* Fills b->ranked with the labels of n pairs, sorted by label key and then
 * by original key. */
static int ranked_fill(struct build *b, const char *prefix, const struct kv *kv, size_t n)
{
	struct ranked_label *p;
	size_t i;
	int r;

	if (n > b->alloc_ranked) {
		p = realloc(b->ranked, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		b->ranked = p;
		b->alloc_ranked = n;
	}
	for (i = 0; i < n; i++) {
		r = label_key(b, prefix, kv[i].key, &b->ranked[i].key);
		if (r < 0)
			return r;
		b->ranked[i].value = kv[i].value;
		b->ranked[i].orig = kv[i].key;
	}
	if (n > 1)
		qsort(b->ranked, n, sizeof(*b->ranked), ranked_cmp);
	return 0;
}

/* Pushes prefix + sanitized key = value for each pair. Of keys that sanitize
 * alike, the original key first in byte order wins; the others are counted
 * and, for tags (note_tags), noted. */
static int kv_labels(struct build *b, const char *prefix, const struct kv *kv, size_t n,
		     struct label_vec *out, bool note_tags)
{
	const struct ranked_label *rl, *kept = NULL;
	size_t i;
	int r;

	r = ranked_fill(b, prefix, kv, n);
	for (i = 0; r >= 0 && i < n; i++) {
		rl = &b->ranked[i];
		if (kept && kept->key == rl->key) { /* interned: equal keys, equal pointers */
			b->ts->label_collisions++;
			b->ts->services[b->cur].label_collisions++;
			if (note_tags)
				r = note_printf(b,
						"tag \"%.*s\" dropped: its label name is "
						"taken by tag \"%.*s\"",
						DETAIL_VALUE_BYTES, rl->orig, DETAIL_VALUE_BYTES,
						kept->orig);
			continue;
		}
		kept = rl;
		r = label_push_value(b, out, rl->key, rl->value);
	}
	return r < 0 ? r : 0;
}

/* ---- the service ---- */

static const char *tag(const struct build *b, const char *key)
{
	return kv_array_get(b->svc->tags, b->svc->n_tags, key);
}

static const char *attr(const struct cm_instance *in, const char *key)
{
	return kv_array_get(in->attrs, in->n_attrs, key);
}

static int service_begin(struct build *b, const struct cm_namespace *ns,
			 const struct cm_service *svc)
{
	struct target_set *ts = b->ts;
	struct target_service *p;
	const char *def = b->opts->default_metrics_path;

	p = vec_grow(ts->services, &b->alloc_services, ts->n_services, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ts->services = p;
	b->cur = ts->n_services++;
	ts->services[b->cur] = (struct target_service){ .ns = ns, .svc = svc };
	b->ns = ns;
	b->svc = svc;
	b->path = tag(b, "METRICS_PATH");
	b->path_src = "tag METRICS_PATH";
	if (!b->path && def && *def) {
		b->path = def;
		b->path_src = "default metrics path";
	}
	return 0;
}

static int service_skip_all(struct build *b)
{
	size_t i;
	int r;

	for (i = 0; i < b->svc->n_instances; i++) {
		r = instance_skip(b, &b->svc->instances[i], TARGET_SKIP_NO_METRICS_PATH, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The labels every target of the service carries, but tags and knobs. */
static int service_fixed_labels(struct build *b)
{
	struct label_vec *v = &b->svc_labels;
	int r;

	r = label_push_value(b, v, "__meta_cloudmap_namespace_name", b->ns->name);
	if (r >= 0)
		r = label_push_value(b, v, "__meta_cloudmap_namespace_id", b->ns->id);
	if (r >= 0)
		r = label_push_value(b, v, "__meta_cloudmap_namespace_type", b->ns->type);
	if (r >= 0)
		r = label_push_value(b, v, "__meta_cloudmap_service_name", b->svc->name);
	if (r >= 0)
		r = label_push_value(b, v, "__meta_cloudmap_service_id", b->svc->id);
	if (r >= 0 && b->opts->legacy_labels)
		r = label_push_value(b, v, "namespace", b->ns->name);
	return r;
}

/* A duration knob: *ret_ms is 0 when the tag is absent or bad. */
static int knob_duration(struct build *b, const char *key, uint64_t *ret_ms)
{
	const char *v = tag(b, key);

	*ret_ms = 0;
	if (!v || targets_parse_duration(v, ret_ms) == 0)
		return 0;
	return knob_bad(b, "%s=\"%.*s\": not a Prometheus duration", key, DETAIL_VALUE_BYTES, v);
}

static int service_knobs(struct build *b)
{
	const char *scheme = tag(b, "METRICS_SCHEME");
	uint64_t interval_ms = 0, timeout_ms = 0;
	int r = 0;

	if (scheme && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0))
		r = label_push(&b->svc_labels, "__scheme__", scheme);
	else if (scheme)
		r = knob_bad(b, "METRICS_SCHEME=\"%.*s\": not http or https", DETAIL_VALUE_BYTES,
			     scheme);
	if (r >= 0)
		r = knob_duration(b, "SCRAPE_INTERVAL", &interval_ms);
	if (r >= 0)
		r = knob_duration(b, "SCRAPE_TIMEOUT", &timeout_ms);
	if (r >= 0 && interval_ms && timeout_ms > interval_ms) {
		r = knob_bad(b, "SCRAPE_TIMEOUT=\"%s\" is longer than SCRAPE_INTERVAL=\"%s\"",
			     tag(b, "SCRAPE_TIMEOUT"), tag(b, "SCRAPE_INTERVAL"));
		timeout_ms = 0;
	}
	if (r >= 0 && interval_ms)
		r = label_push(&b->svc_labels, "__scrape_interval__", tag(b, "SCRAPE_INTERVAL"));
	if (r >= 0 && timeout_ms)
		r = label_push(&b->svc_labels, "__scrape_timeout__", tag(b, "SCRAPE_TIMEOUT"));
	return r;
}

/* Adds an extra endpoint, or notes why it cannot be one. */
static int endpoint_add(struct build *b, const char *name, const char *port_key, const char *port,
			const char *path_key, const char *path)
{
	struct endpoint *p;
	unsigned n;
	int r;

	if (port_parse(port, &n) < 0)
		return knob_bad(b, "%s=\"%.*s\": not a port in 1..65535", port_key,
				DETAIL_VALUE_BYTES, port);
	if (path[0] != '/')
		return knob_bad(b, "%s=\"%.*s\": does not start with '/'", path_key,
				DETAIL_VALUE_BYTES, path);
	p = vec_grow(b->extra, &b->alloc_extra, b->n_extra, sizeof(*p));
	if (!p)
		return -ENOMEM;
	b->extra = p;
	p = &b->extra[b->n_extra];
	p->port = n;
	r = label_value(b, name, &p->name);
	if (r >= 0)
		r = label_value(b, path, &p->path);
	if (r >= 0)
		b->n_extra++;
	return r;
}

static int service_ecs_endpoint(struct build *b)
{
	const char *port = tag(b, "ECS_METRICS_PORT"), *path = tag(b, "ECS_METRICS_PATH");

	if (!port && !path)
		return 0;
	if (!port || !path)
		return knob_bad(b, "%s is set without %s",
				port ? "ECS_METRICS_PORT" : "ECS_METRICS_PATH",
				port ? "ECS_METRICS_PATH" : "ECS_METRICS_PORT");
	return endpoint_add(b, "ecs", "ECS_METRICS_PORT", port, "ECS_METRICS_PATH", path);
}

/* The value of the tag prefix + name, NULL when absent. */
static int tag_named(struct build *b, const char *prefix, const char *name, const char **ret)
{
	buf_reset(&b->scratch);
	if (buf_puts(&b->scratch, prefix) < 0 || buf_puts(&b->scratch, name) < 0)
		return -ENOMEM;
	*ret = tag(b, b->scratch.data);
	return 0;
}

/* One tag METRICS_PORT_<name> or METRICS_PATH_<name>: an endpoint from the
 * first of a pair, a note for a lone half or a bad name. */
static int service_named_endpoint(struct build *b, const struct kv *t)
{
	size_t plen = strlen(NAMED_PORT_PREFIX);
	const char *name = t->key + plen, *other, *path_key;
	int r;

	if (strncmp(t->key, NAMED_PATH_PREFIX, plen) == 0) {
		r = tag_named(b, NAMED_PORT_PREFIX, name, &other);
		if (r < 0 || other)
			return r; /* a pair is handled with its port */
		return knob_bad(b, "%.*s is set without %s%.*s", DETAIL_VALUE_BYTES, t->key,
				NAMED_PORT_PREFIX, DETAIL_VALUE_BYTES, name);
	}
	r = tag_named(b, NAMED_PATH_PREFIX, name, &other);
	if (r < 0)
		return r;
	if (!other)
		return knob_bad(b, "%.*s is set without %s%.*s", DETAIL_VALUE_BYTES, t->key,
				NAMED_PATH_PREFIX, DETAIL_VALUE_BYTES, name);
	if (!*name || strcmp(name, "app") == 0 || strcmp(name, "ecs") == 0)
		return knob_bad(b, "%.*s: endpoint name \"%s\" is empty or reserved",
				DETAIL_VALUE_BYTES, t->key, name);
	r = build_printf(b, &path_key, "%s%s", NAMED_PATH_PREFIX, name);
	if (r < 0)
		return r;
	return endpoint_add(b, name, t->key, t->value, path_key, other);
}

/* Named endpoints, in the order of their names (the tags are sorted). */
static int service_named_endpoints(struct build *b)
{
	size_t plen = strlen(NAMED_PORT_PREFIX), i;
	const struct kv *t;
	int r;

	for (i = 0; i < b->svc->n_tags; i++) {
		t = &b->svc->tags[i];
		if (strncmp(t->key, NAMED_PORT_PREFIX, plen) != 0 &&
		    strncmp(t->key, NAMED_PATH_PREFIX, plen) != 0)
			continue;
		r = service_named_endpoint(b, t);
		if (r < 0)
			return r;
	}
	return 0;
}

static int service_prepare(struct build *b)
{
	int r;

	b->svc_labels.n = 0;
	b->n_extra = 0;
	r = service_fixed_labels(b);
	if (r >= 0)
		r = service_knobs(b);
	if (r >= 0)
		r = service_ecs_endpoint(b);
	if (r >= 0)
		r = service_named_endpoints(b);
	if (r >= 0)
		r = kv_labels(b, TAG_PREFIX, b->svc->tags, b->svc->n_tags, &b->svc_labels, true);
	labels_sort(&b->svc_labels);
	return r;
}

/* ---- the instance ---- */

static int instance_host(struct build *b, const struct cm_instance *in, struct instance_addr *a)
{
	const char *v4 = attr(in, "AWS_INSTANCE_IPV4"), *v6 = attr(in, "AWS_INSTANCE_IPV6");
	unsigned char raw[16];
	const char *detail = NULL;
	int r = 0;

	if (v4 && inet_pton(AF_INET, v4, raw) == 1) {
		a->host = v4;
		a->v6 = false;
		return 0;
	}
	if (v6 && inet_pton(AF_INET6, v6, raw) == 1) {
		a->host = v6;
		a->v6 = true;
		return 0;
	}
	if (v4)
		r = build_printf(b, &detail, "AWS_INSTANCE_IPV4=\"%.*s\": not an IPv4 address",
				 DETAIL_VALUE_BYTES, v4);
	else if (v6)
		r = build_printf(b, &detail, "AWS_INSTANCE_IPV6=\"%.*s\": not an IPv6 address",
				 DETAIL_VALUE_BYTES, v6);
	return r < 0 ? r : instance_skip(b, in, TARGET_SKIP_NO_ADDRESS, detail);
}

static int instance_port(struct build *b, const struct cm_instance *in, struct instance_addr *a)
{
	const char *v, *src, *detail;
	int r;

	if ((v = attr(in, "METRICS_PORT")))
		src = "attribute METRICS_PORT";
	else if ((v = tag(b, "METRICS_PORT")))
		src = "tag METRICS_PORT";
	else if ((v = attr(in, "AWS_INSTANCE_PORT")))
		src = "attribute AWS_INSTANCE_PORT";
	else
		v = src = "80";
	if (port_parse(v, &a->app.port) == 0)
		return 0;
	r = build_printf(b, &detail, "%s=\"%.*s\": not a port in 1..65535", src, DETAIL_VALUE_BYTES,
			 v);
	return r < 0 ? r : instance_skip(b, in, TARGET_SKIP_BAD_PORT, detail);
}

static int instance_path(struct build *b, const struct cm_instance *in, struct instance_addr *a)
{
	const char *v = attr(in, "METRICS_PATH"), *src = "attribute METRICS_PATH", *detail;
	int r;

	if (!v) {
		v = b->path;
		src = b->path_src;
	}
	if (v[0] == '/')
		return label_value(b, v, &a->app.path);
	r = build_printf(b, &detail, "%s=\"%.*s\": does not start with '/'", src,
			 DETAIL_VALUE_BYTES, v);
	return r < 0 ? r : instance_skip(b, in, TARGET_SKIP_BAD_PATH, detail);
}

/* Fills *a, or skips the instance. Returns 0, 1 (skipped) or -ENOMEM. */
static int instance_resolve(struct build *b, const struct cm_instance *in, struct instance_addr *a)
{
	int r;

	a->app.name = "app";
	r = instance_host(b, in, a);
	if (r == 0)
		r = instance_port(b, in, a);
	if (r == 0)
		r = instance_path(b, in, a);
	return r;
}

static int instance_labels(struct build *b, const struct cm_instance *in)
{
	struct label_vec *v = &b->inst_labels;
	int r;

	v->n = 0;
	r = label_push_value(b, v, "__meta_cloudmap_instance_id", in->id);
	if (r >= 0)
		r = label_push_value(b, v, "__meta_cloudmap_instance_health_status", in->health);
	if (r >= 0)
		r = kv_labels(b, ATTR_PREFIX, in->attrs, in->n_attrs, v, false);
	if (r >= 0 && b->opts->legacy_labels) {
		r = label_push_value(b, v, "cluster", attr(in, "ECS_CLUSTER_NAME"));
		if (r >= 0)
			r = label_push_value(b, v, "service", attr(in, "ECS_SERVICE_NAME"));
		if (r >= 0)
			r = label_push_value(b, v, "taskdefinition",
					     attr(in, "ECS_TASK_DEFINITION_FAMILY"));
		if (r >= 0)
			r = label_push_value(b, v, "taskid", in->id);
	}
	labels_sort(v);
	return r;
}

/* Merges k sorted lists with distinct keys into out. */
static void labels_merge(struct target_label *out, const struct label_vec *lists, size_t k)
{
	size_t pos[3] = { 0 }, i, best;

	for (;;) {
		best = k;
		for (i = 0; i < k; i++) {
			if (pos[i] == lists[i].n)
				continue;
			if (best == k ||
			    strcmp(lists[i].v[pos[i]].key, lists[best].v[pos[best]].key) < 0)
				best = i;
		}
		if (best == k)
			return;
		*out++ = lists[best].v[pos[best]++];
	}
}

static int target_emit(struct build *b, const struct cm_instance *in, const struct instance_addr *a,
		       const struct endpoint *ep)
{
	/* In key order: "__meta_..." sorts before "__metrics_...". */
	struct target_label own[2] = { { "__meta_cloudmap_endpoint", ep->name },
				       { "__metrics_path__", ep->path } };
	const struct label_vec lists[3] = { b->svc_labels, b->inst_labels, { own, 2, 2 } };
	size_t n = b->svc_labels.n + b->inst_labels.n + 2;
	struct target_label *labels;
	char *address;
	struct target *t;

	labels = arena_alloc(b->ts->arena, n * sizeof(*labels), alignof(struct target_label));
	address = arena_alloc(b->ts->arena, strlen(a->host) + sizeof("[]:65535"), 1);
	if (!labels || !address)
		return -ENOMEM;
	labels_merge(labels, lists, 3);
	sprintf(address, a->v6 ? "[%s]:%u" : "%s:%u", a->host, ep->port);
	t = target_push(b);
	if (!t)
		return -ENOMEM;
	*t = (struct target){ address, labels, n, b->ns, b->svc, in->id, ep->name };
	return 0;
}

static int instance_build(struct build *b, const struct cm_instance *in)
{
	struct instance_addr a;
	size_t i;
	int r;

	r = instance_resolve(b, in, &a);
	if (r != 0)
		return r < 0 ? r : 0;
	r = instance_labels(b, in);
	if (r >= 0)
		r = target_emit(b, in, &a, &a.app);
	for (i = 0; r >= 0 && i < b->n_extra; i++) {
		a.app.port = b->extra[i].port;
		r = target_emit(b, in, &a, &b->extra[i]);
	}
	return r;
}

static int service_build(struct build *b, const struct cm_namespace *ns,
			 const struct cm_service *svc)
{
	size_t i;
	int r;

	r = service_begin(b, ns, svc);
	if (r < 0)
		return r;
	if (!b->path)
		return service_skip_all(b);
	r = service_prepare(b);
	for (i = 0; r >= 0 && i < svc->n_instances; i++)
		r = instance_build(b, &svc->instances[i]);
	return r;
}

/* ---- entry points ---- */

struct target_set *target_set_free(struct target_set *ts)
{
	if (!ts)
		return NULL;
	free(ts->targets);
	free(ts->skips);
	free(ts->notes);
	free(ts->services);
	arena_free(ts->arena);
	free(ts);
	return NULL;
}

static void build_done(struct build *b)
{
	target_set_free(b->ts);
	free(b->keys.slots);
	buf_done(&b->scratch);
	free(b->svc_labels.v);
	free(b->inst_labels.v);
	free(b->extra);
	free(b->ranked);
}

/* Builds the services that each() yields into a new set. */
static int targets_build_some(const struct target_options *opts,
			      int (*each)(struct build *b, const void *what), const void *what,
			      struct target_set **ret)
{
	struct build b = { .opts = opts };
	int r = -ENOMEM;

	/* Inputs are bounded by the AWS response caps; the scratch needs none. */
	buf_init(&b.scratch, SIZE_MAX / 2);
	b.ts = calloc(1, sizeof(*b.ts));
	if (!b.ts || !(b.ts->arena = calloc(1, sizeof(*b.ts->arena))))
		goto out;
	r = each(&b, what);
	if (r < 0)
		goto out;
	*ret = b.ts;
	b.ts = NULL;
out:
	build_done(&b);
	return r;
}

static int build_inventory(struct build *b, const void *what)
{
	const struct inventory *inv = what;
	const struct cm_namespace *ns;
	size_t i, j;
	int r = 0;

	for (i = 0; r >= 0 && i < inv->n_namespaces; i++) {
		ns = inv->namespaces[i];
		for (j = 0; r >= 0 && j < ns->n_services; j++)
			r = service_build(b, ns, ns->services[j]);
	}
	return r;
}

int targets_build(const struct inventory *inv, const struct target_options *opts,
		  struct target_set **ret)
{
	return targets_build_some(opts, build_inventory, inv, ret);
}

struct one_service {
	const struct cm_namespace *ns;
	const struct cm_service *svc;
};

static int build_one_service(struct build *b, const void *what)
{
	const struct one_service *one = what;

	return service_build(b, one->ns, one->svc);
}

int targets_build_service(const struct cm_namespace *ns, const struct cm_service *svc,
			  const struct target_options *opts, struct target_set **ret)
{
	struct one_service one = { ns, svc };

	return targets_build_some(opts, build_one_service, &one, ret);
}
