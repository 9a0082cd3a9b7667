/* SPDX-License-Identifier: Apache-2.0 */
/*
 * partcache: the parts of the last build, by the service object they were
 * rendered from. See include/partcache.h.
 *
 * The entries are sorted by service address and found by binary search:
 * a build of n services costs n log n comparisons plus the rendering of
 * what changed. The services to render are rendered in parallel, on the
 * calling thread and up to PARTCACHE_THREADS - 1 short-lived threads:
 * rendering is pure (each job reads the immutable inventory and writes its
 * own slot), so the only shared state is the next job's index.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#define PARTCACHE_THREADS 4 /* at most, and no more than the CPUs online */

/* A service to render, and where its part goes. */
struct partcache_job {
	const struct cm_namespace *ns;
	const struct cm_service *svc;
	struct partcache_entry *entry;
};

/* The entries being made by one build. */
struct partcache_next {
	struct partcache_entry *entries;
	size_t n;
	struct partcache_job *jobs;
	size_t n_jobs;
	atomic_size_t next_job; /* the next job a worker takes */
	atomic_int error;	/* the first failure, or 0 */
	const struct target_options *opts;
	bool compress; /* the jobs compress their entry's part, not render it */
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

/* Renders one service into a new part, not compressed yet: compressing
 * waits until the snapshot is served (partcache_compress()). Any thread. */
static int partcache_render(const struct target_options *opts, const struct partcache_job *job)
{
	struct target_set *ts = NULL;
	int r;

	r = targets_build_service(job->ns, job->svc, opts, &ts);
	if (r >= 0)
		r = snapshot_part_new(ts, 0, SNAPSHOT_PART_PLAIN, &job->entry->part);
	target_set_free(ts);
	return r;
}

/* A worker: takes jobs until none is left or one has failed. */
static void *partcache_worker(void *arg)
{
	struct partcache_next *next = arg;
	size_t i;
	int r;

	while (!atomic_load(&next->error) &&
	       (i = atomic_fetch_add(&next->next_job, 1)) < next->n_jobs) {
		r = next->compress ? snapshot_part_compress(next->jobs[i].entry->part)
				   : partcache_render(next->opts, &next->jobs[i]);
		if (r < 0) {
			int none = 0;

			atomic_compare_exchange_strong(&next->error, &none, r);
		}
	}
	return NULL;
}

static size_t partcache_threads(size_t n_jobs)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus > 0 ? (size_t)cpus : 1;

	if (n > PARTCACHE_THREADS)
		n = PARTCACHE_THREADS;
	return n < n_jobs ? n : n_jobs;
}

/* Runs every job, on this thread and the helpers it can start (a helper
 * that cannot be started leaves its share to the others). */
static int partcache_render_all(struct partcache_next *next)
{
	pthread_t helpers[PARTCACHE_THREADS];
	size_t i, n_helpers = 0, want = partcache_threads(next->n_jobs);

	for (i = 1; i < want; i++)
		if (pthread_create(&helpers[n_helpers], NULL, partcache_worker, next) == 0)
			n_helpers++;
	partcache_worker(next);
	for (i = 0; i < n_helpers; i++)
		pthread_join(helpers[i], NULL);
	return atomic_load(&next->error);
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

/* Makes an entry per service: the cached part, or a job to render it. */
static int partcache_collect(struct partcache *c, const struct inventory *inv,
			     struct partcache_next *next, struct partcache_stats *st)
{
	struct partcache_entry *e;
	struct snapshot_part *p;
	struct cm_namespace *ns;
	size_t i, j;
	int r;

	for (i = 0; i < inv->n_namespaces; i++) {
		ns = inv->namespaces[i];
		for (j = 0; j < ns->n_services; j++) {
			e = &next->entries[next->n++];
			r = entry_fill(e, ns, ns->services[j]);
			if (r < 0)
				return r;
			p = partcache_find(c, ns, ns->services[j]);
			if (p)
				e->part = snapshot_part_ref(p);
			else
				next->jobs[next->n_jobs++] =
				    (struct partcache_job){ ns, ns->services[j], e };
		}
	}
	st->reused = next->n - next->n_jobs;
	st->rendered = next->n_jobs;
	return 0;
}

static size_t inventory_services(const struct inventory *inv)
{
	size_t i, n = 0;

	for (i = 0; i < inv->n_namespaces; i++)
		n += inv->namespaces[i]->n_services;
	return n;
}

/* The parts of the entries, in inventory order, and the snapshot. */
static int partcache_assemble(const struct partcache_next *next, int64_t refreshed_at_unix,
			      struct snapshot **ret)
{
	struct snapshot_part **parts = calloc(next->n + 1, sizeof(*parts));
	size_t i;
	int r;

	if (!parts)
		return -ENOMEM;
	for (i = 0; i < next->n; i++)
		parts[i] = next->entries[i].part;
	r = snapshot_assemble(parts, next->n, refreshed_at_unix, ret);
	free(parts);
	return r;
}

int partcache_build(struct partcache *c, const struct inventory *inv, int64_t refreshed_at_unix,
		    struct snapshot **ret, struct partcache_stats *ret_stats)
{
	size_t n = inventory_services(inv);
	struct partcache_stats st = { 0 };
	struct partcache_next next = {
		.entries = calloc(n + 1, sizeof(*next.entries)),
		.jobs = calloc(n + 1, sizeof(*next.jobs)),
		.opts = c->opts,
	};
	int r = next.entries && next.jobs ? 0 : -ENOMEM;

	if (r >= 0)
		r = partcache_collect(c, inv, &next, &st);
	if (r >= 0)
		r = partcache_render_all(&next);
	if (r >= 0)
		r = partcache_assemble(&next, refreshed_at_unix, ret);
	free(next.jobs);
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

int partcache_compress(struct partcache *c, size_t *ret_compressed)
{
	struct partcache_next next = {
		.jobs = calloc(c->n_entries + 1, sizeof(*next.jobs)),
		.compress = true,
	};
	size_t i;
	int r;

	if (!next.jobs)
		return -ENOMEM;
	for (i = 0; i < c->n_entries; i++)
		if (c->entries[i].part->json && !snapshot_part_segment(c->entries[i].part))
			next.jobs[next.n_jobs++].entry = &c->entries[i];
	r = partcache_render_all(&next);
	free(next.jobs);
	if (r == 0)
		*ret_compressed = next.n_jobs;
	return r;
}
