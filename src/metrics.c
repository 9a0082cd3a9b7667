/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: Prometheus metrics and their text exposition. See include/metrics.h
 * for the design.
 *
 * Memory: the registry owns a sorted array of families; a family owns its
 * series. Series are reachable through two insert-only lists whose heads are
 * atomic: a hash chain (lookups) and the list of all series (rendering). A
 * series is fully built before it is published with a release store, and
 * its links never change afterwards, so readers need acquire loads only.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct metrics_series {
	struct metrics_family *family;
	struct metrics_series *hash_next; /* set before publication, then fixed */
	struct metrics_series *all_next;  /* likewise */
	uint64_t hash;
	char **label_values;	    /* family->n_labels strings, one allocation */
	_Atomic uint64_t count;	    /* counters: integer increments */
	_Atomic uint64_t bits;	    /* double: gauge value, counter fraction, histogram sum */
	_Atomic uint64_t buckets[]; /* histograms: n_bounds + 1 counts, not cumulative */
};

struct metrics_family {
	enum metrics_type type;
	char *name;
	char *help;
	char **label_names;
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	size_t max_children;
	pthread_mutex_t lock; /* serialises series creation */
	size_t n_children;    /* under lock */
	size_t table_mask;
	_Atomic(struct metrics_series *) *table;
	_Atomic(struct metrics_series *) all;
};

struct metrics_collector {
	metrics_collect_fn fn;
	void *userdata;
};

struct metrics_registry {
	pthread_mutex_t lock;
	struct metrics_family **families; /* sorted by name */
	size_t n_families;
	struct metrics_collector *collectors;
	size_t n_collectors;
};

static const char *const metrics_type_names[] = {
	[METRICS_COUNTER] = "counter",
	[METRICS_GAUGE] = "gauge",
	[METRICS_HISTOGRAM] = "histogram",
};

/* ---- doubles in atomics ---- */

static uint64_t metrics_bits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b;
}

