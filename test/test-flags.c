/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the generic flag parser on a table of its own that holds every
 * type: parsing, bounds, --no-x, environment precedence and naming, error
 * messages, --help and --version, and the duration parser.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flags.h"
#include "test.h"

struct opts {
	char *str;
	bool flag;
	bool on;
	unsigned int count;
	uint64_t wait_ms;
	int colour;
	struct flags_list items;
	struct flags_listen_address listen;
	char *path;
	char *file;
	char *url;
	char *dashed;
	int untouched; /* not in the table */
};

static const char *const colours[] = { "red", "green", "blue", NULL };

#define OFF(f) offsetof(struct opts, f)

static const struct flags_spec specs[] = {
	{ .name = "str",
	  .type = FLAGS_STRING,
	  .offset = OFF(str),
	  .def = "dflt",
	  .help = "A string." },
	{ .name = "flag", .type = FLAGS_BOOL, .offset = OFF(flag), .help = "A boolean." },
	{ .name = "on",
	  .type = FLAGS_BOOL,
	  .offset = OFF(on),
	  .def = "true",
	  .help = "A boolean that defaults to true." },
	{ .name = "count",
	  .type = FLAGS_UINT,
	  .offset = OFF(count),
	  .def = "10",
	  .min = 1,
	  .max = 100,
	  .help = "A number." },
	{ .name = "wait",
	  .type = FLAGS_DURATION,
	  .offset = OFF(wait_ms),
	  .def = "30s",
	  .min = 1000,
	  .max = 3600 * 1000,
	  .help = "A duration." },
	{ .name = "colour",
	  .type = FLAGS_ENUM,
	  .offset = OFF(colour),
	  .def = "red",
	  .choices = colours,
	  .help = "An enum." },
	{ .name = "items",
	  .type = FLAGS_LIST,
	  .offset = OFF(items),
	  .max_items = 3,
	  .help = "A list." },
	{ .name = "listen",
	  .type = FLAGS_LISTEN_ADDRESS,
	  .offset = OFF(listen),
	  .def = ":9001",
	  .help = "An address." },
	{ .name = "path",
	  .type = FLAGS_URL_PATH,
	  .offset = OFF(path),
	  .def = "/metrics",
	  .help = "A URL path." },
	{ .name = "file", .type = FLAGS_FILE_PATH, .offset = OFF(file), .help = "A file." },
	{ .name = "url", .type = FLAGS_HTTP_URL, .offset = OFF(url), .help = "A URL." },
	{ .name = "dash-ed.name",
	  .type = FLAGS_STRING,
	  .offset = OFF(dashed),
	  .nonempty = true,
	  .def = "d",
	  .placeholder = "<thing>",
	  .help = "A name with a dash and a dot." },
};

static const struct flags_set set = {
	.program = "prog",
	.summary = "A program to test the parser.",
	.env_prefix = "TEST_",
	.has_version = true,
	.specs = specs,
	.n_specs = sizeof(specs) / sizeof(specs[0]),
	.dest_size = sizeof(struct opts),
};

