/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the drop-in mode: the Go side-car's environment read into a
 * struct dropin (each variable, defaults, bad values), applied to the
 * configuration through config_parse() (what explicit flags keep), and the
 * reload POST against a one-shot server on loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "dropin.h"
#include "http.h"
#include "test.h"

static const char *fake_getenv(const char *name, void *userdata)
{
	const char *const *env = userdata;
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

#define ENV(...)  ((const char *[]){ __VA_ARGS__, NULL })
#define NOARGS	  ((const char *[]){ NULL })
#define ARGS(...) ((const char *[]){ __VA_ARGS__, NULL })

static struct dropin dm;
static struct flags_error err;

static int from_env(const char *const *env)
{
	dropin_done(&dm);
	memset(&err, 0, sizeof(err));
	return dropin_from_env(fake_getenv, (void *)env, &dm, &err);
}

static struct config cfg;
static enum flags_action action;

static int parse(const char *const *env, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "cloudmap-sd";
	while (*args && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	config_done(&cfg);
	memset(&err, 0, sizeof(err));
	struct flags_input in = { argc, argv, fake_getenv, (void *)env };
	return config_parse(&in, &cfg, &action, &err);
}

#define CHECK_NULL(p) CHECK((p) == NULL)

/* ---- reading the environment ---- */

static void test_off_without_the_two_variables(void)
{
	CHECK_INT(from_env(ENV("CONFIG_RELOAD_FREQUENCY=5", "DEPLOYMENT_MODE=OTEL",
			       "PROMETHEUS_CONFIG_PARAMETER_NAME=p",
			       "DISCOVERY_NAMESPACES_PARAMETER_NAME=n")),
		  0);
	CHECK_INT(dm.mode, DROPIN_OFF);
	CHECK_NULL(dm.namespaces_parameter);
	CHECK_NULL(dm.targets_path);
	/* Empty counts as unset. */
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=", "SERVICE_DISCOVERY_MODE=")), 0);
	CHECK_INT(dm.mode, DROPIN_OFF);
	CHECK_STR(dropin_mode_name(dm.mode), "off");
}

static void test_config_file_dir_defaults(void)
{
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/etc/config/")), 0);
	CHECK_INT(dm.mode, DROPIN_FILE_BASED);
	CHECK_STR(dropin_mode_name(dm.mode), "FILE_BASED");
	CHECK(!dm.otel);
	CHECK_INT(dm.reload_sec, 30);
	CHECK_STR(dm.config_dir, "/etc/config");
	CHECK_STR(dm.targets_path, "/etc/config/ecs-services.json");
	CHECK_STR(dm.prometheus_path, "/etc/config/prometheus.yaml");
	CHECK_STR(dm.prometheus_parameter, "ECS-Prometheus-Configuration");
	CHECK_STR(dm.namespaces_parameter, "ECS-ServiceDiscovery-Namespaces");
}

static void test_every_variable(void)
{
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/shared//", "SERVICE_DISCOVERY_MODE=FILE_BASED",
			       "CONFIG_RELOAD_FREQUENCY=15",
			       "PROMETHEUS_CONFIG_PARAMETER_NAME=/prom/config",
			       "DISCOVERY_NAMESPACES_PARAMETER_NAME=arn:aws:ssm:us-east-1:"
			       "123456789012:parameter/ns",
			       "DEPLOYMENT_MODE=PROMETHEUS")),
		  0);
	CHECK_INT(dm.mode, DROPIN_FILE_BASED);
	CHECK_INT(dm.reload_sec, 15);
	CHECK_STR(dm.config_dir, "/shared");
	CHECK_STR(dm.targets_path, "/shared/ecs-services.json");
	CHECK_STR(dm.prometheus_path, "/shared/prometheus.yaml");
	CHECK_STR(dm.prometheus_parameter, "/prom/config");
	CHECK_STR(dm.namespaces_parameter, "arn:aws:ssm:us-east-1:123456789012:parameter/ns");
}

