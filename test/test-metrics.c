/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the metrics module: the exact text of small registries (escaping,
 * histogram lines, order, value formatting), the checks at registration,
 * the cap on series, collectors, and counters and histograms updated from
 * several threads at once.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "metrics.h"
#include "test.h"

static const char *const no_labels[] = { NULL };

/* Renders reg into a new string (the caller frees it), or NULL. */
static char *render(struct metrics_registry *reg)
{
	struct buf b;

	buf_init(&b, 1u << 20);
	if (metrics_render(reg, &b) < 0) {
		buf_done(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static struct metrics_family *reg_family(struct metrics_registry *reg, enum metrics_type type,
					 const char *name, const char *help,
					 const char *const *labels, size_t n_labels)
{
	struct metrics_desc d = { .type = type,
				  .name = name,
				  .help = help,
				  .label_names = labels,
				  .n_labels = n_labels };
	struct metrics_family *f = NULL;

	return metrics_register(reg, &d, &f) < 0 ? NULL : f;
}

static struct metrics_series *child(struct metrics_family *f, const char *const *values)
{
	struct metrics_series *s = NULL;

	return metrics_family_child(f, values, &s) < 0 ? NULL : s;
}

static void test_format_value(void)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0, "0" },
		{ -0.0, "0" },
		{ 1, "1" },
		{ -42, "-42" },
		{ 1e6, "1000000" },
		{ 123456789012345678.0, "123456789012345680" },
		{ 1e18, "1e+18" },
		{ 0.1, "0.1" },
		{ 2.5, "2.5" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1e-7, "1e-07" },
		{ -1.5e300, "-1.5e+300" },
		{ 1e-300, "1e-300" },
	};
	char out[METRICS_VALUE_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_format_value(cases[i].v, out);
		CHECK_STR(out, cases[i].want);
		if (isfinite(cases[i].v))
			CHECK(strtod(out, NULL) == cases[i].v);
	}
	metrics_format_value(INFINITY, out);
	CHECK_STR(out, "+Inf");
	metrics_format_value(-INFINITY, out);
	CHECK_STR(out, "-Inf");
	metrics_format_value(NAN, out);
	CHECK_STR(out, "NaN");
}

static void test_exact_text(void)
{
	static const char *const lbl[] = { "method", "path" };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *req, *up, *temp;
	char *text;

	CHECK(reg);
	req = reg_family(reg, METRICS_COUNTER, "http_requests_total", "Requests served.", lbl, 2);
	up = reg_family(reg, METRICS_GAUGE, "up_info", "Always one.", NULL, 0);
	temp = reg_family(reg, METRICS_GAUGE, "empty_gauge", "No series yet.", lbl, 2);
	CHECK(req && up && temp);
	metrics_counter_inc(child(req, (const char *const[]){ "GET", "/work" }));
	metrics_counter_add(child(req, (const char *const[]){ "GET", "/work" }), 2);
	metrics_counter_add(child(req, (const char *const[]){ "GET", "/metrics" }), 0.5);
	metrics_counter_inc(child(req, (const char *const[]){ "DELETE", "/work" }));
	metrics_counter_add(child(req, (const char *const[]){ "DELETE", "/work" }), -3);
	metrics_gauge_set(child(up, no_labels), 1);
	text = render(reg);
	CHECK_STR(text, "# HELP http_requests_total Requests served.\n"
			"# TYPE http_requests_total counter\n"
			"http_requests_total{method=\"DELETE\",path=\"/work\"} 1\n"
			"http_requests_total{method=\"GET\",path=\"/metrics\"} 0.5\n"
			"http_requests_total{method=\"GET\",path=\"/work\"} 3\n"
			"# HELP up_info Always one.\n"
			"# TYPE up_info gauge\n"
			"up_info 1\n");
	free(text);
	metrics_registry_free(reg);
}