/* The environment: NAME=value strings, NULL-terminated. */
static const char *fake_getenv(const char *name, void *userdata)
{
	const char *const *env = userdata;
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static struct opts o;
static struct flags_error err;
static enum flags_action action;

#define NOENV	 ((const char *[]){ NULL })
#define ENV(...) ((const char *[]){ __VA_ARGS__, NULL })

/* Parses "prog" plus the NULL-terminated args into the global o. */
static int parse_env(const char *const *env, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "prog";
	while (*args && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	flags_done(&set, &o);
	memset(&err, 0, sizeof(err));
	action = (enum flags_action) - 1;
	struct flags_input in = { argc, argv, fake_getenv, (void *)env };
	return flags_parse(&set, &in, &o, &action, &err);
}

#define PARSE(...)	    parse_env(NOENV, (const char *[]){ __VA_ARGS__, NULL })
#define PARSE_ENV(env, ...) parse_env(env, (const char *[]){ __VA_ARGS__, NULL })
#define PARSE_NONE()	    parse_env(NOENV, (const char *[]){ NULL })

/* A parse that must fail with exactly this message. */
#define CHECK_ERR(call, want)             \
	do {                              \
		CHECK_INT(call, -EINVAL); \
		CHECK_STR(err.msg, want); \
	} while (0)

static void test_table_is_valid(void)
{
	CHECK_INT(flags_check(&set, &err), 0);
}

static void test_defaults(void)
{
	CHECK_INT(PARSE_NONE(), 0);
	CHECK_INT(action, FLAGS_RUN);
	CHECK_STR(o.str, "dflt");
	CHECK(!o.flag);
	CHECK(o.on);
	CHECK_INT(o.count, 10);
	CHECK_INT(o.wait_ms, 30000);
	CHECK_INT(o.colour, 0);
	CHECK_INT(o.items.n, 0);
	CHECK(o.listen.host == NULL);
	CHECK_INT(o.listen.port, 9001);
	CHECK_STR(o.path, "/metrics");
	CHECK(o.file == NULL);
	CHECK(o.url == NULL);
}

static void test_value_forms(void)
{
	CHECK_INT(PARSE("--str=a b", "--count", "7", "--file", "", "--wait=1m"), 0);
	CHECK_STR(o.str, "a b");
	CHECK_INT(o.count, 7);
	CHECK(o.file == NULL);
	CHECK_INT(o.wait_ms, 60000);
	CHECK_INT(PARSE("--str=x=y", "--str2=1"), -EINVAL);
	CHECK_STR(err.msg, "unknown flag --str2");
	CHECK_INT(PARSE("--str", "-not-a-flag"), 0);
	CHECK_STR(o.str, "-not-a-flag");
	CHECK_INT(PARSE("--str="), 0);
	CHECK(o.str == NULL);
}

static void test_bool_forms(void)
{
	CHECK_INT(PARSE("--flag", "--no-on"), 0);
	CHECK(o.flag);
	CHECK(!o.on);
	CHECK_INT(PARSE("--flag=false", "--on=TRUE"), 0);
	CHECK(!o.flag);
	CHECK(o.on);
	CHECK_INT(PARSE("--flag=1", "--on=0"), 0);
	CHECK(o.flag);
	CHECK(!o.on);
	CHECK_ERR(PARSE("--flag=maybe"),
		  "invalid value \"maybe\" for --flag: not a boolean (use true or false)");
	CHECK_ERR(PARSE("--no-flag=true"), "--no-flag takes no value");
	CHECK_ERR(PARSE("--no-count"), "unknown flag --no-count");
	CHECK_ERR(PARSE("--flag", "--no-flag"), "flag --flag cannot be repeated");
	/* A boolean does not take the next argument as its value. */
	CHECK_ERR(PARSE("--flag", "false"), "unexpected argument \"false\"");
}

static void test_uint_bounds(void)
{
	CHECK_INT(PARSE("--count=1"), 0);
	CHECK_INT(o.count, 1);
	CHECK_INT(PARSE("--count=100"), 0);
	CHECK_INT(o.count, 100);
	CHECK_ERR(PARSE("--count=0"), "invalid value \"0\" for --count: must be between 1 and 100");
	CHECK_ERR(PARSE("--count=101"),
		  "invalid value \"101\" for --count: must be between 1 and 100");
	CHECK_ERR(PARSE("--count=99999999999999999999999"),
		  "invalid value \"99999999999999999999999\" for --count: must be between 1 and "
		  "100");
	CHECK_ERR(PARSE("--count=-1"), "invalid value \"-1\" for --count: not a whole number");
	CHECK_ERR(PARSE("--count=1.5"), "invalid value \"1.5\" for --count: not a whole number");
	CHECK_ERR(PARSE("--count=5x"), "invalid value \"5x\" for --count: not a whole number");
	CHECK_ERR(PARSE("--count="), "invalid value \"\" for --count: not a whole number");
	CHECK_ERR(PARSE("--count= 5"), "invalid value \" 5\" for --count: not a whole number");
}

static void test_duration_parser(void)
{
	static const struct {
		const char *in;
		int r;
		uint64_t ms;
	} cases[] = {
		{ "0", 0, 0 },
		{ "0s", 0, 0 },
		{ "500ms", 0, 500 },
		{ "90s", 0, 90000 },
		{ "5m", 0, 300000 },
		{ "1h30m", 0, 5400000 },
		{ "1d", 0, 86400000 },
		{ "1w", 0, 604800000 },
		{ "1y", 0, 31536000000ULL },
		{ "1h1m1s1ms", 0, 3661001 },
		{ "9223372036854775807ms", 0, INT64_MAX },
		{ "9223372036854775808ms", -ERANGE, 0 },
		{ "300000000y", -ERANGE, 0 },
		{ "99999999999999999999999s", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "5", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "+1s", -EINVAL, 0 },
		{ "1.5h", -EINVAL, 0 },
		{ "30m1h", -EINVAL, 0 },
		{ "1h1h", -EINVAL, 0 },
		{ "1ms1s", -EINVAL, 0 },
		{ "1H", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "1s ", -EINVAL, 0 },
		{ "ms", -EINVAL, 0 },
		{ "1x", -EINVAL, 0 },
		{ "1mss", -EINVAL, 0 },
		{ "00", -EINVAL, 0 },
		{ "1h5", -EINVAL, 0 },
	};
	uint64_t ms;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = 12345;
		if (flags_parse_duration(cases[i].in, &ms) != cases[i].r) {
			TEST_FAIL("\"%s\": got %d, want %d", cases[i].in,
				  flags_parse_duration(cases[i].in, &ms), cases[i].r);
			return;
		}
		if (ms != (cases[i].r == 0 ? cases[i].ms : 12345)) {
			TEST_FAIL("\"%s\": got %llu ms", cases[i].in, (unsigned long long)ms);
			return;
		}
	}
}

static void test_duration_format(void)
{
	static const struct {
		uint64_t ms;
		const char *out;
	} cases[] = {
		{ 0, "0s" },
		{ 500, "500ms" },
		{ 90000, "1m30s" },
		{ 5400000, "1h30m" },
		{ 86400000, "1d" },
		{ 694861001, "1w1d1h1m1s1ms" },
		{ 31536000000ULL, "1y" },
	};
	char out[64], small[4];
	uint64_t back;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(flags_format_duration(cases[i].ms, out, sizeof(out)), 0);
		CHECK_STR(out, cases[i].out);
		CHECK_INT(flags_parse_duration(out, &back), 0);
		CHECK_INT(back, cases[i].ms);
	}
	CHECK_INT(flags_format_duration(5400000, small, sizeof(small)), -ERANGE);
}

