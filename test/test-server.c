/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the HTTP server over real sockets on loopback: libcurl (or a raw
 * socket, where the request must be malformed or held open) is the client,
 * the snapshots are built by hand and published to a real store, and a fake
 * wall clock drives staleness. Filters and shards are checked against a
 * snapshot made by snapshot_new() and hashmod written here again; gzip
 * answers are inflated with zlib, which checks their CRC and length.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "auth.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "snapshot.h"
#include "snapshot_gzip.h"
#include "test.h"

#define NOW_UNIX      1700000000
#define STALENESS_MS  600000
#define TARGETS_JSON  "[{\"targets\":[\"10.0.0.1:8080\"],\"labels\":{\"job\":\"a\"}}]"
#define REQUESTS_NAME "cloudmap_sd_http_requests_total"
#define INTERVAL_NAME "cloudmap_sd_client_refresh_interval_seconds"

static _Atomic int64_t fake_now_ms = (int64_t)NOW_UNIX * 1000;
static atomic_bool collector_fails;

/* Which HTTP threads read the clock, while recording: the handler of
 * /targets reads it once per request. */
#define MAX_CLOCK_READS 64
static struct {
	pthread_mutex_t lock;
	bool on;
	size_t n;
	pthread_t threads[MAX_CLOCK_READS];
} clock_readers = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int64_t fake_clock(void)
{
	pthread_mutex_lock(&clock_readers.lock);
	if (clock_readers.on && clock_readers.n < MAX_CLOCK_READS)
		clock_readers.threads[clock_readers.n++] = pthread_self();
	pthread_mutex_unlock(&clock_readers.lock);
	return atomic_load(&fake_now_ms);
}

static void record_clock_readers(bool on)
{
	pthread_mutex_lock(&clock_readers.lock);
	clock_readers.on = on;
	if (on)
		clock_readers.n = 0;
	pthread_mutex_unlock(&clock_readers.lock);
}

/* How many of the recorded clock reads the busiest and the least busy of
 * the recording threads made; returns the number of threads (at most
 * MAX_CLOCK_READS) and the number of reads. */
