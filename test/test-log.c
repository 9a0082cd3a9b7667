/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the log module: exact logfmt and JSON lines on a pinned clock
 * (written to a pipe and read back), escaping, level filtering, the line
 * cap, and whole lines from several threads at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "test.h"

/* 2026-11-25T09:00:00.123Z */
static int64_t fixed_clock(void)
{
	return 1795597200123LL;
}

static int pipe_fds[2] = { -1, -1 };
static char got[1 << 16];

/* Points the log at a fresh non-blocking pipe. */
static int capture(enum log_level level, enum log_format format)
{
	if (pipe_fds[0] >= 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
	}
	if (pipe(pipe_fds) < 0 || fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	log_set_clock(fixed_clock);
	return log_init(level, format, pipe_fds[1]);
}

/* What was written since the last call (the writes are synchronous). */
static const char *captured(void)
{
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(got) - 1 && (r = read(pipe_fds[0], got + n, sizeof(got) - 1 - n)) > 0)
		n += (size_t)r;
	got[n] = '\0';
	return got;
}

#define TS  "ts=2026-11-25T09:00:00.123Z "
#define JTS "{\"ts\":\"2026-11-25T09:00:00.123Z\","

static void test_logfmt_line(void)
{
	CHECK_INT(capture(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT), 0);
	log_kv(LOG_LEVEL_INFO, "refresh done", "namespace", "ecs-services", "duration_ms", "12",
	       NULL);
	CHECK_STR(captured(),
		  TS "level=info msg=\"refresh done\" namespace=ecs-services duration_ms=12\n");
	log_kv(LOG_LEVEL_ERROR, "stopping", NULL);
	CHECK_STR(captured(), TS "level=error msg=stopping\n");
	log_kvf(LOG_LEVEL_WARN, "listening", "address", "%s:%u", "0.0.0.0", 9001u);
	CHECK_STR(captured(), TS "level=warn msg=listening address=0.0.0.0:9001\n");
}

static void test_logfmt_escaping(void)
{
	CHECK_INT(capture(LOG_LEVEL_DEBUG, LOG_FORMAT_LOGFMT), 0);
	log_kv(LOG_LEVEL_DEBUG, "", "empty", "", "eq", "a=b", "quote", "say \"hi\"", "nl",
	       "one\ntwo", "ctl", "\x01\t\r\x7f", "bs", "C:\\dir", "bs_sp", "a \\ b", "utf8",
	       "caf\xc3\xa9", "c1", "\xc2\x85", "bad", "x\xffy", "bad key=\"", "v", NULL);
	CHECK_STR(captured(),
		  TS "level=debug msg=\"\" empty=\"\" eq=\"a=b\" quote=\"say \\\"hi\\\"\""
		     " nl=\"one\\ntwo\" ctl=\"\\u0001\\t\\r\\u007f\" bs=C:\\dir"
		     " bs_sp=\"a \\\\ b\" utf8=caf\xc3\xa9 c1=\"\\u0085\""
		     " bad=\"x\xef\xbf\xbdy\" bad_key__=v\n");
	/* Overlong forms, surrogates and truncated sequences are invalid. */
	log_kv(LOG_LEVEL_DEBUG, "m", "a", "\xc0\xaf", "b", "\xed\xa0\x80", "c", "\xe2\x82", NULL);
	CHECK_STR(captured(), TS "level=debug msg=m a=\"\xef\xbf\xbd\xef\xbf\xbd\""
				 " b=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""
				 " c=\"\xef\xbf\xbd\xef\xbf\xbd\"\n");
	log_kv(LOG_LEVEL_INFO, "m", "k", NULL);
	CHECK_STR(captured(), TS "level=info msg=m k=\"\"\n");
}

static void test_json_line_and_escaping(void)
{
	CHECK_INT(capture(LOG_LEVEL_INFO, LOG_FORMAT_JSON), 0);
	log_kv(LOG_LEVEL_INFO, "refresh done", "namespace", "ecs-services", "duration_ms", "12",
	       NULL);
	CHECK_STR(captured(), JTS "\"level\":\"info\",\"msg\":\"refresh done\","
				  "\"namespace\":\"ecs-services\",\"duration_ms\":\"12\"}\n");
	log_kv(LOG_LEVEL_WARN, "a \"b\"", "k\"ey", "one\ntwo\\", "ctl", "\x01\x1f", "utf8",
	       "caf\xc3\xa9", "bad", "\xff", NULL);
	CHECK_STR(captured(), JTS "\"level\":\"warn\",\"msg\":\"a \\\"b\\\"\","
				  "\"k\\\"ey\":\"one\\ntwo\\\\\",\"ctl\":\"\\u0001\\u001f\","
				  "\"utf8\":\"caf\xc3\xa9\",\"bad\":\"\xef\xbf\xbd\"}\n");
}

