/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refresher: the thread that refreshes the targets. See include/refresher.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awsclient.h"
#include "buf.h"
#include "log.h"
#include "partcache.h"
#include "refresher.h"
#include "report.h"
#include "snapshot.h"
#include "telemetry.h"

#define ERRORS_LOG_MAX 2048

struct refresher {
	struct refresher_config cfg;
	struct refresher_deps deps;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stop;
	bool wake;
	/* The refresher thread's own. */
	struct inventory *inv;
	struct snapshot *published; /* the last snapshot built from inv, or NULL */
	struct partcache *parts;    /* the parts of the last build */
	int64_t last_full_ms;
	int64_t last_success_ms; /* wall clock */
	uint64_t notes_hash;	 /* of the tag notes last logged */
	unsigned consecutive_failures;
	uint64_t rng;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next interval, with +-10% jitter. */
static int64_t next_interval_ms(struct refresher *r)
{
	double u;

	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	u = (double)(r->rng >> 11) / (double)(UINT64_C(1) << 53);
	return (int64_t)((double)r->cfg.interval_ms * (0.9 + 0.2 * u));
}

/* "ns/svc: text; ..." for the log line of a refresh that met errors. */
static char *errors_text(const struct inventory *inv)
{
	struct buf b;
	size_t i;

	buf_init(&b, ERRORS_LOG_MAX);
	for (i = 0; i < inv->n_errors; i++) {
		const struct inventory_error *e = &inv->errors[i];

		/* "ns/svc: text", "ns: text", or the text alone when what
		 * failed was the list of namespaces itself. */
		if (buf_printf(&b, "%s%s%s%s%s%s", i ? "; " : "",
			       e->namespace_name ? e->namespace_name : "",
			       e->service_name ? "/" : "", e->service_name ? e->service_name : "",
			       e->namespace_name ? ": " : "", e->text) < 0) {
			buf_puts(&b, " ...");
			break;
		}
	}
	return buf_steal(&b, NULL);
}

/* "ns/svc: text; ..." of the target notes of a snapshot's services, or
 * NULL when there are none; *ret_hash identifies the notes, so unchanged
 * ones are logged once, not on every refresh. */
static char *notes_text(const struct snapshot *s, size_t *ret_n, uint64_t *ret_hash)
{
	uint64_t h = UINT64_C(14695981039346656037);
	const struct snapshot_part *p;
	bool truncated = false;
	size_t i, j, n = 0;
	struct buf b;

	buf_init(&b, ERRORS_LOG_MAX);
	for (i = 0; i < s->n_parts; i++) {
		p = s->parts[i];
		if (!p->notes)
			continue;
		if (!truncated && ((n > 0 && buf_puts(&b, "; ") < 0) || buf_puts(&b, p->notes) < 0))
			truncated = true;
		n += p->n_notes;
	}
	if (truncated)
		buf_puts(&b, " ...");
	for (j = 0; j < b.len; j++)
		h = (h ^ (unsigned char)b.data[j]) * UINT64_C(1099511628211);
	*ret_n = n;
	*ret_hash = n ? h : 0;
	if (n == 0) {
		buf_done(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* Logs the tags whose values were left out, when they changed. */
static void log_notes(struct refresher *r, const struct snapshot *s)
{
	uint64_t hash;
	size_t count;
	char *text = notes_text(s, &count, &hash);
	char n[24];

	if (hash != r->notes_hash && text) {
		snprintf(n, sizeof(n), "%zu", count);
		log_kv(LOG_LEVEL_WARN, "tags with bad values are left out", "count", n, "tags",
		       text, NULL);
	}
	r->notes_hash = hash;
	free(text);
}

/* What a refresh built: for its log line. */
struct build_outcome {
	size_t targets;	 /* served after it */
	size_t rendered; /* services rendered anew (the others' parts were reused) */
};

/* Turns an inventory into a new snapshot (not yet published), rendering
 * only the services that changed since the last build (*ret_rendered of
 * them). */
static int build(struct refresher *r, const struct inventory *inv, struct snapshot **ret,
		 size_t *ret_rendered)
{
	struct partcache_stats st;
	int e;

	e = partcache_build(r->parts, inv, inv->built_at_unix, ret, &st);
	if (e < 0)
		return e;
	log_notes(r, *ret);
	*ret_rendered = st.rendered;
	return 0;
}

/* Serves s (consumed) and hands it to the publish hook. */
static void publish(struct refresher *r, struct snapshot *s)
{
	/* Serve first: the hook may wait for a disk. */
	snapshot_store_publish(r->deps.store, snapshot_ref(s));
	if (r->deps.on_publish)
		r->deps.on_publish(r->deps.on_publish_userdata, s);
	snapshot_unref(r->published);
	r->published = s;
}

/* Compresses the parts the last build left plain, then serves the same
 * parts again as a snapshot that offers gzip. Failing costs only gzip
 * until the next build; it is logged. */
static void compress_published(struct refresher *r)
{
	struct snapshot *s = NULL, *cur = r->published;
	size_t n = 0;
	int e;

	e = partcache_compress(r->parts, &n);
	if (e == 0 && n > 0)
		e = snapshot_assemble(cur->parts, cur->n_parts,
				      atomic_load(&cur->refreshed_at_unix), &s);
	if (e < 0) {
		log_kv(LOG_LEVEL_WARN, "cannot compress the targets, serving them uncompressed",
		       "err", strerror(-e), NULL);
		return;
	}
	if (!s)
		return; /* nothing new to compress */
	snapshot_store_publish(r->deps.store, snapshot_ref(s));
	snapshot_unref(r->published);
	r->published = s;
}

/* Whether next holds exactly what prev held: a light refresh that found
 * no revision moved shares every namespace with the previous inventory. */
static bool inventory_same(const struct inventory *prev, const struct inventory *next)
{
	size_t i;

	if (!prev || prev->n_namespaces != next->n_namespaces)
		return false;
	for (i = 0; i < next->n_namespaces; i++)
		if (prev->namespaces[i] != next->namespaces[i])
			return false;
	return true;
}

/* Builds next's snapshot into *ret (NULL when there is nothing new to
 * publish): when nothing changed since the snapshot in service was built,
 * that one is confirmed instead of rendered again. */
static int build_or_confirm(struct refresher *r, const struct inventory *next, int result,
			    struct snapshot **ret, struct build_outcome *out)
{
	int e;

	*ret = NULL;
	if (result == DISCOVERY_OK && r->published && inventory_same(r->inv, next)) {
		atomic_store(&r->published->refreshed_at_unix, next->built_at_unix);
		out->targets = r->published->n_groups;
		return 0;
	}
	e = build(r, next, ret, &out->rendered);
	if (e == 0)
		out->targets = (*ret)->n_groups;
	return e;
}

static const char *result_name(int result)
{
	switch (result) {
	case DISCOVERY_OK:
		return "success";
	case DISCOVERY_PARTIAL:
		return "partial";
	default:
		return "failure";
	}
}

static void log_refresh(const char *kind, int result, const struct inventory *inv,
			const struct discovery_stats *st, int64_t duration_ms,
			const struct build_outcome *out)
{
	char ms[24], n_targets[24], n_errors[24], n_rendered[24];
	char *errors = inv->n_errors ? errors_text(inv) : NULL;

	snprintf(ms, sizeof(ms), "%lld", (long long)duration_ms);
	snprintf(n_targets, sizeof(n_targets), "%zu", out->targets);
	snprintf(n_errors, sizeof(n_errors), "%zu", inv->n_errors);
	snprintf(n_rendered, sizeof(n_rendered), "%zu", out->rendered);
	if (result == DISCOVERY_OK)
		log_kv(LOG_LEVEL_DEBUG, "refresh done", "kind", kind, "duration_ms", ms, "targets",
		       n_targets, "services_rendered", n_rendered, NULL);
	else if (result == DISCOVERY_PARTIAL)
		log_kv(LOG_LEVEL_WARN, "refresh kept the last good state of what failed", "kind",
		       kind, "duration_ms", ms, "targets", n_targets, "errors", n_errors, "failed",
		       errors ? errors : "", NULL);
	else
		log_kv(LOG_LEVEL_ERROR, "refresh failed, serving the last good targets", "kind",
		       kind, "duration_ms", ms, "err", errors ? errors : "", NULL);
	if (st->services_truncated)
		log_kvf(LOG_LEVEL_WARN,
			"services have more instances than DiscoverInstances "
			"returns (1000); the rest are not discovered",
			"services", "%u", st->services_truncated);
	if (st->namespaces_missing)
		log_kvf(LOG_LEVEL_WARN, "namespaces asked for were not found", "missing", "%u",
			st->namespaces_missing);
	free(errors);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Publishes what this refresh did for the status page. */
static void publish_report(struct refresher *r, const char *kind, int result,
			   const struct inventory *inv, const struct discovery_stats *st,
			   int64_t duration_ms)
{
	struct refresh_report *rep;

	if (result == DISCOVERY_FAILED)
		r->consecutive_failures++;
	else
		r->consecutive_failures = 0;
	if (!r->deps.reports || report_new(inv, &rep) < 0)
		return;
	rep->finished_at_ms = wall_ms();
	rep->duration_ms = duration_ms;
	rep->kind = kind;
	rep->result = result_name(result);
	rep->services_truncated = st->services_truncated;
	rep->namespaces_missing = st->namespaces_missing;
	rep->last_success_ms = r->last_success_ms;
	rep->consecutive_failures = r->consecutive_failures;
	report_store_publish(r->deps.reports, rep);
}

static bool stopping(struct refresher *r)
{
	bool stop;

	pthread_mutex_lock(&r->lock);
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

static void refresh_once(struct refresher *r, bool force_full)
{
	int64_t start = mono_ms();
	bool full = !r->inv || force_full || start - r->last_full_ms >= r->cfg.full_interval_ms;
	const char *kind = full ? "full" : "light";
	struct discovery_stats st;
	struct inventory *next = NULL;
	struct snapshot *snap = NULL;
	struct build_outcome out = { 0 };
	int64_t duration_ms;
	int result, e;

	result = discovery_refresh(r->deps.client, &r->cfg.discovery, r->inv, full,
				   (int64_t)time(NULL), &next, &st);
	if (stopping(r)) { /* aborted: what came back is incomplete */
		inventory_free(next);
		return;
	}
	if (result < 0) {
		log_kv(LOG_LEVEL_ERROR, "refresh failed", "kind", kind, "err", strerror(-result),
		       NULL);
		return;
	}
	if (result != DISCOVERY_FAILED) {
		e = build_or_confirm(r, next, result, &snap, &out);
		if (e < 0) {
			log_kv(LOG_LEVEL_ERROR, "cannot build the targets", "err", strerror(-e),
			       NULL);
			result = DISCOVERY_FAILED;
		} else if (full) {
			r->last_full_ms = start;
		}
	}
	duration_ms = mono_ms() - start;
	if (result != DISCOVERY_FAILED)
		r->last_success_ms = wall_ms();
	log_refresh(kind, result, next, &st, duration_ms, &out);
	publish_report(r, kind, result, next, &st, duration_ms);
	if (r->deps.telemetry)
		telemetry_refresh(r->deps.telemetry, kind, result_name(result),
				  (double)duration_ms / 1000.0, (unsigned)next->n_errors,
				  st.services_truncated);
	/* Counted before served: whoever sees the new targets sees the
	 * refresh that made them in /metrics and on the status page. */
	if (snap) {
		publish(r, snap);
		compress_published(r);
	}
	inventory_free(r->inv);
	r->inv = next;
	if (full && r->deps.on_full_refresh && !stopping(r))
		r->deps.on_full_refresh(r->deps.on_full_refresh_userdata, r->deps.client);
}

/* Waits until deadline (monotonic ms), a wake-up or a stop. Returns true
 * when woken for a full refresh, false otherwise; sets *ret_stop. */
static bool wait_until(struct refresher *r, int64_t deadline, bool *ret_stop)
{
	struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };
	bool woke;

	pthread_mutex_lock(&r->lock);
	while (!r->stop && !r->wake)
		if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
			break;
	woke = r->wake;
	r->wake = false;
	*ret_stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return woke;
}

static void *refresher_main(void *arg)
{
	struct refresher *r = arg;
	bool full = true, stop = false;

	while (!stop) {
		int64_t start = mono_ms();

		refresh_once(r, full);
		full = wait_until(r, start + next_interval_ms(r), &stop);
	}
	return NULL;
}

int refresher_start(const struct refresher_config *cfg, const struct refresher_deps *deps,
		    struct refresher **ret)
{
	struct refresher *r = calloc(1, sizeof(*r));
	pthread_condattr_t attr;
	int e;

	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->deps = *deps;
	r->rng = (uint64_t)mono_ms() * UINT64_C(0x9E3779B97F4A7C15) | 1;
	r->parts = partcache_new(&r->cfg.targets);
	if (!r->parts) {
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &attr);
	pthread_condattr_destroy(&attr);
	e = pthread_create(&r->thread, NULL, refresher_main, r);
	if (e) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		partcache_free(r->parts);
		free(r);
		return -e;
	}
	*ret = r;
	return 0;
}

void refresher_wake(struct refresher *r)
{
	pthread_mutex_lock(&r->lock);
	r->wake = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

struct refresher *refresher_stop(struct refresher *r)
{
	if (!r)
		return NULL;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	aws_client_abort(r->deps.client);
	pthread_join(r->thread, NULL);
	snapshot_unref(r->published);
	partcache_free(r->parts);
	inventory_free(r->inv);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}
