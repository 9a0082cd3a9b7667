/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: cloudmap-sd's HTTP endpoints on libmicrohttpd. See include/server.h.
 *
 * main calls server_start() and server_stop(); in between, an acceptor
 * thread hands each new connection to libmicrohttpd (server_accept_main()),
 * and libmicrohttpd's worker threads call server_on_request(), which only
 * reads: the snapshot store (one reference per /targets answer, dropped in
 * the response's free callback), the metrics registry, and the server's own
 * fields, written once before the daemon starts. A route table maps an
 * exact path to a handler, one small function each; a handler builds a
 * reply, and server_answer() queues it, counts it and drops the local
 * reference. A request with a body is refused before the body is read, so
 * a body is never buffered.
 *
 * Each request has a small context (struct server_request) from its
 * request line to its end, holding the query string as sent, which
 * libmicrohttpd would otherwise split and decode leniently. Auth (auth.h)
 * is checked before routing, but for /-/healthy. The only writes from the
 * HTTP threads besides counters are the last client refresh interval (an
 * atomic) and the gauge it feeds. A filtered /targets answer is assembled
 * from the snapshot's ranges (answer.h) and streamed by a content reader;
 * the full answer, JSON or gzip, is lent as an I/O vector of the parts
 * when it fits the connection's memory (server_iov_fits()), else streamed
 * by the same reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "answer.h"
#include "auth.h"
#include "buf.h"
#include "encoding.h"
#include "log.h"
#include "metrics.h"
#include "query.h"
#include "server.h"
#include "snapshot.h"
#include "snapshot_gzip.h"
#include "report.h"
#include "statuspage.h"

#define SERVER_DEFAULT_THREADS	  2
#define SERVER_MEMORY_LIMIT_BYTES (32u << 10) /* per connection: request line and headers */
#define SERVER_MAX_METRICS_BYTES  (16u << 20)
#define SERVER_MAX_ROUTES	  8
#define SERVER_MAX_ERROR_BYTES	  160
#define SERVER_CONTENT_TYPE_JSON  "application/json"
#define SERVER_CONTENT_TYPE_TEXT  "text/plain; charset=utf-8"
#define SERVER_ALLOWED_METHODS	  "GET, HEAD"
#define SERVER_OTHER_HANDLER	  "other"
#define SERVER_REFRESH_HEADER	  "X-Prometheus-Refresh-Interval-Seconds"
#define SERVER_MAX_CLIENT_SEC	  1e9	      /* a longer client refresh interval is ignored */
#define SERVER_INTERVAL_FACTOR	  4	      /* how far apart the two intervals may be */
#define SERVER_ANSWER_BLOCK_BYTES (64u << 10) /* an answer's reads */
#define SERVER_SNDBUF_BYTES	  (256 << 10) /* per connection; at most wmem_max, doubled */
#define SERVER_ACCEPT_PAUSE_MS	  100	      /* after accept() ran out of descriptors */

/* One request, from its request line to its end: libmicrohttpd's req_cls,
 * made by server_on_uri() and freed by server_on_completed(). */
struct server_request {
	char *query; /* the query string as sent (after '?'), or NULL */
	bool seen;   /* the headers are in: answer on the next call */
};

/* A response to queue and the status to queue it with. */
struct server_reply {
	unsigned status;
	struct MHD_Response *response;
	const struct server_request *request; /* in: the request being answered */
};

/* Builds the reply to a GET or HEAD on the handler's path. Returns 0 and
 * *ret, or -ENOMEM (the connection is then closed without an answer). */
typedef int (*server_handler_fn)(struct server *s, struct MHD_Connection *conn,
				 struct server_reply *ret);

struct server_route {
	const char *path;    /* matched exactly, without the query string */
	const char *handler; /* the "handler" label of http_requests */
	server_handler_fn fn;
};

struct server {
	struct MHD_Daemon *daemon;
	unsigned port;
	int listen_fd;	    /* -1 when closed */
	int wake_pipe[2];   /* written once by server_stop(): the acceptor returns */
	pthread_t acceptor; /* valid when has_acceptor */
	bool has_acceptor;
	struct server_deps deps;
	int64_t max_staleness_ms;
	int64_t refresh_interval_ms;	    /* ours, to compare with the clients' */
	_Atomic int64_t client_interval_ms; /* the last one a client announced */
	struct auth *auth;
	char *telemetry_path;
	struct server_route routes[SERVER_MAX_ROUTES];
	size_t n_routes;
};

/* ---- replies ---- */

/* Adds the headers every answer carries and fills *ret; on failure the
 * response is destroyed. Takes resp. */
static int server_reply_new(unsigned status, struct MHD_Response *resp, const char *content_type,
			    struct server_reply *ret)
{
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
		MHD_destroy_response(resp);
		return -ENOMEM;
	}
	ret->status = status;
	ret->response = resp;
	return 0;
}

/* A reply whose body is a string that lives as long as the program. */
static int server_reply_static(unsigned status, const char *content_type, const char *text,
			       struct server_reply *ret)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return -ENOMEM;
	return server_reply_new(status, resp, content_type, ret);
}

