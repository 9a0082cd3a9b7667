/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: Prometheus counters, gauges and histograms and their text
 * exposition (format 0.0.4), shared by cloudmap-sd and the demo web app.
 *
 * DESIGN
 * A registry owns families. A family has a type, a name, a HELP text and a
 * fixed list of label names; it owns its series ("children"), one per list
 * of label values, created on first use up to a cap. Nothing is removed
 * before the registry is freed, so a series pointer stays valid for the
 * registry's lifetime and the hot path needs neither a lock nor a reference.
 *
 *  - Updates (metrics_counter_inc() ...) are lock-free C11 atomics; doubles
 *    are updated by compare-and-swap on their bit pattern. Integer counter
 *    increments use a separate integer, so they add up exactly.
 *  - metrics_family_child() finds an existing series without a lock (an
 *    insert-only hash table published with release stores); creating one
 *    takes the family's mutex.
 *  - Registration takes the registry's mutex; metrics_render() copies the
 *    list of families and collectors under it and renders without it.
 *
 * Collectors are callbacks that append whole families at render time, for
 * values that live elsewhere (process statistics, a published snapshot).
 * They write through metrics_write_header() and metrics_write_sample(),
 * which validate names and escape text, so no collector escapes by hand.
 *
 * Output: families in name order, each with its HELP and TYPE lines and its
 * series sorted by label values (byte order, label by label); then each
 * collector's output in the order the collectors were registered. A family
 * with labels and no series yet is left out. All output is valid UTF-8:
 * invalid bytes in HELP texts or label values are written as U+FFFD.
 */
#ifndef CLOUDMAP_METRICS_H
#define CLOUDMAP_METRICS_H

#include <stddef.h>

#include "buf.h"

/* The Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define METRICS_MAX_LABELS	     16	  /* label names per family */
#define METRICS_MAX_BUCKETS	     64	  /* histogram bounds, +Inf not counted */
#define METRICS_DEFAULT_MAX_CHILDREN 1000 /* series per family when desc says 0 */
#define METRICS_VALUE_MAX	     32	  /* bytes metrics_format_value() may write */

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* What metrics_register() creates; borrowed for the call (it copies). */
struct metrics_desc {
	enum metrics_type type;
	const char *name;		/* [a-zA-Z_:][a-zA-Z0-9_:]* */
	const char *help;		/* not NULL; escaped when rendered */
	const char *const *label_names; /* [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix */
	size_t n_labels;		/* at most METRICS_MAX_LABELS */
	const double *buckets;		/* histograms: finite, strictly increasing */
	size_t n_buckets;		/* 0 for counters and gauges */
	size_t max_children;		/* 0: METRICS_DEFAULT_MAX_CHILDREN */
};

struct metrics_registry;
struct metrics_family;
struct metrics_series;

/* Appends families to out at render time. Returns 0 or a negative errno,
 * which ends the rendering. Called from the thread that renders, possibly
 * from several at once; it may register nothing in the same registry. */
typedef int (*metrics_collect_fn)(struct buf *out, void *userdata);

/* Returns a new empty registry, or NULL on ENOMEM. */
struct metrics_registry *metrics_registry_new(void);

/* Frees reg, its families and their series; accepts NULL; returns NULL.
 * No other thread may use the registry or any of its series any more. */
struct metrics_registry *metrics_registry_free(struct metrics_registry *reg);

/* Creates a family. Returns 0 and in *ret a family borrowed from reg (valid
 * until metrics_registry_free()); -EINVAL for a bad name, label name, label
 * count or bucket list ("le" is no label of a histogram); -EEXIST when the
 * name is taken; -ENOMEM. A family without labels gets its one series (at
 * zero) at once. Thread-safe. */
int metrics_register(struct metrics_registry *reg, const struct metrics_desc *desc,
		     struct metrics_family **ret);

/* Adds a collector called by every metrics_render(), after the families.
 * userdata is borrowed and must outlive reg. Returns 0 or -ENOMEM.
 * Thread-safe. */
int metrics_register_collector(struct metrics_registry *reg, metrics_collect_fn fn, void *userdata);

/* Finds the series of f with these label values (an array of the family's
 * n_labels strings; NULL when it has none), creating it at zero on first
 * use. Returns 0 and in *ret a series borrowed from the registry; -EINVAL
 * when a value is missing or not valid UTF-8; -ENOSPC when f already has
 * its maximum number of series; -ENOMEM. Lock-free when the series exists.
 * Thread-safe. */
int metrics_family_child(struct metrics_family *f, const char *const *label_values,
			 struct metrics_series **ret);

/* Counter updates. metrics_counter_add() ignores a negative or NaN v.
 * Lock-free, thread-safe; for counter series only. */
void metrics_counter_inc(struct metrics_series *s);
void metrics_counter_add(struct metrics_series *s, double v);

/* Gauge updates. Lock-free, thread-safe; for gauge series only. */
void metrics_gauge_set(struct metrics_series *s, double v);
void metrics_gauge_add(struct metrics_series *s, double v);

/* Records one observation: the first bucket whose bound is >= v (or +Inf)
 * counts it and v is added to the sum. Lock-free, thread-safe; for
 * histogram series only. */
void metrics_histogram_observe(struct metrics_series *s, double v);

/* The current value of a counter or a gauge, or the observation count of a
 * histogram. Thread-safe. */
double metrics_series_value(const struct metrics_series *s);

/* Appends the exposition of every family, then of every collector, to out.
 * Returns 0, or a negative errno (-EMSGSIZE past out's cap, -ENOMEM, or a
 * collector's error) with out as it was before the call. Thread-safe. */
int metrics_render(struct metrics_registry *reg, struct buf *out);

/* Appends the "# HELP" (escaped) and "# TYPE" lines of a family. Returns 0,
 * -EINVAL for a bad name or a NULL help, or a buf error (out may then hold
 * part of the lines). For collectors. */
int metrics_write_header(struct buf *out, const char *name, const char *help,
			 enum metrics_type type);

/* Appends one sample line: name{label="value",...} value. Label values are
 * escaped (backslash, double quote, newline); n_labels may be 0. Returns 0,
 * -EINVAL for a bad name or label name or a NULL value, or a buf error (out
 * may then hold part of the line). For collectors. */
int metrics_write_sample(struct buf *out, const char *name, const char *const *label_names,
			 const char *const *label_values, size_t n_labels, double value);

/* Formats v as Prometheus reads it into out (at least METRICS_VALUE_MAX
 * bytes, NUL-terminated): integral values below 1e18 in magnitude without
 * exponent or fraction, other finite values in the shortest form that reads
 * back exactly, and "+Inf", "-Inf", "NaN". */
void metrics_format_value(double v, char *out);

#endif
