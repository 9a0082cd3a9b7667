/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the HTTP server over real sockets on loopback: libcurl (or a raw
 * socket, where the request must be malformed or held open) is the client,
 * the snapshots are built by hand and published to a real store, and a fake
 * wall clock drives staleness.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "metrics.h"
#include "server.h"
#include "snapshot.h"
#include "test.h"

#define NOW_UNIX      1700000000
#define STALENESS_MS  600000
#define TARGETS_JSON  "[{\"targets\":[\"10.0.0.1:8080\"],\"labels\":{\"job\":\"a\"}}]"
#define REQUESTS_NAME "cloudmap_sd_http_requests_total"

static _Atomic int64_t fake_now_ms = (int64_t)NOW_UNIX * 1000;
static atomic_bool collector_fails;

static int64_t fake_clock(void)
{
	return atomic_load(&fake_now_ms);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits a little between two polls; the deadline is the caller's. */
static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- fixture ---- */

struct fixture {
	struct snapshot_store store;
	struct metrics_registry *reg;
	struct metrics_family *requests;
	struct server *srv;
	unsigned port;
};

static struct server_config default_config(void)
{
	struct server_config cfg = {
		.listen_host = "127.0.0.1",
		.telemetry_path = "/metrics",
		.max_connections = 64,
		.connection_timeout_sec = 10,
		.threads = 2,
		.max_staleness_ms = STALENESS_MS,
	};

	return cfg;
}

static int failing_collector(struct buf *out, void *userdata)
{
	return atomic_load(&collector_fails) ? -EIO : 0;
}

static int fixture_metrics(struct fixture *f)
{
	static const char *const labels[] = { "handler", "code" };
	const struct metrics_desc d = { .type = METRICS_COUNTER,
					.name = REQUESTS_NAME,
					.help = "HTTP requests by handler and code.",
					.label_names = labels,
					.n_labels = 2 };
	int r;

	f->reg = metrics_registry_new();
	if (!f->reg)
		return -ENOMEM;
	r = metrics_register(f->reg, &d, &f->requests);
	if (r < 0)
		return r;
	return metrics_register_collector(f->reg, failing_collector, NULL);
}

static int fixture_start(struct fixture *f, const struct server_config *cfg)
{
	struct server_deps deps = { .now_ms = fake_clock };
	int r;

	memset(f, 0, sizeof(*f));
	atomic_store(&fake_now_ms, (int64_t)NOW_UNIX * 1000);
	atomic_store(&collector_fails, false);
	snapshot_store_init(&f->store);
	r = fixture_metrics(f);
	if (r < 0)
		return r;
	deps.store = &f->store;
	deps.metrics = f->reg;
	deps.http_requests = f->requests;
	r = server_start(cfg, &deps, &f->srv);
	if (r < 0)
		return r;
	f->port = server_port(f->srv);
	return 0;
}

static void fixture_stop(struct fixture *f)
{
	f->srv = server_stop(f->srv);
	snapshot_store_done(&f->store);
	f->reg = metrics_registry_free(f->reg);
}

/* A snapshot built by hand: one reference, owned by the caller. */
static struct snapshot *make_snapshot(const char *json, size_t len, int64_t refreshed_at_unix,
				      bool warm_start)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->json = malloc(len + 1);
	if (!s->json) {
		free(s);
		return NULL;
	}
	memcpy(s->json, json, len);
	s->json[len] = '\0';
	s->json_len = len;
	s->refreshed_at_unix = refreshed_at_unix;
	s->warm_start = warm_start;
	atomic_init(&s->refcount, 1);
	return s;
}

/* Publishes a fresh snapshot of TARGETS_JSON; returns it, borrowed. */
static struct snapshot *publish_default(struct fixture *f)
{
	struct snapshot *s = make_snapshot(TARGETS_JSON, strlen(TARGETS_JSON), NOW_UNIX, false);

	if (s)
		snapshot_store_publish(&f->store, s);
	return s;
}

static double count(struct fixture *f, const char *handler, const char *code)
{
	const char *const values[] = { handler, code };
	struct metrics_series *s;

	if (metrics_family_child(f->requests, values, &s) < 0)
		return -1;
	return metrics_series_value(s);
}

/* ---- a libcurl client ---- */