/* A JSON error reply {"error":"<message>"}; message is plain ASCII without
 * quotes or backslashes, so it needs no escaping. */
static int server_reply_error(unsigned status, const char *message, struct server_reply *ret)
{
	struct MHD_Response *resp;
	char body[SERVER_MAX_ERROR_BYTES];
	int n;

	n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", message);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -EINVAL;
	resp = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return -ENOMEM;
	return server_reply_new(status, resp, SERVER_CONTENT_TYPE_JSON, ret);
}

static int server_reply_method_not_allowed(struct server_reply *ret)
{
	int r;

	r = server_reply_error(MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", ret);
	if (r < 0)
		return r;
	if (MHD_add_response_header(ret->response, MHD_HTTP_HEADER_ALLOW, SERVER_ALLOWED_METHODS) !=
	    MHD_YES) {
		MHD_destroy_response(ret->response);
		return -ENOMEM;
	}
	return 0;
}

/* ---- /targets ---- */

/* The headers of a 200 answer of /targets; on failure the response is
 * destroyed. Takes resp. */
static int server_reply_targets(struct MHD_Response *resp, bool gzip, struct server_reply *ret)
{
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING) !=
		MHD_YES ||
	    (gzip &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") != MHD_YES)) {
		MHD_destroy_response(resp);
		return -ENOMEM;
	}
	return server_reply_new(MHD_HTTP_OK, resp, SERVER_CONTENT_TYPE_JSON, ret);
}

/* What an answer's response holds until it is destroyed, and how far
 * libmicrohttpd has read it. */
struct server_lent {
	struct snapshot *snap;
	struct answer *answer;		     /* a filtered answer (borrows snap's bytes), or NULL */
	const struct snapshot_piece *pieces; /* of snap or of answer */
	size_t n_pieces;
	size_t piece;	  /* the piece the next byte comes from */
	size_t piece_off; /* bytes of that piece already read */
	uint64_t pos;	  /* bytes of the answer already read */
};

static void server_release_lent(void *cls)
{
	struct server_lent *lent = cls;

	answer_free(lent->answer);
	snapshot_unref(lent->snap);
	free(lent);
}

/* Moves the read position to pos (libmicrohttpd reads in order, so this
 * only runs if it ever goes back). */
static void server_lent_seek(struct server_lent *lent, uint64_t pos)
{
	lent->piece = 0;
	lent->piece_off = 0;
	lent->pos = pos;
	while (lent->piece < lent->n_pieces && pos >= lent->pieces[lent->piece].len) {
		pos -= lent->pieces[lent->piece].len;
		lent->piece++;
	}
	lent->piece_off = (size_t)pos;
}

/* libmicrohttpd's content reader: copies the answer's bytes from pos on
 * into its write buffer, piece after piece. */
static ssize_t server_read_lent(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct server_lent *lent = cls;
	const struct snapshot_piece *p;
	size_t n = 0, take;

	if (pos != lent->pos)
		server_lent_seek(lent, pos);
	while (n < max && lent->piece < lent->n_pieces) {
		p = &lent->pieces[lent->piece];
		take = p->len - lent->piece_off < max - n ? p->len - lent->piece_off : max - n;
		memcpy(buf + n, (const char *)p->p + lent->piece_off, take);
		n += take;
		lent->piece_off += take;
		if (lent->piece_off == p->len) {
			lent->piece++;
			lent->piece_off = 0;
		}
	}
	lent->pos += n;
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

/* A response that streams len bytes of lent's pieces and the headers of a
 * 200 answer of /targets. Not an I/O-vector response: libmicrohttpd 0.9.75
 * copies the vector into the connection's memory pool when it sends it,
 * and when it does not fit (thousands of pieces, or a few after large
 * request headers) its out-of-memory path unlocks the response's mutex
 * twice and the process aborts. The reader copies the bytes once, into
 * libmicrohttpd's write buffer, on their way to the socket. Takes lent,
 * also on failure. */
static int server_reply_lent(struct server_lent *lent, size_t len, bool gzip,
			     struct server_reply *ret)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_callback(len, SERVER_ANSWER_BLOCK_BYTES, server_read_lent,
						 lent, server_release_lent);
	if (!resp) {
		server_release_lent(lent);
		return -ENOMEM;
	}
	return server_reply_targets(resp, gzip, ret);
}

/* ---- the whole answer: an I/O vector when it safely fits ---- */

/* What libmicrohttpd 0.9.75 holds in a connection's memory pool while it
 * sends an answer, estimated from above: the raw request (its line, its
 * headers, a copy of its cookies) and one list entry (about 56 bytes) per
 * header, cookie and query argument; here twice the bytes and 128 per
 * entry. The answer's own headers and the pool's rounding are in
 * SERVER_IOV_SLACK_BYTES. */
#define SERVER_IOV_SLACK_BYTES (4u << 10)

struct server_request_size {
	size_t bytes;
};

static enum MHD_Result server_add_value(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	struct server_request_size *sz = cls;

	sz->bytes += 2 * (strlen(key) + (value ? strlen(value) : 0) + 4) + 128;
	return MHD_YES;
}