static void test_escaping(void)
{
	static const char *const lbl[] = { "v" };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;
	char *text;

	f = reg_family(reg, METRICS_GAUGE, "esc", "a \\ b\nc \"q\"", lbl, 1);
	CHECK(f);
	metrics_gauge_set(child(f, (const char *const[]){ "back\\slash \"quote\"\nnew" }), 1);
	metrics_gauge_set(child(f, (const char *const[]){ "caf\xc3\xa9 {x=1}" }), 2);
	text = render(reg);
	CHECK_STR(text, "# HELP esc a \\\\ b\\nc \"q\"\n"
			"# TYPE esc gauge\n"
			"esc{v=\"back\\\\slash \\\"quote\\\"\\nnew\"} 1\n"
			"esc{v=\"caf\xc3\xa9 {x=1}\"} 2\n");
	free(text);
	metrics_registry_free(reg);
}

static void test_invalid_utf8(void)
{
	static const char *const lbl[] = { "v" };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_series *s = NULL;
	struct metrics_family *f;
	struct buf b;

	f = reg_family(reg, METRICS_GAUGE, "u", "bad \xff byte", lbl, 1);
	CHECK(f);
	CHECK_INT(metrics_family_child(f, (const char *const[]){ "a\xc3" }, &s), -EINVAL);
	CHECK_INT(metrics_family_child(f, (const char *const[]){ "\xed\xa0\x80" }, &s), -EINVAL);
	CHECK_INT(metrics_family_child(f, (const char *const[]){ "\xc0\xaf" }, &s), -EINVAL);
	CHECK_INT(metrics_family_child(f, (const char *const[]){ NULL }, &s), -EINVAL);
	CHECK_INT(metrics_family_child(f, NULL, &s), -EINVAL);
	CHECK(s == NULL);
	buf_init(&b, 4096);
	CHECK_INT(metrics_write_header(&b, "u", "bad \xff byte", METRICS_GAUGE), 0);
	CHECK_STR(b.data, "# HELP u bad \xef\xbf\xbd byte\n# TYPE u gauge\n");
	buf_done(&b);
	metrics_registry_free(reg);
}