static void test_file_mode_without_dir_uses_the_default(void)
{
	CHECK_INT(from_env(ENV("SERVICE_DISCOVERY_MODE=file_based")), 0);
	CHECK_INT(dm.mode, DROPIN_FILE_BASED);
	CHECK_STR(dm.targets_path, "/etc/config/ecs-services.json");
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/")), 0);
	CHECK_STR(dm.targets_path, "/ecs-services.json");
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=rel")), 0);
	CHECK_STR(dm.prometheus_path, "rel/prometheus.yaml");
}

static void test_otel_leaves_prometheus_yaml_alone(void)
{
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/c", "DEPLOYMENT_MODE=OTEL",
			       "PROMETHEUS_CONFIG_PARAMETER_NAME=/p")),
		  0);
	CHECK(dm.otel);
	CHECK_STR(dm.targets_path, "/c/ecs-services.json");
	CHECK_NULL(dm.prometheus_path);
	CHECK_NULL(dm.prometheus_parameter);
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/c", "DEPLOYMENT_MODE=otel")), 0);
	CHECK(dm.otel);
}

static void test_http_mode_writes_nothing(void)
{
	CHECK_INT(from_env(ENV("SERVICE_DISCOVERY_MODE=HTTP_BASED", "CONFIG_FILE_DIR=/c",
			       "CONFIG_RELOAD_FREQUENCY=10")),
		  0);
	CHECK_INT(dm.mode, DROPIN_HTTP_BASED);
	CHECK_STR(dropin_mode_name(dm.mode), "HTTP_BASED");
	CHECK_INT(dm.reload_sec, 10);
	CHECK_STR(dm.namespaces_parameter, "ECS-ServiceDiscovery-Namespaces");
	CHECK_NULL(dm.config_dir);
	CHECK_NULL(dm.targets_path);
	CHECK_NULL(dm.prometheus_path);
	CHECK_NULL(dm.prometheus_parameter);
}

static void check_bad(const char *var, const char *value, const char *why)
{
	char entry[256], want[512];
	const char *env[] = { "CONFIG_FILE_DIR=/c", entry, NULL };

	snprintf(entry, sizeof(entry), "%s=%s", var, value);
	snprintf(want, sizeof(want), "invalid value \"%s\" for %s: %s", value, var, why);
	dropin_done(&dm);
	dm.reload_sec = 4242; /* untouched on failure */
	memset(&err, 0, sizeof(err));
	if (dropin_from_env(fake_getenv, env, &dm, &err) != -EINVAL || strcmp(err.msg, want) != 0 ||
	    dm.reload_sec != 4242)
		TEST_FAIL("%s: got \"%s\", want \"%s\"", entry, err.msg, want);
	dm.reload_sec = 0;
}

static void test_bad_values(void)
{
	static const char *const bad_freq[] = {
		"0",   "-1",  "abc", "1.5",   "30s",
		" 30", "30 ", "+30", "86401", "99999999999999999999",
	};
	const char *why = "not a whole number of seconds from 1 to 86400";
	size_t i;

	for (i = 0; i < sizeof(bad_freq) / sizeof(bad_freq[0]); i++)
		check_bad("CONFIG_RELOAD_FREQUENCY", bad_freq[i], why);
	check_bad("SERVICE_DISCOVERY_MODE", "FILE", "use FILE_BASED or HTTP_BASED");
	check_bad("SERVICE_DISCOVERY_MODE", "HTTP_BASED ", "use FILE_BASED or HTTP_BASED");
	check_bad("PROMETHEUS_CONFIG_PARAMETER_NAME", "a b", "not an SSM parameter name or ARN");
	check_bad("DISCOVERY_NAMESPACES_PARAMETER_NAME", "ns;rm",
		  "not an SSM parameter name or ARN");
}

