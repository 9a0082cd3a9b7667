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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "auth.h"
#include "awsclient.h"
#include "config.h"
#include "creds.h"
#include "endpoint.h"
#include "filesd.h"
#include "http.h"
#include "log.h"
#include "refresher.h"
#include "region.h"
#include "report.h"
#include "server.h"
#include "snapshot.h"
#include "statuspage.h"
#include "telemetry.h"
#include "build-config.h"

/* The status page's build and configuration summary: keys are static, and
 * values either outlive the daemon's struct config or are in owned[]. */
#define SUMMARY_MAX_ITEMS 32
#define SUMMARY_MAX_BYTES (64u << 10)

struct summary {
	struct statuspage_item items[SUMMARY_MAX_ITEMS];
	char *owned[SUMMARY_MAX_ITEMS]; /* values made for the summary, freed with it */
	size_t n;
};

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
	/* file_sd output and the drop-in mode: the refresher thread's */
	struct filesd_writer targets_file;
	struct filesd_writer prometheus_file;
	struct http_transport *reload_http; /* for --prometheus.reload-url */
	bool reload_pending;		    /* a reload is owed to Prometheus */
	unsigned reload_failures;
	unsigned parameter_failures;
	struct summary summary;
	int64_t started_at_ms; /* wall clock */
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

/* ---- the status page's summary ---- */

static int64_t wall_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Adds a line; value is borrowed (NULL: "off"). Lines past the cap are
 * left out. */
static void summary_add(struct summary *sum, const char *key, const char *value)
{
	if (sum->n == SUMMARY_MAX_ITEMS)
		return;
	sum->items[sum->n].key = key;
	sum->items[sum->n].value = value ? value : "off";
	sum->n++;
}

/* Adds a line whose value is b's text, which the summary takes. Returns 0
 * or -ENOMEM. */
static int summary_take(struct summary *sum, const char *key, struct buf *b)
{
	char *value;

	if (sum->n == SUMMARY_MAX_ITEMS)
		return 0;
	value = buf_steal(b, NULL);
	if (!value)
		return -ENOMEM;
	sum->owned[sum->n] = value;
	summary_add(sum, key, value);
	return 0;
}

