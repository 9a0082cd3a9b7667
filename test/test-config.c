/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of cloudmap-sd's flag table: defaults, every flag on the command
 * line and in CLOUDMAP_SD_* variables, bounds, the cross-flag checks, the
 * --help page and the version line.
 */
#include <errno.h>
#include <string.h>

#include "build-config.h"
#include "config.h"
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

static struct config cfg;
static struct flags_error err;
static enum flags_action action;

static int parse_env(const char *const *env, const char *const *args)
{
	char *argv[48];
	int argc = 0;

	argv[argc++] = "cloudmap-sd";
	while (*args && argc < 47)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	config_done(&cfg);
	memset(&err, 0, sizeof(err));
	struct flags_input in = { argc, argv, fake_getenv, (void *)env };
	return config_parse(&in, &cfg, &action, &err);
}

#define NOENV	     ((const char *[]){ NULL })
#define ENV(...)     ((const char *[]){ __VA_ARGS__, NULL })
#define PARSE(...)   parse_env(NOENV, (const char *[]){ __VA_ARGS__, NULL })
#define PARSE_NONE() parse_env(NOENV, (const char *[]){ NULL })

#define CHECK_ERR(call, want)             \
	do {                              \
		CHECK_INT(call, -EINVAL); \
		CHECK_STR(err.msg, want); \
	} while (0)

static void test_table_is_valid(void)
{
	CHECK_INT(flags_check(config_flags(), &err), 0);
}

static void test_defaults(void)
{
	CHECK_INT(PARSE_NONE(), 0);
	CHECK_INT(action, FLAGS_RUN);
	CHECK(cfg.listen.host == NULL);
	CHECK_INT(cfg.listen.port, 9001);
	CHECK_STR(cfg.telemetry_path, "/metrics");
	CHECK_INT(cfg.max_connections, 4096);
	CHECK_INT(cfg.max_connections_per_ip, 64);
	CHECK_INT(cfg.connection_timeout_ms, 30000);
	CHECK(cfg.auth_token_file == NULL);
	CHECK(cfg.basic_auth_file == NULL);
	CHECK_INT(cfg.log_level, LOG_LEVEL_INFO);
	CHECK_INT(cfg.log_format, LOG_FORMAT_LOGFMT);
	CHECK_INT(cfg.namespaces.n, 0);
	CHECK(cfg.namespaces_parameter == NULL);
	CHECK_INT(cfg.health_status, CONFIG_HEALTH_ALL);
	CHECK(cfg.default_metrics_path == NULL);
	CHECK_INT(cfg.refresh_interval_ms, 30000);
	CHECK_INT(cfg.refresh_full_interval_ms, 300000);
	CHECK_INT(cfg.refresh_max_staleness_ms, 600000);
	CHECK_INT(cfg.aws_max_concurrency, 16);
	CHECK_INT(cfg.aws_request_timeout_ms, 10000);
	CHECK(!cfg.labels_legacy);
	CHECK(cfg.file_sd_path == NULL);
	CHECK(cfg.prometheus_reload_url == NULL);
	CHECK(!cfg.healthcheck);
}