/* Whether an I/O vector of n pieces fits the connection's pool. It must:
 * when the copy of the vector does not fit, libmicrohttpd 0.9.75 unlocks a
 * mutex it does not hold and the process aborts (test-server's
 * test_whole_answer_vector_limits sends headers that leave no room). */
static bool server_iov_fits(struct MHD_Connection *conn, const struct server_request *rq, size_t n)
{
	/* The path is one of the routes' (a few bytes); the request line's
	 * other bytes are in the slack. */
	struct server_request_size sz = { SERVER_IOV_SLACK_BYTES };

	if (rq->query)
		sz.bytes += 2 * strlen(rq->query);
	MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_COOKIE_KIND | MHD_GET_ARGUMENT_KIND,
				  server_add_value, &sz);
	return sz.bytes < SERVER_MEMORY_LIMIT_BYTES &&
	       n <= (SERVER_MEMORY_LIMIT_BYTES - sz.bytes) / sizeof(struct MHD_IoVec);
}

static void server_release_snapshot(void *cls)
{
	snapshot_unref(cls);
}

/* The pieces lent without a copy: libmicrohttpd sends them with sendmsg()
 * straight from the parts. NULL on ENOMEM. Takes snap on success. */
static struct MHD_Response *server_iov_response(struct snapshot *snap,
						const struct snapshot_piece *pieces, size_t n)
{
	struct MHD_IoVec *iov = calloc(n, sizeof(*iov));
	struct MHD_Response *resp;
	size_t i;

	if (!iov)
		return NULL;
	for (i = 0; i < n; i++)
		iov[i] = (struct MHD_IoVec){ pieces[i].p, pieces[i].len };
	/* libmicrohttpd copies the vector (not the bytes) into the response. */
	resp = MHD_create_response_from_iovec(iov, (unsigned)n, server_release_snapshot, snap);
	free(iov);
	return resp;
}

/* The whole answer of snap: its JSON, or (gzip) its gzip member; lent as an
 * I/O vector when it fits the connection's memory, else streamed by the
 * content reader. Takes snap. */
static int server_reply_snapshot(struct snapshot *snap, struct MHD_Connection *conn, bool gzip,
				 struct server_reply *ret)
{
	struct MHD_Response *resp = NULL;
	struct server_lent *lent;
	size_t n, len;

	gzip = gzip && snap->gzip_pieces;
	n = gzip ? snap->n_gzip_pieces : snap->n_json_pieces;
	len = gzip ? snap->gzip_len : snap->json_len;
	if (server_iov_fits(conn, ret->request, n)) {
		resp = server_iov_response(snap, gzip ? snap->gzip_pieces : snap->json_pieces, n);
		if (!resp) {
			snapshot_unref(snap);
			return -ENOMEM;
		}
		return server_reply_targets(resp, gzip, ret);
	}
	lent = calloc(1, sizeof(*lent));
	if (!lent) {
		snapshot_unref(snap);
		return -ENOMEM;
	}
	lent->snap = snap;
	lent->pieces = gzip ? snap->gzip_pieces : snap->json_pieces;
	lent->n_pieces = n;
	return server_reply_lent(lent, len, gzip, ret);
}

static bool server_keep_group(const struct snapshot *snap, const struct snapshot_group *g,
			      void *userdata)
{
	return query_match(userdata, snap->names[g->namespace_idx], snap->names[g->service_idx],
			   g->address_hash);
}

/* The groups of snap that q keeps, assembled from its bytes. Takes snap. */
static int server_reply_filtered(struct snapshot *snap, const struct query *q, bool gzip,
				 struct server_reply *ret)
{
	struct server_lent *lent;
	int r = -ENOMEM;

	lent = calloc(1, sizeof(*lent));
	if (lent)
		r = answer_new(snap, server_keep_group, (void *)q, gzip, ret->request->query,
			       &lent->answer);
	if (r < 0) {
		free(lent);
		snapshot_unref(snap);
		return r;
	}
	lent->snap = snap;
	lent->pieces = lent->answer->pieces;
	lent->n_pieces = lent->answer->n_pieces;
	return server_reply_lent(lent, lent->answer->len, lent->answer->gzip, ret);
}

