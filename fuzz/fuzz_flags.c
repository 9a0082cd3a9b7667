/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_flags: config_parse() (config.h), the command-line and environment
 * parser (flags.c) with cloudmap-sd's flag table and cross-flag checks.
 *
 * Input: items separated by newlines or NUL bytes. An item of the form
 * NAME=value, NAME made of A-Z, 0-9 and '_' (CLOUDMAP_SD_REFRESH_INTERVAL,
 * or a variable of the prometheus-for-ecs drop-in such as CONFIG_FILE_DIR),
 * is an environment variable, read through a fake getenv (the first one of
 * a name winning); any other item is the next argument. At most
 * FUZZ_FLAGS_MAX_ITEMS of each.
 *
 * Checked: only the documented returns; the result untouched unless the
 * action is FLAGS_RUN; an error line on -EINVAL; on success what the
 * config promises (config_validate() passes, the ranges in config.h), and
 * that config_done() is idempotent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define FUZZ_FLAGS_MAX_ITEMS 64

struct fuzz_flags_items {
	char *argv[FUZZ_FLAGS_MAX_ITEMS + 2]; /* the program, the items, NULL */
	char *env[FUZZ_FLAGS_MAX_ITEMS];
	int argc;
	size_t n_env;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static const char *fuzz_flags_getenv(const char *name, void *userdata)
{
	const struct fuzz_flags_items *it = userdata;
	size_t n = strlen(name), i;

	for (i = 0; i < it->n_env; i++)
		if (strncmp(it->env[i], name, n) == 0 && it->env[i][n] == '=')
			return it->env[i] + n + 1;
	return NULL;
}

/* NAME=value with an upper-case NAME. */
static int fuzz_flags_is_env(const char *item)
{
	size_t n = strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

	return n > 0 && item[n] == '=';
}

/* Cuts the input into arguments and variables. Returns 0 or -ENOMEM. */
static int fuzz_flags_split(const uint8_t *data, size_t size, struct fuzz_flags_items *it)
{
	struct fuzz_input in = { data, size };
	char *item;

	it->argv[it->argc++] = strdup("cloudmap-sd");
	if (!it->argv[0])
		return -ENOMEM;
	while (in.n) {
		item = fuzz_take_line(&in);
		if (!item)
			return -ENOMEM;
		if (fuzz_flags_is_env(item) && it->n_env < FUZZ_FLAGS_MAX_ITEMS)
			it->env[it->n_env++] = item;
		else if (it->argc <= FUZZ_FLAGS_MAX_ITEMS)
			it->argv[it->argc++] = item;
		else
			free(item);
	}
	return 0;
}

static void fuzz_flags_free(struct fuzz_flags_items *it)
{
	size_t i;

	for (i = 0; i < (size_t)it->argc; i++)
		free(it->argv[i]);
	for (i = 0; i < it->n_env; i++)
		free(it->env[i]);
}

/* What a parsed configuration promises (config.h). */
static void fuzz_flags_check(const struct config *cfg)
{
	struct flags_error err;

	FUZZ_CHECK(config_validate(cfg, &err) == 0);
	FUZZ_CHECK(cfg->telemetry_path && cfg->telemetry_path[0] == '/');
	FUZZ_CHECK(cfg->max_connections >= 1 && cfg->max_connections <= 100000);
	FUZZ_CHECK(cfg->max_connections_per_ip <= cfg->max_connections);
	FUZZ_CHECK(cfg->connection_timeout_ms >= 1000 && cfg->connection_timeout_ms % 1000 == 0);
	FUZZ_CHECK(cfg->refresh_interval_ms >= 1000);
	FUZZ_CHECK(cfg->refresh_full_interval_ms >= cfg->refresh_interval_ms);
	FUZZ_CHECK(cfg->refresh_max_staleness_ms > cfg->refresh_interval_ms);
	FUZZ_CHECK(cfg->aws_max_concurrency >= 1 && cfg->aws_max_concurrency <= 256);
	FUZZ_CHECK(!cfg->prometheus_reload_url || cfg->file_sd_path);
	FUZZ_CHECK(cfg->listen.port >= 1 && cfg->listen.port <= 65535);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_flags_items it = { .argc = 0 };
	struct config cfg, untouched;
	struct flags_error err;
	enum flags_action action;
	int r;

	if (fuzz_flags_split(data, size, &it) < 0)
		goto out;
	memset(&cfg, 0x5a, sizeof(cfg));
	memcpy(&untouched, &cfg, sizeof(cfg));
	memset(&err, 0, sizeof(err));
	it.argv[it.argc] = NULL;
	r = config_parse(&(struct flags_input){ it.argc, it.argv, fuzz_flags_getenv, &it }, &cfg,
			 &action, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	FUZZ_CHECK(r != -EINVAL || (err.msg[0] && memchr(err.msg, '\0', sizeof(err.msg))));
	if (r < 0 || action != FLAGS_RUN) {
		FUZZ_CHECK(memcmp(&cfg, &untouched, sizeof(cfg)) == 0);
		goto out;
	}
	fuzz_flags_check(&cfg);
	config_done(&cfg);
	config_done(&cfg);
out:
	fuzz_flags_free(&it);
	return 0;
}