static void test_frequency_bounds(void)
{
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/c", "CONFIG_RELOAD_FREQUENCY=1")), 0);
	CHECK_INT(dm.reload_sec, 1);
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/c", "CONFIG_RELOAD_FREQUENCY=86400")), 0);
	CHECK_INT(dm.reload_sec, 86400);
	CHECK_INT(from_env(ENV("CONFIG_FILE_DIR=/c", "CONFIG_RELOAD_FREQUENCY=007")), 0);
	CHECK_INT(dm.reload_sec, 7);
}

static void test_long_dir_refused(void)
{
	static char entry[8192];

	memset(entry, 'd', sizeof(entry) - 1);
	memcpy(entry, "CONFIG_FILE_DIR=/", 17);
	entry[sizeof(entry) - 1] = '\0';
	CHECK_INT(from_env(ENV(entry)), -EINVAL);
	CHECK(strstr(err.msg, "for CONFIG_FILE_DIR: too long for a path") != NULL);
}

/* ---- applied through config_parse ---- */

static void test_parse_without_dropin_is_unchanged(void)
{
	CHECK_INT(parse(ENV("CONFIG_RELOAD_FREQUENCY=5"), NOARGS), 0);
	CHECK_INT(cfg.dropin.mode, DROPIN_OFF);
	CHECK(!cfg.labels_legacy);
	CHECK_NULL(cfg.namespaces_parameter);
	CHECK_NULL(cfg.file_sd_path);
	CHECK_INT(cfg.refresh_interval_ms, 30000);
	CHECK_INT(cfg.refresh_full_interval_ms, 300000);
	CHECK_INT(cfg.refresh_max_staleness_ms, 600000);
}

/* Exactly the side-car's task definition, no flags. */
static void test_parse_sidecar_environment(void)
{
	CHECK_INT(parse(ENV("CONFIG_FILE_DIR=/etc/config", "CONFIG_RELOAD_FREQUENCY=60",
			    "PROMETHEUS_CONFIG_PARAMETER_NAME=ECS-Prometheus-Configuration",
			    "DISCOVERY_NAMESPACES_PARAMETER_NAME=ECS-ServiceDiscovery-Namespaces"),
			NOARGS),
		  0);
	CHECK_INT(cfg.dropin.mode, DROPIN_FILE_BASED);
	CHECK(cfg.labels_legacy);
	CHECK_STR(cfg.namespaces_parameter, "ECS-ServiceDiscovery-Namespaces");
	CHECK_INT(cfg.namespaces.n, 0);
	CHECK_STR(cfg.file_sd_path, "/etc/config/ecs-services.json");
	CHECK_INT(cfg.refresh_interval_ms, 60000);
	CHECK_INT(cfg.refresh_full_interval_ms, 60000);
	CHECK_INT(cfg.refresh_max_staleness_ms, 600000);
	CHECK_INT(cfg.listen.port, 9001);
	CHECK_STR(cfg.dropin.prometheus_path, "/etc/config/prometheus.yaml");
}

static void test_parse_long_frequency_keeps_staleness_longer(void)
{
	CHECK_INT(
	    parse(ENV("SERVICE_DISCOVERY_MODE=HTTP_BASED", "CONFIG_RELOAD_FREQUENCY=3600"), NOARGS),
	    0);
	CHECK_INT(cfg.refresh_interval_ms, 3600000);
	CHECK_INT(cfg.refresh_full_interval_ms, 3600000);
	CHECK_INT(cfg.refresh_max_staleness_ms, 7200000);
	CHECK_NULL(cfg.file_sd_path);
}