static size_t count_clock_readers(size_t *most, size_t *least, size_t *reads)
{
	pthread_t seen[MAX_CLOCK_READS];
	size_t counts[MAX_CLOCK_READS] = { 0 };
	size_t n_seen = 0, i, j;

	pthread_mutex_lock(&clock_readers.lock);
	for (i = 0; i < clock_readers.n; i++) {
		for (j = 0; j < n_seen && !pthread_equal(seen[j], clock_readers.threads[i]); j++)
			;
		if (j == n_seen)
			seen[n_seen++] = clock_readers.threads[i];
		counts[j]++;
	}
	*reads = clock_readers.n;
	pthread_mutex_unlock(&clock_readers.lock);
	*most = 0;
	*least = SIZE_MAX;
	for (i = 0; i < n_seen; i++) {
		*most = counts[i] > *most ? counts[i] : *most;
		*least = counts[i] < *least ? counts[i] : *least;
	}
	return n_seen;
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
	struct metrics_family *client_interval;
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
	const struct metrics_desc gauge = { .type = METRICS_GAUGE,
					    .name = INTERVAL_NAME,
					    .help = "The refresh interval clients announce." };
	int r;

	f->reg = metrics_registry_new();
	if (!f->reg)
		return -ENOMEM;
	r = metrics_register(f->reg, &d, &f->requests);
	if (r == 0)
		r = metrics_register(f->reg, &gauge, &f->client_interval);
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
	deps.client_refresh_interval = f->client_interval;
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

/* A snapshot built by hand whose answer is json ("[" ... "]", len >= 2)
 * as it is, with no groups: one reference, owned by the caller. */
static struct snapshot *make_snapshot(const char *json, size_t len, int64_t refreshed_at_unix,
				      bool warm_start)
{
	char *inner = len > 2 ? malloc(len - 2) : NULL;
	struct snapshot_part *p = NULL;
	struct snapshot *s = NULL;

	if (len < 2 || json[0] != '[' || json[len - 1] != ']')
		abort(); /* a broken test */
	if (inner)
		memcpy(inner, json + 1, len - 2);
	if (snapshot_part_adopt("", "", inner, len - 2, NULL, 0, SNAPSHOT_PART_PLAIN, &p) < 0 ||
	    snapshot_assemble(&p, 1, refreshed_at_unix, &s) < 0)
		s = NULL;
	snapshot_part_unref(p);
	if (s)
		s->warm_start = warm_start;
	return s;
}

/* The whole answer of s, valid until the next call. */
static const char *json_of(const struct snapshot *s)
{
	static char *json;
	size_t len;

	free(json);
	json = NULL;
	if (snapshot_json_copy(s, &json, &len) < 0)
		abort();
	return json;
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
	const char *host;    /* NULL: 127.0.0.1 */
	const char *body;    /* NULL: none */
	const char *header;  /* one extra header line, or NULL */
	const char *header2; /* another, or NULL */
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
	if (rq->header2)
		hdrs = curl_slist_append(hdrs, rq->header2);
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
	check_targets_served(f.port, "/targets?&");
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
	check_not_found(f.port, "/index.html");
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
	json[0] = '[';
	json[len - 1] = ']';
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

/* With a server that allows two connections from here: a third is closed
 * at once, unanswered (not left waiting in the listen backlog), and once
 * one of the two closes, a new one is served again. */
static void check_third_connection_closed(const struct server_config *cfg)
{
	char got[1024];
	struct fixture f;
	int a, b, c, d;

	CHECK_INT(fixture_start(&f, cfg), 0);
	a = open_served(f.port);
	b = open_served(f.port);
	CHECK(a >= 0 && b >= 0);
	c = tcp_connect(f.port);
	CHECK(c >= 0);
	send_all(c, HEALTHY_REQUEST, strlen(HEALTHY_REQUEST));
	CHECK_INT(read_until(c, "HTTP/1.1", got, sizeof(got), 3000), 0);
	close(c);
	close(a);
	d = open_served_before(f.port, 3000);
	CHECK(d >= 0);
	close(d);
	close(b);
	fixture_stop(&f);
}

static void test_per_ip_connection_limit(void)
{
	struct server_config cfg = default_config();

	cfg.max_connections_per_ip = 2;
	check_third_connection_closed(&cfg);
}

static void test_total_connection_limit(void)
{
	struct server_config cfg = default_config();

	cfg.max_connections = 2; /* one per worker */
	check_third_connection_closed(&cfg);
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

#define BURST 32

/* A burst of connections, as wrk or a restarted Prometheus opens them, is
 * split evenly over the two workers. libmicrohttpd's own accept lets the
 * first worker to wake take up to ten at a time, and a connection stays
 * with its worker: under wrk, 32 connections were split 5/27. */
static void test_connection_burst_split_over_workers(void)
{
	static const char get[] = "GET /targets HTTP/1.1\r\nHost: t\r\n\r\n";
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct server_config cfg = default_config();
	size_t i, most, least, reads;
	int fds[BURST];
	struct fixture f;
	char got[4096];

	CHECK_INT(cfg.threads, 2);
	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_default(&f) != NULL);
	to.sin_port = htons((uint16_t)f.port);
	/* Every client socket first, then every connect: the server's
	 * descriptors are then taken one after the other, as in a server
	 * process of its own. */
	for (i = 0; i < BURST; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(fds[i] >= 0);
	}
	for (i = 0; i < BURST; i++)
		CHECK_INT(connect(fds[i], (const struct sockaddr *)&to, sizeof(to)), 0);
	record_clock_readers(true);
	for (i = 0; i < BURST; i++)
		CHECK(send_all(fds[i], get, strlen(get)));
	for (i = 0; i < BURST; i++)
		CHECK_INT(read_until(fds[i], TARGETS_JSON, got, sizeof(got), 3000), 1);
	record_clock_readers(false);
	CHECK_INT(count_clock_readers(&most, &least, &reads), 2);
	CHECK_INT(reads, BURST);
	if (most - least > 2)
		TEST_FAIL("split %zu/%zu over the two workers", least, most);
	for (i = 0; i < BURST; i++)
		close(fds[i]);
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

/* ---- filters and shards ---- */

#define REAL_TARGETS 48

static struct cm_namespace real_ns[3] = {
	{ .id = "ns-1", .name = "alpha" },
	{ .id = "ns-2", .name = "beta" },
	{ .id = "ns-3", .name = "gamma" },
};
static struct cm_service real_svc[6] = {
	{ .id = "srv-1", .name = "api" }, { .id = "srv-2", .name = "web" },
	{ .id = "srv-3", .name = "api" }, { .id = "srv-4", .name = "db" },
	{ .id = "srv-5", .name = "web" }, { .id = "srv-6", .name = "cache" },
};
static struct target_service real_services[6];
static struct target real_targets[REAL_TARGETS];
static struct target_label real_labels[REAL_TARGETS][1];
static char real_addresses[REAL_TARGETS][32];

/* Target i belongs to service i * 6 / REAL_TARGETS, in namespace svc / 2. */
static size_t real_service_of(size_t i)
{
	return i * 6 / REAL_TARGETS;
}

/* Publishes a snapshot made by snapshot_new() (with its gzip forms) of
 * REAL_TARGETS targets; returns it, borrowed. */
static struct snapshot *publish_real(struct fixture *f)
{
	struct target_set ts = { .targets = real_targets,
				 .n_targets = REAL_TARGETS,
				 .services = real_services,
				 .n_services = 6 };
	struct snapshot *s = NULL;
	size_t i, svc;

	for (i = 0; i < 6; i++)
		real_services[i] =
		    (struct target_service){ .ns = &real_ns[i / 2], .svc = &real_svc[i] };
	for (i = 0; i < REAL_TARGETS; i++) {
		svc = real_service_of(i);
		snprintf(real_addresses[i], sizeof(real_addresses[i]), "10.1.%zu.%zu:%zu", svc, i,
			 9100 + i);
		real_labels[i][0] = (struct target_label){ "__metrics_path__", "/metrics" };
		real_targets[i] =
		    (struct target){ real_addresses[i], real_labels[i], 1,    &real_ns[svc / 2],
				     &real_svc[svc],	"i-1",		"app" };
		real_services[svc].targets++;
	}
	if (snapshot_new(&ts, NOW_UNIX, &s) < 0)
		return NULL;
	snapshot_store_publish(&f->store, s);
	return s;
}

/* hashmod as Prometheus computes it, written here again with OpenSSL's
 * one-shot digest: MD5, bytes 8..15 big-endian, modulo n. */
static uint64_t hashmod(const char *address, uint64_t n)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;
	uint64_t v = 0;

	if (EVP_Digest(address, strlen(address), d, &len, EVP_md5(), NULL) != 1 || len != 16)
		abort();
	for (i = 8; i < 16; i++)
		v = v << 8 | d[i];
	return v % n;
}

static int real_index(const char *address)
{
	int i;

	for (i = 0; i < REAL_TARGETS; i++)
		if (strcmp(real_addresses[i], address) == 0)
			return i;
	return -1;
}

/* GETs path and returns the index of each group's address in order, or -1
 * in got[0] when the answer is not a 200 http_sd list. Returns the count. */
static int get_indexes(unsigned port, const char *path, int got[REAL_TARGETS + 1])
{
	const struct request rq = { .path = path };
	struct http_response resp;
	json_t *root, *g;
	size_t i;
	int n = 0;

	got[0] = -1;
	http_response_init(&resp);
	if (fetch(port, &rq, &resp) != CURLE_OK || resp.status != 200) {
		http_response_done(&resp);
		return 0;
	}
	root = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	json_array_foreach (root, i, g) {
		if (n > REAL_TARGETS)
			break;
		got[n++] =
		    real_index(json_string_value(json_array_get(json_object_get(g, "targets"), 0)));
	}
	json_decref(root);
	http_response_done(&resp);
	return n;
}

struct filter_case {
	const char *query;
	bool (*want)(size_t i);
};

static bool want_alpha(size_t i)
{
	return real_service_of(i) / 2 == 0;
}
static bool want_api(size_t i)
{
	return real_service_of(i) == 0 || real_service_of(i) == 2;
}
static bool want_beta_api(size_t i)
{
	return real_service_of(i) == 2;
}
static bool want_alpha_or_gamma(size_t i)
{
	return real_service_of(i) / 2 != 1;
}
static bool want_web_shard0(size_t i)
{
	return (real_service_of(i) == 1 || real_service_of(i) == 4) &&
	       hashmod(real_addresses[i], 2) == 0;
}
static bool want_nothing(size_t i)
{
	return false;
}

static void check_filter(unsigned port, const struct filter_case *c)
{
	int got[REAL_TARGETS + 1], n, k = 0;
	char path[256];
	size_t i;

	snprintf(path, sizeof(path), "/targets?%s", c->query);
	n = get_indexes(port, path, got);
	for (i = 0; i < REAL_TARGETS; i++) {
		if (!c->want(i))
			continue;
		if (k >= n || got[k] != (int)i) {
			TEST_FAIL("%s: target %zu missing or out of order", c->query, i);
			return;
		}
		k++;
	}
	if (k != n)
		TEST_FAIL("%s: %d targets, want %d", c->query, n, k);
}

static void test_filters(void)
{
	static const struct filter_case cases[] = {
		{ "namespace=alpha", want_alpha },
		{ "service=api", want_api },
		{ "namespace=beta&service=api", want_beta_api },
		{ "service=api&namespace=beta", want_beta_api },
		{ "namespace=alpha&namespace=gamma", want_alpha_or_gamma },
		{ "namespace=gamma&namespace=alpha&namespace=alpha", want_alpha_or_gamma },
		{ "service=web&shard=0&shards=2", want_web_shard0 },
		{ "namespace=%61lpha", want_alpha },
		{ "namespace=nope", want_nothing },
		{ "namespace=Alpha", want_nothing },
		{ "namespace=alpha&service=db", want_nothing },
	};
	const struct server_config cfg = default_config();
	struct fixture f;
	size_t i;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_real(&f) != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_filter(f.port, &cases[i]);
	if (test_failed)
		return;
	CHECK_INT(count(&f, "targets", "200"), sizeof(cases) / sizeof(cases[0]));
	fixture_stop(&f);
}

/* Shards are disjoint, their union is every target, and each target is in
 * the shard hashmod puts it in. */
static void check_shards(unsigned port, const char *route, uint64_t shards)
{
	int got[REAL_TARGETS + 1], n, seen[REAL_TARGETS] = { 0 }, k, total = 0;
	char path[128];
	uint64_t i;

	for (i = 0; i < shards; i++) {
		snprintf(path, sizeof(path), "%s?shard=%llu&shards=%llu", route,
			 (unsigned long long)i, (unsigned long long)shards);
		n = get_indexes(port, path, got);
		CHECK(n == 0 || got[0] >= 0);
		for (k = 0; k < n; k++) {
			CHECK(got[k] >= 0 && !seen[got[k]]);
			CHECK(hashmod(real_addresses[got[k]], shards) == i);
			seen[got[k]] = 1;
		}
		total += n;
	}
	CHECK_INT(total, REAL_TARGETS);
}

static void test_shards_split_as_hashmod(void)
{
	const struct server_config cfg = default_config();
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_real(&f) != NULL);
	check_shards(f.port, "/targets", 1);
	check_shards(f.port, "/targets", 2);
	check_shards(f.port, "/targets", 3);
	check_shards(f.port, "/prometheus-targets", 7);
	check_shards(f.port, "/targets", 100);
	fixture_stop(&f);
}

static void check_bad_query(unsigned port, const char *path, const char *body)
{
	const struct request rq = { .path = path };
	struct http_response resp;

	http_response_init(&resp);
	CHECK_INT(fetch(port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 400);
	CHECK_STR(resp.body.data, body);
	CHECK(has_header(&resp, "Content-Type", "application/json"));
	http_response_done(&resp);
}

static void test_bad_queries_refused(void)
{
	const struct server_config cfg = default_config();
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	/* before the first snapshot too: the query is checked first */
	check_bad_query(f.port, "/targets?foo=1", "{\"error\":\"unknown query parameter: foo\"}");
	CHECK(publish_real(&f) != NULL);
	check_bad_query(f.port, "/targets?namespace=%zz",
			"{\"error\":\"bad percent-escape in the query\"}");
	check_bad_query(f.port, "/targets?shard=1", "{\"error\":\"shard and shards go together\"}");
	check_bad_query(f.port, "/targets?shard=3&shards=3",
			"{\"error\":\"shard must be less than shards\"}");
	check_bad_query(f.port, "/targets?shard=0&shards=0",
			"{\"error\":\"shards must be at least 1\"}");
	check_bad_query(f.port, "/prometheus-targets?shard=x&shards=2",
			"{\"error\":\"not a decimal number: shard\"}");
	check_bad_query(f.port, "/targets?shard=0&shard=0&shards=2",
			"{\"error\":\"query parameter given twice: shard\"}");
	check_bad_query(f.port, "/targets?a%22b=1", "{\"error\":\"unknown query parameter\"}");
	if (test_failed)
		return;
	CHECK_INT(count(&f, "targets", "400"), 7);
	CHECK_INT(count(&f, "prometheus-targets", "400"), 1);
	fixture_stop(&f);
}

/* A filtered answer is lent too: the snapshot goes back to one reference. */
static void test_filtered_answer_releases_snapshot(void)
{
	const struct server_config cfg = default_config();
	struct snapshot *s;
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	s = publish_real(&f);
	CHECK(s != NULL);
	CHECK_INT(get_status(f.port, "/targets?service=api"), 200);
	CHECK(wait_refcount(s, 1, 2000));
	CHECK_INT(get_status(f.port, "/targets?shard=0&shards=2"), 200);
	CHECK(wait_refcount(s, 1, 2000));
	fixture_stop(&f);
}

/* A filtered answer (a streamed response) keeps the connection alive. */
static void test_keep_alive_filtered(void)
{
	static const char two[] = "GET /targets?namespace=beta HTTP/1.1\r\nHost: t\r\n\r\n"
				  "GET /targets?shard=1&shards=2 HTTP/1.1\r\nHost: t\r\n\r\n"
				  "GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n";
	const struct server_config cfg = default_config();
	char got[16384];
	struct fixture f;
	int fd;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_real(&f) != NULL);
	fd = tcp_connect(f.port);
	CHECK(fd >= 0);
	CHECK(send_all(fd, two, strlen(two)));
	CHECK_INT(read_until(fd, "Healthy.\n", got, sizeof(got), 3000), 1);
	CHECK(strstr(got, "\"10.1.2.16:9116\"") != NULL);
	CHECK(strstr(got, "Connection: close") == NULL);
	close(fd);
	fixture_stop(&f);
}

/* ---- gzip ---- */

/* Inflates a whole gzip member; zlib checks the CRC-32 and the length.
 * NULL when it is not one. */
static char *gunzip(const char *in, size_t len, size_t *ret_len)
{
	size_t cap = 1u << 20;
	char *out = malloc(cap);
	z_stream zs = { 0 };
	int zr;

	if (!out || inflateInit2(&zs, 15 + 16) != Z_OK)
		return NULL;
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (unsigned char *)out;
	zs.avail_out = (uInt)cap;
	zr = inflate(&zs, Z_FINISH);
	*ret_len = zs.total_out;
	inflateEnd(&zs);
	if (zr != Z_STREAM_END || zs.avail_in) {
		free(out);
		return NULL;
	}
	return out;
}

/* GETs path with Accept-Encoding accept; returns the body as it would be
 * decoded (gunzipped when the answer says gzip, which it must iff
 * want_gzip), or NULL. */
static char *get_encoded(unsigned port, const char *path, const char *accept, bool want_gzip,
			 size_t *ret_len)
{
	char header[128], len[32] = "";
	const struct request rq = { .path = path, .header = header };
	struct http_response resp;
	char *out = NULL;

	snprintf(header, sizeof(header), "Accept-Encoding: %s", accept);
	http_response_init(&resp);
	if (fetch(port, &rq, &resp) == CURLE_OK)
		snprintf(len, sizeof(len), "%zu", resp.body.len);
	if (resp.status == 200 && has_header(&resp, "Vary", "Accept-Encoding") &&
	    has_header(&resp, "Content-Encoding", "gzip") == want_gzip &&
	    has_header(&resp, "Content-Length", len))
		out = want_gzip ? gunzip(resp.body.data, resp.body.len, ret_len)
				: buf_steal(&resp.body, ret_len);
	http_response_done(&resp);
	return out;
}

/* The send buffer of the server's side of the connection whose peer is
 * the client socket fd (found among this process's sockets), or -1. */
static int server_side_sndbuf(int client_fd)
{
	struct sockaddr_in mine, peer;
	socklen_t len = sizeof(mine);
	int fd, size = -1;

	if (getsockname(client_fd, (struct sockaddr *)&mine, &len) < 0)
		return -1;
	for (fd = 3; fd < 4096 && size < 0; fd++) {
		len = sizeof(peer);
		if (fd == client_fd || getpeername(fd, (struct sockaddr *)&peer, &len) < 0 ||
		    peer.sin_family != AF_INET || peer.sin_port != mine.sin_port)
			continue;
		len = sizeof(size);
		if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0)
			size = -1;
	}
	return size;
}