static void test_histogram(void)
{
	static const double bounds[] = { 1, 2.5, 10 };
	static const char *const lbl[] = { "path" };
	struct metrics_desc d = { .type = METRICS_HISTOGRAM,
				  .name = "lat_ms",
				  .help = "Latency.",
				  .label_names = lbl,
				  .n_labels = 1,
				  .buckets = bounds,
				  .n_buckets = 3 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_series *s;
	struct metrics_family *f;
	char *text;

	CHECK_INT(metrics_register(reg, &d, &f), 0);
	s = child(f, (const char *const[]){ "/work" });
	CHECK(s);
	metrics_histogram_observe(s, 0.5);
	metrics_histogram_observe(s, 1); /* le is inclusive */
	metrics_histogram_observe(s, 2.75);
	metrics_histogram_observe(s, 100);
	CHECK(metrics_series_value(s) == 4);
	text = render(reg);
	CHECK_STR(text, "# HELP lat_ms Latency.\n"
			"# TYPE lat_ms histogram\n"
			"lat_ms_bucket{path=\"/work\",le=\"1\"} 2\n"
			"lat_ms_bucket{path=\"/work\",le=\"2.5\"} 2\n"
			"lat_ms_bucket{path=\"/work\",le=\"10\"} 3\n"
			"lat_ms_bucket{path=\"/work\",le=\"+Inf\"} 4\n"
			"lat_ms_sum{path=\"/work\"} 104.25\n"
			"lat_ms_count{path=\"/work\"} 4\n");
	free(text);
	metrics_registry_free(reg);
}

static void test_histogram_without_labels(void)
{
	static const double bounds[] = { 0.5 };
	struct metrics_desc d = { .type = METRICS_HISTOGRAM,
				  .name = "h",
				  .help = "H.",
				  .buckets = bounds,
				  .n_buckets = 1 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;
	char *text;

	CHECK_INT(metrics_register(reg, &d, &f), 0);
	text = render(reg);
	CHECK_STR(text, "# HELP h H.\n# TYPE h histogram\n"
			"h_bucket{le=\"0.5\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
	free(text);
	metrics_registry_free(reg);
}

static void test_register_checks(void)
{
	static const double bad_order[] = { 2, 1 };
	static const double inf[] = { 1, INFINITY };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_desc d = { .type = METRICS_COUNTER, .name = "ok_total", .help = "x" };
	struct metrics_family *f = NULL;

	CHECK_INT(metrics_register(reg, &d, &f), 0);
	CHECK_INT(metrics_register(reg, &d, &f), -EEXIST);
	d.name = "9lives";
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.name = "has-dash";
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.name = "ns:sub_total";
	CHECK_INT(metrics_register(reg, &d, &f), 0);
	d.name = "h";
	d.label_names = (const char *const[]){ "__reserved" };
	d.n_labels = 1;
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.label_names = (const char *const[]){ "a:b" };
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.label_names = (const char *const[]){ "a", "a" };
	d.n_labels = 2;
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.label_names = (const char *const[]){ "le" };
	d.n_labels = 1;
	d.type = METRICS_HISTOGRAM;
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.n_labels = 0;
	d.buckets = bad_order;
	d.n_buckets = 2;
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.buckets = inf;
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.type = METRICS_GAUGE;
	d.buckets = bad_order + 1;
	d.n_buckets = 1;
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	d.help = NULL;
	d.n_buckets = 0;
	CHECK_INT(metrics_register(reg, &d, &f), -EINVAL);
	metrics_registry_free(reg);
}

static void test_child_cap(void)
{
	static const char *const lbl[] = { "id" };
	struct metrics_desc d = { .type = METRICS_COUNTER,
				  .name = "c_total",
				  .help = "x",
				  .label_names = lbl,
				  .n_labels = 1,
				  .max_children = 3 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_series *a, *again, *s = NULL;
	struct metrics_family *f;

	CHECK_INT(metrics_register(reg, &d, &f), 0);
	a = child(f, (const char *const[]){ "a" });
	CHECK(a && child(f, (const char *const[]){ "b" }) &&
	      child(f, (const char *const[]){ "c" }));
	CHECK_INT(metrics_family_child(f, (const char *const[]){ "d" }, &s), -ENOSPC);
	CHECK(s == NULL);
	again = child(f, (const char *const[]){ "a" }); /* existing ones still found */
	CHECK(again == a);
	metrics_registry_free(reg);
}

static int collect_one(struct buf *out, void *userdata)
{
	static const char *const names[] = { "namespace", "service" };
	const char *values[] = { "ns\"1", userdata };
	int r;

	r = metrics_write_header(out, "targets", "Targets by service.", METRICS_GAUGE);
	if (r >= 0)
		r = metrics_write_sample(out, "targets", names, values, 2, 7);
	return r;
}

static int collect_fail(struct buf *out, void *userdata)
{
	buf_puts(out, "partial");
	return -EIO;
}

static void test_collectors(void)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct buf b;
	char *text;

	CHECK(reg_family(reg, METRICS_GAUGE, "a", "A.", NULL, 0));
	CHECK_INT(metrics_register_collector(reg, collect_one, "svc\n"), 0);
	text = render(reg);
	CHECK_STR(text, "# HELP a A.\n# TYPE a gauge\na 0\n"
			"# HELP targets Targets by service.\n# TYPE targets gauge\n"
			"targets{namespace=\"ns\\\"1\",service=\"svc\\n\"} 7\n");
	free(text);
	CHECK_INT(metrics_register_collector(reg, collect_fail, NULL), 0);
	buf_init(&b, 4096);
	CHECK_INT(buf_puts(&b, "before"), 0);
	CHECK_INT(metrics_render(reg, &b), -EIO);
	CHECK_STR(b.data, "before"); /* left as it was */
	buf_done(&b);
	metrics_registry_free(reg);
}

static void test_write_sample_checks(void)
{
	static const char *const bad[] = { "0x" };
	static const char *const v[] = { "1" };
	struct buf b;

	buf_init(&b, 4096);
	CHECK_INT(metrics_write_sample(&b, "x y", NULL, NULL, 0, 1), -EINVAL);
	CHECK_INT(metrics_write_sample(&b, "x", bad, v, 1, 1), -EINVAL);
	CHECK_INT(metrics_write_sample(&b, "x", v, (const char *const[]){ NULL }, 1, 1), -EINVAL);
	CHECK_INT(metrics_write_header(&b, "x", NULL, METRICS_GAUGE), -EINVAL);
	CHECK_INT(metrics_write_sample(&b, "x", NULL, NULL, 0, -INFINITY), 0);
	CHECK_STR(b.data, "x -Inf\n");
	buf_done(&b);
}

static void test_render_over_cap(void)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct buf b;

	CHECK(reg_family(reg, METRICS_GAUGE, "a_fairly_long_metric_name", "Help.", NULL, 0));
	buf_init(&b, 40);
	CHECK_INT(metrics_render(reg, &b), -EMSGSIZE);
	CHECK_INT(b.len, 0);
	buf_done(&b);
	metrics_registry_free(reg);
}

enum { THREADS = 4, ROUNDS = 100000 };

struct worker {
	struct metrics_family *counter, *histogram;
	pthread_t thread;
	int r;
};

/* Each thread looks its series up again and again (creating them races
 * between threads) and counts ROUNDS times. */
static void *work(void *arg)
{
	static const char *const values[] = { "shared" };
	struct worker *w = arg;
	struct metrics_series *c, *h;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		w->r = metrics_family_child(w->counter, values, &c);
		if (w->r >= 0)
			w->r = metrics_family_child(w->histogram, values, &h);
		if (w->r < 0)
			return NULL;
		metrics_counter_inc(c);
		metrics_counter_add(c, 0.5);
		metrics_histogram_observe(h, i % 2 ? 1 : 3);
	}
	return NULL;
}

static void test_threads_add_up(void)
{
	static const double bounds[] = { 2 };
	static const char *const lbl[] = { "k" };
	struct metrics_desc hd = { .type = METRICS_HISTOGRAM,
				   .name = "h",
				   .help = "H.",
				   .label_names = lbl,
				   .n_labels = 1,
				   .buckets = bounds,
				   .n_buckets = 1 };
	struct metrics_registry *reg = metrics_registry_new();
	struct worker w[THREADS];
	struct metrics_family *c, *h;
	char *text, want[512];
	int i;

	c = reg_family(reg, METRICS_COUNTER, "c_total", "C.", lbl, 1);
	CHECK(c && metrics_register(reg, &hd, &h) == 0);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .counter = c, .histogram = h };
		CHECK_INT(pthread_create(&w[i].thread, NULL, work, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		CHECK_INT(w[i].r, 0);
	}
	text = render(reg);
	snprintf(want, sizeof(want),
		 "# HELP c_total C.\n# TYPE c_total counter\nc_total{k=\"shared\"} %d\n"
		 "# HELP h H.\n# TYPE h histogram\n"
		 "h_bucket{k=\"shared\",le=\"2\"} %d\nh_bucket{k=\"shared\",le=\"+Inf\"} %d\n"
		 "h_sum{k=\"shared\"} %d\nh_count{k=\"shared\"} %d\n",
		 THREADS * ROUNDS * 3 / 2, THREADS * ROUNDS / 2, THREADS * ROUNDS,
		 THREADS * ROUNDS * 2, THREADS * ROUNDS);
	CHECK_STR(text, want);
	free(text);
	metrics_registry_free(reg);
}

static void test_many_series_sorted(void)
{
	static const char *const lbl[] = { "n" };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;
	char v[16], *text, *p, prev[64] = "", cur[64];
	int i, lines = 0;

	f = reg_family(reg, METRICS_GAUGE, "g", "G.", lbl, 1);
	CHECK(f);
	for (i = 0; i < 500; i++) {
		snprintf(v, sizeof(v), "%d", (i * 7919) % 500);
		metrics_gauge_add(child(f, (const char *const[]){ v }), 1);
	}
	text = render(reg);
	CHECK(text);
	for (p = strstr(text, "\ng{"); p; p = strstr(p + 1, "\ng{")) {
		snprintf(cur, sizeof(cur), "%.*s", (int)strcspn(p + 1, "}"), p + 1);
		CHECK(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(prev));
		lines++;
	}
	CHECK_INT(lines, 500);
	free(text);
	metrics_registry_free(reg);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_format_value), TEST_CASE(test_exact_text),
			 TEST_CASE(test_escaping), TEST_CASE(test_invalid_utf8),
			 TEST_CASE(test_histogram), TEST_CASE(test_histogram_without_labels),
			 TEST_CASE(test_register_checks), TEST_CASE(test_child_cap),
			 TEST_CASE(test_collectors), TEST_CASE(test_write_sample_checks),
			 TEST_CASE(test_render_over_cap), TEST_CASE(test_threads_add_up),
			 TEST_CASE(test_many_series_sorted));
}
