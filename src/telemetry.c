/* SPDX-License-Identifier: Apache-2.0 */
/*
 * telemetry: cloudmap-sd's own metrics. See include/telemetry.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "endpoint.h"
#include "metrics.h"
#include "procstat.h"
#include "snapshot.h"
#include "telemetry.h"

static const double duration_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };

static const char *const l_kind[] = { "kind" };
static const char *const l_kind_result[] = { "kind", "result" };
static const char *const l_aws[] = { "service", "operation", "outcome" };
static const char *const l_aws_op[] = { "service", "operation" };
static const char *const l_http[] = { "handler", "code" };

#define DESC(t, n, h, l, nl)                                                                \
	{                                                                                   \
		.type = (t), .name = (n), .help = (h), .label_names = (l), .n_labels = (nl) \
	}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int register_all(struct telemetry *t)
{
	struct metrics_desc d[] = {
		{ .type = METRICS_HISTOGRAM,
		  .name = "cloudmap_sd_refresh_duration_seconds",
		  .help = "How long refreshes took until their targets were served, by kind (full "
			  "or light).",
		  .label_names = l_kind,
		  .n_labels = 1,
		  .buckets = duration_buckets,
		  .n_buckets = sizeof(duration_buckets) / sizeof(duration_buckets[0]) },
		DESC(METRICS_COUNTER, "cloudmap_sd_refreshes_total",
		     "Refreshes by kind and result (success, partial, failure).", l_kind_result, 2),
		DESC(METRICS_GAUGE, "cloudmap_sd_last_success_timestamp_seconds",
		     "When the last refresh that confirmed the targets ended, in Unix time.", NULL,
		     0),
		DESC(METRICS_GAUGE, "cloudmap_sd_last_refresh_errors",
		     "Namespaces and services the last refresh could not fetch (their last good "
		     "state is kept).",
		     NULL, 0),
		DESC(METRICS_COUNTER, "cloudmap_sd_aws_requests_total",
		     "AWS API attempts by service, operation and outcome.", l_aws, 3),
		DESC(METRICS_COUNTER, "cloudmap_sd_aws_retries_total",
		     "AWS API attempts that were retried.", l_aws_op, 2),
		DESC(METRICS_COUNTER, "cloudmap_sd_aws_throttles_total",
		     "AWS API attempts that AWS throttled.", l_aws_op, 2),
		DESC(METRICS_COUNTER, "cloudmap_sd_http_requests_total",
		     "HTTP requests served, by handler and status code.", l_http, 2),
		DESC(METRICS_GAUGE, "cloudmap_sd_truncated_services",
		     "Services with more instances than DiscoverInstances returns (1000).", NULL,
		     0),
		DESC(METRICS_GAUGE, "cloudmap_sd_client_refresh_interval_seconds",
		     "The refresh interval the last client of /targets announced "
		     "(X-Prometheus-Refresh-Interval-Seconds); 0 until one does.",
		     NULL, 0),
	};
	struct metrics_family **f[] = {
		&t->refresh_duration, &t->refreshes,
		&t->last_success,     &t->last_errors,
		&t->aws_requests,     &t->aws_retries,
		&t->aws_throttles,    &t->http_requests,
		&t->truncated,	      &t->client_refresh_interval,
	};
	size_t i;
	int r;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		r = metrics_register(t->registry, &d[i], f[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_build_info(struct telemetry *t)
{
	static const char *const names[] = { "version", "revision" };
	static const char *const values[] = { CLOUDMAP_SD_VERSION, CLOUDMAP_SD_REVISION };
	struct metrics_desc d =
	    DESC(METRICS_GAUGE, "cloudmap_sd_build_info",
		 "A metric with a constant '1' value labeled by the version and "
		 "revision cloudmap-sd was built from.",
		 names, 2);
	struct metrics_family *f;
	struct metrics_series *s;
	int r;

	r = metrics_register(t->registry, &d, &f);
	if (r == 0)
		r = metrics_family_child(f, values, &s);
	if (r == 0)
		metrics_gauge_set(s, 1);
	return r;
}

static int collect_targets(struct buf *out, const struct snapshot *s)
{
	static const char *const names[] = { "namespace", "service" };
	size_t i;
	int r;

	r = metrics_write_header(out, "cloudmap_sd_targets",
				 "Scrape targets served, by namespace and service.", METRICS_GAUGE);
	for (i = 0; r == 0 && i < s->n_services; i++) {
		const char *values[] = { s->names[s->services[i].namespace_idx],
					 s->names[s->services[i].service_idx] };

		r = metrics_write_sample(out, "cloudmap_sd_targets", names, values, 2,
					 s->services[i].targets);
	}
	return r;
}

static int collect_skipped(struct buf *out, const struct snapshot *s)
{
	static const char *const names[] = { "reason" };
	int i, r;

	r = metrics_write_header(out, "cloudmap_sd_skipped_instances",
				 "Instances seen but not turned into a target, by reason.",
				 METRICS_GAUGE);
	for (i = 0; r == 0 && i < TARGET_SKIP_COUNT; i++) {
		const char *values[] = { target_skip_reason_name(i) };

		r = metrics_write_sample(out, "cloudmap_sd_skipped_instances", names, values, 1,
					 s->skipped[i]);
	}
	return r;
}

static int gauge(struct buf *out, const char *name, const char *help, double v)
{
	int r = metrics_write_header(out, name, help, METRICS_GAUGE);

	return r ? r : metrics_write_sample(out, name, NULL, NULL, 0, v);
}

/* What the target rules left out, from the tags and attributes. */
static int collect_rules(struct buf *out, const struct snapshot *s)
{
	int r;

	r = gauge(out, "cloudmap_sd_invalid_tag_values",
		  "Tags whose values were left out (bad METRICS_SCHEME, SCRAPE_INTERVAL, "
		  "SCRAPE_TIMEOUT or extra endpoints); the log names them.",
		  s->invalid_knobs);
	if (r == 0)
		r = gauge(out, "cloudmap_sd_label_collisions",
			  "Tag and attribute keys dropped because another key sanitized to the "
			  "same label name.",
			  s->label_collisions);
	if (r == 0)
		r = gauge(out, "cloudmap_sd_invalid_utf8_label_values",
			  "Label values whose invalid UTF-8 was replaced.", s->invalid_utf8);
	return r;
}

