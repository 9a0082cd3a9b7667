/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: cloudmap-sd's flag table and the checks that span flags. See
 * include/config.h. Called from main only, before threads start.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "config.h"

#define CONFIG_SEC  1000ULL
#define CONFIG_MIN  (60 * CONFIG_SEC)
#define CONFIG_HOUR (60 * CONFIG_MIN)
#define CONFIG_DAY  (24 * CONFIG_HOUR)

/* Longest SSM parameter ARN; plain names are shorter. */
#define CONFIG_SSM_NAME_MAX 2048

/* Paths under this prefix are the daemon's own (/-/healthy, /-/ready). */
#define CONFIG_RESERVED_PREFIX "/-/"

/* flags.h stores enums as int. */
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum log_level is not int-sized");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum log_format is not int-sized");
_Static_assert(sizeof(enum config_health_status) == sizeof(int),
	       "enum config_health_status is not int-sized");

const char *const config_health_status_names[] = {
	"HEALTHY", "UNHEALTHY", "ALL", "HEALTHY_OR_ELSE_ALL", NULL,
};

#define OFF(field) offsetof(struct config, field)

static const struct flags_spec config_specs[] = {
	{ .name = "web.listen-address",
	  .type = FLAGS_LISTEN_ADDRESS,
	  .offset = OFF(listen),
	  .def = ":9001",
	  .nonempty = true,
	  .help = "Address to listen on for the discovery endpoint, metrics and health checks." },
	{ .name = "web.telemetry-path",
	  .type = FLAGS_URL_PATH,
	  .offset = OFF(telemetry_path),
	  .def = "/metrics",
	  .nonempty = true,
	  .help = "Path under which to expose cloudmap-sd's own metrics." },
	{ .name = "web.max-connections",
	  .type = FLAGS_UINT,
	  .offset = OFF(max_connections),
	  .def = "4096",
	  .min = 1,
	  .max = 100000,
	  .help = "Most HTTP connections served at once; more wait or are refused. Lowered to "
		  "what the descriptor limit allows." },
	{ .name = "web.max-connections-per-ip",
	  .type = FLAGS_UINT,
	  .offset = OFF(max_connections_per_ip),
	  .def = "64",
	  .max = 100000,
	  .help = "Most HTTP connections from one client address; 0: no limit." },
	{ .name = "web.connection-timeout",
	  .type = FLAGS_DURATION,
	  .offset = OFF(connection_timeout_ms),
	  .def = "30s",
	  .min = CONFIG_SEC,
	  .max = CONFIG_HOUR,
	  .help = "Close an HTTP connection idle for this long (whole seconds)." },
	{ .name = "web.auth-token-file",
	  .type = FLAGS_FILE_PATH,
	  .offset = OFF(auth_token_file),
	  .help = "File holding the bearer token HTTP clients must send; empty: none required." },
	{ .name = "web.basic-auth-file",
	  .type = FLAGS_FILE_PATH,
	  .offset = OFF(basic_auth_file),
	  .help = "File holding the credentials HTTP clients must send with basic "
		  "authentication; empty: none required." },
	{ .name = "log.level",
	  .type = FLAGS_ENUM,
	  .offset = OFF(log_level),
	  .def = "info",
	  .choices = log_level_names,
	  .help = "Least level of the log lines written." },
	{ .name = "log.format",
	  .type = FLAGS_ENUM,
	  .offset = OFF(log_format),
	  .def = "logfmt",
	  .choices = log_format_names,
	  .help = "Format of the log lines, written to stderr." },
	{ .name = "cloudmap.namespaces",
	  .type = FLAGS_LIST,
	  .offset = OFF(namespaces),
	  .placeholder = "<name,...>",
	  .max_items = 100,
	  .help = "Comma-separated names of the Cloud Map namespaces to discover; "
		  "empty: every namespace of the account and region." },
	{ .name = "cloudmap.namespaces-parameter",
	  .type = FLAGS_STRING,
	  .offset = OFF(namespaces_parameter),
	  .placeholder = "<ssm-parameter>",
	  .help = "Name or ARN of an SSM parameter holding the comma-separated namespace names, "
		  "read at every full refresh; exclusive with --cloudmap.namespaces." },
	{ .name = "cloudmap.health-status",
	  .type = FLAGS_ENUM,
	  .offset = OFF(health_status),
	  .def = "ALL",
	  .choices = config_health_status_names,
	  .help = "Which instances to discover, by their Cloud Map health status." },
	{ .name = "cloudmap.default-metrics-path",
	  .type = FLAGS_URL_PATH,
	  .offset = OFF(default_metrics_path),
	  .help = "__metrics_path__ of the targets whose instance sets none; "
		  "empty: Prometheus's default." },
	{ .name = "refresh.interval",
	  .type = FLAGS_DURATION,
	  .offset = OFF(refresh_interval_ms),
	  .def = "30s",
	  .min = CONFIG_SEC,
	  .max = CONFIG_DAY,
	  .help = "How often to refresh the instances of the known services." },
	{ .name = "refresh.full-interval",
	  .type = FLAGS_DURATION,
	  .offset = OFF(refresh_full_interval_ms),
	  .def = "5m",
	  .min = CONFIG_SEC,
	  .max = 7 * CONFIG_DAY,
	  .help = "How often to list the namespaces and services again; "
		  "at least --refresh.interval." },
	{ .name = "refresh.max-staleness",
	  .type = FLAGS_DURATION,
	  .offset = OFF(refresh_max_staleness_ms),
	  .def = "10m",
	  .min = CONFIG_SEC,
	  .max = 7 * CONFIG_DAY,
	  .help = "How long to keep serving the last good targets of a namespace that cannot "
		  "be refreshed; longer than --refresh.interval." },
	{ .name = "aws.max-concurrency",
	  .type = FLAGS_UINT,
	  .offset = OFF(aws_max_concurrency),
	  .def = "16",
	  .min = 1,
	  .max = 256,
	  .help = "Most AWS API calls in flight at once." },
	{ .name = "aws.request-timeout",
	  .type = FLAGS_DURATION,
	  .offset = OFF(aws_request_timeout_ms),
	  .def = "10s",
	  .min = CONFIG_SEC,
	  .max = 5 * CONFIG_MIN,
	  .help = "Give up on one AWS API call after this long." },
	{ .name = "labels.legacy",
	  .type = FLAGS_BOOL,
	  .offset = OFF(labels_legacy),
	  .help = "Produce the legacy label set instead of the current one." },
	{ .name = "file-sd.path",
	  .type = FLAGS_FILE_PATH,
	  .offset = OFF(file_sd_path),
	  .help = "Also write the targets to this file, in Prometheus's file_sd format; "
		  "empty: off." },
	{ .name = "prometheus.reload-url",
	  .type = FLAGS_HTTP_URL,
	  .offset = OFF(prometheus_reload_url),
	  .help = "POST to this URL (e.g. http://localhost:9090/-/reload) after the file_sd "
		  "file changes, or in the drop-in mode after prometheus.yaml changes; needs "
		  "--file-sd.path. Empty: off." },
	{ .name = "healthcheck",
	  .type = FLAGS_BOOL,
	  .offset = OFF(healthcheck),
	  .help = "Probe mode for container HEALTHCHECKs: GET http://127.0.0.1:<port>/-/healthy, "
		  "<port> from --web.listen-address, and exit 0 on 200, else 1." },
};

