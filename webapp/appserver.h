/* SPDX-License-Identifier: Apache-2.0 */
/*
 * appserver: the web app's HTTP server (libmicrohttpd) and its handlers.
 *
 *   GET /work       simulated work: answers after a latency drawn uniformly
 *                   from the configured range, 500 at the configured rate
 *   GET /metrics    the registry, in the text format 0.0.4
 *   GET /-/healthy  200 while the server runs
 *
 * Instrumentation: http_requests_total{method,path,code} and
 * request_duration_milliseconds{method,path}, registered in the registry
 * passed to appserver_start(). Paths other than the three above are
 * labelled path="other" and methods other than the standard ones
 * method="other", so that no client can add series at will.
 *
 * Threads: MHD's thread pool (epoll) runs the handlers; a slow /work
 * suspends its connection and a timer thread (delay.h) resumes it, so that
 * no HTTP thread sleeps. appserver_start() and appserver_free() belong to
 * main.
 */
#ifndef WEBAPP_APPSERVER_H
#define WEBAPP_APPSERVER_H

#include <stddef.h>

#include "appconfig.h"

struct metrics_registry;
struct appserver;

/* Histogram bounds of request_duration_milliseconds. */
#define APPSERVER_BUCKETS_MS 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000

/* Binds cfg->listen and starts serving. cfg and reg are borrowed and must
 * outlive the server; reg gets the request families (counted only when
 * cfg->instrument is set). Returns 0 and *ret, or a negative errno:
 * -EADDRINUSE and the other errors of bind(), -EINVAL when the host does
 * not resolve, -EEXIST when reg already has the families, -ENOMEM, -EIO
 * when libmicrohttpd does not start. */
int appserver_start(const struct appconfig *cfg, struct metrics_registry *reg,
		    struct appserver **ret);

/* The port the server listens on. */
unsigned int appserver_port(const struct appserver *srv);

/* Stops gracefully: no new connections, delayed /work answered at once,
 * then the threads stop. Frees srv; accepts NULL; returns NULL. */
struct appserver *appserver_free(struct appserver *srv);

/* Writes the URL of path on this machine's side of listen into out, e.g.
 * "http://127.0.0.1:3000/work": a wildcard or absent host becomes the
 * loopback address. Returns 0 or -ERANGE. */
int appserver_local_url(const struct flags_listen_address *listen, const char *path, char *out,
			size_t out_size);

#endif