/* The largest send buffer a process may set: net.core.wmem_max, or -1. */
static long wmem_max(void)
{
	FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Every accepted connection gets a bounded send buffer (256 KiB, or
 * net.core.wmem_max when lower, which Linux doubles), so one client's
 * multi-megabyte answer cannot take the kernel's whole attention from the
 * others. */
static void test_connection_send_buffer_bounded(void)
{
	static const char request[] = "GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n";
	const struct server_config cfg = default_config();
	long max = wmem_max(), want = 256 << 10;
	struct fixture f;
	char head[512];
	int fd;

	CHECK(max > 0);
	want = max < want ? max : want;
	CHECK_INT(fixture_start(&f, &cfg), 0);
	fd = tcp_connect(f.port);
	CHECK(fd >= 0);
	CHECK(send_all(fd, request, strlen(request)));
	CHECK_INT(read_until(fd, "\r\n\r\n", head, sizeof(head), 3000), 1);
	CHECK_INT(server_side_sndbuf(fd), 2 * want);
	close(fd);
	fixture_stop(&f);
}

/* ---- the whole answer as an I/O vector, and its limits ---- */

/* Publishes a snapshot of n_parts services of one target each (so
 * 2 x n_parts + 1 JSON pieces); returns it, borrowed. */
static struct snapshot *publish_parts(struct fixture *f, size_t n_parts)
{
	struct snapshot_part **parts = calloc(n_parts, sizeof(*parts));
	struct snapshot_part_group *g;
	struct snapshot *s = NULL;
	char name[32], *json;
	size_t i, n = 0;
	int r = parts ? 0 : -ENOMEM;

	for (i = 0; r == 0 && i < n_parts; i++) {
		json = malloc(64);
		g = calloc(1, sizeof(*g));
		if (!json || !g) {
			free(json);
			free(g);
			r = -ENOMEM;
			break;
		}
		g->len =
		    (size_t)snprintf(json, 64, "{\"targets\":[\"10.3.%zu.%zu:80\"],\"labels\":{}}",
				     i / 256, i % 256);
		snprintf(name, sizeof(name), "svc-%05zu", i);
		r = snapshot_part_adopt("ns", name, json, g->len, g, 1, 0, &parts[n]);
		n += r == 0;
	}
	if (r == 0 && snapshot_assemble(parts, n, NOW_UNIX, &s) == 0)
		snapshot_store_publish(&f->store, s);
	for (i = 0; i < n; i++)
		snapshot_part_unref(parts[i]);
	free(parts);
	return s;
}

/* GETs path with an X-Pad header of pad bytes and Accept-Encoding:
 * accept; the body (inflated when gzip), or NULL. */
static char *get_padded(unsigned port, const char *path, size_t pad, const char *accept,
			size_t *ret_len)
{
	char *header = malloc(pad + 8), encoding[64];
	const struct request rq = { .path = path, .header = header, .header2 = encoding };
	struct http_response resp;
	char *out = NULL;

	if (!header)
		return NULL;
	memcpy(header, "X-Pad: ", 7);
	memset(header + 7, 'p', pad);
	header[pad + 7] = '\0';
	snprintf(encoding, sizeof(encoding), "Accept-Encoding: %s", accept);
	http_response_init(&resp);
	if (fetch(port, &rq, &resp) == CURLE_OK && resp.status == 200)
		out = has_header(&resp, "Content-Encoding", "gzip")
			  ? gunzip(resp.body.data, resp.body.len, ret_len)
			  : buf_steal(&resp.body, ret_len);
	http_response_done(&resp);
	free(header);
	return out;
}

/* The whole answer is lent as an I/O vector only when the vector's copy
 * fits the connection's memory next to the request: libmicrohttpd 0.9.75
 * aborts the process when it does not. Across snapshots of up to 3000
 * parts (6001 pieces) and request headers up to 30 KiB of the 32 KiB, every
 * answer must come, whole and right, by whichever path; an abort ends the
 * test. */
static void test_whole_answer_vector_limits(void)
{
	static const size_t n_parts[] = { 1, 50, 400, 900, 1000, 3000 };
	static const size_t pads[] = { 0, 2048, 6144, 10240, 14336, 20480, 26624, 30720 };
	const struct server_config cfg = default_config();
	size_t i, j, len, want_len, bad = 0, answered = 0;
	char *want, *got;
	struct snapshot *s;
	struct fixture f;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	for (i = 0; i < sizeof(n_parts) / sizeof(n_parts[0]); i++) {
		s = publish_parts(&f, n_parts[i]);
		CHECK(s != NULL);
		if (!s || snapshot_json_copy(s, &want, &want_len) < 0)
			break;
		for (j = 0; j < sizeof(pads) / sizeof(pads[0]); j++) {
			got = get_padded(f.port, "/targets", pads[j], j % 2 ? "gzip" : "identity",
					 &len);
			answered += got != NULL;
			/* Headers past the pool are refused (431) before routing. */
			if (got && (len != want_len || memcmp(got, want, len) != 0))
				bad++;
			free(got);
		}
		free(want);
	}
	CHECK_INT(bad, 0);
	CHECK(answered >= 6 * 6); /* all but the largest pads */
	printf("# %zu of %zu answered, all whole\n", answered,
	       sizeof(n_parts) / sizeof(n_parts[0]) * sizeof(pads) / sizeof(pads[0]));
	fixture_stop(&f);
}

/* The canonical JSON of the groups of s whose service is svc. */
static char *expected_service(const struct snapshot *s, const char *svc)
{
	struct buf b;
	size_t i;

	buf_init(&b, 1u << 20);
	buf_putc(&b, '[');
	for (i = 0; i < s->n_groups; i++) {
		if (strcmp(s->names[s->groups[i].service_idx], svc) != 0)
			continue;
		if (b.len > 1)
			buf_putc(&b, ',');
		buf_append(&b, snapshot_group_json(s, &s->groups[i]), s->groups[i].len);
	}
	buf_putc(&b, ']');
	return buf_steal(&b, NULL);
}

static void check_decoded(unsigned port, const char *path, const char *accept, bool want_gzip,
			  const char *want)
{
	size_t len = 0;
	char *got = get_encoded(port, path, accept, want_gzip, &len);

	if (!got || len != strlen(want) || memcmp(got, want, len) != 0)
		TEST_FAIL("%s with Accept-Encoding: %s: wrong answer", path, accept);
	free(got);
}

static void test_gzip(void)
{
	const struct server_config cfg = default_config();
	const struct request head = { .method = "HEAD",
				      .path = "/targets",
				      .header = "Accept-Encoding: gzip" };
	struct http_response resp;
	struct snapshot *s;
	struct fixture f;
	char len[32], *api;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	s = publish_real(&f);
	CHECK(s && s->gzip_pieces);
	api = expected_service(s, "api");
	check_decoded(f.port, "/targets", "gzip", true, json_of(s));
	check_decoded(f.port, "/prometheus-targets", "deflate, gzip;q=0.8", true, json_of(s));
	check_decoded(f.port, "/targets", "gzip;q=0", false, json_of(s));
	check_decoded(f.port, "/targets", "identity", false, json_of(s));
	check_decoded(f.port, "/targets?service=api", "gzip", true, api);
	check_decoded(f.port, "/targets?service=api", "br", false, api);
	check_decoded(f.port, "/targets?namespace=nope", "gzip", true, "[]");
	http_response_init(&resp);
	CHECK_INT(fetch(f.port, &head, &resp), CURLE_OK);
	snprintf(len, sizeof(len), "%zu", s->gzip_len);
	CHECK(has_header(&resp, "Content-Length", len));
	CHECK(has_header(&resp, "Content-Encoding", "gzip"));
	CHECK_INT(resp.body.len, 0);
	http_response_done(&resp);
	free(api);
	CHECK(wait_refcount(s, 1, 2000));
	fixture_stop(&f);
}

/* Sharded gzip answers inflate and split as hashmod does. A shard cuts
 * through the services' parts, whose segments cannot be split: it is
 * compressed on its first request and kept with the snapshot (answer.h). */
static void test_gzip_shards(void)
{
	const struct server_config cfg = default_config();
	size_t len = 0, i, total = 0;
	struct fixture f;
	char path[64], *got;
	json_t *root;

	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_real(&f) != NULL);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/targets?shard=%zu&shards=3", i);
		got = get_encoded(f.port, path, "gzip", true, &len);
		CHECK(got != NULL);
		root = json_loadb(got, len, 0, NULL);
		free(got);
		CHECK(root != NULL);
		total += json_array_size(root);
		json_decref(root);
	}
	CHECK_INT(total, REAL_TARGETS);
	fixture_stop(&f);
}