/* Every JSON line parses back to the values given, byte for byte. */
static void test_json_round_trip(void)
{
	static const char *const values[] = { "",
					      " ",
					      "a=b",
					      "\"",
					      "\\",
					      "\n\r\t\b\f",
					      "\x01\x7f",
					      "\xe2\x82\xac",
					      "\xf0\x9f\x98\x80" };
	json_error_t jerr;
	json_t *root;
	size_t i;

	CHECK_INT(capture(LOG_LEVEL_INFO, LOG_FORMAT_JSON), 0);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		log_kv(LOG_LEVEL_INFO, "m", "v", values[i], NULL);
		root = json_loads(captured(), 0, &jerr);
		if (!root) {
			TEST_FAIL("value %zu: %s in %s", i, jerr.text, got);
			return;
		}
		CHECK_STR(json_string_value(json_object_get(root, "v")), values[i]);
		json_decref(root);
	}
}

static void test_levels(void)
{
	enum log_level level;
	enum log_format format;

	CHECK_INT(capture(LOG_LEVEL_WARN, LOG_FORMAT_LOGFMT), 0);
	CHECK(!log_enabled(LOG_LEVEL_INFO));
	CHECK(log_enabled(LOG_LEVEL_WARN));
	log_kv(LOG_LEVEL_DEBUG, "no", NULL);
	log_kv(LOG_LEVEL_INFO, "no", NULL);
	log_kvf(LOG_LEVEL_INFO, "no", "k", "%d", 1);
	log_kv(LOG_LEVEL_WARN, "yes", NULL);
	log_kv(LOG_LEVEL_ERROR, "yes", NULL);
	CHECK_STR(captured(), TS "level=warn msg=yes\n" TS "level=error msg=yes\n");
	CHECK_INT(log_level_parse("debug", &level), 0);
	CHECK_INT(level, LOG_LEVEL_DEBUG);
	CHECK_INT(log_level_parse("error", &level), 0);
	CHECK_INT(level, LOG_LEVEL_ERROR);
	CHECK_INT(log_level_parse("warning", &level), -EINVAL);
	CHECK_INT(log_level_parse("INFO", &level), -EINVAL);
	CHECK_INT(log_format_parse("json", &format), 0);
	CHECK_INT(format, LOG_FORMAT_JSON);
	CHECK_INT(log_format_parse("text", &format), -EINVAL);
	CHECK_INT(log_init((enum log_level)7, LOG_FORMAT_JSON, 2), -EINVAL);
	CHECK_INT(log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON, -1), -EINVAL);
}

static char *repeat(const char *unit, size_t times)
{
	size_t n = strlen(unit), i;
	char *s = malloc(n * times + 1);

	for (i = 0; s && i < times; i++)
		memcpy(s + i * n, unit, n);
	if (s)
		s[n * times] = '\0';
	return s;
}

static void check_cut_logfmt(const char *unit, const char *tail)
{
	char *big = repeat(unit, LOG_LINE_MAX);
	const char *line;
	size_t len;

	log_kv(LOG_LEVEL_INFO, "m", "big", big, "after", "x", NULL);
	free(big);
	line = captured();
	len = strlen(line);
	CHECK(len <= LOG_LINE_MAX && len > LOG_LINE_MAX - 64);
	CHECK(strncmp(line, TS "level=info msg=m big=", strlen(TS) + 21) == 0);
	CHECK(strcmp(line + len - strlen(tail), tail) == 0);
	CHECK(strstr(line, "after") == NULL);
}

static void test_cap_logfmt(void)
{
	CHECK_INT(capture(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT), 0);
	check_cut_logfmt("a", "aaa truncated=true\n");
	if (test_failed)
		return;
	check_cut_logfmt("a b", "\" truncated=true\n");
	if (test_failed)
		return;
	/* Escapes are never split: the cut falls after a whole "\n". */
	check_cut_logfmt("\n", "\\n\" truncated=true\n");
}

static void check_cut_json(const char *unit)
{
	char *big = repeat(unit, LOG_LINE_MAX);
	json_error_t jerr;
	const char *line, *v;
	json_t *root;

	log_kv(LOG_LEVEL_INFO, "m", "big", big, "after", "x", NULL);
	line = captured();
	CHECK(strlen(line) <= LOG_LINE_MAX && line[strlen(line) - 1] == '\n');
	root = json_loads(line, 0, &jerr);
	if (!root) {
		TEST_FAIL("cut line does not parse: %s", jerr.text);
		free(big);
		return;
	}
	v = json_string_value(json_object_get(root, "big"));
	CHECK(json_is_true(json_object_get(root, "truncated")));
	CHECK(json_object_get(root, "after") == NULL);
	CHECK(v && strlen(v) > LOG_LINE_MAX / 8 && strncmp(v, big, strlen(v)) == 0);
	json_decref(root);
	free(big);
}