static int summary_addf(struct summary *sum, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int summary_addf(struct summary *sum, const char *key, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	int r;

	buf_init(&b, SUMMARY_MAX_BYTES);
	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = summary_take(sum, key, &b);
	buf_done(&b);
	return r;
}

static void summary_done(struct summary *sum)
{
	size_t i;

	for (i = 0; i < SUMMARY_MAX_ITEMS; i++)
		free(sum->owned[i]);
	memset(sum, 0, sizeof(*sum));
}

/* "30 s", or "1.5 s" when not whole seconds. */
static int summary_add_ms(struct summary *sum, const char *key, uint64_t ms)
{
	if (ms % 1000 == 0)
		return summary_addf(sum, key, "%llu s", (unsigned long long)(ms / 1000));
	return summary_addf(sum, key, "%.3f s", (double)ms / 1000.0);
}

/* The names asked for, else the SSM parameter that lists them, else all. */
static int summary_add_namespaces(struct summary *sum, const struct config *cfg)
{
	struct buf b;
	size_t i;
	int r = 0;

	if (!cfg->namespaces.n && cfg->namespaces_parameter)
		return summary_addf(sum, "Namespaces", "listed in the SSM parameter %s",
				    cfg->namespaces_parameter);
	if (!cfg->namespaces.n) {
		summary_add(sum, "Namespaces", "all");
		return 0;
	}
	buf_init(&b, SUMMARY_MAX_BYTES);
	for (i = 0; i < cfg->namespaces.n && r == 0; i++)
		r = buf_printf(&b, "%s%s", i ? ", " : "", cfg->namespaces.items[i]);
	if (r == 0)
		r = summary_take(sum, "Namespaces", &b);
	buf_done(&b);
	return r;
}

static int summary_add_aws(struct summary *sum, const struct daemon *d)
{
	static const char *const keys[AWS_SERVICE_COUNT] = {
		[AWS_SERVICE_SERVICEDISCOVERY] = "Cloud Map endpoint",
		[AWS_SERVICE_SERVICEDISCOVERY_DATA] = "Cloud Map data endpoint",
		[AWS_SERVICE_SSM] = "SSM endpoint",
		[AWS_SERVICE_STS] = "STS endpoint",
	};
	int i;

	summary_add(sum, "Region", d->region);
	for (i = 0; i < AWS_SERVICE_COUNT; i++)
		summary_add(sum, keys[i] ? keys[i] : endpoint_env_id(i), d->endpoint[i]);
	return summary_add_namespaces(sum, &d->cfg);
}

static int summary_add_refresh(struct summary *sum, const struct config *cfg)
{
	int r;

	r = summary_add_ms(sum, "Refresh interval", cfg->refresh_interval_ms);
	if (r == 0)
		r = summary_add_ms(sum, "Full refresh interval", cfg->refresh_full_interval_ms);
	if (r == 0)
		r = summary_add_ms(sum, "Max staleness", cfg->refresh_max_staleness_ms);
	return r;
}

static const char *summary_auth(const struct config *cfg)
{
	if (cfg->auth_token_file && cfg->basic_auth_file)
		return "bearer token or basic";
	if (cfg->auth_token_file)
		return "bearer token";
	return cfg->basic_auth_file ? "basic" : "none";
}

static int summary_add_web(struct summary *sum, const struct config *cfg)
{
	const char *host = cfg->listen.host ? cfg->listen.host : "*";
	int r;

	r = summary_addf(sum, "Listen address", strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
			 cfg->listen.port);
	summary_add(sum, "Telemetry path", cfg->telemetry_path);
	summary_add(sum, "Authentication", summary_auth(cfg));
	return r;
}

/* Fills d->summary from the configuration and what resolve_aws() found.
 * Returns 0 or -ENOMEM. */
static int build_summary(struct daemon *d)
{
	const struct config *cfg = &d->cfg;
	struct summary *sum = &d->summary;
	int r;

	summary_add(sum, "Version", CLOUDMAP_SD_VERSION);
	summary_add(sum, "Revision", CLOUDMAP_SD_REVISION);
	r = summary_add_aws(sum, d);
	summary_add(sum, "Health status", config_health_status_names[cfg->health_status]);
	if (r == 0)
		r = summary_add_refresh(sum, cfg);
	summary_add(sum, "Default metrics path", cfg->default_metrics_path);
	summary_add(sum, "Legacy labels", cfg->labels_legacy ? "on" : "off");
	summary_add(sum, "file_sd path", cfg->file_sd_path);
	if (r == 0)
		r = summary_add_web(sum, cfg);
	if (r == 0)
		r = summary_addf(sum, "AWS calls", "at most %u at once, %llu ms timeout",
				 cfg->aws_max_concurrency,
				 (unsigned long long)cfg->aws_request_timeout_ms);
	return r;
}

/* Keeps --web.max-connections within the descriptor limit, leaving room
 * for the refresher's AWS connections, the log and the files. */
#define FDS_KEPT_FOR_THE_REST 64

static unsigned connections_allowed(unsigned wanted)
{
	struct rlimit rl;
	char n[24], limit[24];

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= (rlim_t)wanted + FDS_KEPT_FOR_THE_REST)
		return wanted;
	if (rl.rlim_cur <= 2 * FDS_KEPT_FOR_THE_REST)
		return (unsigned)(rl.rlim_cur / 2);
	snprintf(n, sizeof(n), "%u", (unsigned)(rl.rlim_cur - FDS_KEPT_FOR_THE_REST));
	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)rl.rlim_cur);
	log_kv(LOG_LEVEL_WARN, "lowering --web.max-connections to fit the descriptor limit",
	       "max_connections", n, "nofile", limit, NULL);
	return (unsigned)(rl.rlim_cur - FDS_KEPT_FOR_THE_REST);
}

