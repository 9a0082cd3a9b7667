/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloudmap-sd: Prometheus HTTP service discovery for AWS Cloud Map.
 *
 * main parses the configuration, initialises every library global (curl,
 * jansson's hash seed) before any thread starts, resolves the AWS region,
 * endpoints and credential chain, starts the HTTP server and the refresher,
 * then waits for signals: SIGHUP asks for a full refresh now, SIGTERM and
 * SIGINT stop the daemon. Signals are blocked in every thread and taken
 * synchronously here with sigwait(), so no handler runs at all.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "awsclient.h"
#include "config.h"
#include "creds.h"
#include "endpoint.h"
#include "http.h"
#include "log.h"
#include "refresher.h"
#include "region.h"
#include "report.h"
#include "server.h"
#include "snapshot.h"
#include "telemetry.h"

/* Everything the daemon owns, torn down in reverse order. */
struct daemon {
	struct config cfg;
	struct http_options http_opts;
	struct http_transport *http;
	struct creds_context creds_ctx;
	struct creds_provider *creds;
	char *region;
	char *endpoint[AWS_SERVICE_COUNT];
	struct snapshot_store store;
	struct report_store reports;
	struct telemetry telemetry;
	struct aws_client *client;
	struct server *server;
	struct refresher *refresher;
};

static int parse_args(int argc, char **argv, struct config *cfg, int *ret_exit)
{
	struct flags_input in = { .argc = argc, .argv = argv };
	struct flags_error err;
	enum flags_action action;
	struct buf usage;

	if (config_parse(&in, cfg, &action, &err) < 0) {
		fprintf(stderr, "cloudmap-sd: error: %s\nTry --help\n", err.msg);
		*ret_exit = CONFIG_EXIT_USAGE;
		return -EINVAL;
	}
	if (action == FLAGS_VERSION) {
		puts(config_version_line());
		*ret_exit = 0;
		return 1;
	}
	if (action == FLAGS_HELP) {
		buf_init(&usage, 1 << 20);
		config_usage(&usage);
		fputs(usage.data ? usage.data : "", stdout);
		buf_done(&usage);
		*ret_exit = 0;
		return 1;
	}
	return 0;
}

/* --healthcheck: asks our own /-/healthy; the exit code says how it went. */
static int healthcheck(const struct config *cfg)
{
	const char *host = cfg->listen.host ? cfg->listen.host : "127.0.0.1";
	struct http_transport *t = http_curl_new(NULL);
	struct http_response resp;
	struct http_request req = { .method = "GET", .timeout_ms = 2000 };
	char url[512];
	int r;

	if (!t)
		return 1;
	snprintf(url, sizeof(url),
		 strchr(host, ':') ? "http://[%s]:%u/-/healthy" : "http://%s:%u/-/healthy", host,
		 cfg->listen.port);
	req.url = url;
	http_response_init(&resp);
	r = t->perform(t, &req, &resp);
	if (r < 0)
		fprintf(stderr, "cloudmap-sd: healthcheck %s: %s\n", url, strerror(-r));
	else if (resp.status != 200)
		fprintf(stderr, "cloudmap-sd: healthcheck %s: HTTP %ld\n", url, resp.status);
	r = r == 0 && resp.status == 200 ? 0 : 1;
	http_response_done(&resp);
	http_transport_free(t);
	return r;
}

static int resolve_aws(struct daemon *d)
{
	const char *source;
	int i, r;

	d->http_opts.ca_bundle = getenv("AWS_CA_BUNDLE");
	if (d->http_opts.ca_bundle && !*d->http_opts.ca_bundle)
		d->http_opts.ca_bundle = NULL;
	d->http = http_curl_new(&d->http_opts);
	if (!d->http)
		return -ENOMEM;
	d->creds_ctx.http = d->http;
	r = region_resolve(&d->creds_ctx, &d->region, &source);
	if (r < 0) {
		log_kv(LOG_LEVEL_ERROR, "cannot determine the AWS region (set AWS_REGION)", "err",
		       strerror(-r), NULL);
		return r;
	}
	for (i = 0; i < AWS_SERVICE_COUNT; i++) {
		r = endpoint_resolve(i, d->region, NULL, NULL, &d->endpoint[i]);
		if (r < 0) {
			log_kv(LOG_LEVEL_ERROR, "cannot resolve the AWS endpoint", "service",
			       endpoint_env_id(i), "err", strerror(-r), NULL);
			return r;
		}
	}
	d->creds_ctx.region = d->region;
	d->creds_ctx.sts_endpoint = d->endpoint[AWS_SERVICE_STS];
	d->creds = creds_chain_new(&d->creds_ctx);
	if (!d->creds)
		return -ENOMEM;
	log_kv(LOG_LEVEL_INFO, "using AWS", "region", d->region, "region_source", source,
	       "servicediscovery", d->endpoint[AWS_SERVICE_SERVICEDISCOVERY], NULL);
	return 0;
}

static int start_client(struct daemon *d)
{
	struct aws_client_config c = {
		.region = d->region,
		.creds = d->creds,
		.http = &d->http_opts,
		.max_concurrency = d->cfg.aws_max_concurrency,
		.timeout_ms = (long)d->cfg.aws_request_timeout_ms,
		.observe = telemetry_observe_aws,
		.observe_userdata = &d->telemetry,
	};
	int i;

	for (i = 0; i < AWS_SERVICE_COUNT; i++)
		c.endpoint_url[i] = d->endpoint[i];
	return aws_client_new(&c, &d->client);
}

static int start_server(struct daemon *d)
{
	struct server_config sc = {
		.listen_host = d->cfg.listen.host,
		.port = d->cfg.listen.port,
		.telemetry_path = d->cfg.telemetry_path,
		.max_connections = d->cfg.max_connections,
		.max_connections_per_ip = d->cfg.max_connections_per_ip,
		.connection_timeout_sec = (unsigned)(d->cfg.connection_timeout_ms / 1000),
		.max_staleness_ms = (int64_t)d->cfg.refresh_max_staleness_ms,
	};
	struct server_deps deps = {
		.store = &d->store,
		.metrics = d->telemetry.registry,
		.http_requests = d->telemetry.http_requests,
	};
	char port[16];
	int r;

	r = server_start(&sc, &deps, &d->server);
	if (r < 0) {
		snprintf(port, sizeof(port), "%u", d->cfg.listen.port);
		log_kv(LOG_LEVEL_ERROR, "cannot listen", "host",
		       sc.listen_host ? sc.listen_host : "*", "port", port, "err", strerror(-r),
		       NULL);
		return r;
	}
	snprintf(port, sizeof(port), "%u", server_port(d->server));
	log_kv(LOG_LEVEL_INFO, "listening", "host", sc.listen_host ? sc.listen_host : "*", "port",
	       port, NULL);
	return 0;
}

static int start_refresher(struct daemon *d)
{
	struct refresher_config rc = {
		.discovery = {
			.namespaces = d->cfg.namespaces.items,
			.n_namespaces = d->cfg.namespaces.n,
			.namespaces_parameter = d->cfg.namespaces_parameter,
			.health_status = config_health_status_names[d->cfg.health_status],
		},
		.targets = {
			.default_metrics_path = d->cfg.default_metrics_path,
			.legacy_labels = d->cfg.labels_legacy,
		},
		.interval_ms = (int64_t)d->cfg.refresh_interval_ms,
		.full_interval_ms = (int64_t)d->cfg.refresh_full_interval_ms,
	};
	struct refresher_deps deps = {
		.client = d->client,
		.store = &d->store,
		.reports = &d->reports,
		.telemetry = &d->telemetry,
	};

	return refresher_start(&rc, &deps, &d->refresher);
}

/* Takes SIGHUP, SIGINT and SIGTERM until told to stop. */
static void wait_for_signals(struct daemon *d, const sigset_t *set)
{
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_kv(LOG_LEVEL_INFO, "SIGHUP: refreshing now", NULL);
			refresher_wake(d->refresher);
			continue;
		}
		log_kv(LOG_LEVEL_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
		       NULL);
		return;
	}
}

