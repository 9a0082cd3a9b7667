/* SPDX-License-Identifier: Apache-2.0 */
/*
 * appserver: the web app's HTTP server. See appserver.h.
 *
 * DESIGN
 * Static answers are MHD responses built once and shared by every thread.
 * MHD calls the handler once the headers are read and again once the whole
 * request is; each request is timed from that second call to the queueing
 * of its answer and counted in the registry's families (lock-free).
 *
 * A /work with a latency is a struct appserver_request in MHD's per-request
 * pointer: the handler suspends the connection and schedules its
 * resumption on the delay thread; MHD then calls the handler a third time
 * and it answers. n_suspended counts the connections between their
 * suspension and that third call (or their end), so that appserver_free()
 * can resume them all and wait for them before MHD_stop_daemon(), which
 * must not meet a suspended connection.
 *
 * The handlers are an edge of the program and may log.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
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

#include <microhttpd.h>

#include "appserver.h"
#include "delay.h"
#include "log.h"
#include "metrics.h"

#define APPSERVER_MAX_METRICS_BYTES  (16u << 20)
#define APPSERVER_MEMORY_LIMIT_BYTES ((size_t)32 << 10)
#define APPSERVER_LISTEN_BACKLOG     1024
#define APPSERVER_STOP_WAIT_NS	     (5 * 1000000000ull)

enum appserver_path {
	APPSERVER_WORK,
	APPSERVER_METRICS,
	APPSERVER_HEALTHY,
	APPSERVER_OTHER,
};

static const char *const appserver_path_labels[] = {
	[APPSERVER_WORK] = "/work",
	[APPSERVER_METRICS] = "/metrics",
	[APPSERVER_HEALTHY] = "/-/healthy",
	[APPSERVER_OTHER] = "other",
};

/* Method labels; the last stands for every other method. */
static const char *const appserver_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
};

#define APPSERVER_N_METHODS (sizeof(appserver_methods) / sizeof(appserver_methods[0]))
#define APPSERVER_N_PATHS   (APPSERVER_OTHER + 1)

/* The codes whose series are cached; others are looked up each time. */
static const unsigned int appserver_cached_codes[] = { 200, 404, 405, 500 };

#define APPSERVER_N_CODES (sizeof(appserver_cached_codes) / sizeof(appserver_cached_codes[0]))

static const char *const appserver_request_labels[] = { "method", "path", "code" };

/* The answers that never change, built once. */
struct appserver_answers {
	struct MHD_Response *work_ok;
	struct MHD_Response *work_error;
	struct MHD_Response *healthy;
	struct MHD_Response *not_found;
	struct MHD_Response *not_allowed;
	struct MHD_Response *render_error;
};

/* Series found once and kept, so that counting needs no lookup: filled on
 * first use (a race only stores the same pointer twice). */
struct appserver_cache {
	_Atomic(struct metrics_series *) requests[APPSERVER_N_METHODS][APPSERVER_N_PATHS]
						 [APPSERVER_N_CODES];
	_Atomic(struct metrics_series *) duration[APPSERVER_N_METHODS][APPSERVER_N_PATHS];
};

struct appserver {
	const struct appconfig *cfg;
	struct metrics_registry *reg;
	struct metrics_family *requests; /* http_requests_total */
	struct metrics_family *duration; /* request_duration_milliseconds */
	struct appserver_cache cache;
	struct appserver_answers answers;
	struct delay *delay;
	struct MHD_Daemon *daemon;
	int listen_fd;
	unsigned int port;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	size_t n_suspended; /* under lock */
};

/* A /work answered after its simulated latency. */
struct appserver_request {
	struct appserver *srv;
	struct MHD_Connection *conn;
	uint64_t start_ns;
	size_t method; /* index in appserver_methods */
	unsigned int status;
	bool counted; /* still in srv->n_suspended */
};

/* ---- randomness: splitmix64, one state per thread ---- */

static _Thread_local uint64_t appserver_rng;