static void test_parse_explicit_labels_legacy_wins(void)
{
	const char *const *env = ENV("CONFIG_FILE_DIR=/c");

	CHECK_INT(parse(env, ARGS("--labels.legacy=false")), 0);
	CHECK(!cfg.labels_legacy);
	CHECK_INT(parse(env, ARGS("--no-labels.legacy")), 0);
	CHECK(!cfg.labels_legacy);
	CHECK_INT(parse(ENV("CONFIG_FILE_DIR=/c", "CLOUDMAP_SD_LABELS_LEGACY=false"), NOARGS), 0);
	CHECK(!cfg.labels_legacy);
	CHECK_INT(parse(env, ARGS("--labels.legacy")), 0);
	CHECK(cfg.labels_legacy);
	CHECK_INT(parse(env, NOARGS), 0);
	CHECK(cfg.labels_legacy);
}

static void test_parse_explicit_namespaces_win(void)
{
	const char *const *env =
	    ENV("CONFIG_FILE_DIR=/c", "DISCOVERY_NAMESPACES_PARAMETER_NAME=/n");

	CHECK_INT(parse(env, ARGS("--cloudmap.namespaces=a,b")), 0);
	CHECK_NULL(cfg.namespaces_parameter);
	CHECK_INT(cfg.namespaces.n, 2);
	CHECK_INT(parse(env, ARGS("--cloudmap.namespaces-parameter", "/mine")), 0);
	CHECK_STR(cfg.namespaces_parameter, "/mine");
	CHECK_INT(parse(ENV("CONFIG_FILE_DIR=/c", "CLOUDMAP_SD_CLOUDMAP_NAMESPACES=x"), NOARGS), 0);
	CHECK_NULL(cfg.namespaces_parameter);
	CHECK_INT(parse(env, NOARGS), 0);
	CHECK_STR(cfg.namespaces_parameter, "/n");
}

static void test_parse_explicit_refresh_and_path_win(void)
{
	const char *const *env = ENV("CONFIG_FILE_DIR=/c", "CONFIG_RELOAD_FREQUENCY=60");

	CHECK_INT(parse(env, ARGS("--refresh.interval=5s")), 0);
	CHECK_INT(cfg.refresh_interval_ms, 5000);
	CHECK_INT(cfg.refresh_full_interval_ms, 5000);
	CHECK_INT(parse(env, ARGS("--refresh.full-interval=10m", "--refresh.max-staleness=1h")), 0);
	CHECK_INT(cfg.refresh_interval_ms, 60000);
	CHECK_INT(cfg.refresh_full_interval_ms, 600000);
	CHECK_INT(cfg.refresh_max_staleness_ms, 3600000);
	CHECK_INT(parse(env, ARGS("--file-sd.path=/elsewhere.json")), 0);
	CHECK_STR(cfg.file_sd_path, "/elsewhere.json");
	CHECK_STR(cfg.dropin.prometheus_path, "/c/prometheus.yaml");
}

static void test_parse_reload_url(void)
{
	const char *url = "--prometheus.reload-url=http://127.0.0.1:9090/-/reload";

	CHECK_INT(parse(ENV("CONFIG_FILE_DIR=/c"), ARGS(url)), 0);
	CHECK_STR(cfg.prometheus_reload_url, "http://127.0.0.1:9090/-/reload");
	CHECK_INT(parse(ENV("SERVICE_DISCOVERY_MODE=HTTP_BASED"), ARGS(url)), -EINVAL);
	CHECK_STR(err.msg, "--prometheus.reload-url needs --file-sd.path "
			   "(SERVICE_DISCOVERY_MODE=HTTP_BASED writes no files)");
}

static void test_parse_bad_environment_fails_naming_it(void)
{
	struct config before;

	struct flags_input in = { 1, (char *[]){ "cloudmap-sd", NULL }, fake_getenv,
				  (void *)ENV("CONFIG_FILE_DIR=/c",
					      "CONFIG_RELOAD_FREQUENCY=soon") };

	CHECK_INT(parse(NULL, NOARGS), 0);
	before = cfg;
	CHECK_INT(config_parse(&in, &cfg, &action, &err), -EINVAL);
	CHECK_STR(err.msg, "invalid value \"soon\" for CONFIG_RELOAD_FREQUENCY: not a whole "
			   "number of seconds from 1 to 86400");
	CHECK(memcmp(&before, &cfg, sizeof(cfg)) == 0); /* untouched */
	CHECK_INT(parse(ENV("SERVICE_DISCOVERY_MODE=BOTH"), NOARGS), -EINVAL);
	CHECK(strstr(err.msg, "for SERVICE_DISCOVERY_MODE") != NULL);
}