static void teardown(struct daemon *d)
{
	int i;

	d->refresher = refresher_stop(d->refresher);
	d->server = server_stop(d->server);
	d->client = aws_client_free(d->client);
	telemetry_done(&d->telemetry);
	snapshot_store_done(&d->store);
	report_store_done(&d->reports);
	d->creds = creds_provider_free(d->creds);
	for (i = 0; i < AWS_SERVICE_COUNT; i++)
		free(d->endpoint[i]);
	free(d->region);
	d->http = http_transport_free(d->http);
	config_done(&d->cfg);
}

static int run(struct daemon *d, const sigset_t *signals)
{
	int r;

	r = resolve_aws(d);
	if (r == 0)
		r = telemetry_init(&d->telemetry, &d->store);
	if (r == 0)
		r = start_client(d);
	if (r == 0)
		r = start_server(d);
	if (r == 0)
		r = start_refresher(d);
	if (r < 0) {
		if (r == -ENOMEM)
			log_kv(LOG_LEVEL_ERROR, "out of memory", NULL);
		return 1;
	}
	log_kv(LOG_LEVEL_INFO, "cloudmap-sd started", "version", config_version_line(), NULL);
	wait_for_signals(d, signals);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	sigset_t signals;
	int exit_code = 0, r;

	r = parse_args(argc, argv, &d.cfg, &exit_code);
	if (r != 0)
		return exit_code;
	if (d.cfg.healthcheck) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		exit_code = healthcheck(&d.cfg);
		config_done(&d.cfg);
		curl_global_cleanup();
		return exit_code;
	}
	log_init(d.cfg.log_level, d.cfg.log_format, 2);

	/* Every thread inherits this mask: signals reach main's sigwait only. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Snapshots are large and short-lived: give buffers over 1 MiB their
	 * own mappings, returned to the system when freed, instead of letting
	 * glibc raise its threshold and keep them in the heap. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);

	/* Library globals, before any thread starts. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	json_object_seed(0);
	snapshot_store_init(&d.store);
	report_store_init(&d.reports);

	exit_code = run(&d, &signals);
	teardown(&d);
	curl_global_cleanup();
	return exit_code;
}