static void test_duration_flag(void)
{
	CHECK_ERR(PARSE("--wait=3x"),
		  "invalid value \"3x\" for --wait: not a duration (use e.g. 30s, 5m, 1h)");
	CHECK_ERR(PARSE("--wait=0"), "invalid value \"0\" for --wait: must be between 1s and 1h");
	CHECK_ERR(PARSE("--wait=999ms"),
		  "invalid value \"999ms\" for --wait: must be between 1s and 1h");
	CHECK_ERR(PARSE("--wait=1h1ms"),
		  "invalid value \"1h1ms\" for --wait: must be between 1s and 1h");
	CHECK_ERR(PARSE("--wait=300000000y"),
		  "invalid value \"300000000y\" for --wait: must be between 1s and 1h");
	CHECK_INT(PARSE("--wait=1s"), 0);
	CHECK_INT(o.wait_ms, 1000);
	CHECK_INT(PARSE("--wait", "1h"), 0);
	CHECK_INT(o.wait_ms, 3600000);
}

static void test_enum(void)
{
	CHECK_INT(PARSE("--colour=blue"), 0);
	CHECK_INT(o.colour, 2);
	CHECK_ERR(PARSE("--colour=Blue"),
		  "invalid value \"Blue\" for --colour: must be one of red, green, blue");
	CHECK_ERR(PARSE("--colour="),
		  "invalid value \"\" for --colour: must be one of red, green, blue");
}