static uint64_t appserver_random(void)
{
	uint64_t z;

	if (!appserver_rng)
		appserver_rng = delay_now_ns() ^ (uint64_t)(uintptr_t)&z;
	z = (appserver_rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double appserver_uniform(void)
{
	return (double)(appserver_random() >> 11) * 0x1.0p-53;
}

static uint64_t appserver_draw_latency_ns(const struct appconfig *cfg)
{
	uint64_t min_us = cfg->latency_min_ms * 1000, span_us;

	span_us = cfg->latency_max_ms * 1000 - min_us;
	return (min_us + (span_us ? appserver_random() % (span_us + 1) : 0)) * 1000;
}

static unsigned int appserver_work_status(const struct appconfig *cfg)
{
	return appserver_uniform() < cfg->error_rate ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_OK;
}

/* ---- instrumentation ---- */

static int appserver_register(struct appserver *srv)
{
	static const double buckets[] = { APPSERVER_BUCKETS_MS };
	struct metrics_desc requests = {
		.type = METRICS_COUNTER,
		.name = "http_requests_total",
		.help = "HTTP requests served, by method, path and status code.",
		.label_names = appserver_request_labels,
		.n_labels = 3,
	};
	struct metrics_desc duration = {
		.type = METRICS_HISTOGRAM,
		.name = "request_duration_milliseconds",
		.help = "Time from reading a request to queueing its answer, in milliseconds.",
		.label_names = appserver_request_labels,
		.n_labels = 2,
		.buckets = buckets,
		.n_buckets = sizeof(buckets) / sizeof(buckets[0]),
	};
	int r;

	r = metrics_register(srv->reg, &requests, &srv->requests);
	if (r >= 0)
		r = metrics_register(srv->reg, &duration, &srv->duration);
	return r;
}

/* "200" and the like; status is always three digits in MHD. */
static void appserver_code_text(unsigned int status, char out[4])
{
	out[0] = (char)('0' + status / 100 % 10);
	out[1] = (char)('0' + status / 10 % 10);
	out[2] = (char)('0' + status % 10);
	out[3] = '\0';
}

/* The series of f with these label values from *slot, or looked up (and
 * kept in *slot when slot is not NULL); NULL when the family is full. */
static struct metrics_series *appserver_series(_Atomic(struct metrics_series *) *slot,
					       struct metrics_family *f, const char *const *values)
{
	struct metrics_series *s = slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;

	if (s || metrics_family_child(f, values, &s) < 0)
		return s;
	if (slot)
		atomic_store_explicit(slot, s, memory_order_release);
	return s;
}

static size_t appserver_code_index(unsigned int status)
{
	size_t i;

	for (i = 0; i < APPSERVER_N_CODES && appserver_cached_codes[i] != status; i++)
		;
	return i;
}

static void appserver_observe(struct appserver *srv, size_t method, enum appserver_path path,
			      unsigned int status, uint64_t start_ns)
{
	const char *values[] = { appserver_methods[method], appserver_path_labels[path], NULL };
	struct metrics_series *s;
	size_t code_index;
	char code[4];

	if (!srv->cfg->instrument)
		return;
	appserver_code_text(status, code);
	values[2] = code;
	code_index = appserver_code_index(status);
	s = appserver_series(
	    code_index < APPSERVER_N_CODES ? &srv->cache.requests[method][path][code_index] : NULL,
	    srv->requests, values);
	if (s)
		metrics_counter_inc(s);
	s = appserver_series(&srv->cache.duration[method][path], srv->duration, values);
	if (s)
		metrics_histogram_observe(s, (double)(delay_now_ns() - start_ns) / 1e6);
}

/* ---- routing and answers ---- */

static enum appserver_path appserver_route(const char *url)
{
	enum appserver_path p;

	for (p = APPSERVER_WORK; p < APPSERVER_OTHER; p++)
		if (strcmp(url, appserver_path_labels[p]) == 0)
			return p;
	return APPSERVER_OTHER;
}

static size_t appserver_method_index(const char *method)
{
	size_t i;

	for (i = 0; i < APPSERVER_N_METHODS - 1; i++)
		if (strcmp(method, appserver_methods[i]) == 0)
			return i;
	return APPSERVER_N_METHODS - 1;
}

static bool appserver_is_get(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* A new response with the registry's text, or NULL (logged). */
static struct MHD_Response *appserver_metrics_response(struct appserver *srv)
{
	struct MHD_Response *resp;
	struct buf b;
	size_t len;
	char *text;
	int r;

	buf_init(&b, APPSERVER_MAX_METRICS_BYTES);
	r = metrics_render(srv->reg, &b);
	text = r < 0 ? NULL : buf_steal(&b, &len);
	buf_done(&b);
	if (!text) {
		log_kv(LOG_LEVEL_ERROR, "cannot render metrics", "err",
		       strerror(r < 0 ? -r : ENOMEM), NULL);
		return NULL;
	}
	resp = MHD_create_response_from_buffer_with_free_callback(len, text, free);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	return resp;
}

/* Queues the answer to a request on path that needs no waiting. */
static enum MHD_Result appserver_answer(struct appserver *srv, struct MHD_Connection *conn,
					enum appserver_path path, bool get, unsigned int *status)
{
	const struct appserver_answers *a = &srv->answers;
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (path == APPSERVER_OTHER)
		return MHD_queue_response(conn, *status = MHD_HTTP_NOT_FOUND, a->not_found);
	if (!get)
		return MHD_queue_response(conn, *status = MHD_HTTP_METHOD_NOT_ALLOWED,
					  a->not_allowed);
	if (path == APPSERVER_HEALTHY)
		return MHD_queue_response(conn, *status = MHD_HTTP_OK, a->healthy);
	if (path == APPSERVER_WORK) {
		*status = appserver_work_status(srv->cfg);
		return MHD_queue_response(conn, *status,
					  *status == MHD_HTTP_OK ? a->work_ok : a->work_error);
	}
	resp = appserver_metrics_response(srv);
	if (!resp)
		return MHD_queue_response(conn, *status = MHD_HTTP_INTERNAL_SERVER_ERROR,
					  a->render_error);
	r = MHD_queue_response(conn, *status = MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

/* ---- delayed /work ---- */

static void appserver_uncount(struct appserver_request *rq)
{
	struct appserver *srv = rq->srv;

	if (!rq->counted)
		return;
	rq->counted = false;
	pthread_mutex_lock(&srv->lock);
	if (--srv->n_suspended == 0)
		pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
}

/* On the delay thread, when the latency has passed (or at shutdown). */
static void appserver_resume(void *arg)
{
	struct appserver_request *rq = arg;

	MHD_resume_connection(rq->conn);
}

/* Suspends the connection until latency_ns from now; returns MHD_NO only
 * when even answering at once is impossible. */
static enum MHD_Result appserver_work_later(struct appserver *srv, struct MHD_Connection *conn,
					    size_t method, uint64_t start_ns, uint64_t latency_ns,
					    void **req_cls)
{
	struct appserver_request *rq = calloc(1, sizeof(*rq));

	if (!rq)
		return MHD_NO;
	*rq = (struct appserver_request){ .srv = srv,
					  .conn = conn,
					  .start_ns = start_ns,
					  .method = method,
					  .status = appserver_work_status(srv->cfg),
					  .counted = true };
	*req_cls = rq;
	pthread_mutex_lock(&srv->lock);
	srv->n_suspended++;
	pthread_mutex_unlock(&srv->lock);
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_kvf(LOG_LEVEL_DEBUG, "work delayed", "latency_us", "%llu",
			(unsigned long long)(latency_ns / 1000));
	MHD_suspend_connection(conn);
	if (delay_schedule(srv->delay, delay_now_ns() + latency_ns, appserver_resume, rq) < 0)
		MHD_resume_connection(conn); /* shutting down or full: answer now */
	return MHD_YES;
}

/* MHD's call after the resumption. */
static enum MHD_Result appserver_work_now(struct MHD_Connection *conn, struct appserver_request *rq)
{
	struct appserver *srv = rq->srv;
	enum MHD_Result r;

	appserver_uncount(rq);
	r = MHD_queue_response(conn, rq->status,
			       rq->status == MHD_HTTP_OK ? srv->answers.work_ok
							 : srv->answers.work_error);
	appserver_observe(srv, rq->method, APPSERVER_WORK, rq->status, rq->start_ns);
	return r;
}

/* The per-request pointer from MHD's first call (headers read) to the
 * next (request read), when the answer is given: answering in the first
 * call would make MHD close the connection, since a body might follow. */
static char appserver_headers_read;

static void appserver_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
				enum MHD_RequestTerminationCode toe)
{
	struct appserver_request *rq = *req_cls;

	*req_cls = NULL;
	if (!rq || rq == (void *)&appserver_headers_read)
		return;
	appserver_uncount(rq);
	free(rq);
}

static enum MHD_Result appserver_handle(void *cls, struct MHD_Connection *conn, const char *url,
					const char *method, const char *version,
					const char *upload_data, size_t *upload_data_size,
					void **req_cls)
{
	struct appserver *srv = cls;
	uint64_t start_ns, latency_ns;
	enum appserver_path path;
	unsigned int status;
	enum MHD_Result r;
	bool get;

	if (!*req_cls) {
		*req_cls = &appserver_headers_read;
		return MHD_YES;
	}
	if (*req_cls != &appserver_headers_read)
		return appserver_work_now(conn, *req_cls);
	if (*upload_data_size) { /* bodies are read and ignored */
		*upload_data_size = 0;
		return MHD_YES;
	}
	start_ns = srv->cfg->instrument ? delay_now_ns() : 0;
	path = appserver_route(url);
	get = appserver_is_get(method);
	if (path == APPSERVER_WORK && get) {
		latency_ns = appserver_draw_latency_ns(srv->cfg);
		if (latency_ns)
			return appserver_work_later(srv, conn, appserver_method_index(method),
						    start_ns, latency_ns, req_cls);
	}
	r = appserver_answer(srv, conn, path, get, &status);
	appserver_observe(srv, appserver_method_index(method), path, status, start_ns);
	return r;
}

/* ---- the static answers ---- */

static struct MHD_Response *appserver_text(const char *text)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
	return resp;
}

static void appserver_answers_done(struct appserver_answers *a)
{
	struct MHD_Response **all[] = { &a->work_ok,   &a->work_error,	&a->healthy,
					&a->not_found, &a->not_allowed, &a->render_error };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i])
			MHD_destroy_response(*all[i]);
		*all[i] = NULL;
	}
}