static int64_t server_now_ms(const struct server *s)
{
	struct timespec ts;

	if (s->deps.now_ms)
		return s->deps.now_ms();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool server_is_stale(const struct server *s, const struct snapshot *snap, int64_t age_ms)
{
	return s->max_staleness_ms > 0 && !snap->warm_start && age_ms > s->max_staleness_ms;
}

static int server_reply_stale(int64_t age_ms, struct server_reply *ret)
{
	char message[96];

	snprintf(message, sizeof(message), "targets are stale: last successful refresh %llds ago",
		 (long long)(age_ms / 1000));
	return server_reply_error(MHD_HTTP_SERVICE_UNAVAILABLE, message, ret);
}

/* Logs, once per change of the client's value, when it polls much more or
 * much less often than we refresh. */
static void server_check_client_interval(const struct server *s, double client_sec)
{
	double ours_sec = (double)s->refresh_interval_ms / 1000.0;
	char client[32], ours[32];

	if (ours_sec <= 0 || (client_sec * SERVER_INTERVAL_FACTOR >= ours_sec &&
			      client_sec <= ours_sec * SERVER_INTERVAL_FACTOR))
		return;
	snprintf(client, sizeof(client), "%g", client_sec);
	snprintf(ours, sizeof(ours), "%g", ours_sec);
	log_kv(LOG_LEVEL_WARN,
	       client_sec < ours_sec ? "Prometheus polls /targets much more often than cloudmap-sd "
				       "refreshes: most answers repeat the previous one"
				     : "Prometheus polls /targets much less often than cloudmap-sd "
				       "refreshes: it sees changed targets late",
	       "client_refresh_interval_sec", client, "refresh_interval_sec", ours, NULL);
}

/* Records the refresh interval a client (Prometheus's http_sd) announces. */
static void server_note_client_interval(struct server *s, struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SERVER_REFRESH_HEADER);
	struct metrics_series *series;
	int64_t ms, old_ms;
	char *end;
	double sec;

	if (!v)
		return;
	sec = strtod(v, &end);
	if (end == v || *end || !(sec > 0) || sec > SERVER_MAX_CLIENT_SEC)
		return;
	if (s->deps.client_refresh_interval &&
	    metrics_family_child(s->deps.client_refresh_interval, NULL, &series) == 0)
		metrics_gauge_set(series, sec);
	ms = llround(sec * 1000.0);
	old_ms = atomic_exchange(&s->client_interval_ms, ms);
	if (old_ms != ms)
		server_check_client_interval(s, sec);
}

/* The current snapshot if it may be served; else the 503 in *ret and NULL
 * (*r tells whether that reply was made). */
static struct snapshot *server_servable_snapshot(struct server *s, struct server_reply *ret, int *r)
{
	struct snapshot *snap;
	int64_t age_ms;

	snap = snapshot_store_get(s->deps.store);
	if (!snap) {
		*r = server_reply_error(MHD_HTTP_SERVICE_UNAVAILABLE, "no successful discovery yet",
					ret);
		return NULL;
	}
	age_ms = server_now_ms(s) - snap->refreshed_at_unix * 1000;
	if (server_is_stale(s, snap, age_ms)) {
		snapshot_unref(snap);
		*r = server_reply_stale(age_ms, ret);
		return NULL;
	}
	return snap;
}

static int server_handle_targets(struct server *s, struct MHD_Connection *conn,
				 struct server_reply *ret)
{
	char why[QUERY_WHY_MAX];
	struct query *q = NULL;
	struct snapshot *snap;
	bool gzip;
	int r;

	server_note_client_interval(s, conn);
	r = query_parse(ret->request->query, &q, why);
	if (r == -EINVAL)
		return server_reply_error(MHD_HTTP_BAD_REQUEST, why, ret);
	if (r < 0)
		return r;
	snap = server_servable_snapshot(s, ret, &r);
	if (snap) {
		gzip = encoding_accepts_gzip(MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
		if (query_filters(q))
			r = server_reply_filtered(snap, q, gzip, ret);
		else
			r = server_reply_snapshot(snap, conn, gzip, ret);
	}
	query_free(q);
	return r;
}

/* ---- telemetry, health, readiness ---- */

static int server_handle_metrics(struct server *s, struct MHD_Connection *conn,
				 struct server_reply *ret)
{
	struct MHD_Response *resp;
	struct buf out;
	size_t len;
	char *text;

	buf_init(&out, SERVER_MAX_METRICS_BYTES);
	if (metrics_render(s->deps.metrics, &out) < 0) {
		buf_done(&out);
		return server_reply_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics",
					  ret);
	}
	text = buf_steal(&out, &len);
	buf_done(&out);
	if (!text)
		return -ENOMEM;
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return -ENOMEM;
	}
	return server_reply_new(MHD_HTTP_OK, resp, METRICS_CONTENT_TYPE, ret);
}

static int server_handle_healthy(struct server *s, struct MHD_Connection *conn,
				 struct server_reply *ret)
{
	return server_reply_static(MHD_HTTP_OK, SERVER_CONTENT_TYPE_TEXT,
				   "cloudmap-sd is Healthy.\n", ret);
}

static int server_handle_ready(struct server *s, struct MHD_Connection *conn,
			       struct server_reply *ret)
{
	struct snapshot *snap;

	snap = snapshot_store_get(s->deps.store);
	if (!snap)
		return server_reply_static(
		    MHD_HTTP_SERVICE_UNAVAILABLE, SERVER_CONTENT_TYPE_TEXT,
		    "cloudmap-sd is not ready: no successful discovery yet\n", ret);
	snapshot_unref(snap);
	return server_reply_static(MHD_HTTP_OK, SERVER_CONTENT_TYPE_TEXT, "cloudmap-sd is Ready.\n",
				   ret);
}

/* ---- status page: / and /api/v1/status ---- */

#define SERVER_MAX_STATUS_BYTES (16u << 20)
/* The page has no script and loads nothing: say so to the browser too. */
#define SERVER_STATUS_CSP                                                                      \
	"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'none'"