static int collect_age(struct buf *out, const struct snapshot *s, int64_t now_ms)
{
	int r;

	r = metrics_write_header(out, "cloudmap_sd_snapshot_age_seconds",
				 "Seconds since the served targets were last confirmed by AWS.",
				 METRICS_GAUGE);
	if (r == 0)
		r = metrics_write_sample(out, "cloudmap_sd_snapshot_age_seconds", NULL, NULL, 0,
					 (double)(now_ms - s->refreshed_at_unix * 1000) / 1000.0);
	if (r == 0)
		r = metrics_write_header(out, "cloudmap_sd_snapshot_warm_start",
					 "1 while the targets served come from the file_sd warm "
					 "start, not yet confirmed by AWS.",
					 METRICS_GAUGE);
	if (r == 0)
		r = metrics_write_sample(out, "cloudmap_sd_snapshot_warm_start", NULL, NULL, 0,
					 s->warm_start ? 1 : 0);
	return r;
}

/* Renders what the current snapshot says; nothing before the first one. */
static int collect_snapshot(struct buf *out, void *userdata)
{
	struct telemetry *t = userdata;
	struct snapshot *s = snapshot_store_get(t->store);
	int r = 0;

	if (!s)
		return 0;
	r = collect_targets(out, s);
	if (r == 0)
		r = collect_skipped(out, s);
	if (r == 0)
		r = collect_age(out, s, t->now_ms());
	if (r == 0)
		r = collect_rules(out, s);
	snapshot_unref(s);
	return r;
}

int telemetry_init(struct telemetry *t, struct snapshot_store *store)
{
	int r;

	memset(t, 0, sizeof(*t));
	t->store = store;
	t->now_ms = wall_ms;
	t->registry = metrics_registry_new();
	if (!t->registry)
		return -ENOMEM;
	r = register_all(t);
	if (r == 0)
		r = set_build_info(t);
	if (r == 0)
		r = metrics_register_collector(t->registry, procstat_collect, NULL);
	if (r == 0)
		r = metrics_register_collector(t->registry, collect_snapshot, t);
	if (r < 0)
		telemetry_done(t);
	return r;
}

void telemetry_done(struct telemetry *t)
{
	t->registry = metrics_registry_free(t->registry);
}

static void inc(struct metrics_family *f, const char *const *values)
{
	struct metrics_series *s;

	if (metrics_family_child(f, values, &s) == 0)
		metrics_counter_inc(s);
}

void telemetry_observe_aws(void *userdata, const struct aws_attempt_info *a)
{
	struct telemetry *t = userdata;
	const char *service = endpoint_signing_name(a->service);
	const char *values[] = { service, a->operation, a->outcome };

	inc(t->aws_requests, values);
	if (a->will_retry)
		inc(t->aws_retries, values);
	if (strcmp(a->outcome, "throttled") == 0)
		inc(t->aws_throttles, values);
}

static void gauge_set(struct metrics_family *f, double v)
{
	struct metrics_series *s;

	if (metrics_family_child(f, NULL, &s) == 0)
		metrics_gauge_set(s, v);
}

void telemetry_refresh(struct telemetry *t, const char *kind, const char *result,
		       double duration_sec, unsigned errors, unsigned truncated)
{
	const char *values[] = { kind, result };
	struct metrics_series *s;

	if (metrics_family_child(t->refresh_duration, values, &s) == 0)
		metrics_histogram_observe(s, duration_sec);
	inc(t->refreshes, values);
	gauge_set(t->last_errors, errors);
	gauge_set(t->truncated, truncated);
	if (strcmp(result, "failure") != 0)
		gauge_set(t->last_success, (double)t->now_ms() / 1000.0);
}