/* A sharded answer of a big snapshot: thousands of scattered pieces, which
 * libmicrohttpd 0.9.75 could not send as an I/O vector (it aborted), in
 * identity and gzip; and again after request headers that fill most of the
 * connection's memory. */
#define BIG_TARGETS 20000

static struct snapshot *publish_big(struct fixture *f, char (*addresses)[32],
				    struct target *targets)
{
	static const struct target_label label = { "__metrics_path__", "/metrics" };
	struct target_service one = { .ns = &real_ns[0],
				      .svc = &real_svc[0],
				      .targets = BIG_TARGETS };
	struct target_set ts = {
		.targets = targets, .n_targets = BIG_TARGETS, .services = &one, .n_services = 1
	};
	struct snapshot *s = NULL;
	size_t i;

	for (i = 0; i < BIG_TARGETS; i++) {
		snprintf(addresses[i], 32, "10.2.%zu.%zu:9100", i / 256, i % 256);
		targets[i] = (struct target){ addresses[i], &label, 1,	  &real_ns[0],
					      &real_svc[0], "i-1",  "app" };
	}
	if (snapshot_new(&ts, NOW_UNIX, &s) < 0)
		return NULL;
	snapshot_store_publish(&f->store, s);
	return s;
}

static void test_big_scattered_answer(void)
{
	char(*addresses)[32] = calloc(BIG_TARGETS, 32);
	struct target *targets = calloc(BIG_TARGETS, sizeof(*targets));
	const struct server_config cfg = default_config();
	const char *path = "/targets?shard=1&shards=2";
	size_t plain_len = 0, packed_len = 0, i, want = 0;
	char *plain, *packed;
	struct snapshot *s;
	struct fixture f;
	json_t *root;

	CHECK(addresses && targets);
	CHECK_INT(fixture_start(&f, &cfg), 0);
	s = publish_big(&f, addresses, targets);
	CHECK(s != NULL);
	for (i = 0; i < BIG_TARGETS; i++)
		want += hashmod(addresses[i], 2) == 1;
	plain = get_encoded(f.port, path, "identity", false, &plain_len);
	packed = get_encoded(f.port, path, "gzip", true, &packed_len);
	CHECK(plain && packed);
	CHECK(plain_len == packed_len && memcmp(plain, packed, plain_len) == 0);
	free(packed);
	packed = get_padded(f.port, path, 24u << 10, "identity", &packed_len);
	CHECK(packed != NULL);
	CHECK(plain_len == packed_len && memcmp(plain, packed, plain_len) == 0);
	root = json_loadb(plain, plain_len, 0, NULL);
	CHECK_INT(json_array_size(root), want);
	printf("# %zu of %d targets in shard 1, %zu bytes\n", want, BIG_TARGETS, plain_len);
	json_decref(root);
	free(plain);
	free(packed);
	CHECK(wait_refcount(s, 1, 2000));
	fixture_stop(&f);
	free(addresses);
	free(targets);
}