typedef int (*server_status_render_fn)(const struct statuspage_view *v, struct buf *out);

/* Renders from the current snapshot and report into out; the references
 * are held for the call only. */
static int server_render_status(struct server *s, server_status_render_fn render, struct buf *out)
{
	struct snapshot *snap = snapshot_store_get(s->deps.store);
	struct refresh_report *rep = s->deps.reports ? report_store_get(s->deps.reports) : NULL;
	const struct statuspage_view v = {
		.snapshot = snap,
		.report = rep,
		.summary = s->deps.summary,
		.n_summary = s->deps.n_summary,
		.now_ms = server_now_ms(s),
		.started_at_ms = s->deps.started_at_ms,
		.max_staleness_ms = s->max_staleness_ms,
		.client_refresh_interval_sec = (double)atomic_load(&s->client_interval_ms) / 1000.0,
	};
	int r;

	r = render(&v, out);
	report_unref(rep);
	snapshot_unref(snap);
	return r;
}

/* Hands out's bytes to libmicrohttpd, which frees them once sent. */
static int server_reply_buf(struct buf *out, const char *content_type, struct server_reply *ret)
{
	struct MHD_Response *resp;
	size_t len;
	char *text;

	text = buf_steal(out, &len);
	if (!text)
		return -ENOMEM;
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return -ENOMEM;
	}
	return server_reply_new(MHD_HTTP_OK, resp, content_type, ret);
}

static int server_reply_status(struct server *s, server_status_render_fn render,
			       const char *content_type, struct server_reply *ret)
{
	struct buf out;
	int r;

	buf_init(&out, SERVER_MAX_STATUS_BYTES);
	r = server_render_status(s, render, &out);
	if (r == 0)
		r = server_reply_buf(&out, content_type, ret);
	else
		r = server_reply_error(MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "cannot render the status page", ret);
	buf_done(&out);
	return r;
}

static int server_handle_status_page(struct server *s, struct MHD_Connection *conn,
				     struct server_reply *ret)
{
	int r;

	r = server_reply_status(s, statuspage_html, STATUSPAGE_HTML_CONTENT_TYPE, ret);
	if (r < 0)
		return r;
	if (MHD_add_response_header(ret->response, "Content-Security-Policy", SERVER_STATUS_CSP) !=
	    MHD_YES) {
		MHD_destroy_response(ret->response);
		return -ENOMEM;
	}
	return 0;
}

static int server_handle_status_json(struct server *s, struct MHD_Connection *conn,
				     struct server_reply *ret)
{
	return server_reply_status(s, statuspage_json, STATUSPAGE_JSON_CONTENT_TYPE, ret);
}

/* ---- dispatch ---- */

static const struct server_route server_fixed_routes[] = {
	{ "/targets", "targets", server_handle_targets },
	{ "/prometheus-targets", "prometheus-targets", server_handle_targets },
	{ "/-/healthy", "healthy", server_handle_healthy },
	{ "/-/ready", "ready", server_handle_ready },
	{ "/", "status", server_handle_status_page },
	{ "/api/v1/status", "api-status", server_handle_status_json },
};

#define SERVER_N_FIXED_ROUTES (sizeof(server_fixed_routes) / sizeof(server_fixed_routes[0]))
_Static_assert(SERVER_N_FIXED_ROUTES + 1 <= SERVER_MAX_ROUTES, "the telemetry route must fit");

static const struct server_route *server_route_find(const struct server *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->n_routes; i++)
		if (strcmp(s->routes[i].path, path) == 0)
			return &s->routes[i];
	return NULL;
}

static bool server_method_allowed(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Whether the request announces a body (which is refused, never read). */
static enum MHD_Result server_count_length(void *cls, enum MHD_ValueKind kind, const char *key,
					   const char *value)
{
	unsigned *n = cls;

	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		(*n)++;
	return MHD_YES;
}

/* More than one Content-Length is a framing error (RFC 9112, 6.3):
 * libmicrohttpd frames by the first, and a proxy that framed by another
 * would have us read its body as a second, smuggled request. */
static bool server_framing_conflict(struct MHD_Connection *conn)
{
	unsigned n = 0;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, server_count_length, &n);
	return n > 1;
}

static bool server_has_body(struct MHD_Connection *conn)
{
	const char *len;

	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return true;
	len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return len && strcmp(len, "0") != 0;
}

/* Counts one answer by handler and status code; never by raw path. */
static void server_count(struct server *s, const char *handler, unsigned status)
{
	struct metrics_series *series;
	const char *values[2];
	char code[16];

	if (!s->deps.http_requests)
		return;
	snprintf(code, sizeof(code), "%u", status);
	values[0] = handler;
	values[1] = code;
	if (metrics_family_child(s->deps.http_requests, values, &series) == 0)
		metrics_counter_inc(series);
}

static enum MHD_Result server_answer(struct server *s, struct MHD_Connection *conn,
				     const char *handler, struct server_reply *reply)
{
	enum MHD_Result ok;

	ok = MHD_queue_response(conn, reply->status, reply->response);
	MHD_destroy_response(reply->response);
	if (ok == MHD_YES)
		server_count(s, handler, reply->status);
	return ok;
}