struct request {
	const char *method; /* NULL: GET */
	const char *path;
	const char *host;   /* NULL: 127.0.0.1 */
	const char *body;   /* NULL: none */
	const char *header; /* one extra header line, or NULL */
};

static size_t on_bytes(char *p, size_t size, size_t n, void *userdata)
{
	return buf_append(userdata, p, size * n) == 0 ? size * n : 0;
}

static void curl_setup(CURL *h, unsigned port, const struct request *rq, char *url, size_t url_size)
{
	snprintf(url, url_size, "http://%s:%u%s", rq->host ? rq->host : "127.0.0.1", port,
		 rq->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOBODY,
			 rq->method && strcmp(rq->method, "HEAD") == 0 ? 1L : 0L);
	if (rq->method && strcmp(rq->method, "HEAD") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq->body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
}

/* Performs rq on h (kept for reuse: keep-alive). Returns the CURLcode. */
static CURLcode fetch_on(CURL *h, unsigned port, const struct request *rq,
			 struct http_response *resp)
{
	struct curl_slist *hdrs = NULL;
	char url[65536];
	CURLcode code;

	curl_setup(h, port, rq, url, sizeof(url));
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (rq->header)
		hdrs = curl_slist_append(hdrs, rq->header);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_bytes);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_bytes);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp->headers);
	code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return code;
}

static CURLcode fetch(unsigned port, const struct request *rq, struct http_response *resp)
{
	CURL *h = curl_easy_init();
	CURLcode code;

	if (!h)
		return CURLE_OUT_OF_MEMORY;
	code = fetch_on(h, port, rq, resp);
	curl_easy_cleanup(h);
	return code;
}

/* GETs path; returns the status, or -1 when no answer came. */
static long get_status(unsigned port, const char *path)
{
	const struct request rq = { .path = path };
	struct http_response resp;
	long status;

	http_response_init(&resp);
	status = fetch(port, &rq, &resp) == CURLE_OK ? resp.status : -1;
	http_response_done(&resp);
	return status;
}

/* Whether the response has header name with exactly this value. */
static bool has_header(const struct http_response *resp, const char *name, const char *value)
{
	char got[256];

	return http_response_header(resp, name, got, sizeof(got)) == 0 && strcmp(got, value) == 0;
}

/* ---- a raw client ---- */