static int appserver_answers_init(struct appserver_answers *a)
{
	a->work_ok = appserver_text("work done\n");
	a->work_error = appserver_text("simulated error\n");
	a->healthy = appserver_text("Healthy.\n");
	a->not_found = appserver_text("not found\n");
	a->not_allowed = appserver_text("method not allowed\n");
	a->render_error = appserver_text("cannot render metrics\n");
	if (!a->work_ok || !a->work_error || !a->healthy || !a->not_found || !a->not_allowed ||
	    !a->render_error)
		return -ENOMEM;
	MHD_add_response_header(a->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	return 0;
}

/* ---- the listening socket ---- */

static int appserver_bind(int family, const struct sockaddr *sa, socklen_t len, int *ret_fd)
{
	int fd, one = 1, zero = 0;

	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || bind(fd, sa, len) < 0 ||
	    listen(fd, APPSERVER_LISTEN_BACKLOG) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Every interface: IPv6 and IPv4 on one socket, or IPv4 alone. */
static int appserver_bind_any(unsigned int port, int *ret_fd, bool *ret_v6)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int r;

	r = appserver_bind(AF_INET6, (struct sockaddr *)&a6, sizeof(a6), ret_fd);
	*ret_v6 = r == 0;
	if (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL)
		r = appserver_bind(AF_INET, (struct sockaddr *)&a4, sizeof(a4), ret_fd);
	return r;
}

static int appserver_listen(const struct flags_listen_address *l, int *ret_fd, bool *ret_v6)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE },
			*ai;
	char port[8];
	int r;

	if (!l->host)
		return appserver_bind_any(l->port, ret_fd, ret_v6);
	snprintf(port, sizeof(port), "%u", l->port);
	if (getaddrinfo(l->host, port, &hints, &ai) != 0)
		return -EINVAL;
	r = appserver_bind(ai->ai_family, ai->ai_addr, ai->ai_addrlen, ret_fd);
	*ret_v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return r;
}

