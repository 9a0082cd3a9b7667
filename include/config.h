/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: cloudmap-sd's flags and its validated configuration.
 *
 * The flags table lives in config.c; flags.h parses it (command line, then
 * CLOUDMAP_SD_* environment variables, then defaults) and config_validate()
 * adds the checks that span several flags. main calls config_parse() once,
 * before any thread starts, and then shares the struct read-only.
 *
 *	struct config cfg;
 *	struct flags_error err;
 *	enum flags_action action;
 *
 *	if (config_parse(&(struct flags_input){ argc, argv }, &cfg, &action, &err) < 0) {
 *		fprintf(stderr, "cloudmap-sd: error: %s\nTry --help\n", err.msg);
 *		return CONFIG_EXIT_USAGE;
 *	}
 *	if (action == FLAGS_HELP)	-> config_usage() to stdout, exit 0
 *	if (action == FLAGS_VERSION)	-> puts(config_version_line()), exit 0
 *	...
 *	config_done(&cfg);
 */
#ifndef CLOUDMAP_CONFIG_H
#define CLOUDMAP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "dropin.h"
#include "flags.h"
#include "log.h"

/* Exit code for a bad command line or environment (as kingpin). */
#define CONFIG_EXIT_USAGE 2

/* The prefix of every environment variable. */
#define CONFIG_ENV_PREFIX "CLOUDMAP_SD_"

/* Which instances DiscoverInstances returns (its HealthStatus parameter). */
enum config_health_status {
	CONFIG_HEALTH_HEALTHY,
	CONFIG_HEALTH_UNHEALTHY,
	CONFIG_HEALTH_ALL,
	CONFIG_HEALTH_HEALTHY_OR_ELSE_ALL,
};

/* The API spelling of each value, indexed by enum config_health_status. */
extern const char *const config_health_status_names[];

/* Which flags were given, on the command line or in a CLOUDMAP_SD_*
 * variable, rather than left to their default: what the drop-in mode must
 * not override. */
struct config_given {
	bool namespaces; /* --cloudmap.namespaces or --cloudmap.namespaces-parameter */
	bool labels_legacy;
	bool refresh_interval;
	bool refresh_full_interval;
	bool refresh_max_staleness;
	bool file_sd_path;
};

/* Every string below is NULL when its flag is empty ("off"). */
struct config {
	/* --web.* */
	struct flags_listen_address listen;  /* host NULL: every interface */
	char *telemetry_path;		     /* never NULL */
	unsigned int max_connections;	     /* 1..100000 */
	unsigned int max_connections_per_ip; /* 0: no limit; <= max_connections */
	uint64_t connection_timeout_ms;	     /* whole seconds, >= 1s */
	char *auth_token_file;		     /* bearer token file */
	char *basic_auth_file;		     /* basic authentication credentials */
	/* --log.* */
	enum log_level log_level;
	enum log_format log_format;
	/* --cloudmap.* */
	struct flags_list namespaces; /* names; empty: every namespace */
	char *namespaces_parameter;   /* SSM parameter holding the names */
	enum config_health_status health_status;
	char *default_metrics_path; /* __metrics_path__ when an instance sets none */
	/* --refresh.* */
	uint64_t refresh_interval_ms;	   /* >= 1s */
	uint64_t refresh_full_interval_ms; /* >= refresh_interval_ms */
	uint64_t refresh_max_staleness_ms; /* > refresh_interval_ms */
	/* --aws.* */
	unsigned int aws_max_concurrency; /* 1..256 */
	uint64_t aws_request_timeout_ms;
	/* the rest */
	bool labels_legacy;
	char *file_sd_path;
	char *prometheus_reload_url; /* needs file_sd_path */
	bool healthcheck;	     /* probe /-/healthy and exit */
	/* not flags */
	struct config_given given;
	struct dropin dropin; /* the Go side-car's environment, applied */
};

/* Parses the command line and the environment (in->getenv, or getenv()),
 * applies the drop-in mode's variables (dropin.h) and validates the result.
 * Returns 0 and *ret_action: with FLAGS_RUN, *ret is filled and owned by
 * the caller (release it with config_done()); with FLAGS_HELP or
 * FLAGS_VERSION, *ret is untouched.
 * Returns -EINVAL with err set to one line naming the flag or variable and
 * the value, or -ENOMEM; *ret is then untouched. */
int config_parse(const struct flags_input *in, struct config *ret, enum flags_action *ret_action,
		 struct flags_error *err);

/* The checks that span several flags, and those that flags.h has no type
 * for. Returns 0, or -EINVAL with err set. Called by config_parse(). */
int config_validate(const struct config *cfg, struct flags_error *err);

/* Frees what cfg owns; accepts a zeroed struct; idempotent. */
void config_done(struct config *cfg);

/* Appends the --help page to out. Returns 0 or an error from buf. */
int config_usage(struct buf *out);

/* "cloudmap-sd, version X (revision: R)", static. */
const char *config_version_line(void);

/* The flag table, for tests. */
const struct flags_set *config_flags(void);

#endif