/* 401 with a challenge for each kind of credential configured. */
static int server_reply_unauthorized(const struct server *s, struct server_reply *ret)
{
	const char *challenges[2];
	size_t i, n;
	int r;

	r = server_reply_error(MHD_HTTP_UNAUTHORIZED, "unauthorized", ret);
	if (r < 0)
		return r;
	n = auth_challenges(s->auth, challenges);
	for (i = 0; i < n; i++) {
		if (MHD_add_response_header(ret->response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					    challenges[i]) != MHD_YES) {
			MHD_destroy_response(ret->response);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Whether the request may go on: /-/healthy is open to all (orchestrators
 * probe it without credentials), every other path, unknown ones included,
 * needs them when auth is configured. */
static bool server_authorized(const struct server *s, struct MHD_Connection *conn,
			      const struct server_route *route)
{
	if (route && route->fn == server_handle_healthy)
		return true;
	return auth_allows(s->auth, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								MHD_HTTP_HEADER_AUTHORIZATION));
}

static int server_route_request(struct server *s, struct MHD_Connection *conn,
				const struct server_route *route, const char *method,
				struct server_reply *ret)
{
	if (server_framing_conflict(conn))
		return server_reply_error(MHD_HTTP_BAD_REQUEST,
					  "more than one Content-Length header", ret);
	if (!server_authorized(s, conn, route))
		return server_reply_unauthorized(s, ret);
	if (!route)
		return server_reply_error(MHD_HTTP_NOT_FOUND, "not found", ret);
	if (!server_method_allowed(method))
		return server_reply_method_not_allowed(ret);
	if (server_has_body(conn))
		return server_reply_error(MHD_HTTP_CONTENT_TOO_LARGE,
					  "a request body is not accepted", ret);
	return route->fn(s, conn, ret);
}

/* libmicrohttpd's access handler. It is first called once the headers are
 * in. A request that announces a body is answered (refused) right then, so
 * the body is never read and the connection closes. Any other request is
 * answered on the second call, once libmicrohttpd counts it complete: an
 * answer queued on the first call would make libmicrohttpd 0.9.75 close the
 * connection after it, and Prometheus keeps its connections alive. */
static enum MHD_Result server_on_request(void *cls, struct MHD_Connection *conn, const char *url,
					 const char *method, const char *version,
					 const char *upload_data, size_t *upload_data_size,
					 void **req_cls)
{
	struct server *s = cls;
	struct server_request *rq = *req_cls;
	const struct server_route *route;
	struct server_reply reply = { .request = rq };

	if (!rq)
		return MHD_NO; /* server_on_uri() ran out of memory */
	if (!rq->seen && !server_has_body(conn) && !server_framing_conflict(conn)) {
		rq->seen = true;
		return MHD_YES;
	}
	route = server_route_find(s, url);
	if (server_route_request(s, conn, route, method, &reply) < 0)
		return MHD_NO;
	return server_answer(s, conn, route ? route->handler : SERVER_OTHER_HANDLER, &reply);
}

/* libmicrohttpd's URI logger: called with the request target as sent,
 * before libmicrohttpd splits and decodes it, so the query string is kept
 * raw for query_parse(), which sees every repeated key and refuses bad
 * escapes that libmicrohttpd would pass through. Returns the request's
 * context (req_cls), or NULL on ENOMEM. */
static void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct server_request *rq = calloc(1, sizeof(*rq));
	const char *q = strchr(uri, '?');

	if (rq && q) {
		rq->query = strdup(q + 1);
		if (!rq->query) {
			free(rq);
			return NULL;
		}
	}
	return rq;
}

/* Frees the request's context; called for every request that reached
 * server_on_uri(), answered or not. */
static void server_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
				enum MHD_RequestTerminationCode toe)
{
	struct server_request *rq = *req_cls;

	if (rq) {
		free(rq->query);
		free(rq);
	}
	*req_cls = NULL;
}

/* ---- listening socket ---- */

/* Creates a listening socket on addr. dual_stack: an IPv6 socket that also
 * accepts IPv4. Returns 0 and *ret_fd, or the negative errno of the step
 * that failed (-EADDRINUSE, -EADDRNOTAVAIL, -EAFNOSUPPORT, -EACCES ...). */
static int server_listen_on(const struct sockaddr *addr, socklen_t addr_len, bool dual_stack,
			    int *ret_fd)
{
	int fd, one = 1, zero = 0, r;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* What MHD_OPTION_LISTENING_ADDRESS_REUSE would do for a socket of
	 * its own: rebind while old connections linger in TIME_WAIT. Linux
	 * still refuses a port that another socket listens on. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (dual_stack && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) ||
	    bind(fd, addr, addr_len) < 0 || listen(fd, SOMAXCONN) < 0)
		goto out_close;
	*ret_fd = fd;
	return 0;
out_close:
	r = -errno;
	close(fd);
	return r;
}

/* Whether an error means "this address family is not available here". */
static bool server_family_unavailable(int r)
{
	return r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL || r == -EPROTONOSUPPORT;
}