/* ---- the daemon ---- */

__attribute__((format(printf, 2, 0))) static void appserver_mhd_log(void *cls, const char *fmt,
								    va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_kv(LOG_LEVEL_DEBUG, "libmicrohttpd", "detail", line, NULL);
}

/* The size of MHD's thread pool: 0 (no pool, one polling thread) for one. */
static unsigned int appserver_threads(const struct appconfig *cfg)
{
	long n = cfg->threads ? (long)cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);

	return n > 1 ? (unsigned int)n : 0;
}

static int appserver_start_daemon(struct appserver *srv, bool v6)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	const struct appconfig *cfg = srv->cfg;

	/* The logger comes first, so that it gets the messages about options. */
	srv->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, appserver_handle, srv, MHD_OPTION_EXTERNAL_LOGGER,
	    appserver_mhd_log, srv, MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, appserver_threads(cfg), MHD_OPTION_CONNECTION_LIMIT,
	    cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)(cfg->connection_timeout_ms / 1000), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    APPSERVER_MEMORY_LIMIT_BYTES, MHD_OPTION_NOTIFY_COMPLETED, appserver_completed, srv,
	    MHD_OPTION_END);
	return srv->daemon ? 0 : -EIO;
}

static int appserver_init_sync(struct appserver *srv)
{
	pthread_condattr_t attr;
	int r;

	r = pthread_condattr_init(&attr);
	if (r)
		return -r;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!r)
		r = pthread_cond_init(&srv->idle, &attr);
	pthread_condattr_destroy(&attr);
	if (r)
		return -r;
	pthread_mutex_init(&srv->lock, NULL);
	return 0;
}

