/* SPDX-License-Identifier: Apache-2.0 */
/*
 * appconfig: the web app's flags, in cloudmap-sd's style (flags.h): command
 * line, then WEBAPP_* environment variables, then defaults. main calls
 * appconfig_parse() once, before any thread starts, and then shares the
 * struct read-only.
 */
#ifndef WEBAPP_APPCONFIG_H
#define WEBAPP_APPCONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "flags.h"
#include "log.h"

/* Exit code for a bad command line or environment (as kingpin). */
#define APPCONFIG_EXIT_USAGE 2

/* The prefix of every environment variable. */
#define APPCONFIG_ENV_PREFIX "WEBAPP_"

struct appconfig {
	/* --web.* */
	struct flags_listen_address listen; /* host NULL: every interface */
	unsigned int threads;		    /* HTTP threads; 0: one per CPU */
	unsigned int max_connections;
	uint64_t connection_timeout_ms; /* whole seconds */
	/* --work.* */
	uint64_t latency_min_ms;
	uint64_t latency_max_ms; /* >= latency_min_ms */
	char *error_rate_text;	 /* as given; see error_rate */
	double error_rate;	 /* 0..1, parsed from error_rate_text */
	/* --load.* */
	unsigned int load_rate; /* requests per second; 0: off */
	/* the rest */
	bool instrument; /* --no-metrics.instrument turns it off (benchmarks) */
	enum log_level log_level;
	enum log_format log_format;
	bool healthcheck;
};

/* Parses the command line and the environment (in->getenv, or getenv())
 * and validates the result.
 * Returns 0 and *ret_action: with FLAGS_RUN, *ret is filled and owned by
 * the caller (release it with appconfig_done()); otherwise *ret is
 * untouched.
 * Returns -EINVAL with err set to one line naming the flag and the value,
 * or -ENOMEM; *ret is then untouched. */
int appconfig_parse(const struct flags_input *in, struct appconfig *ret,
		    enum flags_action *ret_action, struct flags_error *err);

/* Frees what cfg owns; accepts a zeroed struct; idempotent. */
void appconfig_done(struct appconfig *cfg);

/* Appends the --help page to out. Returns 0 or an error from buf. */
int appconfig_usage(struct buf *out);

/* "webapp, version X (revision: R)", static. */
const char *appconfig_version_line(void);

#endif