/* ---- auth ---- */

static char auth_dir[64];

static const char *auth_file(const char *name, const char *content)
{
	static char paths[2][128];
	char *path = paths[strcmp(name, "token") == 0];
	FILE *fp;

	if (!auth_dir[0]) {
		strcpy(auth_dir, "/tmp/test-server-auth-XXXXXX");
		if (!mkdtemp(auth_dir))
			abort();
	}
	snprintf(path, sizeof(paths[0]), "%s/%s", auth_dir, name);
	fp = fopen(path, "w");
	if (!fp || fputs(content, fp) < 0 || fclose(fp) != 0)
		abort();
	return path;
}

static void auth_files_remove(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/token", auth_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/users", auth_dir);
	unlink(path);
	rmdir(auth_dir);
	auth_dir[0] = '\0';
}

/* printf 'correct horse' | sha256sum */
#define SERVER_USERS \
	"prom:sha256:4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631\n"
#define BASIC_OK    "Authorization: Basic cHJvbTpjb3JyZWN0IGhvcnNl" /* prom:correct horse */
#define BASIC_WRONG "Authorization: Basic cHJvbTpjb3JyZWN0IGhvcnNf" /* prom:correct horsf */

static long status_with(unsigned port, const char *path, const char *header)
{
	const struct request rq = { .path = path, .header = header };
	struct http_response resp;
	long status;

	http_response_init(&resp);
	status = fetch(port, &rq, &resp) == CURLE_OK ? resp.status : -1;
	http_response_done(&resp);
	return status;
}