/* Every interface: IPv6 and IPv4 on one socket, or IPv4 alone when the
 * host has no IPv6. */
static int server_listen_any(unsigned port, int *ret_fd)
{
	/* Zero-filled addresses are in6addr_any and INADDR_ANY. */
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int r;

	r = server_listen_on((const struct sockaddr *)&a6, sizeof(a6), true, ret_fd);
	if (!server_family_unavailable(r))
		return r;
	return server_listen_on((const struct sockaddr *)&a4, sizeof(a4), false, ret_fd);
}

static int server_errno_from_gai(int gai)
{
	switch (gai) {
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	case EAI_NONAME:
	case EAI_FAIL:
		return -EADDRNOTAVAIL;
	default:
		return -EINVAL;
	}
}

/* One host: a numeric address, or a name resolved once. Its addresses are
 * tried in order while a family is unavailable; any other error stops. */
static int server_listen_host(const char *host, unsigned port, int *ret_fd)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char service[8];
	int r;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &res);
	if (r != 0)
		return server_errno_from_gai(r);
	r = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		r = server_listen_on(ai->ai_addr, ai->ai_addrlen, false, ret_fd);
		if (!server_family_unavailable(r))
			break;
	}
	freeaddrinfo(res);
	return r;
}

/* ---- lifecycle ---- */

struct server_options {
	struct MHD_OptionItem items[12];
	size_t n;
};

/* Bounds each new connection's kernel send buffer. Linux grows a socket's
 * send buffer up to megabytes; with answers of many megabytes one send()
 * then hands one client several megabytes while the others wait, and with
 * tens of clients the slowest answer took seconds (bench/cloudmap-sd). A
 * bounded buffer makes each send take a fair turn; measured on loopback
 * it raised throughput too. Of 64, 128 and 256 KiB with the acceptor's
 * even split, 256 KiB gave the best tail at 1k targets and matched 128 KiB
 * at 10k; 32 KiB stalled. Linux caps it at net.core.wmem_max (Debian's
 * default is 208 KiB). Failing to set it changes nothing else. */
static void server_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				 enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	int size = SERVER_SNDBUF_BYTES;

	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		(void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static void server_option(struct server_options *o, enum MHD_OPTION option, intptr_t value)
{
	o->items[o->n].option = option;
	o->items[o->n].value = value;
	o->items[o->n].ptr_value = NULL;
	o->n++;
}

static void server_options_fill(struct server_options *o, const struct server_config *cfg)
{
	unsigned threads = cfg->threads ? cfg->threads : SERVER_DEFAULT_THREADS;

	o->n = 0;
	if (threads > 1)
		server_option(o, MHD_OPTION_THREAD_POOL_SIZE, threads);
	if (cfg->max_connections)
		server_option(o, MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections);
	if (cfg->max_connections_per_ip)
		server_option(o, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip);
	server_option(o, MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_sec);
	server_option(o, MHD_OPTION_CONNECTION_MEMORY_LIMIT, SERVER_MEMORY_LIMIT_BYTES);
	server_option(o, MHD_OPTION_END, 0);
}

/* The acceptor: accepts every connection and hands it to libmicrohttpd,
 * until server_stop() writes to the wake pipe.
 *
 * Why not libmicrohttpd's own accept: each worker of its pool watches the
 * listening socket, the first to wake accepts up to ten connections, and a
 * connection stays with the worker that accepted it. wrk's 32 clients
 * were split as badly as 5/27 between two workers, and the busier
 * worker's clients waited longer (bench/cloudmap-sd: the 1k /targets
 * p99 swung between 0.75x and 1.33x nginx's from run to run).
 * MHD_add_connection() gives a connection to the worker numbered by its
 * descriptor modulo the pool's size, and accepted descriptors are
 * consecutive, or refill the holes that closed connections of the same
 * worker left, so a burst is split evenly.
 *
 * libmicrohttpd keeps its limits: MHD_add_connection() closes a connection
 * over the total or per-address limit at once (its own accept would leave
 * it waiting in the backlog while at the total limit). When accept() runs
 * out of descriptors or memory, the acceptor pauses a moment rather than
 * spin on a socket that stays readable. */
static void *server_accept_main(void *arg)
{
	struct server *s = arg;
	struct pollfd fds[2] = {
		{ .fd = s->wake_pipe[0], .events = POLLIN },
		{ .fd = s->listen_fd, .events = POLLIN },
	};

	for (;;) {
		struct sockaddr_storage addr;
		socklen_t addr_len = sizeof(addr);
		int fd;

		if (poll(fds, 2, -1) < 0) {
			if (errno != EINTR) /* ENOMEM: wait for memory */
				(void)poll(fds, 1, SERVER_ACCEPT_PAUSE_MS);
			continue;
		}
		if (fds[0].revents)
			return NULL;
		if (!(fds[1].revents & POLLIN)) { /* an error on the socket: not seen */
			(void)poll(fds, 1, SERVER_ACCEPT_PAUSE_MS);
			continue;
		}
		fd = accept(s->listen_fd, (struct sockaddr *)&addr, &addr_len);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				(void)poll(fds, 1, SERVER_ACCEPT_PAUSE_MS);
			continue; /* else gone already (ECONNABORTED), or EAGAIN, EINTR */
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		/* Made non-blocking by libmicrohttpd; closed by it on failure. */
		(void)MHD_add_connection(s->daemon, fd, (struct sockaddr *)&addr, addr_len);
	}
}

/* The port a listening socket is bound to, or 0. */
static unsigned server_bound_port(int fd)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);

	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
		return 0;
	if (addr.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&addr)->sin6_port);
	if (addr.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&addr)->sin_port);
	return 0;
}

