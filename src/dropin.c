/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dropin: the Go side-car's environment turned into configuration, and the
 * two calls its prometheus.yaml step makes. See include/dropin.h.
 *
 * dropin_from_env() and dropin_apply() run in main (through config_parse)
 * before any thread starts; dropin_fetch_parameter() and
 * dropin_post_reload() in the refresher thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awsclient.h"
#include "cloudmap.h"
#include "config.h"
#include "dropin.h"
#include "http.h"

/* Longest SSM parameter ARN; plain names are shorter. */
#define DROPIN_SSM_NAME_MAX 2048

#define DROPIN_SEC_MS 1000ULL

/* ---- reading the environment ---- */

struct dropin_env {
	dropin_getenv_fn fn;
	void *userdata;
	struct flags_error *err;
};

/* The variable's value, or NULL when unset or empty. */
static const char *dropin_env_get(const struct dropin_env *env, const char *name)
{
	const char *v = env->fn ? env->fn(name, env->userdata) : getenv(name);

	return v && *v ? v : NULL;
}

static int dropin_env_fail(const struct dropin_env *env, const char *name, const char *value,
			   const char *why)
{
	snprintf(env->err->msg, sizeof(env->err->msg), "invalid value \"%.100s\" for %s: %s", value,
		 name, why);
	return -EINVAL;
}

static int dropin_read_mode(const struct dropin_env *env, struct dropin *d)
{
	const char *v = dropin_env_get(env, "SERVICE_DISCOVERY_MODE");

	if (!v || strcasecmp(v, "FILE_BASED") == 0)
		d->mode = DROPIN_FILE_BASED;
	else if (strcasecmp(v, "HTTP_BASED") == 0)
		d->mode = DROPIN_HTTP_BASED;
	else
		return dropin_env_fail(env, "SERVICE_DISCOVERY_MODE", v,
				       "use FILE_BASED or HTTP_BASED");
	v = dropin_env_get(env, "DEPLOYMENT_MODE");
	d->otel = v && strcasecmp(v, "OTEL") == 0;
	return 0;
}

