/* SPDX-License-Identifier: Apache-2.0 */
/*
 * appconfig: the web app's flag table and the checks that span flags. See
 * appconfig.h. Called from main only, before threads start.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appconfig.h"
#include "build-config.h"

#define APPCONFIG_SEC  1000ULL
#define APPCONFIG_HOUR (3600 * APPCONFIG_SEC)

/* flags.h stores enums as int. */
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum log_level is not int-sized");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum log_format is not int-sized");

#define OFF(field) offsetof(struct appconfig, field)

static const struct flags_spec appconfig_specs[] = {
	{ .name = "web.listen-address",
	  .type = FLAGS_LISTEN_ADDRESS,
	  .offset = OFF(listen),
	  .def = ":3000",
	  .nonempty = true,
	  .help = "Address to listen on for /work, /metrics and /-/healthy." },
	{ .name = "web.threads",
	  .type = FLAGS_UINT,
	  .offset = OFF(threads),
	  .def = "0",
	  .max = 256,
	  .help = "HTTP threads; 0: one per CPU." },
	{ .name = "web.max-connections",
	  .type = FLAGS_UINT,
	  .offset = OFF(max_connections),
	  .def = "1024",
	  .min = 1,
	  .max = 100000,
	  .help = "Most HTTP connections served at once; more are refused." },
	{ .name = "web.connection-timeout",
	  .type = FLAGS_DURATION,
	  .offset = OFF(connection_timeout_ms),
	  .def = "30s",
	  .min = APPCONFIG_SEC,
	  .max = APPCONFIG_HOUR,
	  .help = "Close an HTTP connection idle for this long (whole seconds)." },
	{ .name = "work.latency-min",
	  .type = FLAGS_DURATION,
	  .offset = OFF(latency_min_ms),
	  .def = "10ms",
	  .max = 60 * APPCONFIG_SEC,
	  .help = "Least simulated latency of GET /work." },
	{ .name = "work.latency-max",
	  .type = FLAGS_DURATION,
	  .offset = OFF(latency_max_ms),
	  .def = "50ms",
	  .max = 60 * APPCONFIG_SEC,
	  .help = "Greatest simulated latency of GET /work (drawn uniformly between the two); "
		  "at least --work.latency-min." },
	{ .name = "work.error-rate",
	  .type = FLAGS_STRING,
	  .offset = OFF(error_rate_text),
	  .def = "0.01",
	  .nonempty = true,
	  .placeholder = "<0..1>",
	  .help = "Share of GET /work requests answered with 500." },
	{ .name = "load.rate",
	  .type = FLAGS_UINT,
	  .offset = OFF(load_rate),
	  .def = "5",
	  .max = 10000,
	  .help = "Requests per second the internal load generator sends to its own /work; "
		  "0: off." },
	{ .name = "metrics.instrument",
	  .type = FLAGS_BOOL,
	  .offset = OFF(instrument),
	  .def = "true",
	  .help = "Count requests and time them; --no-metrics.instrument serves the same "
		  "handlers without it (for benchmarks)." },
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
	{ .name = "healthcheck",
	  .type = FLAGS_BOOL,
	  .offset = OFF(healthcheck),
	  .help = "Probe mode for container HEALTHCHECKs: GET http://127.0.0.1:<port>/-/healthy, "
		  "<port> from --web.listen-address, and exit 0 on 200, else 1." },
};

static const struct flags_set appconfig_set = {
	.program = "webapp",
	.summary = "A demo web application instrumented for Prometheus: GET /work does simulated "
		   "work, GET /metrics exposes its request metrics, and an internal load generator "
		   "keeps /work busy.",
	.env_prefix = APPCONFIG_ENV_PREFIX,
	.has_version = true,
	.specs = appconfig_specs,
	.n_specs = sizeof(appconfig_specs) / sizeof(appconfig_specs[0]),
	.dest_size = sizeof(struct appconfig),
};

const char *appconfig_version_line(void)
{
	return "webapp, version " CLOUDMAP_SD_VERSION " (revision: " CLOUDMAP_SD_REVISION ")";
}

int appconfig_usage(struct buf *out)
{
	return flags_usage(&appconfig_set, out);
}

void appconfig_done(struct appconfig *cfg)
{
	flags_done(&appconfig_set, cfg);
}

static int appconfig_validate(struct appconfig *cfg, struct flags_error *err)
{
	char *end;

	cfg->error_rate = strtod(cfg->error_rate_text, &end);
	if (*end || end == cfg->error_rate_text ||
	    !(cfg->error_rate >= 0 && cfg->error_rate <= 1)) {
		snprintf(err->msg, sizeof(err->msg),
			 "invalid value \"%.100s\" for --work.error-rate: not a number from 0 to 1",
			 cfg->error_rate_text);
		return -EINVAL;
	}
	if (cfg->latency_max_ms < cfg->latency_min_ms) {
		snprintf(err->msg, sizeof(err->msg),
			 "--work.latency-max must be at least --work.latency-min");
		return -EINVAL;
	}
	if (cfg->connection_timeout_ms % APPCONFIG_SEC) {
		snprintf(err->msg, sizeof(err->msg),
			 "--web.connection-timeout must be a whole number of seconds");
		return -EINVAL;
	}
	return 0;
}

int appconfig_parse(const struct flags_input *in, struct appconfig *ret,
		    enum flags_action *ret_action, struct flags_error *err)
{
	struct appconfig cfg;
	enum flags_action action;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	r = flags_parse(&appconfig_set, in, &cfg, &action, err);
	if (r < 0)
		return r;
	if (action == FLAGS_RUN) {
		r = appconfig_validate(&cfg, err);
		if (r < 0) {
			appconfig_done(&cfg);
			return r;
		}
		*ret = cfg;
	}
	*ret_action = action;
	return 0;
}
