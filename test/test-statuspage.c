/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the status page and its JSON, rendered from snapshots and
 * reports built by hand: every AWS-derived string is escaped (HTML) or
 * quoted (JSON, parsed back with jansson), the state banner follows the
 * view, lists are capped, and the two routes answer on loopback.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "http.h"
#include "metrics.h"
#include "report.h"
#include "server.h"
#include "snapshot.h"
#include "statuspage.h"
#include "test.h"

#define NOW_MS	       1700000000000LL /* 2023-11-14 22:13:20 UTC */
#define STALENESS_MS   600000
#define MAX_PAGE_BYTES (8u << 20)
#define LISTED_SKIPS   1000 /* STATUSPAGE_MAX_SKIPS in statuspage.c */

/* Names as AWS could send them: markup, quotes, an ampersand. */
#define EVIL_NS	      "<script>alert(\"ns\")</script>"
#define EVIL_NS_HTML  "&lt;script&gt;alert(&quot;ns&quot;)&lt;/script&gt;"
#define EVIL_SVC      "it's \"q\" & <b>"
#define EVIL_SVC_HTML "it&#39;s &quot;q&quot; &amp; &lt;b&gt;"
#define EVIL_ID	      "<img src=x onerror=alert(1)>"
#define EVIL_ID_HTML  "&lt;img src=x onerror=alert(1)&gt;"

enum { NS_PROD, SVC_API, SVC_WORKER, NS_EVIL, SVC_EVIL, N_NAMES };

static char name_prod[] = "prod", name_api[] = "api", name_worker[] = "worker",
	    name_evil_ns[] = EVIL_NS, name_evil_svc[] = EVIL_SVC;
static const char *fixture_names[N_NAMES] = { name_prod, name_api, name_worker, name_evil_ns,
					      name_evil_svc };

static char id_path[] = "i-path", id_w1[] = "i-worker-1", id_w2[] = "i-worker-2",
	    id_evil[] = EVIL_ID, id_port[] = "i-port";
static char detail_path[] = "attribute METRICS_PATH=\"metrics\": does not start with '/'",
	    detail_addr[] = "AWS_INSTANCE_IPV4=\"<x>\": not an IPv4 address",
	    detail_port[] = "attribute METRICS_PORT=\"abc\": not a port in 1..65535";

static char err_ns[] = "prod", err_evil_ns[] = "<script>x</script>", err_evil_svc[] = "it's";
static char err_text0[] = "ListNamespaces: AccessDeniedException: no",
	    err_text1[] = "ListServices: ThrottlingException: Rate exceeded",
	    err_text2[] = "DiscoverInstances: \"Throttling\" <now>";

static const struct statuspage_item fixture_summary[] = {
	{ "Version", "0.1.0" },
	{ "Region", "us-east-1" },
	{ "Namespaces", "<all> & \"more\"" },
};

/* A view of a hand-built snapshot (3 services, 5 skips) and a partial
 * refresh with 3 errors; nothing is allocated. */
struct fixture {
	struct snapshot snap;
	struct snapshot_service services[3];
	struct snapshot_skip skips[5];
	struct refresh_report rep;
	struct report_error errors[3];
	struct statuspage_view view;
	struct buf out;
};

static void fixture_snapshot(struct fixture *f)
{
	struct snapshot *s = &f->snap;

	f->services[0] = (struct snapshot_service){ NS_PROD, SVC_API, 3, 1 };
	f->services[1] = (struct snapshot_service){ NS_PROD, SVC_WORKER, 0, 2 };
	f->services[2] = (struct snapshot_service){ NS_EVIL, SVC_EVIL, 1, 2 };
	f->skips[0] =
	    (struct snapshot_skip){ NS_PROD, SVC_API, id_path, TARGET_SKIP_BAD_PATH, detail_path };
	f->skips[1] =
	    (struct snapshot_skip){ NS_PROD, SVC_WORKER, id_w1, TARGET_SKIP_NO_METRICS_PATH, NULL };
	f->skips[2] =
	    (struct snapshot_skip){ NS_PROD, SVC_WORKER, id_w2, TARGET_SKIP_NO_METRICS_PATH, NULL };
	f->skips[3] = (struct snapshot_skip){ NS_EVIL, SVC_EVIL, id_evil, TARGET_SKIP_NO_ADDRESS,
					      detail_addr };
	f->skips[4] =
	    (struct snapshot_skip){ NS_EVIL, SVC_EVIL, id_port, TARGET_SKIP_BAD_PORT, detail_port };
	atomic_init(&s->refcount, 1u << 30); /* pinned: the fixture owns the storage */
	s->names = fixture_names;
	s->n_names = N_NAMES;
	s->services = f->services;
	s->n_services = 3;
	s->skips = f->skips;
	s->n_skips = 5;
	s->skipped[TARGET_SKIP_NO_METRICS_PATH] = 2;
	s->skipped[TARGET_SKIP_NO_ADDRESS] = 1;
	s->skipped[TARGET_SKIP_BAD_PORT] = 1;
	s->skipped[TARGET_SKIP_BAD_PATH] = 1;
	s->refreshed_at_unix = NOW_MS / 1000 - 12;
}