static void test_list(void)
{
	CHECK_INT(PARSE("--items= a , b  ,c"), 0);
	CHECK_INT(o.items.n, 3);
	CHECK_STR(o.items.items[0], "a");
	CHECK_STR(o.items.items[1], "b");
	CHECK_STR(o.items.items[2], "c");
	CHECK_INT(PARSE("--items=only one"), 0);
	CHECK_INT(o.items.n, 1);
	CHECK_STR(o.items.items[0], "only one");
	CHECK_INT(PARSE("--items=  "), 0);
	CHECK_INT(o.items.n, 0);
	CHECK_ERR(PARSE("--items=a,,b"),
		  "invalid value \"a,,b\" for --items: empty item in the list");
	CHECK_ERR(PARSE("--items=a, "),
		  "invalid value \"a, \" for --items: empty item in the list");
	CHECK_ERR(PARSE("--items=,a"), "invalid value \",a\" for --items: empty item in the list");
	CHECK_ERR(PARSE("--items=a,b,a"),
		  "invalid value \"a,b,a\" for --items: \"a\" is listed twice");
	CHECK_ERR(PARSE("--items=a,b,c,d"),
		  "invalid value \"a,b,c,d\" for --items: more than 3 items");
}

static void test_listen_address(void)
{
	CHECK_INT(PARSE("--listen=127.0.0.1:80"), 0);
	CHECK_STR(o.listen.host, "127.0.0.1");
	CHECK_INT(o.listen.port, 80);
	CHECK_INT(PARSE("--listen=localhost:65535"), 0);
	CHECK_STR(o.listen.host, "localhost");
	CHECK_INT(o.listen.port, 65535);
	CHECK_INT(PARSE("--listen=[::1]:9001"), 0);
	CHECK_STR(o.listen.host, "::1");
	CHECK_INT(o.listen.port, 9001);
	CHECK_INT(PARSE("--listen=:1"), 0);
	CHECK(o.listen.host == NULL);
	CHECK_INT(o.listen.port, 1);
	CHECK_ERR(PARSE("--listen=:0"), "invalid value \":0\" for --listen: the port must be a "
					"number between 1 and 65535");
	CHECK_ERR(PARSE("--listen=h:65536"), "invalid value \"h:65536\" for --listen: the port "
					     "must be a number between 1 and 65535");
	CHECK_ERR(PARSE("--listen=h:"), "invalid value \"h:\" for --listen: the port must be a "
					"number between 1 and 65535");
	CHECK_ERR(PARSE("--listen=h:http"), "invalid value \"h:http\" for --listen: the port must "
					    "be a number between 1 and 65535");
	CHECK_ERR(PARSE("--listen=9001"), "invalid value \"9001\" for --listen: not a listen "
					  "address (use host:port, :port or [::1]:port)");
	static const char *const bad[] = { "::1:9001", "[::1]9001", "[zz]:1", "[::1:1",
					   "ho st:1",  "a/b:1",	    "[]:1",   "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char arg[64];

		snprintf(arg, sizeof(arg), "--listen=%s", bad[i]);
		CHECK_INT(PARSE(arg), -EINVAL);
		CHECK(strstr(err.msg, "not a listen address") != NULL);
	}
}