static int tcp_connect(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Reads into out until it holds needle (1), the peer closes (0) or the
 * deadline passes (-1). */
static int read_until(int fd, const char *needle, char *out, size_t size, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	ssize_t r;

	out[0] = '\0';
	while (!strstr(out, needle)) {
		if (mono_ms() > deadline || n + 1 >= size)
			return -1;
		if (poll(&p, 1, 50) <= 0)
			continue;
		r = recv(fd, out + n, size - 1 - n, 0);
		if (r <= 0)
			return 0;
		n += (size_t)r;
		out[n] = '\0';
	}
	return 1;
}

#define HEALTHY_REQUEST "GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n"

/* A new connection that got an answer to one request and stays open, or -1. */
static int open_served(unsigned port)
{
	char got[1024];
	int fd = tcp_connect(port);

	if (fd < 0)
		return -1;
	if (!send_all(fd, HEALTHY_REQUEST, strlen(HEALTHY_REQUEST)) ||
	    read_until(fd, "Healthy.\n", got, sizeof(got), 3000) != 1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- targets ---- */

static void test_targets_before_first_snapshot(void)
{
	const struct request rq = { .path = "/targets" };
	const struct server_config cfg = default_config();
	struct http_response resp;
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(f.port > 0);
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 503);
	CHECK_STR(resp.body.data, "{\"error\":\"no successful discovery yet\"}");
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	http_response_done(&resp);
	fixture_stop(&f);
}

static void check_targets_served(unsigned port, const char *path)
{
	const struct request rq = { .path = path };
	struct http_response resp;
	char len[32];

	http_response_init(&resp);
	CHECK_INT(fetch(port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 200);
	CHECK_INT(resp.body.len, strlen(TARGETS_JSON));
	CHECK_STR(resp.body.data, TARGETS_JSON);
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	CHECK(has_header(&resp, "Cache-Control", "no-store"));
	snprintf(len, sizeof(len), "%zu", strlen(TARGETS_JSON));
	CHECK(has_header(&resp, "Content-Length", len));
	http_response_done(&resp);
}

static void test_targets_served_with_alias(void)
{
	const struct server_config cfg = default_config();
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	check_targets_served(f.port, "/targets");
	check_targets_served(f.port, "/prometheus-targets");
	check_targets_served(f.port, "/targets?namespace=ignored-for-now");
	CHECK_INT(count(&f, "targets", "200"), 2);
	CHECK_INT(count(&f, "prometheus-targets", "200"), 1);
	fixture_stop(&f);
}

static void test_stale_targets_refused(void)
{
	const struct request rq = { .path = "/targets" };
	const struct server_config cfg = default_config();
	struct http_response resp;
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	atomic_store(&fake_now_ms, (int64_t)NOW_UNIX * 1000 + STALENESS_MS);
	CHECK_INT(get_status(f.port, "/targets"), 200);
	atomic_store(&fake_now_ms, (int64_t)NOW_UNIX * 1000 + STALENESS_MS + 1);
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 503);
	CHECK_STR(resp.body.data,
		  "{\"error\":\"targets are stale: last successful refresh 600s ago\"}");
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	http_response_done(&resp);
	/* Stale data still makes the process ready: it has served before. */
	CHECK_INT(get_status(f.port, "/-/ready"), 200);
	fixture_stop(&f);
}

static void test_warm_start_served_when_old(void)
{
	const struct server_config cfg = default_config();
	struct snapshot *s;
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	s = make_snapshot(TARGETS_JSON, strlen(TARGETS_JSON), NOW_UNIX - 86400, true);
	CHECK(s != NULL);
	snapshot_store_publish(&f.store, s);
	check_targets_served(f.port, "/targets");
	fixture_stop(&f);
}

static void test_head_has_headers_only(void)
{
	const struct request rq = { .method = "HEAD", .path = "/targets" };
	const struct server_config cfg = default_config();
	struct http_response resp;
	struct fixture f;
	char len[32];

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 200);
	CHECK_INT(resp.body.len, 0);
	snprintf(len, sizeof(len), "%zu", strlen(TARGETS_JSON));
	CHECK(has_header(&resp, "Content-Length", len));
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	http_response_done(&resp);
	CHECK_INT(count(&f, "targets", "200"), 1);
	fixture_stop(&f);
}

/* ---- methods, paths, bodies ---- */

static void check_method_refused(unsigned port, const char *method, const char *path,
				 const char *body)
{
	const struct request rq = { .method = method, .path = path, .body = body };
	struct http_response resp;

	http_response_init(&resp);
	CHECK_INT(fetch(port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 405);
	CHECK(has_header(&resp, "Allow", "GET, HEAD"));
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	CHECK_STR(resp.body.data, "{\"error\":\"method not allowed\"}");
	http_response_done(&resp);
}

static void test_other_methods_refused(void)
{
	const struct server_config cfg = default_config();
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	check_method_refused(f.port, "POST", "/targets", "x=1");
	check_method_refused(f.port, "PUT", "/-/healthy", NULL);
	check_method_refused(f.port, "DELETE", "/metrics", NULL);
	check_method_refused(f.port, "OPTIONS", "/-/ready", NULL);
	if (test_failed)
		return;
	CHECK_INT(count(&f, "targets", "405"), 1);
	CHECK_INT(count(&f, "metrics", "405"), 1);
	fixture_stop(&f);
}

static void check_not_found(unsigned port, const char *path)
{
	const struct request rq = { .path = path };
	struct http_response resp;

	http_response_init(&resp);
	CHECK_INT(fetch(port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 404);
	CHECK_STR(resp.body.data, "{\"error\":\"not found\"}");
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	http_response_done(&resp);
}

static void test_unknown_paths_not_found(void)
{
	const struct server_config cfg = default_config();
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	check_not_found(f.port, "/");
	check_not_found(f.port, "/targets/");
	check_not_found(f.port, "/TARGETS");
	check_not_found(f.port, "/-/healthy/x");
	if (test_failed)
		return;
	CHECK_INT(count(&f, "other", "404"), 4);
	fixture_stop(&f);
}

static void test_request_body_refused(void)
{
	const struct request rq = { .method = "GET", .path = "/targets", .body = "{\"a\":1}" };
	const struct server_config cfg = default_config();
	struct http_response resp;
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 413);
	CHECK_STR(resp.body.data, "{\"error\":\"a request body is not accepted\"}");
	http_response_done(&resp);
	CHECK_INT(count(&f, "targets", "413"), 1);
	fixture_stop(&f);
}

/* ---- health, readiness, metrics ---- */

static void check_text(unsigned port, const char *path, long status, const char *body)
{
	const struct request rq = { .path = path };
	struct http_response resp;

	http_response_init(&resp);
	CHECK_INT(fetch(port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, status);
	CHECK_STR(resp.body.data, body);
	CHECK(has_header(&resp, "Content-Type", "text/plain; charset=utf-8"));
	http_response_done(&resp);
}

static void test_healthy_and_ready(void)
{
	const struct server_config cfg = default_config();
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	check_text(f.port, "/-/healthy", 200, "cloudmap-sd is Healthy.\n");
	check_text(f.port, "/-/ready", 503,
		   "cloudmap-sd is not ready: no successful discovery yet\n");
	CHECK(publish_default(&f) != NULL);
	check_text(f.port, "/-/ready", 200, "cloudmap-sd is Ready.\n");
	check_text(f.port, "/-/healthy", 200, "cloudmap-sd is Healthy.\n");
	if (test_failed)
		return;
	CHECK_INT(count(&f, "healthy", "200"), 2);
	CHECK_INT(count(&f, "ready", "503"), 1);
	CHECK_INT(count(&f, "ready", "200"), 1);
	fixture_stop(&f);
}

static void test_metrics_counts_by_handler_and_code(void)
{
	const struct request rq = { .path = "/metrics" };
	const struct server_config cfg = default_config();
	struct http_response resp;
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK_INT(get_status(f.port, "/targets"), 503);
	CHECK_INT(get_status(f.port, "/no/such/path"), 404);
	CHECK(publish_default(&f) != NULL);
	CHECK_INT(get_status(f.port, "/targets"), 200);
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 200);
	CHECK(has_header(&resp, "Content-Type", METRICS_CONTENT_TYPE));
	CHECK(strstr(resp.body.data, REQUESTS_NAME "{handler=\"targets\",code=\"503\"} 1\n"));
	CHECK(strstr(resp.body.data, REQUESTS_NAME "{handler=\"targets\",code=\"200\"} 1\n"));
	CHECK(strstr(resp.body.data, REQUESTS_NAME "{handler=\"other\",code=\"404\"} 1\n"));
	CHECK(strstr(resp.body.data, "/no/such/path") == NULL);
	http_response_done(&resp);
	CHECK_INT(count(&f, "metrics", "200"), 1);
	fixture_stop(&f);
}

static void test_metrics_render_failure(void)
{
	const struct request rq = { .path = "/telemetry" };
	struct server_config cfg = default_config();
	struct http_response resp;
	struct fixture f;

	cfg.telemetry_path = "/telemetry";
	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK_INT(get_status(f.port, "/metrics"), 404);
	atomic_store(&collector_fails, true);
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 500);
	CHECK_STR(resp.body.data, "{\"error\":\"cannot render metrics\"}");
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	http_response_done(&resp);
	CHECK_INT(count(&f, "metrics", "500"), 1);
	fixture_stop(&f);
}

/* ---- snapshot references ---- */

static bool wait_refcount(struct snapshot *s, unsigned want, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	while (atomic_load(&s->refcount) != want) {
		if (mono_ms() > deadline)
			return false;
		pause_ms(1);
	}
	return true;
}

static void test_snapshot_released_after_response(void)
{
	const struct server_config cfg = default_config();
	struct snapshot *s;
	struct fixture f;
	int i;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	s = publish_default(&f);
	CHECK(s != NULL);
	for (i = 0; i < 3; i++) {
		CHECK_INT(get_status(f.port, "/targets"), 200);
		CHECK(wait_refcount(s, 1, 2000));
	}
	CHECK_INT(get_status(f.port, "/-/ready"), 200);
	CHECK(wait_refcount(s, 1, 2000));
	fixture_stop(&f);
}

/* A response held open: the client reads its headers and stops, so the
 * server still owns the reference until the client goes away. */
static void test_snapshot_held_while_sending(void)
{
	static const char request[] = "GET /targets HTTP/1.1\r\nHost: t\r\n\r\n";
	const struct server_config cfg = default_config();
	size_t len = 32u << 20; /* more than the socket buffers hold */
	char *json = malloc(len), head[512];
	struct snapshot *s;
	struct fixture f;
	int fd;

	CHECK(json != NULL);
	memset(json, ' ', len);
	CHECK_INT(fixture_start(&f, &cfg), 0);
	s = make_snapshot(json, len, NOW_UNIX, false);
	free(json);
	CHECK(s != NULL);
	snapshot_store_publish(&f.store, s);
	fd = tcp_connect(f.port);
	CHECK(fd >= 0);
	CHECK(send_all(fd, request, strlen(request)));
	CHECK_INT(read_until(fd, "\r\n\r\n", head, sizeof(head), 3000), 1);
	CHECK(strncmp(head, "HTTP/1.1 200", 12) == 0);
	CHECK_INT(atomic_load(&s->refcount), 2);
	close(fd);
	CHECK(wait_refcount(s, 1, 3000));
	fixture_stop(&f);
}

/* ---- concurrency ---- */

#define CONC_READERS 6
#define CONC_ROUNDS  60
#define CONC_BYTES   (64u << 10)

struct conc {
	struct fixture *f;
	atomic_bool stop;
	atomic_int errors;
	atomic_int published;
};

/* A snapshot whose every byte between the brackets is the same letter, so
 * that a body mixed from two snapshots shows. */
static struct snapshot *conc_snapshot(unsigned gen)
{
	char *json = malloc(CONC_BYTES);
	struct snapshot *s;

	if (!json)
		return NULL;
	memset(json, 'a' + (int)(gen % 26), CONC_BYTES);
	json[0] = '[';
	json[1] = '"';
	json[CONC_BYTES - 2] = '"';
	json[CONC_BYTES - 1] = ']';
	s = make_snapshot(json, CONC_BYTES, NOW_UNIX, false);
	free(json);
	return s;
}

static void *conc_writer(void *arg)
{
	struct conc *c = arg;
	struct snapshot *s;
	unsigned gen = 0;

	while (!atomic_load(&c->stop)) {
		s = conc_snapshot(gen++);
		if (!s) {
			atomic_fetch_add(&c->errors, 1);
			break;
		}
		snapshot_store_publish(&c->f->store, s);
		atomic_fetch_add(&c->published, 1);
	}
	return NULL;
}

static bool conc_body_ok(const struct http_response *resp)
{
	const char *p = resp->body.data;
	size_t i;

	if (resp->status != 200 || resp->body.len != CONC_BYTES || p[0] != '[')
		return false;
	for (i = 3; i < CONC_BYTES - 2; i++)
		if (p[i] != p[2])
			return false;
	return true;
}

static void *conc_reader(void *arg)
{
	static const char *const paths[] = { "/targets", "/prometheus-targets", "/metrics",
					     "/-/ready" };
	struct conc *c = arg;
	struct http_response resp;
	CURL *h = curl_easy_init();
	int i;

	for (i = 0; h && i < CONC_ROUNDS; i++) {
		const struct request rq = { .path = paths[i % 4] };

		http_response_init(&resp);
		if (fetch_on(h, c->f->port, &rq, &resp) != CURLE_OK || resp.status != 200 ||
		    (i % 4 < 2 && !conc_body_ok(&resp)))
			atomic_fetch_add(&c->errors, 1);
		http_response_done(&resp);
	}
	if (!h)
		atomic_fetch_add(&c->errors, 1);
	curl_easy_cleanup(h);
	return NULL;
}

static void test_concurrent_clients_while_republishing(void)
{
	const struct server_config cfg = default_config();
	pthread_t writer, readers[CONC_READERS];
	struct fixture f;
	struct conc c = { .f = &f };
	int i;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	snapshot_store_publish(&f.store, conc_snapshot(0));
	CHECK_INT(pthread_create(&writer, NULL, conc_writer, &c), 0);
	for (i = 0; i < CONC_READERS; i++)
		CHECK_INT(pthread_create(&readers[i], NULL, conc_reader, &c), 0);
	for (i = 0; i < CONC_READERS; i++)
		pthread_join(readers[i], NULL);
	atomic_store(&c.stop, true);
	pthread_join(writer, NULL);
	CHECK_INT(atomic_load(&c.errors), 0);
	CHECK(atomic_load(&c.published) > 1);
	CHECK_INT(count(&f, "targets", "200") + count(&f, "prometheus-targets", "200"),
		  CONC_READERS * CONC_ROUNDS / 2);
	fixture_stop(&f);
}

/* ---- listening ---- */

static void test_port_in_use(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct server_config cfg = default_config();
	struct server *sentinel = (struct server *)&cfg, *srv = sentinel;
	struct server_deps deps = { 0 };
	struct snapshot_store store;
	socklen_t len = sizeof(a);
	int fd;

	snapshot_store_init(&store);
	deps.store = &store;
	deps.metrics = metrics_registry_new();
	CHECK(deps.metrics != NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_INT(listen(fd, 1), 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	cfg.port = ntohs(a.sin_port);
	CHECK_INT(server_start(&cfg, &deps, &srv), -EADDRINUSE);
	CHECK(srv == sentinel);
	cfg.listen_host = NULL; /* every interface includes 127.0.0.1 */
	CHECK_INT(server_start(&cfg, &deps, &srv), -EADDRINUSE);
	CHECK(srv == sentinel);
	close(fd);
	metrics_registry_free(deps.metrics);
	snapshot_store_done(&store);
}

static void test_bad_addresses_and_config(void)
{
	struct server_config cfg = default_config();
	struct server_deps deps = { 0 };
	struct snapshot_store store;
	struct server *srv = NULL;

	snapshot_store_init(&store);
	deps.store = &store;
	deps.metrics = metrics_registry_new();
	CHECK(deps.metrics != NULL);
	cfg.listen_host = "192.0.2.1"; /* TEST-NET-1: on no interface here */
	CHECK_INT(server_start(&cfg, &deps, &srv), -EADDRNOTAVAIL);
	cfg.listen_host = "127.0.0.1";
	cfg.telemetry_path = "metrics";
	CHECK_INT(server_start(&cfg, &deps, &srv), -EINVAL);
	cfg.telemetry_path = "/metrics";
	cfg.port = 70000;
	CHECK_INT(server_start(&cfg, &deps, &srv), -EINVAL);
	CHECK(srv == NULL);
	metrics_registry_free(deps.metrics);
	snapshot_store_done(&store);
}

static bool ipv6_loopback_available(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void test_listen_every_interface(void)
{
	struct server_config cfg = default_config();
	const struct request rq6 = { .path = "/-/healthy", .host = "[::1]" };
	struct http_response resp;
	struct fixture f;

	cfg.listen_host = NULL;
	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(f.port > 0);
	CHECK_INT(get_status(f.port, "/-/healthy"), 200);
	if (ipv6_loopback_available()) {
		http_response_init(&resp);
		CHECK_INT(fetch(f.port, &rq6, &resp), CURLE_OK);
		CHECK_INT(resp.status, 200);
		http_response_done(&resp);
	} else {
		printf("# no IPv6 loopback: IPv4 only\n");
	}
	fixture_stop(&f);
}

static void test_listen_ipv6_host(void)
{
	struct server_config cfg = default_config();
	const struct request rq6 = { .path = "/-/healthy", .host = "[::1]" };
	struct http_response resp;
	struct fixture f;

	if (!ipv6_loopback_available()) {
		printf("# skipped: no IPv6 loopback\n");
		return;
	}
	cfg.listen_host = "::1";
	CHECK_INT(fixture_start(&f, &cfg), 0);
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq6, &resp), CURLE_OK);
	CHECK_INT(resp.status, 200);
	http_response_done(&resp);
	/* Exactly that address: nothing on 127.0.0.1. */
	CHECK_INT(get_status(f.port, "/-/healthy"), -1);
	fixture_stop(&f);
}

/* ---- limits ---- */

static void test_oversized_request_refused(void)
{
	const struct server_config cfg = default_config();
	size_t big = 40u << 10;
	char *path = malloc(big + 2), *header = malloc(big + 8);
	struct http_response resp;
	struct request rq = { .path = "/-/healthy" };
	struct fixture f;

	CHECK(path && header);
	path[0] = '/';
	memset(path + 1, 'a', big);
	path[big + 1] = '\0';
	memcpy(header, "X-Big: ", 7);
	memset(header + 7, 'b', big);
	header[big + 7] = '\0';
	CHECK_INT(fixture_start(&f, &cfg), 0);
	rq.header = header;
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 431);
	http_response_done(&resp);
	rq.header = NULL;
	rq.path = path;
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 414);
	http_response_done(&resp);
	free(path);
	free(header);
	/* A request that fits is still served. */
	CHECK_INT(get_status(f.port, "/-/healthy"), 200);
	fixture_stop(&f);
}