static void fixture_report(struct fixture *f)
{
	struct refresh_report *rep = &f->rep;

	f->errors[0] = (struct report_error){ NULL, NULL, err_text0 };
	f->errors[1] = (struct report_error){ err_ns, NULL, err_text1 };
	f->errors[2] = (struct report_error){ err_evil_ns, err_evil_svc, err_text2 };
	atomic_init(&rep->refcount, 1u << 30);
	rep->finished_at_ms = NOW_MS - 12000;
	rep->duration_ms = 1500;
	rep->kind = "full";
	rep->result = "partial";
	rep->errors = f->errors;
	rep->n_errors = 3;
	rep->namespaces = 2;
	rep->services = 3;
	rep->instances = 9;
	rep->last_success_ms = NOW_MS - 12000;
}

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	fixture_snapshot(f);
	fixture_report(f);
	f->view.snapshot = &f->snap;
	f->view.report = &f->rep;
	f->view.summary = fixture_summary;
	f->view.n_summary = sizeof(fixture_summary) / sizeof(fixture_summary[0]);
	f->view.now_ms = NOW_MS;
	f->view.started_at_ms = NOW_MS - 3600000;
	f->view.max_staleness_ms = STALENESS_MS;
	buf_init(&f->out, MAX_PAGE_BYTES);
}

static void fixture_done(struct fixture *f)
{
	buf_done(&f->out);
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + len, needle))
		n++;
	return n;
}

static bool has_ci(const char *hay, const char *needle)
{
	size_t len = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, len) == 0)
			return true;
	return false;
}

/* Renders the HTML; NULL (and a failed check) when it cannot. */
static const char *render_html(struct fixture *f)
{
	buf_reset(&f->out);
	if (statuspage_html(&f->view, &f->out) < 0 || !f->out.data)
		return NULL;
	return f->out.data;
}