static void test_every_flag(void)
{
	CHECK_INT(PARSE("--web.listen-address=[::1]:8080", "--web.telemetry-path", "/m",
			"--web.max-connections=100", "--web.max-connections-per-ip=0",
			"--web.connection-timeout=1m", "--web.auth-token-file=/run/token",
			"--web.basic-auth-file=/run/users", "--log.level=debug",
			"--log.format=json", "--cloudmap.namespaces=ecs-services, batch",
			"--cloudmap.health-status=HEALTHY_OR_ELSE_ALL",
			"--cloudmap.default-metrics-path=/stats", "--refresh.interval=15s",
			"--refresh.full-interval=1h30m", "--refresh.max-staleness=1d",
			"--aws.max-concurrency=256", "--aws.request-timeout=2s", "--labels.legacy",
			"--file-sd.path=/tmp/sd.json",
			"--prometheus.reload-url=http://localhost:9090/-/reload", "--healthcheck"),
		  0);
	CHECK_STR(cfg.listen.host, "::1");
	CHECK_INT(cfg.listen.port, 8080);
	CHECK_STR(cfg.telemetry_path, "/m");
	CHECK_INT(cfg.max_connections, 100);
	CHECK_INT(cfg.max_connections_per_ip, 0);
	CHECK_INT(cfg.connection_timeout_ms, 60000);
	CHECK_STR(cfg.auth_token_file, "/run/token");
	CHECK_STR(cfg.basic_auth_file, "/run/users");
	CHECK_INT(cfg.log_level, LOG_LEVEL_DEBUG);
	CHECK_INT(cfg.log_format, LOG_FORMAT_JSON);
	CHECK_INT(cfg.namespaces.n, 2);
	CHECK_STR(cfg.namespaces.items[0], "ecs-services");
	CHECK_STR(cfg.namespaces.items[1], "batch");
	CHECK_INT(cfg.health_status, CONFIG_HEALTH_HEALTHY_OR_ELSE_ALL);
	CHECK_STR(config_health_status_names[cfg.health_status], "HEALTHY_OR_ELSE_ALL");
	CHECK_STR(cfg.default_metrics_path, "/stats");
	CHECK_INT(cfg.refresh_interval_ms, 15000);
	CHECK_INT(cfg.refresh_full_interval_ms, 5400000);
	CHECK_INT(cfg.refresh_max_staleness_ms, 86400000);
	CHECK_INT(cfg.aws_max_concurrency, 256);
	CHECK_INT(cfg.aws_request_timeout_ms, 2000);
	CHECK(cfg.labels_legacy);
	CHECK_STR(cfg.file_sd_path, "/tmp/sd.json");
	CHECK_STR(cfg.prometheus_reload_url, "http://localhost:9090/-/reload");
	CHECK(cfg.healthcheck);
}

static void test_environment(void)
{
	CHECK_INT(parse_env(ENV("CLOUDMAP_SD_REFRESH_INTERVAL=1m", "CLOUDMAP_SD_LABELS_LEGACY=true",
				"CLOUDMAP_SD_WEB_LISTEN_ADDRESS=127.0.0.1:9100",
				"CLOUDMAP_SD_CLOUDMAP_NAMESPACES_PARAMETER=/sd/namespaces",
				"CLOUDMAP_SD_WEB_MAX_CONNECTIONS_PER_IP=8",
				"CLOUDMAP_SD_HEALTHCHECK=1", "CLOUDMAP_SD_LOG_LEVEL=warn"),
			    (const char *[]){ "--log.level=error", NULL }),
		  0);
	CHECK_INT(cfg.refresh_interval_ms, 60000);
	CHECK(cfg.labels_legacy);
	CHECK_STR(cfg.listen.host, "127.0.0.1");
	CHECK_INT(cfg.listen.port, 9100);
	CHECK_STR(cfg.namespaces_parameter, "/sd/namespaces");
	CHECK_INT(cfg.max_connections_per_ip, 8);
	CHECK(cfg.healthcheck);
	CHECK_INT(cfg.log_level, LOG_LEVEL_ERROR); /* the command line wins */
	CHECK_ERR(parse_env(ENV("CLOUDMAP_SD_REFRESH_INTERVAL=3x"), NOENV),
		  "invalid value \"3x\" for CLOUDMAP_SD_REFRESH_INTERVAL: not a duration (use "
		  "e.g. 30s, 5m, 1h)");
}