static double metrics_double(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

static void metrics_atomic_add(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old,
						      metrics_bits(metrics_double(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- names, UTF-8 and escaping ---- */

static bool metrics_name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (c == ':')
		return colon;
	return !first && c >= '0' && c <= '9';
}

static bool metrics_valid_name(const char *s, bool colon)
{
	size_t i;

	if (!s || !*s)
		return false;
	for (i = 0; s[i]; i++)
		if (!metrics_name_char(s[i], i == 0, colon))
			return false;
	return true;
}

static bool metrics_valid_metric_name(const char *s)
{
	return metrics_valid_name(s, true);
}

static bool metrics_valid_label_name(const char *s)
{
	return metrics_valid_name(s, false) && strncmp(s, "__", 2) != 0;
}

/* The length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t metrics_utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool metrics_valid_utf8(const char *s)
{
	size_t n = strlen(s), len;

	for (; n; s += len, n -= len) {
		len = metrics_utf8_len((const unsigned char *)s, n);
		if (!len)
			return false;
	}
	return true;
}

/* The escape of byte c, or NULL when it is written as it is. */
static const char *metrics_escape_of(char c, bool quote)
{
	if (c == '\\')
		return "\\\\";
	if (c == '\n')
		return "\\n";
	if (c == '"' && quote)
		return "\\\"";
	return NULL;
}

/* Appends s escaped: backslash and newline, and double quote when quote is
 * set; invalid UTF-8 becomes U+FFFD. */
static int metrics_write_escaped(struct buf *out, const char *s, bool quote)
{
	size_t n = strlen(s), run = 0, len;
	const char *esc;
	int r = 0;

	while (run < n && r >= 0) {
		len = metrics_utf8_len((const unsigned char *)s + run, n - run);
		esc = len == 1 ? metrics_escape_of(s[run], quote) : NULL;
		if (len && !esc) {
			run += len;
			continue;
		}
		r = buf_append(out, s, run);
		if (r >= 0)
			r = buf_puts(out, esc ? esc : "\xef\xbf\xbd");
		s += run + 1;
		n -= run + 1;
		run = 0;
	}
	return r < 0 ? r : buf_append(out, s, run);
}

/* ---- values ---- */

void metrics_format_value(double v, char *out)
{
	int prec;

	if (isnan(v)) {
		strcpy(out, "NaN");
	} else if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
	} else if (v == 0) {
		strcpy(out, "0"); /* also -0 */
	} else if (fabs(v) < 1e18 && v == floor(v)) {
		snprintf(out, METRICS_VALUE_MAX, "%.0f", v);
	} else {
		/* %.15g is the shortest form of any value that has one of 15
		 * digits or fewer; 17 digits always read back exactly. */
		for (prec = 15; prec < 17; prec++) {
			snprintf(out, METRICS_VALUE_MAX, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				return;
		}
		snprintf(out, METRICS_VALUE_MAX, "%.17g", v);
	}
}

static int metrics_write_value(struct buf *out, double v)
{
	char s[METRICS_VALUE_MAX];

	metrics_format_value(v, s);
	return buf_puts(out, s);
}

/* ---- lines ---- */

int metrics_write_header(struct buf *out, const char *name, const char *help,
			 enum metrics_type type)
{
	int r;

	if (!metrics_valid_metric_name(name) || !help || (unsigned)type > METRICS_HISTOGRAM)
		return -EINVAL;
	r = buf_printf(out, "# HELP %s ", name);
	if (r >= 0)
		r = metrics_write_escaped(out, help, false);
	if (r >= 0)
		r = buf_printf(out, "\n# TYPE %s %s\n", name, metrics_type_names[type]);
	return r;
}

/* Appends {name="value",...} with extra (a label name and value, such as
 * "le") last when not NULL; nothing when there are no labels at all. */
static int metrics_write_labels(struct buf *out, const char *const *names,
				const char *const *values, size_t n, const char *extra_name,
				const char *extra_value)
{
	size_t i;
	int r = 0;

	if (!n && !extra_name)
		return 0;
	for (i = 0; i <= n && r >= 0; i++) {
		const char *name = i < n ? names[i] : extra_name;
		const char *value = i < n ? values[i] : extra_value;

		if (!name)
			break;
		r = buf_printf(out, "%s%s=\"", i ? "," : "{", name);
		if (r >= 0)
			r = metrics_write_escaped(out, value, true);
		if (r >= 0)
			r = buf_putc(out, '"');
	}
	return r < 0 ? r : buf_putc(out, '}');
}

/* Appends name+suffix{labels[,le="extra"]} value\n, value already formatted. */
static int metrics_write_line(struct buf *out, const char *suffix, const struct metrics_series *s,
			      const char *extra_value, const char *value)
{
	const struct metrics_family *f = s->family;
	int r;

	r = buf_printf(out, "%s%s", f->name, suffix);
	if (r >= 0)
		r = metrics_write_labels(out, (const char *const *)f->label_names,
					 (const char *const *)s->label_values, f->n_labels,
					 extra_value ? "le" : NULL, extra_value);
	if (r >= 0)
		r = buf_printf(out, " %s\n", value);
	return r;
}

int metrics_write_sample(struct buf *out, const char *name, const char *const *label_names,
			 const char *const *label_values, size_t n_labels, double value)
{
	size_t i;
	int r;

	if (!metrics_valid_metric_name(name) || (n_labels && (!label_names || !label_values)))
		return -EINVAL;
	for (i = 0; i < n_labels; i++)
		if (!metrics_valid_label_name(label_names[i]) || !label_values[i])
			return -EINVAL;
	r = buf_puts(out, name);
	if (r >= 0)
		r = metrics_write_labels(out, label_names, label_values, n_labels, NULL, NULL);
	if (r >= 0)
		r = buf_putc(out, ' ');
	if (r >= 0)
		r = metrics_write_value(out, value);
	return r < 0 ? r : buf_putc(out, '\n');
}

/* ---- series ---- */

static uint64_t metrics_hash(const char *const *values, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	const unsigned char *p;
	size_t i;

	for (i = 0; i < n; i++) {
		for (p = (const unsigned char *)values[i]; *p; p++)
			h = (h ^ *p) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull; /* never in UTF-8: a separator */
	}
	return h;
}

static bool metrics_series_matches(const struct metrics_series *s, uint64_t hash,
				   const char *const *values, size_t n)
{
	size_t i;

	if (s->hash != hash)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(s->label_values[i], values[i]) != 0)
			return false;
	return true;
}

static struct metrics_series *metrics_lookup(struct metrics_family *f, uint64_t hash,
					     const char *const *values)
{
	struct metrics_series *s;

	s = atomic_load_explicit(&f->table[hash & f->table_mask], memory_order_acquire);
	for (; s; s = s->hash_next)
		if (metrics_series_matches(s, hash, values, f->n_labels))
			return s;
	return NULL;
}

/* Copies n strings into one allocation: the array, then the bytes. */
static char **metrics_strv_dup(const char *const *v, size_t n)
{
	size_t i, size = (n + 1) * sizeof(char *), len;
	char **copy, *p;

	for (i = 0; i < n; i++)
		size += strlen(v[i]) + 1;
	copy = malloc(size);
	if (!copy)
		return NULL;
	p = (char *)(copy + n + 1);
	for (i = 0; i < n; i++) {
		len = strlen(v[i]) + 1;
		copy[i] = memcpy(p, v[i], len);
		p += len;
	}
	copy[n] = NULL;
	return copy;
}

static struct metrics_series *metrics_series_new(struct metrics_family *f, uint64_t hash,
						 const char *const *values)
{
	size_t n_buckets = f->type == METRICS_HISTOGRAM ? f->n_bounds + 1 : 0;
	struct metrics_series *s;

	s = calloc(1, sizeof(*s) + n_buckets * sizeof(s->buckets[0]));
	if (!s)
		return NULL;
	s->label_values = metrics_strv_dup(values, f->n_labels);
	if (!s->label_values) {
		free(s);
		return NULL;
	}
	s->family = f;
	s->hash = hash;
	return s;
}

/* Builds and publishes a new series; called with f->lock held. */
static int metrics_family_add_locked(struct metrics_family *f, uint64_t hash,
				     const char *const *values, struct metrics_series **ret)
{
	_Atomic(struct metrics_series *) *slot = &f->table[hash & f->table_mask];
	struct metrics_series *s;

	if (f->n_children >= f->max_children)
		return -ENOSPC;
	s = metrics_series_new(f, hash, values);
	if (!s)
		return -ENOMEM;
	s->hash_next = atomic_load_explicit(slot, memory_order_relaxed);
	s->all_next = atomic_load_explicit(&f->all, memory_order_relaxed);
	atomic_store_explicit(slot, s, memory_order_release);
	atomic_store_explicit(&f->all, s, memory_order_release);
	f->n_children++;
	*ret = s;
	return 0;
}

static int metrics_check_values(const struct metrics_family *f, const char *const *values)
{
	size_t i;

	if (f->n_labels && !values)
		return -EINVAL;
	for (i = 0; i < f->n_labels; i++)
		if (!values[i] || !metrics_valid_utf8(values[i]))
			return -EINVAL;
	return 0;
}

int metrics_family_child(struct metrics_family *f, const char *const *label_values,
			 struct metrics_series **ret)
{
	struct metrics_series *s;
	uint64_t hash;
	int r;

	r = metrics_check_values(f, label_values);
	if (r < 0)
		return r;
	hash = metrics_hash(label_values, f->n_labels);
	s = metrics_lookup(f, hash, label_values);
	if (!s) {
		pthread_mutex_lock(&f->lock);
		s = metrics_lookup(f, hash, label_values);
		r = s ? 0 : metrics_family_add_locked(f, hash, label_values, &s);
		pthread_mutex_unlock(&f->lock);
		if (r < 0)
			return r;
	}
	*ret = s;
	return 0;
}

static struct metrics_series *metrics_series_free(struct metrics_series *s)
{
	if (s) {
		free(s->label_values);
		free(s);
	}
	return NULL;
}

/* ---- updates ---- */

void metrics_counter_inc(struct metrics_series *s)
{
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void metrics_counter_add(struct metrics_series *s, double v)
{
	if (!(v >= 0))
		return;
	if (v == floor(v) && v < 1e15)
		atomic_fetch_add_explicit(&s->count, (uint64_t)v, memory_order_relaxed);
	else
		metrics_atomic_add(&s->bits, v);
}

void metrics_gauge_set(struct metrics_series *s, double v)
{
	atomic_store_explicit(&s->bits, metrics_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(struct metrics_series *s, double v)
{
	metrics_atomic_add(&s->bits, v);
}

/* The index of the first bound >= v, or n (the +Inf bucket). */
static size_t metrics_bucket_index(const double *bounds, size_t n, double v)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (bounds[mid] >= v)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void metrics_histogram_observe(struct metrics_series *s, double v)
{
	const struct metrics_family *f = s->family;
	size_t i = isnan(v) ? f->n_bounds : metrics_bucket_index(f->bounds, f->n_bounds, v);

	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	metrics_atomic_add(&s->bits, v);
}

static uint64_t metrics_histogram_count(const struct metrics_series *s)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i <= s->family->n_bounds; i++)
		n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
	return n;
}

static double metrics_counter_value(const struct metrics_series *s)
{
	uint64_t n = atomic_load_explicit(&s->count, memory_order_relaxed);
	double frac = metrics_double(atomic_load_explicit(&s->bits, memory_order_relaxed));

	return (double)n + frac;
}

double metrics_series_value(const struct metrics_series *s)
{
	switch (s->family->type) {
	case METRICS_COUNTER:
		return metrics_counter_value(s);
	case METRICS_HISTOGRAM:
		return (double)metrics_histogram_count(s);
	default:
		return metrics_double(atomic_load_explicit(&s->bits, memory_order_relaxed));
	}
}

/* ---- families ---- */

static int metrics_check_labels(const struct metrics_desc *d)
{
	size_t i, j;

	if (d->n_labels > METRICS_MAX_LABELS || (d->n_labels && !d->label_names))
		return -EINVAL;
	for (i = 0; i < d->n_labels; i++) {
		if (!metrics_valid_label_name(d->label_names[i]))
			return -EINVAL;
		if (d->type == METRICS_HISTOGRAM && strcmp(d->label_names[i], "le") == 0)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (strcmp(d->label_names[i], d->label_names[j]) == 0)
				return -EINVAL;
	}
	return 0;
}

static int metrics_check_buckets(const struct metrics_desc *d)
{
	size_t i;

	if (d->type != METRICS_HISTOGRAM)
		return d->n_buckets ? -EINVAL : 0;
	if (d->n_buckets > METRICS_MAX_BUCKETS || (d->n_buckets && !d->buckets))
		return -EINVAL;
	for (i = 0; i < d->n_buckets; i++)
		if (!isfinite(d->buckets[i]) || (i && d->buckets[i] <= d->buckets[i - 1]))
			return -EINVAL;
	return 0;
}

static int metrics_check_desc(const struct metrics_desc *d)
{
	if ((unsigned)d->type > METRICS_HISTOGRAM || !metrics_valid_metric_name(d->name) ||
	    !d->help)
		return -EINVAL;
	if (metrics_check_labels(d) < 0)
		return -EINVAL;
	return metrics_check_buckets(d);
}

static struct metrics_family *metrics_family_free(struct metrics_family *f)
{
	struct metrics_series *s, *next;

	if (!f)
		return NULL;
	for (s = atomic_load(&f->all); s; s = next) {
		next = s->all_next;
		metrics_series_free(s);
	}
	free(f->table);
	pthread_mutex_destroy(&f->lock);
	free(f->bounds);
	free(f->label_names);
	free(f->help);
	free(f->name);
	free(f);
	return NULL;
}

/* A power of two near half the cap, between 16 and 4096 slots. */
static size_t metrics_table_size(size_t max_children)
{
	size_t n = 16;

	while (n < 4096 && n < max_children / 2)
		n *= 2;
	return n;
}

static int metrics_family_alloc(const struct metrics_desc *d, struct metrics_family *f)
{
	size_t slots = metrics_table_size(f->max_children);

	f->name = strdup(d->name);
	f->help = strdup(d->help);
	f->label_names = metrics_strv_dup(d->label_names, d->n_labels);
	f->table = calloc(slots, sizeof(f->table[0]));
	f->bounds = malloc((d->n_buckets + 1) * sizeof(double));
	if (!f->name || !f->help || !f->label_names || !f->table || !f->bounds)
		return -ENOMEM;
	if (d->n_buckets)
		memcpy(f->bounds, d->buckets, d->n_buckets * sizeof(double));
	f->table_mask = slots - 1;
	return 0;
}

static int metrics_family_new(const struct metrics_desc *d, struct metrics_family **ret)
{
	struct metrics_family *f;
	struct metrics_series *s;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	f->type = d->type;
	f->n_labels = d->n_labels;
	f->n_bounds = d->n_buckets;
	f->max_children = d->max_children ? d->max_children : METRICS_DEFAULT_MAX_CHILDREN;
	r = metrics_family_alloc(d, f);
	if (r >= 0 && !f->n_labels)
		r = metrics_family_child(f, NULL, &s);
	if (r < 0) {
		metrics_family_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

/* ---- registry ---- */

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *reg = calloc(1, sizeof(*reg));

	if (reg)
		pthread_mutex_init(&reg->lock, NULL);
	return reg;
}

struct metrics_registry *metrics_registry_free(struct metrics_registry *reg)
{
	size_t i;

	if (!reg)
		return NULL;
	for (i = 0; i < reg->n_families; i++)
		metrics_family_free(reg->families[i]);
	free(reg->families);
	free(reg->collectors);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
	return NULL;
}

/* Inserts f in name order; called with reg->lock held. */
static int metrics_registry_insert_locked(struct metrics_registry *reg, struct metrics_family *f)
{
	struct metrics_family **v;
	size_t i;
	int cmp = 1;

	for (i = 0; i < reg->n_families; i++) {
		cmp = strcmp(f->name, reg->families[i]->name);
		if (cmp <= 0)
			break;
	}
	if (cmp == 0)
		return -EEXIST;
	v = realloc(reg->families, (reg->n_families + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memmove(v + i + 1, v + i, (reg->n_families - i) * sizeof(*v));
	v[i] = f;
	reg->families = v;
	reg->n_families++;
	return 0;
}

int metrics_register(struct metrics_registry *reg, const struct metrics_desc *desc,
		     struct metrics_family **ret)
{
	struct metrics_family *f = NULL;
	int r;

	r = metrics_check_desc(desc);
	if (r < 0)
		return r;
	r = metrics_family_new(desc, &f);
	if (r < 0)
		return r;
	pthread_mutex_lock(&reg->lock);
	r = metrics_registry_insert_locked(reg, f);
	pthread_mutex_unlock(&reg->lock);
	if (r < 0) {
		metrics_family_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

int metrics_register_collector(struct metrics_registry *reg, metrics_collect_fn fn, void *userdata)
{
	struct metrics_collector *v;
	int r = 0;

	pthread_mutex_lock(&reg->lock);
	v = realloc(reg->collectors, (reg->n_collectors + 1) * sizeof(*v));
	if (v) {
		v[reg->n_collectors++] = (struct metrics_collector){ fn, userdata };
		reg->collectors = v;
	} else {
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&reg->lock);
	return r;
}

/* ---- rendering ---- */

static int metrics_compare_series(const void *a, const void *b)
{
	const struct metrics_series *x = *(const struct metrics_series *const *)a;
	const struct metrics_series *y = *(const struct metrics_series *const *)b;
	size_t i;
	int cmp;

	for (i = 0; i < x->family->n_labels; i++) {
		cmp = strcmp(x->label_values[i], y->label_values[i]);
		if (cmp)
			return cmp;
	}
	return 0;
}

/* Returns the family's published series sorted by label values in a new
 * array (*ret_n of them), or NULL with *ret_n 0 when there are none. */
static int metrics_family_sorted(struct metrics_family *f, struct metrics_series ***ret,
				 size_t *ret_n)
{
	struct metrics_series *head = atomic_load_explicit(&f->all, memory_order_acquire), *s;
	struct metrics_series **v;
	size_t n = 0;

	for (s = head; s; s = s->all_next)
		n++;
	v = n ? malloc(n * sizeof(*v)) : NULL;
	if (n && !v)
		return -ENOMEM;
	n = 0;
	for (s = head; s; s = s->all_next)
		v[n++] = s;
	if (n > 1)
		qsort(v, n, sizeof(*v), metrics_compare_series);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int metrics_render_histogram(const struct metrics_series *s, struct buf *out)
{
	const struct metrics_family *f = s->family;
	char le[METRICS_VALUE_MAX], v[METRICS_VALUE_MAX];
	uint64_t cumulative = 0;
	size_t i;
	int r = 0;

	for (i = 0; i <= f->n_bounds && r >= 0; i++) {
		cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
		metrics_format_value(i < f->n_bounds ? f->bounds[i] : INFINITY, le);
		snprintf(v, sizeof(v), "%" PRIu64, cumulative);
		r = metrics_write_line(out, "_bucket", s, le, v);
	}
	if (r >= 0) {
		metrics_format_value(
		    metrics_double(atomic_load_explicit(&s->bits, memory_order_relaxed)), le);
		r = metrics_write_line(out, "_sum", s, NULL, le);
	}
	/* The count is the +Inf bucket's, so the two always agree. */
	return r < 0 ? r : metrics_write_line(out, "_count", s, NULL, v);
}

static int metrics_render_series(const struct metrics_series *s, struct buf *out)
{
	char v[METRICS_VALUE_MAX];

	if (s->family->type == METRICS_HISTOGRAM)
		return metrics_render_histogram(s, out);
	if (s->family->type == METRICS_COUNTER &&
	    atomic_load_explicit(&s->bits, memory_order_relaxed) == 0)
		/* Integer increments only: exact, whatever the magnitude. */
		snprintf(v, sizeof(v), "%" PRIu64,
			 atomic_load_explicit(&s->count, memory_order_relaxed));
	else
		metrics_format_value(metrics_series_value(s), v);
	return metrics_write_line(out, "", s, NULL, v);
}

static int metrics_render_family(struct metrics_family *f, struct buf *out)
{
	struct metrics_series **v;
	size_t n, i;
	int r;

	r = metrics_family_sorted(f, &v, &n);
	if (r < 0 || !n)
		return r;
	r = metrics_write_header(out, f->name, f->help, f->type);
	for (i = 0; i < n && r >= 0; i++)
		r = metrics_render_series(v[i], out);
	free(v);
	return r;
}

/* Copies the lists of families and collectors, which may grow meanwhile. */
static int metrics_registry_copy(struct metrics_registry *reg, struct metrics_registry *copy)
{
	int r = 0;

	pthread_mutex_lock(&reg->lock);
	copy->n_families = reg->n_families;
	copy->n_collectors = reg->n_collectors;
	copy->families = malloc((copy->n_families + 1) * sizeof(*copy->families));
	copy->collectors = malloc((copy->n_collectors + 1) * sizeof(*copy->collectors));
	if (!copy->families || !copy->collectors)
		r = -ENOMEM;
	if (r >= 0 && copy->n_families)
		memcpy(copy->families, reg->families, copy->n_families * sizeof(*copy->families));
	if (r >= 0 && copy->n_collectors)
		memcpy(copy->collectors, reg->collectors,
		       copy->n_collectors * sizeof(*copy->collectors));
	pthread_mutex_unlock(&reg->lock);
	return r;
}

int metrics_render(struct metrics_registry *reg, struct buf *out)
{
	struct metrics_registry copy = { 0 };
	size_t len = out->len, i;
	int r;

	r = metrics_registry_copy(reg, &copy);
	for (i = 0; i < copy.n_families && r >= 0; i++)
		r = metrics_render_family(copy.families[i], out);
	for (i = 0; i < copy.n_collectors && r >= 0; i++)
		r = copy.collectors[i].fn(out, copy.collectors[i].userdata);
	free(copy.families);
	free(copy.collectors);
	if (r < 0 && out->data) {
		out->len = len;
		out->data[len] = '\0';
	}
	return r;
}