static const struct flags_set config_set = {
	.program = "cloudmap-sd",
	.summary = "Prometheus HTTP service discovery for AWS Cloud Map: serves the instances of "
		   "Cloud Map services as scrape targets to Prometheus's http_sd_configs.",
	.env_prefix = CONFIG_ENV_PREFIX,
	.has_version = true,
	.specs = config_specs,
	.n_specs = sizeof(config_specs) / sizeof(config_specs[0]),
	.dest_size = sizeof(struct config),
};

const struct flags_set *config_flags(void)
{
	return &config_set;
}

const char *config_version_line(void)
{
	return "cloudmap-sd, version " CLOUDMAP_SD_VERSION " (revision: " CLOUDMAP_SD_REVISION ")";
}

int config_usage(struct buf *out)
{
	return flags_usage(&config_set, out);
}

void config_done(struct config *cfg)
{
	flags_done(&config_set, cfg);
	dropin_done(&cfg->dropin);
}

/* SSM parameter names: letters, digits, "_.-/"; ARNs add ':'. */
static bool config_valid_ssm_name(const char *s)
{
	return strlen(s) <= CONFIG_SSM_NAME_MAX &&
	       s[strspn(s,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/:")] ==
		   '\0';
}

static void config_fail_durations(struct flags_error *err, const char *a, uint64_t a_ms,
				  const char *relation, const char *b, uint64_t b_ms)
{
	char at[32], bt[32];

	flags_format_duration(a_ms, at, sizeof(at));
	flags_format_duration(b_ms, bt, sizeof(bt));
	snprintf(err->msg, sizeof(err->msg), "--%s (%s) must be %s --%s (%s)", a, at, relation, b,
		 bt);
}

static int config_validate_refresh(const struct config *cfg, struct flags_error *err)
{
	if (cfg->refresh_full_interval_ms < cfg->refresh_interval_ms) {
		config_fail_durations(err, "refresh.full-interval", cfg->refresh_full_interval_ms,
				      "at least", "refresh.interval", cfg->refresh_interval_ms);
		return -EINVAL;
	}
	if (cfg->refresh_max_staleness_ms <= cfg->refresh_interval_ms) {
		config_fail_durations(err, "refresh.max-staleness", cfg->refresh_max_staleness_ms,
				      "longer than", "refresh.interval", cfg->refresh_interval_ms);
		return -EINVAL;
	}
	return 0;
}

static int config_validate_web(const struct config *cfg, struct flags_error *err)
{
	if (strncmp(cfg->telemetry_path, CONFIG_RESERVED_PREFIX, strlen(CONFIG_RESERVED_PREFIX)) ==
	    0) {
		snprintf(err->msg, sizeof(err->msg),
			 "invalid value \"%.100s\" for --web.telemetry-path: paths under %s are "
			 "reserved",
			 cfg->telemetry_path, CONFIG_RESERVED_PREFIX);
		return -EINVAL;
	}
	if (cfg->max_connections_per_ip > cfg->max_connections) {
		snprintf(err->msg, sizeof(err->msg),
			 "--web.max-connections-per-ip (%u) must not exceed --web.max-connections "
			 "(%u)",
			 cfg->max_connections_per_ip, cfg->max_connections);
		return -EINVAL;
	}
	if (cfg->connection_timeout_ms % CONFIG_SEC) {
		snprintf(err->msg, sizeof(err->msg),
			 "--web.connection-timeout must be a whole number of seconds");
		return -EINVAL;
	}
	return 0;
}

static int config_validate_sources(const struct config *cfg, struct flags_error *err)
{
	if (cfg->namespaces.n && cfg->namespaces_parameter) {
		snprintf(err->msg, sizeof(err->msg),
			 "--cloudmap.namespaces and --cloudmap.namespaces-parameter cannot be used "
			 "together");
		return -EINVAL;
	}
	if (cfg->namespaces_parameter && !config_valid_ssm_name(cfg->namespaces_parameter)) {
		snprintf(err->msg, sizeof(err->msg),
			 "invalid value \"%.100s\" for --cloudmap.namespaces-parameter: not an SSM "
			 "parameter name or ARN",
			 cfg->namespaces_parameter);
		return -EINVAL;
	}
	if (cfg->prometheus_reload_url && !cfg->file_sd_path) {
		snprintf(err->msg, sizeof(err->msg),
			 "--prometheus.reload-url needs --file-sd.path%s",
			 cfg->dropin.mode == DROPIN_HTTP_BASED
			     ? " (SERVICE_DISCOVERY_MODE=HTTP_BASED writes no files)"
			     : "");
		return -EINVAL;
	}
	return 0;
}

int config_validate(const struct config *cfg, struct flags_error *err)
{
	int r;

	r = config_validate_web(cfg, err);
	if (r == 0)
		r = config_validate_refresh(cfg, err);
	if (r == 0)
		r = config_validate_sources(cfg, err);
	return r;
}

/* ---- which flags were given ---- */

static const char *config_getenv(const struct flags_input *in, const char *name)
{
	return in->getenv ? in->getenv(name, in->getenv_userdata) : getenv(name);
}

static bool config_arg_names(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (arg[0] != '-' || arg[1] != '-')
		return false;
	arg += 2;
	if (strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '='))
		return true;
	return arg[0] == 'n' && arg[1] == 'o' && arg[2] == '-' && strcmp(arg + 3, name) == 0;
}

/* Whether the flag name was given on the command line or in its (non-empty)
 * environment variable. A value that happens to spell a flag ("--x --name")
 * cannot occur: flags_parse() refused such a command line already. */
static bool config_flag_given(const struct flags_input *in, const char *name)
{
	char env[FLAGS_ENV_NAME_MAX];
	const char *v;
	size_t i;
	int a;

	for (a = 1; a < in->argc; a++)
		if (config_arg_names(in->argv[a], name))
			return true;
	for (i = 0; i < config_set.n_specs; i++) {
		if (strcmp(config_specs[i].name, name) != 0)
			continue;
		if (flags_env_name(&config_set, &config_specs[i], env, sizeof(env)) < 0)
			return false;
		v = config_getenv(in, env);
		return v && *v;
	}
	return false;
}

static void config_record_given(const struct flags_input *in, struct config_given *g)
{
	g->namespaces = config_flag_given(in, "cloudmap.namespaces") ||
			config_flag_given(in, "cloudmap.namespaces-parameter");
	g->labels_legacy = config_flag_given(in, "labels.legacy");
	g->refresh_interval = config_flag_given(in, "refresh.interval");
	g->refresh_full_interval = config_flag_given(in, "refresh.full-interval");
	g->refresh_max_staleness = config_flag_given(in, "refresh.max-staleness");
	g->file_sd_path = config_flag_given(in, "file-sd.path");
}

/* What follows the flags: the drop-in mode, then the cross-flag checks. */
static int config_finish(const struct flags_input *in, struct config *cfg, struct flags_error *err)
{
	int r;

	config_record_given(in, &cfg->given);
	r = dropin_from_env(in->getenv, in->getenv_userdata, &cfg->dropin, err);
	if (r == 0)
		r = dropin_apply(cfg);
	if (r == -ENOMEM)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	if (r == 0)
		r = config_validate(cfg, err);
	return r;
}

int config_parse(const struct flags_input *in, struct config *ret, enum flags_action *ret_action,
		 struct flags_error *err)
{
	struct config cfg;
	enum flags_action action;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	r = flags_parse(&config_set, in, &cfg, &action, err);
	if (r < 0)
		return r;
	if (action == FLAGS_RUN) {
		r = config_finish(in, &cfg, err);
		if (r < 0) {
			config_done(&cfg);
			return r;
		}
		*ret = cfg;
	}
	*ret_action = action;
	return 0;
}