static void test_error_messages(void)
{
	CHECK_ERR(PARSE("--refresh.interval=3x"),
		  "invalid value \"3x\" for --refresh.interval: not a duration (use e.g. 30s, 5m, "
		  "1h)");
	CHECK_ERR(
	    PARSE("--log.level=verbose"),
	    "invalid value \"verbose\" for --log.level: must be one of debug, info, warn, error");
	CHECK_ERR(PARSE("--cloudmap.health-status=healthy"),
		  "invalid value \"healthy\" for --cloudmap.health-status: must be one of HEALTHY, "
		  "UNHEALTHY, ALL, HEALTHY_OR_ELSE_ALL");
	CHECK_ERR(PARSE("--web.telemetry-path="),
		  "invalid value \"\" for --web.telemetry-path: must not be empty");
	CHECK_ERR(PARSE("--web.listen-address="),
		  "invalid value \"\" for --web.listen-address: must not be empty");
	CHECK_ERR(PARSE("--prometheus.reload-url=localhost:9090"),
		  "invalid value \"localhost:9090\" for --prometheus.reload-url: not an http or "
		  "https URL");
	CHECK_ERR(PARSE("--refresh.intervall=1s"), "unknown flag --refresh.intervall");
}

static void test_bounds(void)
{
	CHECK_ERR(PARSE("--refresh.interval=999ms"),
		  "invalid value \"999ms\" for --refresh.interval: must be between 1s and 1d");
	CHECK_INT(PARSE("--refresh.interval=1s"), 0);
	CHECK_INT(cfg.refresh_interval_ms, 1000);
	CHECK_ERR(PARSE("--web.max-connections=0"),
		  "invalid value \"0\" for --web.max-connections: must be between 1 and 100000");
	CHECK_ERR(PARSE("--web.max-connections=100001"),
		  "invalid value \"100001\" for --web.max-connections: must be between 1 and "
		  "100000");
	CHECK_INT(PARSE("--web.max-connections=100000"), 0);
	CHECK_ERR(PARSE("--aws.max-concurrency=257"),
		  "invalid value \"257\" for --aws.max-concurrency: must be between 1 and 256");
	CHECK_ERR(PARSE("--aws.max-concurrency=0"),
		  "invalid value \"0\" for --aws.max-concurrency: must be between 1 and 256");
	CHECK_ERR(PARSE("--aws.request-timeout=500ms"),
		  "invalid value \"500ms\" for --aws.request-timeout: must be between 1s and 5m");
	CHECK_ERR(PARSE("--web.max-connections-per-ip=100001"),
		  "invalid value \"100001\" for --web.max-connections-per-ip: must be at most "
		  "100000");
}

static void test_cross_flag_checks(void)
{
	CHECK_ERR(PARSE("--refresh.interval=10m"),
		  "--refresh.full-interval (5m) must be at least --refresh.interval (10m)");
	CHECK_ERR(PARSE("--refresh.interval=10m", "--refresh.full-interval=10m"),
		  "--refresh.max-staleness (10m) must be longer than --refresh.interval (10m)");
	CHECK_INT(PARSE("--refresh.interval=10m", "--refresh.full-interval=10m",
			"--refresh.max-staleness=10m1s"),
		  0);
	CHECK_ERR(PARSE("--cloudmap.namespaces=a", "--cloudmap.namespaces-parameter=/p"),
		  "--cloudmap.namespaces and --cloudmap.namespaces-parameter cannot be used "
		  "together");
	CHECK_ERR(PARSE("--cloudmap.namespaces-parameter=a b"),
		  "invalid value \"a b\" for --cloudmap.namespaces-parameter: not an SSM parameter "
		  "name or ARN");
	CHECK_INT(PARSE("--cloudmap.namespaces-parameter=arn:aws:ssm:eu-west-1:123456789012:"
			"parameter/sd/ns"),
		  0);
	CHECK_ERR(PARSE("--prometheus.reload-url=http://p:9090/-/reload"),
		  "--prometheus.reload-url needs --file-sd.path");
	CHECK_ERR(PARSE("--web.max-connections=10"),
		  "--web.max-connections-per-ip (64) must not exceed --web.max-connections (10)");
	CHECK_ERR(PARSE("--web.connection-timeout=1500ms"),
		  "--web.connection-timeout must be a whole number of seconds");
	CHECK_ERR(PARSE("--web.telemetry-path=/-/metrics"),
		  "invalid value \"/-/metrics\" for --web.telemetry-path: paths under /-/ are "
		  "reserved");
}