/* Renders and parses the JSON; the caller owns the result. */
static json_t *render_json(struct fixture *f)
{
	json_error_t err;
	json_t *root;

	buf_reset(&f->out);
	if (statuspage_json(&f->view, &f->out) < 0 || !f->out.data)
		return NULL;
	root = json_loadb(f->out.data, f->out.len, 0, &err);
	if (!root)
		printf("# json: %s at line %d: %s\n", err.text, err.line, f->out.data);
	return root;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* ---- HTML ---- */

static void test_html_escapes_every_aws_string(void)
{
	struct fixture f;
	const char *html;

	fixture_init(&f);
	html = render_html(&f);
	CHECK(html);
	CHECK(!has_ci(html, "<script"));
	CHECK(!strstr(html, "<img"));
	CHECK(!strstr(html, EVIL_NS) && !strstr(html, EVIL_SVC) && !strstr(html, EVIL_ID));
	CHECK(!strstr(html, "\"<x>\""));
	CHECK(count_of(html, EVIL_NS_HTML) >= 2); /* targets and not scraped */
	CHECK(count_of(html, EVIL_SVC_HTML) >= 2);
	CHECK(strstr(html, EVIL_ID_HTML));
	CHECK(strstr(html, "AWS_INSTANCE_IPV4=&quot;&lt;x&gt;&quot;: not an IPv4 address"));
	CHECK(strstr(html, "&lt;script&gt;x&lt;/script&gt;")); /* error namespace */
	CHECK(strstr(html, "it&#39;s"));		       /* error service */
	CHECK(strstr(html, "DiscoverInstances: &quot;Throttling&quot; &lt;now&gt;")); /* text */
	CHECK(strstr(html, "&lt;all&gt; &amp; &quot;more&quot;"));		      /* summary */
	fixture_done(&f);
}

static void test_html_is_one_self_contained_page(void)
{
	struct fixture f;
	const char *html;

	fixture_init(&f);
	html = render_html(&f);
	CHECK(html);
	CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	CHECK(strstr(html, "<meta name=\"viewport\" content=\"width=device-width,"));
	CHECK(strstr(html, "<meta charset=\"utf-8\">"));
	CHECK(!has_ci(html, "<script"));
	CHECK(!has_ci(html, "<link"));
	CHECK(!has_ci(html, "<img") && !has_ci(html, "<iframe") && !has_ci(html, "<object"));
	CHECK(!has_ci(html, "url("));
	CHECK(!has_ci(html, "@import"));
	CHECK(!has_ci(html, "href=\"http"));
	CHECK(!has_ci(html, "href=\"//"));
	CHECK_INT(count_of(html, "<html"), 1);
	CHECK(strstr(html, "</html>\n"));
	CHECK(strstr(html, ".scroll{overflow-x:auto")); /* wide tables scroll, not overflow */
	fixture_done(&f);
}

static void test_html_has_the_sections(void)
{
	struct fixture f;
	const char *html;

	fixture_init(&f);
	html = render_html(&f);
	CHECK(html);
	CHECK(strstr(html, "<h1>cloudmap-sd <span class=\"ver\">version "));
	CHECK(strstr(html, ">Last refresh</h2>"));
	CHECK(strstr(html, ">Targets per namespace and service</h2>"));
	CHECK(strstr(html, ">Not scraped</h2>"));
	CHECK(strstr(html, ">Build and configuration</h2>"));
	CHECK(strstr(html, "<h3>Errors (3)</h3>"));
	CHECK(strstr(html, "<th scope=\"row\">Region</th><td>us-east-1</td>"));
	fixture_done(&f);
}

static void test_html_last_refresh_when_how_long_what(void)
{
	struct fixture f;
	const char *html;

	fixture_init(&f);
	html = render_html(&f);
	CHECK(html);
	CHECK(strstr(html, "2023-11-14 22:13:08 UTC <span class=\"muted\">(12 s ago)</span>"));
	CHECK(strstr(html, "<th scope=\"row\">Took</th><td>1.5 s</td>"));
	CHECK(strstr(html, "<th scope=\"row\">Kind</th><td>full</td>"));
	CHECK(strstr(html, "<th scope=\"row\">Result</th><td>partial</td>"));
	CHECK(strstr(html, "2 namespaces, 3 services, 9 instances"));
	CHECK(strstr(html, "<tr><td>(all namespaces)</td>"
			   "<td>ListNamespaces: AccessDeniedException: no</td></tr>"));
	CHECK(strstr(html, "<tr><td>prod / (all services)</td><td>ListServices: "));
	CHECK(strstr(html, "<tr><td>&lt;script&gt;x&lt;/script&gt; / it&#39;s</td>"));
	CHECK(!strstr(html, "No refresh has finished yet"));
	fixture_done(&f);
}

static void test_html_targets_per_service(void)
{
	struct fixture f;
	const char *html;

	fixture_init(&f);
	html = render_html(&f);
	CHECK(html);
	CHECK(strstr(html, "<h3>Namespace prod <span class=\"muted\">· 3 targets in 2 services"));
	CHECK(strstr(html, "<tr><td>api</td><td class=\"n\">3</td><td class=\"n\">1</td></tr>"));
	CHECK(strstr(html, "<tr><td>worker</td><td class=\"n zero\">0</td>"
			   "<td class=\"n\">2</td></tr>"));
	CHECK(strstr(html, "<h3>Namespace " EVIL_NS_HTML));
	CHECK(strstr(html, "<tr><td>" EVIL_SVC_HTML "</td><td class=\"n\">1</td>"));
	CHECK(strstr(html, "<li>Targets <b>4</b></li>"));
	CHECK(strstr(html, "<li>Not scraped <b>5</b></li>"));
	CHECK(strstr(html, "<li>Last refresh <b>12 s ago</b></li>"));
	fixture_done(&f);
}

static void test_html_not_scraped_with_reasons(void)
{
	struct fixture f;
	const char *html;

	fixture_init(&f);
	html = render_html(&f);
	CHECK(html);
	CHECK(strstr(html, "<h3>prod / worker <span class=\"muted\">· 2 not scraped</span></h3>"));
	CHECK(strstr(html, "<tr><td><code>i-worker-1</code></td><td>service has no METRICS_PATH "
			   "tag</td></tr>"));
	CHECK(strstr(html, "<code>i-worker-2</code>"));
	CHECK(strstr(html, "<code>" EVIL_ID_HTML "</code></td><td>no usable AWS_INSTANCE_IPV4 or "
			   "AWS_INSTANCE_IPV6 attribute<br>"));
	CHECK(strstr(html, "<code>i-port</code></td><td>bad port (not a number in 1..65535)<br>"
			   "<code class=\"muted\">attribute METRICS_PORT=&quot;abc&quot;: not a "
			   "port in 1..65535</code>"));
	CHECK(strstr(html, "<code>i-path</code></td><td>bad metrics path (does not start with "
			   "/)<br>"));
	CHECK(strstr(html, "<li>2 × service has no METRICS_PATH tag</li>"));
	CHECK(strstr(html, "<h3>" EVIL_NS_HTML " / " EVIL_SVC_HTML));
	fixture_done(&f);
}

static void test_html_repairs_invalid_utf8_and_controls(void)
{
	static char bad_name[] = "a\xff"
				 "b\xc0\xafz\x01q\xed\xa0\x80"
				 "é";
	struct fixture f;
	const char *html;

	fixture_init(&f);
	fixture_names[SVC_WORKER] = bad_name;
	html = render_html(&f);
	fixture_names[SVC_WORKER] = name_worker;
	CHECK(html);
	CHECK(strstr(html, "<tr><td>a\xef\xbf\xbd"
			   "b\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbdq\xef\xbf\xbd\xef\xbf\xbd\xef"
			   "\xbf\xbd"
			   "é</td>"));
	fixture_done(&f);
}

/* ---- state ---- */

struct state_case {
	bool snapshot, warm_start, report;
	const char *result;
	int64_t age_ms;
	const char *state, *title;
};

static const struct state_case state_cases[] = {
	{ false, false, false, NULL, 0, "no_discovery", "No discovery yet" },
	{ false, false, true, "failure", 0, "failing", "Failing" },
	{ true, false, true, "success", 12000, "ok", "OK" },
	{ true, false, true, "partial", 12000, "partial", "Partial" },
	{ true, false, true, "failure", 12000, "failing", "Failing" },
	{ true, false, true, "failure", STALENESS_MS + 1000, "stale", "Stale" },
	{ true, true, false, NULL, STALENESS_MS + 1000, "warm_start", "Warm start" },
	{ true, true, true, "failure", 12000, "warm_start", "Warm start" },
	{ true, false, false, NULL, 12000, "ok", "OK" },
};

static void check_state(struct fixture *f, const struct state_case *c)
{
	char banner[128];
	const char *html;
	json_t *root;

	f->view.snapshot = c->snapshot ? &f->snap : NULL;
	f->view.report = c->report ? &f->rep : NULL;
	f->snap.warm_start = c->warm_start;
	f->snap.refreshed_at_unix = (NOW_MS - c->age_ms) / 1000;
	f->rep.result = c->result;
	root = render_json(f);
	CHECK(root);
	CHECK_STR(jstr(root, "state"), c->state);
	CHECK_STR(jstr(root, "state_title"), c->title);
	json_decref(root);
	html = render_html(f);
	CHECK(html);
	snprintf(banner, sizeof(banner),
		 "<div class=\"banner s-%s\" role=\"status\"><strong>%s</strong>", c->state,
		 c->title);
	CHECK(strstr(html, banner));
}

static void test_state_follows_the_view(void)
{
	struct fixture f;
	size_t i;

	fixture_init(&f);
	for (i = 0; i < sizeof(state_cases) / sizeof(state_cases[0]); i++) {
		check_state(&f, &state_cases[i]);
		if (test_failed) {
			printf("# state case %zu\n", i);
			return;
		}
	}
	fixture_done(&f);
}

static void test_html_before_any_refresh(void)
{
	struct fixture f;
	const char *html;

	fixture_init(&f);
	f.view.snapshot = NULL;
	f.view.report = NULL;
	html = render_html(&f);
	CHECK(html);
	CHECK(strstr(html, "<p>No refresh has finished yet (started 60 min 0 s ago).</p>"));
	CHECK(strstr(html, "<li>Last refresh <b>none yet</b></li>"));
	CHECK_INT(count_of(html, "<p>Nothing discovered yet.</p>"), 2);
	fixture_done(&f);
}

/* ---- JSON ---- */

static void test_json_has_the_fields(void)
{
	struct fixture f;
	json_t *root, *lr, *t, *a;

	fixture_init(&f);
	root = render_json(&f);
	CHECK(root);
	CHECK(jstr(root, "version") && jstr(root, "revision"));
	CHECK_INT(jint(root, "now_unix_ms"), NOW_MS);
	CHECK_INT(jint(root, "started_at_unix_ms"), NOW_MS - 3600000);
	CHECK_STR(jstr(root, "state"), "partial");
	CHECK(json_is_null(json_object_get(root, "client_refresh_interval_sec")));
	a = json_object_get(root, "summary");
	CHECK_INT(json_array_size(a), 3);
	CHECK_STR(jstr(json_array_get(a, 2), "key"), "Namespaces");
	CHECK_STR(jstr(json_array_get(a, 2), "value"), "<all> & \"more\"");
	lr = json_object_get(root, "last_refresh");
	CHECK_INT(jint(lr, "finished_at_unix_ms"), NOW_MS - 12000);
	CHECK_INT(jint(lr, "age_ms"), 12000);
	CHECK_INT(jint(lr, "duration_ms"), 1500);
	CHECK_STR(jstr(lr, "kind"), "full");
	CHECK_STR(jstr(lr, "result"), "partial");
	CHECK_INT(jint(lr, "instances"), 9);
	CHECK_INT(jint(lr, "last_success_unix_ms"), NOW_MS - 12000);
	CHECK_INT(jint(lr, "errors_total"), 3);
	t = json_object_get(root, "targets");
	CHECK_INT(jint(t, "refreshed_at_unix"), NOW_MS / 1000 - 12);
	CHECK_INT(jint(t, "total"), 4);
	CHECK(json_is_false(json_object_get(t, "stale")));
	CHECK(json_is_false(json_object_get(t, "warm_start")));
	json_decref(root);
	fixture_done(&f);
}

static void test_json_errors_services_skips(void)
{
	struct fixture f;
	json_t *root, *t, *e, *s, *k;

	fixture_init(&f);
	root = render_json(&f);
	CHECK(root);
	e = json_object_get(json_object_get(root, "last_refresh"), "errors");
	CHECK_INT(json_array_size(e), 3);
	CHECK(json_is_null(json_object_get(json_array_get(e, 0), "namespace")));
	CHECK(json_is_null(json_object_get(json_array_get(e, 1), "service")));
	CHECK_STR(jstr(json_array_get(e, 2), "namespace"), "<script>x</script>");
	CHECK_STR(jstr(json_array_get(e, 2), "error"), err_text2);
	t = json_object_get(root, "targets");
	s = json_object_get(t, "services");
	CHECK_INT(json_array_size(s), 3);
	CHECK_INT(jint(t, "services_total"), 3);
	CHECK_STR(jstr(json_array_get(s, 2), "namespace"), EVIL_NS);
	CHECK_STR(jstr(json_array_get(s, 2), "service"), EVIL_SVC);
	CHECK_INT(jint(json_array_get(s, 1), "skipped"), 2);
	CHECK_INT(jint(json_object_get(t, "skipped_by_reason"), "no_metrics_path"), 2);
	CHECK_INT(jint(json_object_get(t, "skipped_by_reason"), "bad_path"), 1);
	CHECK_INT(jint(t, "skipped_total"), 5);
	k = json_array_get(json_object_get(t, "skipped"), 3);
	CHECK_STR(jstr(k, "instance_id"), EVIL_ID);
	CHECK_STR(jstr(k, "reason"), "no_address");
	CHECK_STR(jstr(k, "detail"), detail_addr);
	CHECK(jstr(k, "reason_text"));
	k = json_array_get(json_object_get(t, "skipped"), 1);
	CHECK(json_is_null(json_object_get(k, "detail")));
	json_decref(root);
	fixture_done(&f);
}

static void test_json_escapes_quotes_controls_and_bad_utf8(void)
{
	static char nasty[] = "q\"b\\s/\n\t\x01\x1f\xff"
			      "é";
	struct fixture f;
	json_t *root, *s;

	fixture_init(&f);
	fixture_names[SVC_API] = nasty;
	root = render_json(&f);
	fixture_names[SVC_API] = name_api;
	CHECK(root);
	s = json_array_get(json_object_get(json_object_get(root, "targets"), "services"), 0);
	CHECK_STR(jstr(s, "service"), "q\"b\\s/\n\t\x01\x1f\xef\xbf\xbd"
				      "é");
	json_decref(root);
	fixture_done(&f);
}

static void test_json_before_any_refresh(void)
{
	struct fixture f;
	json_t *root;

	fixture_init(&f);
	f.view.snapshot = NULL;
	f.view.report = NULL;
	f.view.client_refresh_interval_sec = 30;
	root = render_json(&f);
	CHECK(root);
	CHECK(json_is_null(json_object_get(root, "last_refresh")));
	CHECK(json_is_null(json_object_get(root, "targets")));
	CHECK(json_number_value(json_object_get(root, "client_refresh_interval_sec")) == 30.0);
	CHECK_STR(jstr(root, "state"), "no_discovery");
	json_decref(root);
	fixture_done(&f);
}

/* ---- caps ---- */

static struct snapshot_skip *many_skips(size_t n)
{
	static char ids[16][8];
	struct snapshot_skip *k = calloc(n, sizeof(*k));
	size_t i;

	for (i = 0; k && i < n; i++) {
		snprintf(ids[i % 16], sizeof(ids[0]), "x-%02zu", i % 16);
		k[i] = (struct snapshot_skip){ NS_PROD, SVC_WORKER, ids[i % 16],
					       TARGET_SKIP_NO_METRICS_PATH, NULL };
	}
	return k;
}

static void test_lists_are_capped(void)
{
	struct fixture f;
	struct snapshot_skip *skips = many_skips(1500);
	json_t *root, *t;
	const char *html;

	CHECK(skips);
	fixture_init(&f);
	f.snap.skips = skips;
	f.snap.n_skips = 1500;
	html = render_html(&f);
	CHECK(html);
	CHECK_INT(count_of(html, "<tr><td><code>x-"), LISTED_SKIPS);
	CHECK(strstr(html, "… and 500 more instances, not listed here"));
	root = render_json(&f);
	CHECK(root);
	t = json_object_get(root, "targets");
	CHECK_INT(jint(t, "skipped_total"), 1500);
	CHECK_INT(json_array_size(json_object_get(t, "skipped")), LISTED_SKIPS);
	json_decref(root);
	fixture_done(&f);
	free(skips);
}

static void test_buffer_cap_leaves_output_as_it_was(void)
{
	struct fixture f;

	fixture_init(&f);
	buf_done(&f.out);
	buf_init(&f.out, 512);
	CHECK_INT(buf_puts(&f.out, "keep"), 0);
	CHECK_INT(statuspage_html(&f.view, &f.out), -EMSGSIZE);
	CHECK_STR(f.out.data, "keep");
	CHECK_INT(statuspage_json(&f.view, &f.out), -EMSGSIZE);
	CHECK_STR(f.out.data, "keep");
	fixture_done(&f);
}

/* ---- the routes ---- */

static int64_t fixed_clock(void)
{
	return NOW_MS;
}

struct route_fixture {
	struct fixture f;
	struct snapshot_store store;
	struct report_store reports;
	struct metrics_registry *reg;
	struct server *srv;
	struct http_transport *http;
};

static int route_fixture_start(struct route_fixture *rf)
{
	struct server_config cfg = { .listen_host = "127.0.0.1",
				     .telemetry_path = "/metrics",
				     .connection_timeout_sec = 10,
				     .max_staleness_ms = STALENESS_MS };
	struct server_deps deps = { .store = &rf->store, .reports = &rf->reports };

	fixture_init(&rf->f);
	snapshot_store_init(&rf->store);
	report_store_init(&rf->reports);
	snapshot_store_publish(&rf->store, &rf->f.snap);
	report_store_publish(&rf->reports, &rf->f.rep);
	rf->reg = metrics_registry_new();
	rf->http = http_curl_new(NULL);
	if (!rf->reg || !rf->http)
		return -ENOMEM;
	deps.metrics = rf->reg;
	deps.now_ms = fixed_clock;
	deps.summary = fixture_summary;
	deps.n_summary = 3;
	deps.started_at_ms = NOW_MS - 60000;
	return server_start(&cfg, &deps, &rf->srv);
}

static void route_fixture_stop(struct route_fixture *rf)
{
	rf->srv = server_stop(rf->srv);
	rf->http = http_transport_free(rf->http);
	rf->reg = metrics_registry_free(rf->reg);
	report_store_done(&rf->reports);
	snapshot_store_done(&rf->store);
	fixture_done(&rf->f);
}

static int fetch(struct route_fixture *rf, const char *path, struct http_response *resp)
{
	struct http_request req = { .method = "GET" };
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", server_port(rf->srv), path);
	req.url = url;
	http_response_init(resp);
	return rf->http->perform(rf->http, &req, resp);
}

static void test_route_status_page(void)
{
	struct route_fixture rf = { 0 };
	struct http_response resp;
	char value[256];

	CHECK_INT(route_fixture_start(&rf), 0);
	CHECK_INT(fetch(&rf, "/", &resp), 0);
	CHECK_INT(resp.status, 200);
	CHECK_INT(http_response_header(&resp, "Content-Type", value, sizeof(value)), 0);
	CHECK_STR(value, STATUSPAGE_HTML_CONTENT_TYPE);
	CHECK_INT(http_response_header(&resp, "Content-Security-Policy", value, sizeof(value)), 0);
	CHECK(strstr(value, "default-src 'none'"));
	CHECK(resp.body.data && strstr(resp.body.data, "<strong>Partial</strong>"));
	CHECK(strstr(resp.body.data, "(60 s ago)")); /* started, by the server's clock */
	CHECK(strstr(resp.body.data, "<code>i-worker-1</code>"));
	http_response_done(&resp);
	route_fixture_stop(&rf);
}

static void test_route_status_json(void)
{
	struct route_fixture rf = { 0 };
	struct http_response resp;
	char value[256];
	json_t *root;

	CHECK_INT(route_fixture_start(&rf), 0);
	CHECK_INT(fetch(&rf, "/api/v1/status", &resp), 0);
	CHECK_INT(resp.status, 200);
	CHECK_INT(http_response_header(&resp, "Content-Type", value, sizeof(value)), 0);
	CHECK_STR(value, STATUSPAGE_JSON_CONTENT_TYPE);
	root = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	http_response_done(&resp);
	CHECK(root);
	CHECK_STR(jstr(root, "state"), "partial");
	CHECK_INT(jint(root, "started_at_unix_ms"), NOW_MS - 60000);
	CHECK_INT(jint(json_object_get(root, "targets"), "skipped_total"), 5);
	json_decref(root);
	route_fixture_stop(&rf);
}

int main(void)
{
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = TEST_MAIN(
	    TEST_CASE(test_html_escapes_every_aws_string),
	    TEST_CASE(test_html_is_one_self_contained_page), TEST_CASE(test_html_has_the_sections),
	    TEST_CASE(test_html_last_refresh_when_how_long_what),
	    TEST_CASE(test_html_targets_per_service), TEST_CASE(test_html_not_scraped_with_reasons),
	    TEST_CASE(test_html_repairs_invalid_utf8_and_controls),
	    TEST_CASE(test_state_follows_the_view), TEST_CASE(test_html_before_any_refresh),
	    TEST_CASE(test_json_has_the_fields), TEST_CASE(test_json_errors_services_skips),
	    TEST_CASE(test_json_escapes_quotes_controls_and_bad_utf8),
	    TEST_CASE(test_json_before_any_refresh), TEST_CASE(test_lists_are_capped),
	    TEST_CASE(test_buffer_cap_leaves_output_as_it_was), TEST_CASE(test_route_status_page),
	    TEST_CASE(test_route_status_json));
	curl_global_cleanup();
	return r;
}
