/* SPDX-License-Identifier: Apache-2.0 */
/*
 * partcache: the parts of the last build, by the service object they were
 * rendered from. See include/partcache.h.
 *
 * The entries are sorted by service address and found by binary search:
 * a build of n services costs n log n comparisons plus the rendering of
 * what changed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "partcache.h"

struct partcache_entry {
	struct cm_service *svc; /* a reference */
	char *namespace_id;	/* the namespace's labelled identity */
	char *namespace_name;
	char *namespace_type;
	struct snapshot_part *part; /* a reference */
};

struct partcache {
	const struct target_options *opts;
	struct partcache_entry *entries; /* sorted by svc address */
	size_t n_entries;
};

/* The entries being made by one build. */
struct partcache_next {
	struct partcache_entry *entries;
	size_t n;
	struct snapshot_part **parts; /* borrowed from entries, in inventory order */
};

static void entries_free(struct partcache_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		cm_service_unref(e[i].svc);
		free(e[i].namespace_id);
		free(e[i].namespace_name);
		free(e[i].namespace_type);
		snapshot_part_unref(e[i].part);
	}
	free(e);
}

struct partcache *partcache_new(const struct target_options *opts)
{
	struct partcache *c = calloc(1, sizeof(*c));

	if (c)
		c->opts = opts;
	return c;
}

struct partcache *partcache_free(struct partcache *c)
{
	if (!c)
		return NULL;
	entries_free(c->entries, c->n_entries);
	free(c);
	return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct partcache_entry *)a)->svc;
	uintptr_t y = (uintptr_t)((const struct partcache_entry *)b)->svc;

	return (x > y) - (x < y);
}

/* The last build's part of svc in ns, or NULL. */
static struct snapshot_part *partcache_find(const struct partcache *c,
					    const struct cm_namespace *ns,
					    const struct cm_service *svc)
{
	struct partcache_entry key = { .svc = (struct cm_service *)svc }, *e;

	if (c->n_entries == 0)
		return NULL;
	e = bsearch(&key, c->entries, c->n_entries, sizeof(*e), entry_cmp);
	if (!e || strcmp(e->namespace_id, ns->id) != 0 ||
	    strcmp(e->namespace_name, ns->name) != 0 || strcmp(e->namespace_type, ns->type) != 0)
		return NULL;
	return e->part;
}

/* svc's part: the cached one, or a new rendering. */
static int partcache_part(struct partcache *c, const struct cm_namespace *ns,
			  const struct cm_service *svc, struct partcache_stats *st,
			  struct snapshot_part **ret)
{
	struct snapshot_part *p = partcache_find(c, ns, svc);
	struct target_set *ts = NULL;
	int r;

	if (p) {
		st->reused++;
		*ret = snapshot_part_ref(p);
		return 0;
	}
	r = targets_build_service(ns, svc, c->opts, &ts);
	if (r >= 0)
		r = snapshot_part_new(ts, 0, 0, ret);
	target_set_free(ts);
	if (r >= 0)
		st->rendered++;
	return r;
}

static int entry_fill(struct partcache_entry *e, const struct cm_namespace *ns,
		      struct cm_service *svc)
{
	e->svc = cm_service_ref(svc);
	e->namespace_id = strdup(ns->id);
	e->namespace_name = strdup(ns->name);
	e->namespace_type = strdup(ns->type);
	return e->namespace_id && e->namespace_name && e->namespace_type ? 0 : -ENOMEM;
}

static int partcache_collect(struct partcache *c, const struct inventory *inv,
			     struct partcache_next *next, struct partcache_stats *st)
{
	struct partcache_entry *e;
	struct cm_namespace *ns;
	size_t i, j;
	int r;

	for (i = 0; i < inv->n_namespaces; i++) {
		ns = inv->namespaces[i];
		for (j = 0; j < ns->n_services; j++) {
			e = &next->entries[next->n++];
			r = entry_fill(e, ns, ns->services[j]);
			if (r >= 0)
				r = partcache_part(c, ns, ns->services[j], st, &e->part);
			if (r < 0)
				return r;
			next->parts[next->n - 1] = e->part;
		}
	}
	return 0;
}

static size_t inventory_services(const struct inventory *inv)
{
	size_t i, n = 0;

	for (i = 0; i < inv->n_namespaces; i++)
		n += inv->namespaces[i]->n_services;
	return n;
}

int partcache_build(struct partcache *c, const struct inventory *inv, int64_t refreshed_at_unix,
		    struct snapshot **ret, struct partcache_stats *ret_stats)
{
	size_t n = inventory_services(inv);
	struct partcache_stats st = { 0 };
	struct partcache_next next = {
		.entries = calloc(n + 1, sizeof(*next.entries)),
		.parts = calloc(n + 1, sizeof(*next.parts)),
	};
	int r = next.entries && next.parts ? 0 : -ENOMEM;

	if (r >= 0)
		r = partcache_collect(c, inv, &next, &st);
	if (r >= 0)
		r = snapshot_assemble(next.parts, next.n, refreshed_at_unix, ret);
	free(next.parts);
	if (r < 0) {
		entries_free(next.entries, next.n);
		return r;
	}
	qsort(next.entries, next.n, sizeof(*next.entries), entry_cmp);
	entries_free(c->entries, c->n_entries);
	c->entries = next.entries;
	c->n_entries = next.n;
	if (ret_stats)
		*ret_stats = st;
	return 0;
}