static void check_unauthorized(unsigned port, const char *path)
{
	const struct request rq = { .path = path };
	struct http_response resp;

	http_response_init(&resp);
	CHECK_INT(fetch(port, &rq, &resp), CURLE_OK);
	CHECK_INT(resp.status, 401);
	CHECK_STR(resp.body.data, "{\"error\":\"unauthorized\"}");
	CHECK(strstr(resp.headers.data, "\r\nWWW-Authenticate: Bearer realm=\"cloudmap-sd\"\r\n"));
	CHECK(strstr(resp.headers.data,
		     "\r\nWWW-Authenticate: Basic realm=\"cloudmap-sd\", charset=\"UTF-8\"\r\n"));
	http_response_done(&resp);
}

static void test_auth_on_every_path_but_healthy(void)
{
	struct server_config cfg = default_config();
	static const char *const closed[] = { "/targets",
					      "/prometheus-targets?service=api",
					      "/metrics",
					      "/-/ready",
					      "/",
					      "/api/v1/status",
					      "/no/such/path" };
	struct fixture f;
	size_t i;

	cfg.auth_token_file = auth_file("token", "t0ken\n");
	cfg.basic_auth_file = auth_file("users", SERVER_USERS);
	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_real(&f) != NULL);
	for (i = 0; i < sizeof(closed) / sizeof(closed[0]); i++)
		check_unauthorized(f.port, closed[i]);
	CHECK_INT(status_with(f.port, "/targets", "Authorization: Bearer t0ken"), 200);
	CHECK_INT(status_with(f.port, "/targets", BASIC_OK), 200);
	CHECK_INT(status_with(f.port, "/targets", "Authorization: Bearer t0ken2"), 401);
	CHECK_INT(status_with(f.port, "/targets", BASIC_WRONG), 401);
	CHECK_INT(status_with(f.port, "/metrics", "Authorization: Bearer t0ken"), 200);
	CHECK_INT(status_with(f.port, "/-/ready", BASIC_OK), 200);
	CHECK_INT(status_with(f.port, "/no/such/path", BASIC_OK), 404);
	CHECK_INT(get_status(f.port, "/-/healthy"), 200);
	CHECK_INT(status_with(f.port, "/-/healthy", BASIC_WRONG), 200);
	if (test_failed)
		return;
	CHECK_INT(count(&f, "targets", "401"), 3);
	CHECK_INT(count(&f, "other", "401"), 1);
	CHECK_INT(count(&f, "targets", "200"), 2);
	fixture_stop(&f);
	auth_files_remove();
}