static void test_paths_and_urls(void)
{
	CHECK_INT(PARSE("--path=/a/b", "--file=/etc/x y", "--url=https://prom:9090/-/reload"), 0);
	CHECK_STR(o.path, "/a/b");
	CHECK_STR(o.file, "/etc/x y");
	CHECK_STR(o.url, "https://prom:9090/-/reload");
	CHECK_INT(PARSE("--path=", "--url=HTTP://h"), 0);
	CHECK(o.path == NULL);
	CHECK_STR(o.url, "HTTP://h");
	CHECK_ERR(PARSE("--path=metrics"),
		  "invalid value \"metrics\" for --path: must start with '/'");
	CHECK_ERR(PARSE("--path=/a?b"),
		  "invalid value \"/a?b\" for --path: must not contain a space, '?' or '#'");
	CHECK_ERR(PARSE("--path=/a b"),
		  "invalid value \"/a b\" for --path: must not contain a space, '?' or '#'");
	CHECK_ERR(PARSE("--url=ftp://h"), "invalid value \"ftp://h\" for --url: not an http or "
					  "https URL");
	CHECK_ERR(PARSE("--url=http://"),
		  "invalid value \"http://\" for --url: not an http or https URL");
	CHECK_ERR(PARSE("--url=localhost:9090"),
		  "invalid value \"localhost:9090\" for --url: not an http or https URL");
	CHECK_ERR(PARSE("--dash-ed.name= "),
		  "invalid value \" \" for --dash-ed.name: must not be empty");
}

static void test_control_characters_and_length(void)
{
	static char long_value[FLAGS_VALUE_MAX + 16];

	CHECK_ERR(PARSE("--str=a\nb\x1b"),
		  "invalid value \"a\\x0ab\\x1b\" for --str: contains a control character");
	memset(long_value, 'v', sizeof(long_value) - 1);
	memcpy(long_value, "--str=", 6);
	CHECK_INT(PARSE(long_value), -EINVAL);
	CHECK(strstr(err.msg, "for --str: longer than 4096 bytes") != NULL);
	CHECK(strstr(err.msg, "vvv...\"") != NULL);
	CHECK(strlen(err.msg) < 200);
}

static void test_env_precedence_and_naming(void)
{
	char name[FLAGS_ENV_NAME_MAX];

	CHECK_INT(flags_env_name(&set, &specs[11], name, sizeof(name)), 0);
	CHECK_STR(name, "TEST_DASH_ED_NAME");
	CHECK_INT(flags_env_name(&set, &specs[11], name, 17), -ERANGE);
	CHECK_INT(PARSE_ENV(ENV("TEST_COUNT=7", "TEST_DASH_ED_NAME=e", "TEST_FLAG=true",
				"TEST_ON=false", "TEST_ITEMS=x,y", "TEST_STR="),
			    NULL),
		  0);
	CHECK_INT(o.count, 7);
	CHECK_STR(o.dashed, "e");
	CHECK(o.flag);
	CHECK(!o.on);
	CHECK_INT(o.items.n, 2);
	CHECK_STR(o.str, "dflt"); /* empty counts as unset */
	/* The command line wins over the environment. */
	CHECK_INT(PARSE_ENV(ENV("TEST_COUNT=7", "TEST_FLAG=true"), "--count=9", "--no-flag"), 0);
	CHECK_INT(o.count, 9);
	CHECK(!o.flag);
	/* A bad value in the environment names the variable, not the flag. */
	CHECK_ERR(PARSE_ENV(ENV("TEST_COUNT=abc"), NULL),
		  "invalid value \"abc\" for TEST_COUNT: not a whole number");
	CHECK_ERR(PARSE_ENV(ENV("TEST_WAIT=5"), NULL),
		  "invalid value \"5\" for TEST_WAIT: not a duration (use e.g. 30s, 5m, 1h)");
	/* ... and does not matter when the command line overrides it. */
	CHECK_INT(PARSE_ENV(ENV("TEST_COUNT=abc"), "--count=3"), 0);
	CHECK_INT(o.count, 3);
}

