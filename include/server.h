/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: the HTTP side of cloudmap-sd, on libmicrohttpd.
 *
 * Endpoints:
 *   GET /targets, /prometheus-targets  the current snapshot's http_sd JSON
 *                                       (200), or 503 with a short JSON
 *                                       error before the first successful
 *                                       discovery and once the data is older
 *                                       than max_staleness_ms
 *   GET <telemetry_path>                the metrics registry, text 0.0.4
 *   GET /-/healthy                      200 while the process serves
 *   GET /-/ready                        200 once a snapshot exists, else 503
 * HEAD is answered for each; another method gets 405 with Allow; another
 * path 404; a request that announces a body 413 (the body is never read).
 *
 * /targets (and its alias) also:
 *  - filters: ?namespace=N&service=S&shard=I&shards=N (query.h), assembled
 *    from the snapshot's group ranges (answer.h); a bad query gets 400;
 *  - sends the snapshot's gzip copy, made once per snapshot, to a client
 *    whose Accept-Encoding accepts gzip (encoding.h), with
 *    Content-Encoding: gzip; every 200 answer has Vary: Accept-Encoding;
 *  - records X-Prometheus-Refresh-Interval-Seconds in the gauge
 *    client_refresh_interval and logs a warning, once per change of the
 *    value, when it is under a quarter or over four times our
 *    refresh_interval_ms.
 * With auth files configured (auth.h), every path but /-/healthy, unknown
 * ones included, needs a credential: else 401 with WWW-Authenticate.
 * Error bodies are JSON: {"error":"..."}. Every answer carries
 * Cache-Control: no-store and is counted in http_requests by handler
 * ("targets", "prometheus-targets", "metrics", "healthy", "ready", "other")
 * and code; requests that libmicrohttpd refuses before routing (a request
 * line or headers over the per-connection memory limit: 414/431; a
 * connection over a limit: closed) are not counted.
 *
 * DESIGN: libmicrohttpd's threads only read. A /targets request takes a
 * reference to the current snapshot (snapshot_store_get), lends its pieces
 * (the parts' JSON between "[", "," and "]", or the gzip member made of
 * their segments) to libmicrohttpd as an I/O vector, sent with sendmsg()
 * without a copy, and drops the reference in the response's free
 * callback: no lock is held while a slow client is served, and a request
 * never calls AWS nor waits for a refresh. libmicrohttpd 0.9.75 copies
 * the vector into the connection's 32 KiB memory pool and aborts the
 * process when it does not fit, so the vector is used only when an upper
 * estimate of the request's share of the pool leaves room for it; else,
 * and for filtered answers (a list of the snapshot's ranges), a content
 * reader copies the pieces into libmicrohttpd's write buffer. Each
 * connection's kernel send buffer is bounded (256 KiB) so that large
 * answers to many clients are served in fair turns, and an acceptor thread
 * of ours, not libmicrohttpd's workers racing for the listening socket,
 * hands new connections to the workers so that a burst of clients is split
 * evenly. Hardened: a thread pool, a connection limit, a per-address limit,
 * an idle timeout and a per-connection memory limit.
 */
#ifndef CLOUDMAP_SERVER_H
#define CLOUDMAP_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct snapshot_store;
struct report_store;
struct statuspage_item;
struct metrics_registry;
struct metrics_family;

/* Borrowed for the server_start() call; what it needs is copied. */
struct server_config {
	/* NULL: every interface, IPv6 and IPv4 (IPv4 alone on a host without
	 * IPv6); else exactly this numeric address, or a name resolved once. */
	const char *listen_host;
	unsigned port;			 /* 0: any free port (see server_port()) */
	const char *telemetry_path;	 /* starts with '/' */
	unsigned max_connections;	 /* 0: libmicrohttpd's default */
	unsigned max_connections_per_ip; /* 0: no limit */
	unsigned connection_timeout_sec; /* idle connections; 0: none */
	unsigned threads;		 /* 0: 2 */
	int64_t max_staleness_ms;	 /* <= 0: never stale */
	int64_t refresh_interval_ms;	 /* cloudmap-sd's own, to compare with clients' */
	const char *auth_token_file;	 /* bearer token file, or NULL */
	const char *basic_auth_file;	 /* "user:hash" lines file, or NULL */
	/* Optional: where server_start() writes a one-line reason when the
	 * auth files are bad (error_size bytes, NUL-terminated). */
	char *error;
	size_t error_size;
};

/* What the server reads; borrowed, must outlive it. */
struct server_deps {
	struct snapshot_store *store;	  /* not NULL */
	struct metrics_registry *metrics; /* not NULL */
	/* Counter family cloudmap_sd_http_requests_total{handler,code}, or NULL. */
	struct metrics_family *http_requests;
	/* Wall clock; NULL: the real one. Called from the HTTP threads. */
	int64_t (*now_ms)(void);
	/* For the status page (GET / and /api/v1/status): */
	struct report_store *reports;	       /* may be NULL */
	const struct statuspage_item *summary; /* build and config summary */
	size_t n_summary;
	int64_t started_at_ms;
	/* Gauge family cloudmap_sd_client_refresh_interval_seconds, or NULL. */
	struct metrics_family *client_refresh_interval;
};

struct server;

/* Starts serving. Returns 0 and *ret; -EADDRINUSE when the port is taken;
 * -EADDRNOTAVAIL for an address on no interface here or a name that does
 * not resolve; -EACCES for a privileged port; -EINVAL for a bad
 * configuration (telemetry path, port over 65535, a NULL store or
 * registry); an error of auth_new() for bad auth files (the reason in
 * cfg->error); -ENOMEM; -EIO when libmicrohttpd cannot start. On failure
 * *ret is untouched. Called by main; server_start() and server_stop() of one
 * server must not run concurrently. */
int server_start(const struct server_config *cfg, const struct server_deps *deps,
		 struct server **ret);

/* The port the server listens on (the real one when cfg->port was 0).
 * Thread-safe. */
unsigned server_port(const struct server *s);

/* Stops serving (waits for the threads; a response being sent is cut) and
 * frees s. Accepts NULL; returns NULL. */
struct server *server_stop(struct server *s);

#endif