/* Connects until a connection is served or the deadline passes. */
static int open_served_before(unsigned port, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	int fd;

	while ((fd = open_served(port)) < 0 && mono_ms() < deadline)
		pause_ms(10);
	return fd;
}

static void test_per_ip_connection_limit(void)
{
	struct server_config cfg = default_config();
	char got[1024];
	struct fixture f;
	int a, b, c, d;

	cfg.max_connections_per_ip = 2;
	CHECK_INT(fixture_start(&f, &cfg), 0);
	a = open_served(f.port);
	b = open_served(f.port);
	CHECK(a >= 0 && b >= 0);
	/* The third connection from 127.0.0.1 is closed unanswered. */
	c = tcp_connect(f.port);
	CHECK(c >= 0);
	send_all(c, HEALTHY_REQUEST, strlen(HEALTHY_REQUEST));
	CHECK_INT(read_until(c, "HTTP/1.1", got, sizeof(got), 3000), 0);
	close(c);
	/* Once one closes, a new one is served again. */
	close(a);
	d = open_served_before(f.port, 3000);
	CHECK(d >= 0);
	close(d);
	close(b);
	fixture_stop(&f);
}

/* Prometheus keeps its connection: two requests, two answers, one socket. */
static void test_keep_alive(void)
{
	static const char two[] = "GET /targets HTTP/1.1\r\nHost: t\r\n\r\n" HEALTHY_REQUEST;
	const struct server_config cfg = default_config();
	char got[4096];
	struct fixture f;
	int fd;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	fd = tcp_connect(f.port);
	CHECK(fd >= 0);
	CHECK(send_all(fd, two, strlen(two)));
	CHECK_INT(read_until(fd, "Healthy.\n", got, sizeof(got), 3000), 1);
	CHECK(strstr(got, TARGETS_JSON "HTTP/1.1 200 OK\r\n") != NULL);
	CHECK(strstr(got, "Connection: close") == NULL);
	CHECK(send_all(fd, HEALTHY_REQUEST, strlen(HEALTHY_REQUEST)));
	CHECK_INT(read_until(fd, "Healthy.\n", got, sizeof(got), 3000), 1);
	close(fd);
	fixture_stop(&f);
}