static void test_command_line_errors(void)
{
	CHECK_ERR(PARSE("--nope=1"), "unknown flag --nope");
	CHECK_ERR(PARSE("--str"), "missing value for --str");
	CHECK_ERR(PARSE("--str", "--count=1"), "missing value for --str");
	CHECK_ERR(PARSE("--count=1", "--count", "2"), "flag --count cannot be repeated");
	CHECK_ERR(PARSE("foo"), "unexpected argument \"foo\"");
	CHECK_ERR(PARSE("-"), "unexpected argument \"-\"");
	CHECK_ERR(PARSE("-x"), "unknown flag -x (flags are long: --name=value)");
	CHECK_ERR(PARSE("--", "foo"), "unexpected argument \"foo\"");
	CHECK_INT(PARSE("--count=2", "--"), 0);
	CHECK_INT(o.count, 2);
}

static void test_help_and_version(void)
{
	CHECK_INT(PARSE("--help", "--nope"), 0);
	CHECK_INT(action, FLAGS_HELP);
	CHECK_INT(PARSE("--count=5", "-h"), 0);
	CHECK_INT(action, FLAGS_HELP);
	CHECK_INT(PARSE("--version"), 0);
	CHECK_INT(action, FLAGS_VERSION);
	CHECK_ERR(PARSE("--nope", "--help"), "unknown flag --nope");
}

static void test_dest_untouched_unless_run(void)
{
	struct opts saved;

	CHECK_INT(PARSE_NONE(), 0);
	o.untouched = 42;
	flags_done(&set, &o);
	saved = o;
	/* flags_done() cleared o; parse_env() clears it again: still equal. */
	CHECK_INT(PARSE("--count=0"), -EINVAL);
	CHECK(memcmp(&o, &saved, sizeof(o)) == 0);
	CHECK_INT(PARSE("--version"), 0);
	CHECK(memcmp(&o, &saved, sizeof(o)) == 0);
	CHECK_INT(PARSE("--count=2"), 0);
	CHECK_INT(o.untouched, 42);
	CHECK_INT(o.count, 2);
}

static void test_usage(void)
{
	struct buf out;
	const char *line, *p;

	buf_init(&out, 1 << 16);
	CHECK_INT(flags_usage(&set, &out), 0);
	p = out.data;
	CHECK(strstr(p, "usage: prog [<flags>]\n\nA program to test the parser.\n") == p);
	CHECK(strstr(p, "  -h, --help\n") != NULL);
	CHECK(strstr(p, "  --version\n") != NULL);
	CHECK(strstr(p,
		     "  --str=<string>\n      A string.\n      [default: dflt] [env: TEST_STR]\n"));
	CHECK(strstr(p,
		     "  --[no-]flag\n      A boolean.\n      [default: false] [env: TEST_FLAG]\n"));
	CHECK(strstr(p, "  --count=<n>\n"));
	CHECK(strstr(
	    p, "  --wait=<duration>\n      A duration.\n      [default: 30s] [env: TEST_WAIT]\n"));
	CHECK(strstr(p, "  --colour=<red|green|blue>\n"));
	CHECK(strstr(p, "  --items=<item,...>\n      A list.\n      [env: TEST_ITEMS]\n"));
	CHECK(strstr(p, "  --listen=<[host]:port>\n"));
	CHECK(strstr(p, "  --dash-ed.name=<thing>\n"));
	CHECK(strstr(p, "[env: TEST_DASH_ED_NAME]"));
	for (line = p; *line; line = strchr(line, '\n') + 1)
		CHECK(strcspn(line, "\n") <= 100);
	buf_done(&out);
}

static void test_usage_wraps(void)
{
	static const struct flags_spec wordy[] = {
		{ .name = "w",
		  .type = FLAGS_STRING,
		  .offset = 0,
		  .help = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
			  "tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim "
			  "veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip." },
	};
	struct flags_set s = { .program = "p",
			       .env_prefix = "P_",
			       .specs = wordy,
			       .n_specs = 1,
			       .dest_size = sizeof(char *) };
	struct buf out;
	const char *line;
	int n = 0;

	buf_init(&out, 1 << 16);
	CHECK_INT(flags_usage(&s, &out), 0);
	CHECK(strstr(out.data, "--version") == NULL);
	for (line = strstr(out.data, "  --w="); *line; line = strchr(line, '\n') + 1, n++) {
		CHECK(strcspn(line, "\n") <= 100);
		CHECK(n == 0 || strncmp(line, "      ", 6) == 0);
	}
	CHECK(n >= 3);
	CHECK(strstr(out.data, "aliquip.\n      [env: P_W]\n") != NULL);
	buf_done(&out);
}