/* ---- the reload POST ---- */

struct server {
	int listen_fd;
	int port;
	const char *answer;
	char request[4096];
	pthread_t thread;
};

static void *serve_one(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return NULL;
	while (n < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
		r = read(fd, s->request + n, sizeof(s->request) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (write(fd, s->answer, strlen(s->answer)) < 0)
		s->request[0] = '\0';
	close(fd);
	return NULL;
}

static int server_start(struct server *s, const char *answer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(s->request, 0, sizeof(s->request));
	s->answer = answer;
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->listen_fd, 1) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	s->port = ntohs(a.sin_port);
	return -pthread_create(&s->thread, NULL, serve_one, s);
}

static int post_to(struct server *s, long *status)
{
	struct http_transport *t = http_curl_new(NULL);
	char url[64];
	int r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/reload", s->port);
	r = dropin_post_reload(t, url, status);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	http_transport_free(t);
	return r;
}

static void test_post_reload_ok(void)
{
	struct server s;
	long status = -1;

	CHECK_INT(server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	CHECK_INT(post_to(&s, &status), 0);
	CHECK_INT(status, -1); /* set only on -EPROTO */
	CHECK(strncmp(s.request, "POST /-/reload HTTP/1.1\r\n", 25) == 0);
}

static void test_post_reload_refused(void)
{
	struct server s;
	long status = -1;

	CHECK_INT(server_start(&s, "HTTP/1.1 403 Forbidden\r\nContent-Length: 31\r\n\r\n"
				   "Lifecycle API is not enabled.\r\n"),
		  0);
	CHECK_INT(post_to(&s, &status), -EPROTO);
	CHECK_INT(status, 403);
}

static void test_post_reload_nobody_listening(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct http_transport *t = http_curl_new(NULL);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];

	/* A port that was just free: bound, never listened on, then closed. */
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/reload", ntohs(a.sin_port));
	CHECK_INT(dropin_post_reload(t, url, NULL), -ECONNREFUSED);
	http_transport_free(t);
}

int main(void)
{
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = TEST_MAIN(
	    TEST_CASE(test_off_without_the_two_variables), TEST_CASE(test_config_file_dir_defaults),
	    TEST_CASE(test_every_variable), TEST_CASE(test_file_mode_without_dir_uses_the_default),
	    TEST_CASE(test_otel_leaves_prometheus_yaml_alone),
	    TEST_CASE(test_http_mode_writes_nothing), TEST_CASE(test_bad_values),
	    TEST_CASE(test_frequency_bounds), TEST_CASE(test_long_dir_refused),
	    TEST_CASE(test_parse_without_dropin_is_unchanged),
	    TEST_CASE(test_parse_sidecar_environment),
	    TEST_CASE(test_parse_long_frequency_keeps_staleness_longer),
	    TEST_CASE(test_parse_explicit_labels_legacy_wins),
	    TEST_CASE(test_parse_explicit_namespaces_win),
	    TEST_CASE(test_parse_explicit_refresh_and_path_win), TEST_CASE(test_parse_reload_url),
	    TEST_CASE(test_parse_bad_environment_fails_naming_it), TEST_CASE(test_post_reload_ok),
	    TEST_CASE(test_post_reload_refused), TEST_CASE(test_post_reload_nobody_listening));
	dropin_done(&dm);
	config_done(&cfg);
	curl_global_cleanup();
	return r;
}