static unsigned int appserver_bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int appserver_start(const struct appconfig *cfg, struct metrics_registry *reg,
		    struct appserver **ret)
{
	struct appserver *srv;
	bool v6 = false;
	int r;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = cfg;
	srv->reg = reg;
	srv->listen_fd = -1;
	r = appserver_init_sync(srv);
	if (r < 0) {
		free(srv);
		return r;
	}
	r = appserver_register(srv);
	if (r >= 0)
		r = appserver_answers_init(&srv->answers);
	if (r >= 0)
		r = delay_new(cfg->max_connections, &srv->delay);
	if (r >= 0)
		r = appserver_listen(&cfg->listen, &srv->listen_fd, &v6);
	if (r >= 0)
		r = appserver_start_daemon(srv, v6);
	if (r < 0) {
		appserver_free(srv);
		return r;
	}
	srv->port = appserver_bound_port(srv->listen_fd);
	*ret = srv;
	return 0;
}

unsigned int appserver_port(const struct appserver *srv)
{
	return srv->port;
}

/* Waits until no connection is suspended any more, at most a few seconds. */
static void appserver_wait_idle(struct appserver *srv)
{
	uint64_t until_ns = delay_now_ns() + APPSERVER_STOP_WAIT_NS;
	struct timespec ts = { .tv_sec = (time_t)(until_ns / 1000000000u),
			       .tv_nsec = (long)(until_ns % 1000000000u) };

	pthread_mutex_lock(&srv->lock);
	while (srv->n_suspended)
		if (pthread_cond_timedwait(&srv->idle, &srv->lock, &ts) == ETIMEDOUT)
			break;
	if (srv->n_suspended)
		log_kvf(LOG_LEVEL_WARN, "stopping with suspended connections", "count", "%zu",
			srv->n_suspended);
	pthread_mutex_unlock(&srv->lock);
}

static void appserver_stop(struct appserver *srv)
{
	int fd;

	fd = MHD_quiesce_daemon(srv->daemon); /* stop accepting */
	delay_close(srv->delay);	      /* resume every delayed /work */
	appserver_wait_idle(srv);
	MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	if (fd != srv->listen_fd) /* not quiesced: MHD_stop_daemon() closed it */
		srv->listen_fd = -1;
}

struct appserver *appserver_free(struct appserver *srv)
{
	if (!srv)
		return NULL;
	if (srv->daemon)
		appserver_stop(srv);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	delay_free(srv->delay);
	appserver_answers_done(&srv->answers);
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return NULL;
}

static const char *appserver_local_host(const char *host)
{
	if (!host || strcmp(host, "0.0.0.0") == 0)
		return "127.0.0.1";
	if (strcmp(host, "::") == 0)
		return "::1";
	return host;
}

int appserver_local_url(const struct flags_listen_address *listen, const char *path, char *out,
			size_t out_size)
{
	const char *host = appserver_local_host(listen->host);
	bool v6 = strchr(host, ':') != NULL;
	int n;

	n = snprintf(out, out_size, "http://%s%s%s:%u%s", v6 ? "[" : "", host, v6 ? "]" : "",
		     listen->port, path);
	return n < 0 || (size_t)n >= out_size ? -ERANGE : 0;
}
