/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webapp: the demo web application instrumented for Prometheus.
 *
 * main parses the flags, initialises every library global before any
 * thread starts, builds the metrics registry (request families and the
 * process collector), starts the HTTP server and the load generator, waits
 * for SIGTERM or SIGINT and tears everything down in reverse order. The
 * signal handler only writes a byte to a pipe that main reads.
 *
 * --healthcheck is a probe mode for container HEALTHCHECKs: one GET of
 * /-/healthy on the configured port, exit 0 on 200, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "appconfig.h"
#include "appserver.h"
#include "http.h"
#include "loadgen.h"
#include "log.h"
#include "metrics.h"
#include "procstat.h"

#define WEBAPP_HEALTHCHECK_TIMEOUT_MS 3000L
#define WEBAPP_URL_MAX		      512

static int webapp_signal_pipe[2] = { -1, -1 };

static void webapp_on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(webapp_signal_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a stop is already pending. */
	}
	errno = saved;
}

static int webapp_signals_init(void)
{
	struct sigaction sa = { .sa_handler = webapp_on_signal };
	struct sigaction ign = { .sa_handler = SIG_IGN };
	int i;

	if (pipe(webapp_signal_pipe) < 0)
		return -errno;
	for (i = 0; i < 2; i++)
		if (fcntl(webapp_signal_pipe[i], F_SETFD, FD_CLOEXEC) < 0)
			return -errno;
	if (fcntl(webapp_signal_pipe[1], F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGPIPE, &ign, NULL) < 0)
		return -errno;
	return 0;
}

/* Blocks until a signal arrives; returns its number. */
static int webapp_wait_signal(void)
{
	char c;
	ssize_t n;

	do
		n = read(webapp_signal_pipe[0], &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? (unsigned char)c : 0;
}

static int webapp_healthcheck(const struct appconfig *cfg)
{
	struct http_request req = { .method = "GET", .timeout_ms = WEBAPP_HEALTHCHECK_TIMEOUT_MS };
	struct http_transport *t = http_curl_new(NULL);
	struct http_response resp;
	char url[WEBAPP_URL_MAX];
	int r;

	if (!t || appserver_local_url(&cfg->listen, "/-/healthy", url, sizeof(url)) < 0) {
		http_transport_free(t);
		return 1;
	}
	req.url = url;
	http_response_init(&resp);
	r = t->perform(t, &req, &resp);
	if (r < 0 || resp.status != 200)
		log_kvf(LOG_LEVEL_ERROR, "healthcheck failed", "url", "%s", url);
	r = r == 0 && resp.status == 200 ? 0 : 1;
	http_response_done(&resp);
	http_transport_free(t);
	return r;
}

static int webapp_start_load(const struct appconfig *cfg, struct loadgen **ret)
{
	char url[WEBAPP_URL_MAX];
	int r;

	if (!cfg->load_rate)
		return 0;
	r = appserver_local_url(&cfg->listen, "/work", url, sizeof(url));
	if (r >= 0)
		r = loadgen_start(url, cfg->load_rate, ret);
	if (r < 0)
		log_kv(LOG_LEVEL_ERROR, "cannot start the load generator", "err", strerror(-r),
		       NULL);
	else
		log_kvf(LOG_LEVEL_INFO, "load generator started", "rate_per_sec", "%u",
			cfg->load_rate);
	return r;
}

static void webapp_stop_load(struct loadgen *lg)
{
	struct loadgen_stats st;
	char line[128];

	if (!lg)
		return;
	loadgen_stats(lg, &st);
	loadgen_stop(lg);
	snprintf(line, sizeof(line), "sent=%llu ok=%llu failed=%llu", (unsigned long long)st.sent,
		 (unsigned long long)st.ok, (unsigned long long)st.failed);
	log_kv(LOG_LEVEL_INFO, "load generator stopped", "requests", line, NULL);
}

static int webapp_serve(const struct appconfig *cfg, struct metrics_registry *reg)
{
	struct appserver *srv = NULL;
	struct loadgen *lg = NULL;
	char addr[WEBAPP_URL_MAX];
	int r, sig;

	r = appserver_start(cfg, reg, &srv);
	if (r < 0) {
		log_kvf(LOG_LEVEL_ERROR, "cannot listen", "address", "%s:%u",
			cfg->listen.host ? cfg->listen.host : "", cfg->listen.port);
		log_kv(LOG_LEVEL_ERROR, "cannot start the HTTP server", "err", strerror(-r), NULL);
		return r;
	}
	snprintf(addr, sizeof(addr), "%s:%u", cfg->listen.host ? cfg->listen.host : "",
		 appserver_port(srv));
	log_kv(LOG_LEVEL_INFO, "listening", "address", addr, "instrument",
	       cfg->instrument ? "true" : "false", NULL);
	r = webapp_start_load(cfg, &lg);
	if (r >= 0) {
		sig = webapp_wait_signal();
		log_kvf(LOG_LEVEL_INFO, "stopping", "signal", "%s", strsignal(sig));
	}
	webapp_stop_load(lg);
	appserver_free(srv);
	return r;
}

static int webapp_run(const struct appconfig *cfg)
{
	struct metrics_registry *reg;
	int r;

	r = webapp_signals_init();
	if (r < 0) {
		log_kv(LOG_LEVEL_ERROR, "cannot set up signals", "err", strerror(-r), NULL);
		return r;
	}
	reg = metrics_registry_new();
	if (!reg)
		return -ENOMEM;
	r = metrics_register_collector(reg, procstat_collect, NULL);
	if (r >= 0)
		r = webapp_serve(cfg, reg);
	metrics_registry_free(reg);
	if (r >= 0)
		log_kv(LOG_LEVEL_INFO, "stopped", NULL);
	return r;
}

/* --help and --version; returns the exit code. */
static int webapp_print(enum flags_action action)
{
	struct buf b;

	if (action == FLAGS_VERSION) {
		puts(appconfig_version_line());
		return 0;
	}
	buf_init(&b, 1u << 20);
	if (appconfig_usage(&b) < 0) {
		buf_done(&b);
		return 1;
	}
	fputs(b.data, stdout);
	buf_done(&b);
	return 0;
}

int main(int argc, char **argv)
{
	struct appconfig cfg;
	struct flags_error err;
	enum flags_action action;
	int r;

	if (appconfig_parse(&(struct flags_input){ .argc = argc, .argv = argv }, &cfg, &action,
			    &err) < 0) {
		fprintf(stderr, "webapp: error: %s\nTry --help\n", err.msg);
		return APPCONFIG_EXIT_USAGE;
	}
	if (action != FLAGS_RUN)
		return webapp_print(action);
	log_init(cfg.log_level, cfg.log_format, STDERR_FILENO);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_kv(LOG_LEVEL_ERROR, "cannot initialise libcurl", NULL);
		appconfig_done(&cfg);
		return 1;
	}
	r = cfg.healthcheck ? webapp_healthcheck(&cfg) : (webapp_run(&cfg) < 0 ? 1 : 0);
	curl_global_cleanup();
	appconfig_done(&cfg);
	return r;
}