/* Starts libmicrohttpd without a listening socket of its own, then the
 * acceptor on s->listen_fd, which stays the server's to close. */
static int server_start_daemon(struct server *s, const struct server_config *cfg)
{
	/* No MHD_USE_ERROR_LOG: a library module does not log. MHD_USE_ITC
	 * wakes every worker at once on stop, and a worker when a connection
	 * is added. */
	const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			       MHD_USE_NO_LISTEN_SOCKET;
	struct server_options o;

	s->port = server_bound_port(s->listen_fd);
	if (!s->port)
		return -EIO;
	server_options_fill(&o, cfg);
	s->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, server_on_request, s, MHD_OPTION_URI_LOG_CALLBACK, server_on_uri,
	    s, MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
	    server_on_connection, s, MHD_OPTION_ARRAY, o.items, MHD_OPTION_END);
	if (!s->daemon)
		return -EIO;
	if (pipe(s->wake_pipe) < 0) {
		s->wake_pipe[0] = s->wake_pipe[1] = -1;
		return -errno;
	}
	(void)fcntl(s->wake_pipe[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(s->wake_pipe[1], F_SETFD, FD_CLOEXEC);
	if (pthread_create(&s->acceptor, NULL, server_accept_main, s) != 0)
		return -EAGAIN;
	s->has_acceptor = true;
	return 0;
}

static int server_check(const struct server_config *cfg, const struct server_deps *deps)
{
	if (!cfg->telemetry_path || cfg->telemetry_path[0] != '/' || cfg->port > UINT16_MAX)
		return -EINVAL;
	if (!deps->store || !deps->metrics)
		return -EINVAL;
	return 0;
}

static void server_add_route(struct server *s, const struct server_route *route)
{
	s->routes[s->n_routes++] = *route;
}

/* A server with its routes and no daemon yet, or NULL on ENOMEM. The
 * telemetry path comes first, so that it wins over a fixed path it names. */
static struct server *server_new(const struct server_config *cfg, const struct server_deps *deps)
{
	struct server *s;
	size_t i;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->telemetry_path = strdup(cfg->telemetry_path);
	if (!s->telemetry_path) {
		free(s);
		return NULL;
	}
	s->listen_fd = s->wake_pipe[0] = s->wake_pipe[1] = -1;
	s->deps = *deps;
	s->max_staleness_ms = cfg->max_staleness_ms;
	s->refresh_interval_ms = cfg->refresh_interval_ms;
	atomic_init(&s->client_interval_ms, 0);
	server_add_route(
	    s, &(struct server_route){ s->telemetry_path, "metrics", server_handle_metrics });
	for (i = 0; i < SERVER_N_FIXED_ROUTES; i++)
		server_add_route(s, &server_fixed_routes[i]);
	return s;
}

/* Reads the credential files; the reason of a failure goes to cfg->error. */
static int server_load_auth(struct server *s, const struct server_config *cfg)
{
	char why[AUTH_WHY_MAX];
	int r;

	r = auth_new(cfg->auth_token_file, cfg->basic_auth_file, &s->auth, why);
	if (r < 0 && cfg->error && cfg->error_size)
		snprintf(cfg->error, cfg->error_size, "%s", why);
	return r;
}

int server_start(const struct server_config *cfg, const struct server_deps *deps,
		 struct server **ret)
{
	struct server *s;
	int r;

	r = server_check(cfg, deps);
	if (r < 0)
		return r;
	s = server_new(cfg, deps);
	if (!s)
		return -ENOMEM;
	r = server_load_auth(s, cfg);
	if (r < 0)
		goto out_free;
	if (cfg->listen_host)
		r = server_listen_host(cfg->listen_host, cfg->port, &s->listen_fd);
	else
		r = server_listen_any(cfg->port, &s->listen_fd);
	if (r < 0)
		goto out_free;
	r = server_start_daemon(s, cfg);
	if (r < 0)
		goto out_free;
	*ret = s;
	return 0;
out_free:
	server_stop(s);
	return r;
}

unsigned server_port(const struct server *s)
{
	return s->port;
}

struct server *server_stop(struct server *s)
{
	if (!s)
		return NULL;
	/* The acceptor first: it must not add a connection to a stopped daemon. */
	if (s->has_acceptor) {
		(void)!write(s->wake_pipe[1], "", 1);
		pthread_join(s->acceptor, NULL);
	}
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake_pipe[0] >= 0) {
		close(s->wake_pipe[0]);
		close(s->wake_pipe[1]);
	}
	auth_free(s->auth);
	free(s->telemetry_path);
	free(s);
	return NULL;
}