static void test_bad_auth_file_refused_at_start(void)
{
	struct server_config cfg = default_config();
	struct server_deps deps = { 0 };
	struct snapshot_store store;
	struct server *sentinel = (struct server *)&cfg, *srv = sentinel;
	char error[AUTH_WHY_MAX] = "";

	snapshot_store_init(&store);
	deps.store = &store;
	deps.metrics = metrics_registry_new();
	CHECK(deps.metrics != NULL);
	cfg.error = error;
	cfg.error_size = sizeof(error);
	cfg.auth_token_file = auth_file("token", "\n");
	CHECK_INT(server_start(&cfg, &deps, &srv), -EINVAL);
	CHECK(srv == sentinel);
	CHECK(strstr(error, "--web.auth-token-file") && strstr(error, "empty token"));
	cfg.auth_token_file = NULL;
	cfg.basic_auth_file = auth_file("users", "prom:plain\n");
	CHECK_INT(server_start(&cfg, &deps, &srv), -EINVAL);
	CHECK(strstr(error, "line 1: unknown hash"));
	cfg.basic_auth_file = "/nonexistent/users";
	CHECK_INT(server_start(&cfg, &deps, &srv), -ENOENT);
	CHECK(srv == sentinel);
	metrics_registry_free(deps.metrics);
	snapshot_store_done(&store);
	auth_files_remove();
}