static void test_failed_parse_leaves_config_alone(void)
{
	struct config before;

	CHECK_INT(PARSE("--refresh.interval=2m"), 0);
	before = cfg;
	struct flags_input in = { 3,
				  (char *[]){ "cloudmap-sd", "--refresh.interval=10m",
					      "--cloudmap.namespaces=x", NULL },
				  fake_getenv, NULL };
	CHECK_INT(config_parse(&in, &cfg, &action, &err), -EINVAL);
	CHECK(memcmp(&before, &cfg, sizeof(cfg)) == 0);
	in.argc = 2;
	in.argv = (char *[]){ "cloudmap-sd", "--help", NULL };
	CHECK_INT(config_parse(&in, &cfg, &action, &err), 0);
	CHECK_INT(action, FLAGS_HELP);
	CHECK(memcmp(&before, &cfg, sizeof(cfg)) == 0);
}

static void test_help_mentions_every_flag(void)
{
	const struct flags_set *set = config_flags();
	char env[FLAGS_ENV_NAME_MAX], name[128];
	const char *line;
	struct buf out;
	size_t i;

	buf_init(&out, 1 << 20);
	CHECK_INT(config_usage(&out), 0);
	CHECK(strncmp(out.data, "usage: cloudmap-sd [<flags>]\n", 29) == 0);
	CHECK(strstr(out.data, "--help") && strstr(out.data, "--version"));
	for (i = 0; i < set->n_specs; i++) {
		snprintf(
		    name, sizeof(name),
		    set->specs[i].type == FLAGS_BOOL ? "--[no-]%s\n" : "--%s=", set->specs[i].name);
		CHECK(flags_env_name(set, &set->specs[i], env, sizeof(env)) == 0);
		if (!strstr(out.data, name) || !strstr(out.data, env)) {
			TEST_FAIL("--help lacks %s or %s", name, env);
			return;
		}
	}
	CHECK(strstr(out.data, "[default: :9001] [env: CLOUDMAP_SD_WEB_LISTEN_ADDRESS]"));
	CHECK(strstr(out.data,
		     "--cloudmap.health-status=<HEALTHY|UNHEALTHY|ALL|HEALTHY_OR_ELSE_ALL>"));
	CHECK(strstr(out.data, "--log.level=<debug|info|warn|error>"));
	for (line = out.data; *line; line = strchr(line, '\n') + 1)
		CHECK(strcspn(line, "\n") <= 100);
	buf_done(&out);
}

static void test_version(void)
{
	CHECK_INT(PARSE("--version"), 0);
	CHECK_INT(action, FLAGS_VERSION);
	CHECK_STR(config_version_line(), "cloudmap-sd, version " CLOUDMAP_SD_VERSION
					 " (revision: " CLOUDMAP_SD_REVISION ")");
}

static void test_done_is_idempotent(void)
{
	CHECK_INT(PARSE("--cloudmap.namespaces=a,b", "--file-sd.path=/x"), 0);
	config_done(&cfg);
	CHECK(cfg.namespaces.items == NULL && cfg.file_sd_path == NULL &&
	      cfg.telemetry_path == NULL);
	config_done(&cfg);
}

int main(void)
{
	int r = TEST_MAIN(
	    TEST_CASE(test_table_is_valid), TEST_CASE(test_defaults), TEST_CASE(test_every_flag),
	    TEST_CASE(test_environment), TEST_CASE(test_error_messages), TEST_CASE(test_bounds),
	    TEST_CASE(test_cross_flag_checks), TEST_CASE(test_failed_parse_leaves_config_alone),
	    TEST_CASE(test_help_mentions_every_flag), TEST_CASE(test_version),
	    TEST_CASE(test_done_is_idempotent));

	config_done(&cfg);
	return r;
}