static int start_server(struct daemon *d)
{
	struct server_config sc = {
		.listen_host = d->cfg.listen.host,
		.port = d->cfg.listen.port,
		.telemetry_path = d->cfg.telemetry_path,
		.max_connections = connections_allowed(d->cfg.max_connections),
		.max_connections_per_ip = d->cfg.max_connections_per_ip,
		.connection_timeout_sec = (unsigned)(d->cfg.connection_timeout_ms / 1000),
		.max_staleness_ms = (int64_t)d->cfg.refresh_max_staleness_ms,
		.refresh_interval_ms = (int64_t)d->cfg.refresh_interval_ms,
		.auth_token_file = d->cfg.auth_token_file,
		.basic_auth_file = d->cfg.basic_auth_file,
	};
	struct server_deps deps = {
		.store = &d->store,
		.metrics = d->telemetry.registry,
		.http_requests = d->telemetry.http_requests,
		.client_refresh_interval = d->telemetry.client_refresh_interval,
		.reports = &d->reports,
		.summary = d->summary.items,
		.n_summary = d->summary.n,
		.started_at_ms = d->started_at_ms,
	};
	char port[16], error[AUTH_WHY_MAX] = "";
	int r;

	sc.error = error;
	sc.error_size = sizeof(error);
	r = server_start(&sc, &deps, &d->server);
	if (r < 0 && error[0]) {
		log_kv(LOG_LEVEL_ERROR, "cannot load the web auth files", "err", error, NULL);
		return r;
	}
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

/* ---- file_sd output, warm start and the drop-in mode ---- */

/* More than SSM's largest parameter value: prometheus.yaml read at start. */
#define PROMETHEUS_FILE_MAX_BYTES (64u << 10)

static void log_dropin_mode(const struct config *cfg)
{
	const struct dropin *dm = &cfg->dropin;
	char freq[24];

	if (dm->mode == DROPIN_OFF)
		return;
	snprintf(freq, sizeof(freq), "%us", dm->reload_sec);
	log_kv(LOG_LEVEL_INFO, "drop-in mode for the Go side-car", "mode",
	       dropin_mode_name(dm->mode), "reload_frequency", freq, "namespaces_parameter",
	       cfg->namespaces_parameter ? cfg->namespaces_parameter : "(from flags)", "file_sd",
	       cfg->file_sd_path ? cfg->file_sd_path : "off", "prometheus_config",
	       dm->prometheus_path ? dm->prometheus_path : "off", "prometheus_parameter",
	       dm->prometheus_parameter ? dm->prometheus_parameter : "", NULL);
}

/* POSTs the reload URL when asked to (changed) or when an earlier POST
 * failed; logs the first failure of a run. Refresher thread. */
static void maybe_reload(struct daemon *d, bool changed)
{
	long status = 0;
	char why[32];
	int r;

	if (!d->cfg.prometheus_reload_url || !(changed || d->reload_pending))
		return;
	d->reload_pending = true;
	r = dropin_post_reload(d->reload_http, d->cfg.prometheus_reload_url, &status);
	if (r == 0) {
		log_kv(LOG_LEVEL_INFO, "asked Prometheus to reload", "url",
		       d->cfg.prometheus_reload_url, NULL);
		d->reload_pending = false;
		d->reload_failures = 0;
		return;
	}
	snprintf(why, sizeof(why), "HTTP %ld", status);
	if (d->reload_failures++ == 0)
		log_kv(LOG_LEVEL_WARN, "cannot ask Prometheus to reload, will retry", "url",
		       d->cfg.prometheus_reload_url, "err", r == -EPROTO ? why : strerror(-r),
		       NULL);
}

/* Writes w if data changed; logs the first failure of a run and the
 * recovery. Returns what filesd_writer_update() returns. */
static int write_output(struct filesd_writer *w, const char *what,
			const struct snapshot_piece *pieces, size_t n)
{
	unsigned failed_before = w->failures;
	int r = filesd_writer_update_pieces(w, pieces, n);

	if (r < 0 && w->failures == 1)
		log_kv(LOG_LEVEL_ERROR, "cannot write the file, still serving", "file", w->path,
		       "what", what, "err", strerror(-r), NULL);
	else if (r > 0 && failed_before)
		log_kv(LOG_LEVEL_INFO, "wrote the file again", "file", w->path, "what", what, NULL);
	return r;
}

/* The publish hook: the file_sd file, and in the plain mode the reload. */
static void on_publish(void *userdata, struct snapshot *s)
{
	struct daemon *d = userdata;
	int r;

	r = write_output(&d->targets_file, "file_sd", s->json_pieces, s->n_json_pieces);
	if (!d->cfg.dropin.prometheus_path)
		maybe_reload(d, r > 0);
}

static void log_parameter_failure(struct daemon *d, int r, const struct aws_error *err)
{
	if (r == -ECANCELED || d->parameter_failures++ > 0)
		return;
	log_kv(LOG_LEVEL_ERROR, "cannot read the Prometheus configuration, keeping prometheus.yaml",
	       "parameter", d->cfg.dropin.prometheus_parameter, "err",
	       err->code[0] ? err->code : strerror(-r), "message", err->message, NULL);
}

/* The full-refresh hook of the drop-in file mode: prometheus.yaml from SSM. */
static void on_full_refresh(void *userdata, struct aws_client *client)
{
	struct daemon *d = userdata;
	struct aws_error err = { 0 };
	char *yaml;
	int r;

	r = dropin_fetch_parameter(client, d->cfg.dropin.prometheus_parameter, &yaml, &err);
	if (r < 0) {
		log_parameter_failure(d, r, &err);
		maybe_reload(d, false);
		return;
	}
	if (d->parameter_failures)
		log_kv(LOG_LEVEL_INFO, "read the Prometheus configuration again", "parameter",
		       d->cfg.dropin.prometheus_parameter, NULL);
	d->parameter_failures = 0;
	r = write_output(&d->prometheus_file, "prometheus_config",
			 &(struct snapshot_piece){ yaml, strlen(yaml) }, 1);
	free(yaml);
	maybe_reload(d, r > 0);
}

/* Serves the file_sd file's targets until the first refresh replaces them;
 * a file that cannot be used is reported and ignored. */
static void warm_start(struct daemon *d)
{
	const char *path = d->cfg.file_sd_path;
	struct filesd_error err;
	struct snapshot *s;
	char *data, n[24];
	int64_t mtime;
	size_t len;
	int r;

	r = filesd_read(path, FILESD_MAX_BYTES, &data, &len, &mtime);
	if (r < 0) {
		if (r != -ENOENT)
			log_kv(LOG_LEVEL_WARN, "ignoring the file_sd file for the warm start",
			       "file", path, "err", strerror(-r), NULL);
		return;
	}
	filesd_writer_seed(&d->targets_file, data, len);
	r = filesd_parse(data, len, mtime, &s, &err);
	free(data);
	if (r < 0) {
		log_kv(LOG_LEVEL_WARN, "ignoring the file_sd file for the warm start", "file", path,
		       "err", err.msg, NULL);
		return;
	}
	snprintf(n, sizeof(n), "%zu", s->n_groups);
	log_kv(LOG_LEVEL_INFO, "warm start: serving the file_sd file's targets until a refresh",
	       "file", path, "targets", n, NULL);
	snapshot_store_publish(&d->store, s);
}

/* Remembers what prometheus.yaml holds, so that a restart does not write
 * (and reload) the same configuration again. */
static void seed_prometheus_file(struct filesd_writer *w)
{
	int64_t mtime;
	char *data;
	size_t len;

	if (filesd_read(w->path, PROMETHEUS_FILE_MAX_BYTES, &data, &len, &mtime) < 0)
		return;
	filesd_writer_seed(w, data, len);
	free(data);
}

/* Before the server starts: the writers, the reload transport and the
 * warm start. Returns 0 or -ENOMEM. */
static int setup_outputs(struct daemon *d)
{
	const struct config *cfg = &d->cfg;
	int r = 0;

	log_dropin_mode(cfg);
	if (cfg->prometheus_reload_url) {
		d->reload_http = http_curl_new(NULL);
		if (!d->reload_http)
			return -ENOMEM;
	}
	if (cfg->dropin.prometheus_path) {
		r = filesd_writer_init(&d->prometheus_file, cfg->dropin.prometheus_path);
		if (r == 0)
			seed_prometheus_file(&d->prometheus_file);
	}
	if (r == 0 && cfg->file_sd_path) {
		r = filesd_writer_init(&d->targets_file, cfg->file_sd_path);
		if (r == 0)
			warm_start(d);
	}
	return r;
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
		.on_publish = d->cfg.file_sd_path ? on_publish : NULL,
		.on_publish_userdata = d,
		.on_full_refresh = d->cfg.dropin.prometheus_path ? on_full_refresh : NULL,
		.on_full_refresh_userdata = d,
	};

	return refresher_start(&rc, &deps, &d->refresher);
}

/* Every connection is a descriptor: take the hard limit, not the soft one
 * (often 1024), as servers do; --web.max-connections bounds the use. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
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
	filesd_writer_done(&d->targets_file);
	filesd_writer_done(&d->prometheus_file);
	d->reload_http = http_transport_free(d->reload_http);
	d->server = server_stop(d->server);
	d->client = aws_client_free(d->client);
	summary_done(&d->summary);
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
		r = build_summary(d);
	if (r == 0)
		r = telemetry_init(&d->telemetry, &d->store);
	if (r == 0)
		r = start_client(d);
	if (r == 0)
		r = setup_outputs(d);
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
	raise_fd_limit();

	/* Library globals, before any thread starts. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	json_object_seed(0);
	snapshot_store_init(&d.store);
	report_store_init(&d.reports);
	d.started_at_ms = wall_clock_ms();

	exit_code = run(&d, &signals);
	teardown(&d);
	curl_global_cleanup();
	return exit_code;
}