/* ---- X-Prometheus-Refresh-Interval-Seconds ---- */

/* Everything in f from its start. */
static char *read_all(FILE *f)
{
	struct buf b;
	char chunk[4096];
	size_t n;

	buf_init(&b, 1u << 20);
	rewind(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			break;
	return buf_steal(&b, NULL);
}

static double client_interval(struct fixture *f)
{
	struct metrics_series *s;

	if (metrics_family_child(f->client_interval, NULL, &s) < 0)
		return -1;
	return metrics_series_value(s);
}

static size_t occurrences(const char *text, const char *needle)
{
	size_t n = 0;

	for (; text && (text = strstr(text, needle)); text++)
		n++;
	return n;
}

/* Announces an interval and returns the gauge after it. */
static double announce(struct fixture *f, const char *seconds)
{
	char header[96];

	snprintf(header, sizeof(header), "X-Prometheus-Refresh-Interval-Seconds: %s", seconds);
	if (status_with(f->port, "/targets", header) != 200)
		return -2;
	return client_interval(f);
}

static void test_client_refresh_interval(void)
{
	struct server_config cfg = default_config();
	FILE *log = tmpfile();
	struct fixture f;
	char *text;

	CHECK(log != NULL);
	CHECK_INT(log_init(LOG_LEVEL_WARN, LOG_FORMAT_LOGFMT, fileno(log)), 0);
	cfg.refresh_interval_ms = 60000;
	CHECK_INT(fixture_start(&f, &cfg), 0);
	CHECK(publish_real(&f) != NULL);
	CHECK(client_interval(&f) == 0);
	CHECK(announce(&f, "30") == 30); /* within a factor of 4: fine */
	CHECK(announce(&f, "15") == 15);
	CHECK(announce(&f, "240") == 240);
	CHECK(announce(&f, "5") == 5); /* much faster: one warning */
	CHECK(announce(&f, "5") == 5);
	CHECK(announce(&f, "300") == 300); /* much slower: one warning */
	CHECK(announce(&f, "300") == 300);
	CHECK(announce(&f, "abc") == 300); /* bad values are ignored */
	CHECK(announce(&f, "-1") == 300);
	CHECK(announce(&f, "inf") == 300);
	CHECK(announce(&f, "nan") == 300);
	CHECK(announce(&f, "0") == 300);
	CHECK(announce(&f, "30s") == 300);
	CHECK(announce(&f, "0.5") == 0.5); /* faster again: a new warning */
	fixture_stop(&f);
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, 2);
	text = read_all(log);
	CHECK(text != NULL);
	CHECK_INT(occurrences(text, "level=warn"), 3);
	CHECK_INT(occurrences(text, "much more often"), 2);
	CHECK_INT(occurrences(text, "much less often"), 1);
	CHECK(strstr(text, "client_refresh_interval_sec=5 refresh_interval_sec=60"));
	CHECK(strstr(text, "client_refresh_interval_sec=300 refresh_interval_sec=60"));
	free(text);
	fclose(log);
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
	    TEST_CASE(test_per_ip_connection_limit), TEST_CASE(test_total_connection_limit),
	    TEST_CASE(test_keep_alive), TEST_CASE(test_connection_burst_split_over_workers),
	    TEST_CASE(test_stop_is_fast_with_open_connections), TEST_CASE(test_filters),
	    TEST_CASE(test_shards_split_as_hashmod), TEST_CASE(test_bad_queries_refused),
	    TEST_CASE(test_filtered_answer_releases_snapshot), TEST_CASE(test_keep_alive_filtered),
	    TEST_CASE(test_gzip), TEST_CASE(test_gzip_shards), TEST_CASE(test_big_scattered_answer),
	    TEST_CASE(test_whole_answer_vector_limits),
	    TEST_CASE(test_connection_send_buffer_bounded),
	    TEST_CASE(test_auth_on_every_path_but_healthy),
	    TEST_CASE(test_bad_auth_file_refused_at_start),
	    TEST_CASE(test_client_refresh_interval));
	curl_global_cleanup();
	return r;
}
