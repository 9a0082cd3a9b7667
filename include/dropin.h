/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dropin: cloudmap-sd as a drop-in for the Go side-car of
 * aws-samples/prometheus-for-ecs, configured by the same environment of
 * the ECS task definition.
 *
 * When CONFIG_FILE_DIR or SERVICE_DISCOVERY_MODE is set (not empty),
 * dropin_from_env() reads the side-car's variables and dropin_apply() turns
 * them into cloudmap-sd's configuration; a flag given explicitly (on the
 * command line or in a CLOUDMAP_SD_* variable) always wins:
 *  - namespaces from the SSM parameter DISCOVERY_NAMESPACES_PARAMETER_NAME
 *    (default ECS-ServiceDiscovery-Namespaces), unless a namespaces flag is
 *    given;
 *  - refresh (light and full) every CONFIG_RELOAD_FREQUENCY seconds;
 *  - --labels.legacy on;
 *  - SERVICE_DISCOVERY_MODE=FILE_BASED (the default): --file-sd.path is
 *    CONFIG_FILE_DIR/ecs-services.json, and unless DEPLOYMENT_MODE=OTEL,
 *    CONFIG_FILE_DIR/prometheus.yaml is written from the SSM parameter
 *    PROMETHEUS_CONFIG_PARAMETER_NAME (default ECS-Prometheus-Configuration)
 *    after each full refresh;
 *  - HTTP_BASED: no files, the HTTP endpoint only.
 * Without those two variables none of this applies. docs/DROPIN.md says
 * what each variable does and what differs from the side-car.
 *
 * The runtime half, dropin_fetch_parameter() and dropin_post_reload(), runs
 * in the refresher thread: it uses the AWS client and libcurl.
 *
 * The module never logs: main does, at the edge.
 */
#ifndef CLOUDMAP_DROPIN_H
#define CLOUDMAP_DROPIN_H

#include <stdbool.h>

struct aws_client;
struct aws_error;
struct config;
struct flags_error;
struct http_transport;

#define DROPIN_DEFAULT_CONFIG_DIR	    "/etc/config"
#define DROPIN_DEFAULT_PROMETHEUS_PARAMETER "ECS-Prometheus-Configuration"
#define DROPIN_DEFAULT_NAMESPACES_PARAMETER "ECS-ServiceDiscovery-Namespaces"
#define DROPIN_DEFAULT_RELOAD_SEC	    30u
#define DROPIN_MAX_RELOAD_SEC		    86400u
#define DROPIN_TARGETS_FILE		    "ecs-services.json"
#define DROPIN_PROMETHEUS_FILE		    "prometheus.yaml"
#define DROPIN_RELOAD_TIMEOUT_MS	    5000L

/* Environment lookup, injectable for tests; getenv() semantics. */
typedef const char *(*dropin_getenv_fn)(const char *name, void *userdata);

enum dropin_mode {
	DROPIN_OFF,	   /* neither variable set: cloudmap-sd's own behaviour */
	DROPIN_FILE_BASED, /* write the side-car's files */
	DROPIN_HTTP_BASED, /* serve only */
};

/* The side-car's environment, read and checked. Strings are owned. */
struct dropin {
	enum dropin_mode mode;
	bool otel;		    /* DEPLOYMENT_MODE=OTEL: leave prometheus.yaml alone */
	unsigned reload_sec;	    /* CONFIG_RELOAD_FREQUENCY, 1..DROPIN_MAX_RELOAD_SEC */
	char *namespaces_parameter; /* set unless mode is DROPIN_OFF */
	char *config_dir;	    /* file mode: without trailing '/'; else NULL */
	char *targets_path;	    /* file mode: config_dir/ecs-services.json; else NULL */
	char *prometheus_path;	    /* file mode without OTEL: config_dir/prometheus.yaml */
	char *prometheus_parameter; /* set with prometheus_path, else NULL */
};

/* Reads the side-car's variables through getenv (NULL: getenv()); an empty
 * variable counts as unset. Returns 0 and fills *ret (mode DROPIN_OFF when
 * neither CONFIG_FILE_DIR nor SERVICE_DISCOVERY_MODE is set); -EINVAL with
 * err set to one line naming the variable and its value (a mode other than
 * FILE_BASED or HTTP_BASED, a frequency that is not a whole number of
 * seconds in 1..DROPIN_MAX_RELOAD_SEC, a parameter name that is not an SSM
 * name or ARN, a directory too long for a path); or -ENOMEM. On failure *ret
 * is untouched. The caller releases *ret with dropin_done(). */
int dropin_from_env(dropin_getenv_fn getenv_fn, void *userdata, struct dropin *ret,
		    struct flags_error *err);

/* Frees what d owns and zeroes it; accepts a zeroed struct; idempotent. */
void dropin_done(struct dropin *d);

/* Applies cfg->dropin to cfg, leaving alone what cfg->given says was set
 * explicitly (see the top of this file); the refresh interval, the full
 * interval and the staleness limit follow CONFIG_RELOAD_FREQUENCY (the
 * staleness limit stays longer than the interval). Does nothing for
 * DROPIN_OFF. Returns 0 or -ENOMEM (cfg then holds what it held, plus
 * perhaps some of the changes: the caller frees it with config_done()). */
int dropin_apply(struct config *cfg);

/* "off", "FILE_BASED" or "HTTP_BASED", static. */
const char *dropin_mode_name(enum dropin_mode mode);

/* Reads the SSM parameter name (decrypted) with one blocking call. Returns
 * 0 and *ret, a new string the caller frees; -EREMOTEIO with *ret_error
 * filled (when not NULL) when AWS refused (e.g. ParameterNotFound);
 * -EBADMSG or -E2BIG for an answer without a value or one over
 * SSM_MAX_VALUE; or another error of aws_client_call(). Refresher thread. */
int dropin_fetch_parameter(struct aws_client *client, const char *name, char **ret,
			   struct aws_error *ret_error);

/* POSTs an empty body to url (Prometheus's /-/reload) with a
 * DROPIN_RELOAD_TIMEOUT_MS timeout. Returns 0 on a 2xx answer, -EPROTO on
 * another status (then in *ret_status when not NULL), or a transport error
 * from http.h. The thread that owns t (the refresher). */
int dropin_post_reload(struct http_transport *t, const char *url, long *ret_status);

#endif