static void test_cap_json(void)
{
	CHECK_INT(capture(LOG_LEVEL_INFO, LOG_FORMAT_JSON), 0);
	check_cut_json("a");
	if (test_failed)
		return;
	check_cut_json("\xe2\x82\xac"); /* a 3-byte character */
	if (test_failed)
		return;
	check_cut_json("\"\x01");
}

/* A key too long for the line is dropped whole; the line still parses. */
static void test_cap_long_key(void)
{
	char *key = repeat("k", LOG_LINE_MAX);
	json_t *root;

	CHECK_INT(capture(LOG_LEVEL_INFO, LOG_FORMAT_JSON), 0);
	log_kv(LOG_LEVEL_INFO, "m", "a", "1", key, "v", NULL);
	root = json_loads(captured(), 0, NULL);
	CHECK(root != NULL);
	CHECK_STR(json_string_value(json_object_get(root, "a")), "1");
	CHECK(json_is_true(json_object_get(root, "truncated")));
	CHECK_INT(json_object_size(root), 5);
	json_decref(root);
	CHECK_INT(capture(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT), 0);
	log_kv(LOG_LEVEL_INFO, "m", "a", "1", key, "v", NULL);
	CHECK_STR(captured(), TS "level=info msg=m a=1 truncated=true\n");
	free(key);
}

#define N_THREADS 8
#define N_LINES	  300
#define PAD_LEN	  3000

struct writer {
	pthread_t thread;
	char id[2];
};

static void *write_lines(void *arg)
{
	struct writer *w = arg;
	char pad[PAD_LEN + 1], idx[16];
	int i;

	memset(pad, w->id[0], PAD_LEN);
	pad[PAD_LEN] = '\0';
	for (i = 0; i < N_LINES; i++) {
		snprintf(idx, sizeof(idx), "%d", i);
		log_kv(LOG_LEVEL_INFO, "x", "thread", w->id, "i", idx, "pad", pad, NULL);
	}
	return NULL;
}

/* Checks one line written by write_lines(); counts it in seen. */
static int check_thread_line(const char *line, size_t len, int seen[N_THREADS][N_LINES])
{
	static const char prefix[] = TS "level=info msg=x thread=";
	const char *p = line + sizeof(prefix) - 1;
	char *end, id[2] = { *p, '\0' };
	long i;
	int t;

	if (len < sizeof(prefix) || strncmp(line, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	t = *p - 'A';
	if (t < 0 || t >= N_THREADS || strncmp(p + 1, " i=", 3) != 0)
		return -1;
	i = strtol(p + 4, &end, 10);
	if (i < 0 || i >= N_LINES || strncmp(end, " pad=", 5) != 0)
		return -1;
	end += 5;
	if ((size_t)(line + len - end) != PAD_LEN || strspn(end, id) < PAD_LEN)
		return -1;
	seen[t][i]++;
	return 0;
}

static void test_threads_do_not_interleave(void)
{
	static int seen[N_THREADS][N_LINES];
	struct writer w[N_THREADS];
	char path[] = "/tmp/test-log-XXXXXX";
	char *data, *line, *nl;
	size_t len;
	int fd, i, j;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	log_set_clock(fixed_clock);
	CHECK_INT(log_init(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, fd), 0);
	for (i = 0; i < N_THREADS; i++) {
		w[i].id[0] = (char)('A' + i);
		w[i].id[1] = '\0';
		CHECK_INT(pthread_create(&w[i].thread, NULL, write_lines, &w[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		pthread_join(w[i].thread, NULL);
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, 2);
	close(fd);
	data = test_read_file(path, &len);
	unlink(path);
	CHECK(data != NULL);
	for (line = data; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl || check_thread_line(line, (size_t)(nl - line), seen) < 0) {
			TEST_FAIL("mangled line at offset %zu", (size_t)(line - data));
			free(data);
			return;
		}
	}
	free(data);
	for (i = 0; i < N_THREADS; i++)
		for (j = 0; j < N_LINES; j++)
			CHECK_INT(seen[i][j], 1);
}

int main(void)
{
	int r =
	    TEST_MAIN(TEST_CASE(test_logfmt_line), TEST_CASE(test_logfmt_escaping),
		      TEST_CASE(test_json_line_and_escaping), TEST_CASE(test_json_round_trip),
		      TEST_CASE(test_levels), TEST_CASE(test_cap_logfmt), TEST_CASE(test_cap_json),
		      TEST_CASE(test_cap_long_key), TEST_CASE(test_threads_do_not_interleave));

	return r;
}