static void test_stop_is_fast_with_open_connections(void)
{
	static const char partial[] = "GET /targets HTTP/1.1\r\nHost: t\r\n";
	const struct server_config cfg = default_config();
	struct fixture f;
	int64_t started;
	int idle, half;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	idle = open_served(f.port);
	half = tcp_connect(f.port);
	CHECK(idle >= 0 && half >= 0);
	CHECK(send_all(half, partial, strlen(partial)));
	started = mono_ms();
	f.srv = server_stop(f.srv);
	CHECK(mono_ms() - started < 1000);
	close(idle);
	close(half);
	fixture_stop(&f);
}

int main(void)
{
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = TEST_MAIN(
	    TEST_CASE(test_targets_before_first_snapshot),
	    TEST_CASE(test_targets_served_with_alias), TEST_CASE(test_stale_targets_refused),
	    TEST_CASE(test_warm_start_served_when_old), TEST_CASE(test_head_has_headers_only),
	    TEST_CASE(test_other_methods_refused), TEST_CASE(test_unknown_paths_not_found),
	    TEST_CASE(test_request_body_refused), TEST_CASE(test_healthy_and_ready),
	    TEST_CASE(test_metrics_counts_by_handler_and_code),
	    TEST_CASE(test_metrics_render_failure),
	    TEST_CASE(test_snapshot_released_after_response),
	    TEST_CASE(test_snapshot_held_while_sending),
	    TEST_CASE(test_concurrent_clients_while_republishing), TEST_CASE(test_port_in_use),
	    TEST_CASE(test_bad_addresses_and_config), TEST_CASE(test_listen_every_interface),
	    TEST_CASE(test_listen_ipv6_host), TEST_CASE(test_oversized_request_refused),
	    TEST_CASE(test_per_ip_connection_limit), TEST_CASE(test_keep_alive),
	    TEST_CASE(test_stop_is_fast_with_open_connections));
	curl_global_cleanup();
	return r;
}