static int dropin_read_frequency(const struct dropin_env *env, struct dropin *d)
{
	const char *v = dropin_env_get(env, "CONFIG_RELOAD_FREQUENCY");
	unsigned long n = 0;
	const char *p;

	d->reload_sec = DROPIN_DEFAULT_RELOAD_SEC;
	if (!v)
		return 0;
	for (p = v; *p >= '0' && *p <= '9' && n <= DROPIN_MAX_RELOAD_SEC; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (*p || n < 1 || n > DROPIN_MAX_RELOAD_SEC)
		return dropin_env_fail(env, "CONFIG_RELOAD_FREQUENCY", v,
				       "not a whole number of seconds from 1 to 86400");
	d->reload_sec = (unsigned)n;
	return 0;
}

/* SSM parameter names: letters, digits, "_.-/"; ARNs add ':'. */
static bool dropin_valid_ssm_name(const char *s)
{
	return strlen(s) <= DROPIN_SSM_NAME_MAX &&
	       s[strspn(s,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/:")] ==
		   '\0';
}

/* A new copy of the parameter name in variable name, or of def. */
static int dropin_read_parameter(const struct dropin_env *env, const char *name, const char *def,
				 char **ret)
{
	const char *v = dropin_env_get(env, name);

	if (v && !dropin_valid_ssm_name(v))
		return dropin_env_fail(env, name, v, "not an SSM parameter name or ARN");
	*ret = strdup(v ? v : def);
	return *ret ? 0 : -ENOMEM;
}

/* dir + "/" + file as a new string in *ret. */
static int dropin_join(const struct dropin_env *env, const char *dir, const char *file, char **ret)
{
	size_t n = strlen(dir) + 1 + strlen(file) + 1;

	if (n > PATH_MAX)
		return dropin_env_fail(env, "CONFIG_FILE_DIR", dir, "too long for a path");
	*ret = malloc(n);
	if (!*ret)
		return -ENOMEM;
	snprintf(*ret, n, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", file);
	return 0;
}

/* CONFIG_FILE_DIR without its trailing slashes ("/" stays "/"). */
static int dropin_read_dir(const struct dropin_env *env, struct dropin *d)
{
	const char *v = dropin_env_get(env, "CONFIG_FILE_DIR");
	size_t n;

	if (!v)
		v = DROPIN_DEFAULT_CONFIG_DIR;
	for (n = strlen(v); n > 1 && v[n - 1] == '/'; n--)
		;
	d->config_dir = strndup(v, n);
	return d->config_dir ? 0 : -ENOMEM;
}

/* The file mode's paths and the prometheus.yaml parameter. */
static int dropin_read_files(const struct dropin_env *env, struct dropin *d)
{
	int r;

	r = dropin_read_dir(env, d);
	if (r == 0)
		r = dropin_join(env, d->config_dir, DROPIN_TARGETS_FILE, &d->targets_path);
	if (r < 0 || d->otel)
		return r;
	r = dropin_join(env, d->config_dir, DROPIN_PROMETHEUS_FILE, &d->prometheus_path);
	if (r == 0)
		r = dropin_read_parameter(env, "PROMETHEUS_CONFIG_PARAMETER_NAME",
					  DROPIN_DEFAULT_PROMETHEUS_PARAMETER,
					  &d->prometheus_parameter);
	return r;
}

static int dropin_read(const struct dropin_env *env, struct dropin *d)
{
	int r;

	if (!dropin_env_get(env, "CONFIG_FILE_DIR") &&
	    !dropin_env_get(env, "SERVICE_DISCOVERY_MODE")) {
		d->mode = DROPIN_OFF;
		return 0;
	}
	r = dropin_read_mode(env, d);
	if (r == 0)
		r = dropin_read_frequency(env, d);
	if (r == 0)
		r = dropin_read_parameter(env, "DISCOVERY_NAMESPACES_PARAMETER_NAME",
					  DROPIN_DEFAULT_NAMESPACES_PARAMETER,
					  &d->namespaces_parameter);
	if (r == 0 && d->mode == DROPIN_FILE_BASED)
		r = dropin_read_files(env, d);
	return r;
}

int dropin_from_env(dropin_getenv_fn getenv_fn, void *userdata, struct dropin *ret,
		    struct flags_error *err)
{
	const struct dropin_env env = { getenv_fn, userdata, err };
	struct dropin d = { 0 };
	int r;

	r = dropin_read(&env, &d);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		dropin_done(&d);
		return r;
	}
	*ret = d;
	return 0;
}

void dropin_done(struct dropin *d)
{
	free(d->namespaces_parameter);
	free(d->config_dir);
	free(d->targets_path);
	free(d->prometheus_path);
	free(d->prometheus_parameter);
	memset(d, 0, sizeof(*d));
}

const char *dropin_mode_name(enum dropin_mode mode)
{
	switch (mode) {
	case DROPIN_FILE_BASED:
		return "FILE_BASED";
	case DROPIN_HTTP_BASED:
		return "HTTP_BASED";
	default:
		return "off";
	}
}

/* ---- applying it ---- */

/* Replaces the string *field with a copy of value. */
static int dropin_set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Light and full refreshes every CONFIG_RELOAD_FREQUENCY, as the side-car
 * listed everything at each tick; stale after at least two intervals. */
static void dropin_apply_refresh(struct config *cfg)
{
	const struct config_given *g = &cfg->given;
	uint64_t interval_ms = (uint64_t)cfg->dropin.reload_sec * DROPIN_SEC_MS;

	if (!g->refresh_interval)
		cfg->refresh_interval_ms = interval_ms;
	if (!g->refresh_full_interval)
		cfg->refresh_full_interval_ms = cfg->refresh_interval_ms;
	if (!g->refresh_max_staleness &&
	    cfg->refresh_max_staleness_ms < 2 * cfg->refresh_interval_ms)
		cfg->refresh_max_staleness_ms = 2 * cfg->refresh_interval_ms;
}

int dropin_apply(struct config *cfg)
{
	const struct dropin *d = &cfg->dropin;
	int r = 0;

	if (d->mode == DROPIN_OFF)
		return 0;
	if (!cfg->given.labels_legacy)
		cfg->labels_legacy = true;
	dropin_apply_refresh(cfg);
	if (!cfg->given.namespaces)
		r = dropin_set_string(&cfg->namespaces_parameter, d->namespaces_parameter);
	if (r == 0 && d->targets_path && !cfg->given.file_sd_path)
		r = dropin_set_string(&cfg->file_sd_path, d->targets_path);
	return r;
}

/* ---- the prometheus.yaml step ---- */

int dropin_fetch_parameter(struct aws_client *client, const char *name, char **ret,
			   struct aws_error *ret_error)
{
	json_t *in = ssm_get_parameter_input(name), *out = NULL;
	char *value;
	int r;

	if (!in)
		return -ENOMEM;
	r = aws_client_call(client, AWS_SERVICE_SSM, "GetParameter", in, &out, ret_error);
	if (r < 0)
		return r;
	r = ssm_parse_parameter(out, &value);
	json_decref(out);
	if (r < 0)
		return r;
	*ret = value;
	return 0;
}

int dropin_post_reload(struct http_transport *t, const char *url, long *ret_status)
{
	struct http_request req = {
		.method = "POST",
		.url = url,
		.timeout_ms = DROPIN_RELOAD_TIMEOUT_MS,
		.max_response_bytes = 64u << 10,
	};
	struct http_response resp;
	int r;

	http_response_init(&resp);
	r = t->perform(t, &req, &resp);
	if (r == 0 && (resp.status < 200 || resp.status > 299)) {
		if (ret_status)
			*ret_status = resp.status;
		r = -EPROTO;
	}
	http_response_done(&resp);
	return r;
}