static void test_check_catches_bad_tables(void)
{
	static const struct flags_spec dup[] = {
		{ .name = "a", .type = FLAGS_BOOL, .help = "x" },
		{ .name = "a", .type = FLAGS_BOOL, .help = "y" },
	};
	static const struct flags_spec neg[] = {
		{ .name = "no-a", .type = FLAGS_BOOL, .help = "x" }
	};
	static const struct flags_spec upper[] = {
		{ .name = "A", .type = FLAGS_BOOL, .help = "x" }
	};
	static const struct flags_spec help[] = {
		{ .name = "help", .type = FLAGS_BOOL, .help = "x" }
	};
	static const struct flags_spec noch[] = {
		{ .name = "e", .type = FLAGS_ENUM, .help = "x" }
	};
	static const struct flags_spec far[] = {
		{ .name = "f", .type = FLAGS_DURATION, .offset = 4, .help = "x" }
	};
	struct flags_set s = { .program = "p", .env_prefix = "P_", .dest_size = 8 };

	s.specs = dup, s.n_specs = 2;
	CHECK_INT(flags_check(&s, &err), -EINVAL);
	CHECK_STR(err.msg, "flag --a declared twice");
	s.specs = neg, s.n_specs = 1;
	CHECK_INT(flags_check(&s, &err), -EINVAL);
	s.specs = upper;
	CHECK_INT(flags_check(&s, &err), -EINVAL);
	s.specs = help;
	CHECK_INT(flags_check(&s, &err), -EINVAL);
	s.specs = noch;
	CHECK_INT(flags_check(&s, &err), -EINVAL);
	s.specs = far;
	CHECK_INT(flags_check(&s, &err), -EINVAL);
}

static void test_bad_default_is_reported(void)
{
	static const struct flags_spec bad[] = {
		{ .name = "n", .type = FLAGS_UINT, .offset = 0, .def = "ten", .help = "x" },
	};
	struct flags_set s = { .program = "p",
			       .env_prefix = "P_",
			       .specs = bad,
			       .n_specs = 1,
			       .dest_size = sizeof(unsigned int) };
	char *argv[] = { "p", NULL };
	struct flags_input in = { 1, argv, fake_getenv, NULL };
	unsigned int n = 0;

	CHECK_INT(flags_parse(&s, &in, &n, &action, &err), -EINVAL);
	CHECK_STR(err.msg, "invalid value \"ten\" for the default of --n: not a whole number");
}

int main(void)
{
	int r = TEST_MAIN(
	    TEST_CASE(test_table_is_valid), TEST_CASE(test_defaults), TEST_CASE(test_value_forms),
	    TEST_CASE(test_bool_forms), TEST_CASE(test_uint_bounds),
	    TEST_CASE(test_duration_parser), TEST_CASE(test_duration_format),
	    TEST_CASE(test_duration_flag), TEST_CASE(test_enum), TEST_CASE(test_list),
	    TEST_CASE(test_listen_address), TEST_CASE(test_paths_and_urls),
	    TEST_CASE(test_control_characters_and_length),
	    TEST_CASE(test_env_precedence_and_naming), TEST_CASE(test_command_line_errors),
	    TEST_CASE(test_help_and_version), TEST_CASE(test_dest_untouched_unless_run),
	    TEST_CASE(test_usage), TEST_CASE(test_usage_wraps),
	    TEST_CASE(test_check_catches_bad_tables), TEST_CASE(test_bad_default_is_reported));

	flags_done(&set, &o);
	return r;
}
