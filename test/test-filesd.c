/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of filesd: the atomic writer (under a concurrent reader, and when it
 * cannot write), the change-detecting writer, reading a file with a cap,
 * and the warm-start loader (valid files, corrupt ones, wrong shapes, an
 * empty array, a huge one).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "filesd.h"
#include "snapshot.h"
#include "test.h"

static char dir[256];

/* A fresh directory for one case, under TMPDIR. */
static const char *make_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/test-filesd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(dir);
}

static const char *in_dir(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* Files in the case's directory, the directory itself removed when empty. */
static int count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlink(in_dir(e->d_name));
	closedir(d);
	rmdir(dir);
}

/* ---- filesd_write_atomic ---- */

static void test_write_creates_and_replaces(void)
{
	struct stat st;
	char *got;

	CHECK(make_dir());
	CHECK_INT(filesd_write_atomic(in_dir("t.json"), "[1]", 3), 0);
	got = test_read_file(in_dir("t.json"), NULL);
	CHECK_STR(got, "[1]");
	free(got);
	CHECK_INT(filesd_write_atomic(in_dir("t.json"), "[2,3]", 5), 0);
	got = test_read_file(in_dir("t.json"), NULL);
	CHECK_STR(got, "[2,3]");
	free(got);
	CHECK_INT(stat(in_dir("t.json"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 0644); /* readable by Prometheus's user */
	CHECK_INT(count_files(), 1);	     /* no temporary file left */
	remove_dir();
}

static void test_write_relative_path(void)
{
	char cwd[512], *got;

	CHECK(make_dir());
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_INT(chdir(dir), 0);
	CHECK_INT(filesd_write_atomic("plain.json", "[]", 2), 0);
	CHECK_INT(chdir(cwd), 0);
	got = test_read_file(in_dir("plain.json"), NULL);
	CHECK_STR(got, "[]");
	free(got);
	remove_dir();
}

static void test_write_missing_directory(void)
{
	CHECK(make_dir());
	CHECK_INT(filesd_write_atomic(in_dir("no/such/t.json"), "[]", 2), -ENOENT);
	CHECK_INT(count_files(), 0);
	remove_dir();
}

/* rename() over a directory fails after the temporary file is written:
 * the temporary file must go and the directory stay. */
static void test_write_over_directory_removes_temp(void)
{
	struct stat st;

	CHECK(make_dir());
	CHECK_INT(mkdir(in_dir("t.json"), 0755), 0);
	CHECK_INT(filesd_write_atomic(in_dir("t.json"), "[]", 2), -EISDIR);
	CHECK_INT(count_files(), 1);
	CHECK_INT(stat(in_dir("t.json"), &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	rmdir(in_dir("t.json"));
	remove_dir();
}

static void test_write_unwritable_directory(void)
{
	char *got;
	int r;

	CHECK(make_dir());
	CHECK_INT(filesd_write_atomic(in_dir("t.json"), "[1]", 3), 0);
	CHECK_INT(chmod(dir, 0555), 0);
	r = filesd_write_atomic(in_dir("t.json"), "[2]", 3);
	chmod(dir, 0755);
	if (geteuid() == 0) { /* root writes anyway: nothing to prove here */
		printf("# running as root: a read-only directory does not stop root\n");
		remove_dir();
		return;
	}
	CHECK_INT(r, -EACCES);
	got = test_read_file(in_dir("t.json"), NULL);
	CHECK_STR(got, "[1]"); /* the old file is intact */
	free(got);
	CHECK_INT(count_files(), 1);
	remove_dir();
}

/* ---- atomicity under a concurrent reader ---- */

#define ATOMIC_MIN_WRITES 300
#define ATOMIC_MIN_READS  300
#define ATOMIC_DEADLINE_S 20

struct reader {
	const char *path;
	atomic_bool stop;
	atomic_long reads;
	atomic_long bad; /* reads that were not one whole version */
	char first_bad[160];
};

/* Version k: a JSON array of k copies of "vK" padded to make it large,
 * so that a non-atomic writer would be caught half-way. */
static int render_version(struct buf *b, unsigned k)
{
	unsigned i;
	int r = buf_putc(b, '[');

	for (i = 0; r == 0 && i < k; i++)
		r = buf_printf(b, "%s\"v%u-%0200u\"", i ? "," : "", k, k);
	return r == 0 ? buf_putc(b, ']') : r;
}

/* Whether text is exactly one whole version. */
static bool is_whole_version(const char *text, size_t len)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	struct buf want;
	bool ok = false;
	size_t k;

	if (json_is_array(root)) {
		k = json_array_size(root);
		buf_init(&want, 1 << 24);
		ok = k > 0 && render_version(&want, (unsigned)k) == 0 && want.len == len &&
		     memcmp(want.data, text, len) == 0;
		buf_done(&want);
	}
	json_decref(root);
	return ok;
}

static void reader_note_bad(struct reader *rd, const char *text, size_t len)
{
	if (atomic_fetch_add(&rd->bad, 1) == 0)
		snprintf(rd->first_bad, sizeof(rd->first_bad), "%zu bytes: %.100s", len,
			 text ? text : "(unreadable)");
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	size_t len;
	char *text;

	while (!atomic_load(&rd->stop)) {
		text = test_read_file(rd->path, &len);
		if (!text || !is_whole_version(text, len))
			reader_note_bad(rd, text, text ? len : 0);
		free(text);
		atomic_fetch_add(&rd->reads, 1);
	}
	return NULL;
}

static int write_version(const char *path, unsigned k)
{
	struct buf b;
	int r;

	buf_init(&b, 1 << 24);
	r = render_version(&b, k);
	if (r == 0)
		r = filesd_write_atomic(path, b.data, b.len);
	buf_done(&b);
	return r;
}

static void test_concurrent_reader_sees_whole_files(void)
{
	struct reader rd = { 0 };
	time_t deadline = time(NULL) + ATOMIC_DEADLINE_S;
	unsigned writes = 0;
	pthread_t t;

	CHECK(make_dir());
	rd.path = in_dir("targets.json");
	CHECK_INT(write_version(rd.path, 1), 0);
	CHECK_INT(pthread_create(&t, NULL, reader_main, &rd), 0);
	while ((writes < ATOMIC_MIN_WRITES || atomic_load(&rd.reads) < ATOMIC_MIN_READS) &&
	       time(NULL) < deadline)
		if (write_version(rd.path, 1 + writes++ % 97) < 0)
			break;
	atomic_store(&rd.stop, true);
	pthread_join(t, NULL);
	printf("# %u writes, %ld reads\n", writes, atomic_load(&rd.reads));
	if (atomic_load(&rd.bad))
		TEST_FAIL("%ld reads saw a partial file, first: %s", atomic_load(&rd.bad),
			  rd.first_bad);
	CHECK(writes >= ATOMIC_MIN_WRITES);
	CHECK(atomic_load(&rd.reads) >= ATOMIC_MIN_READS);
	CHECK_INT(count_files(), 1);
	remove_dir();
}

/* The checker above must notice a torn file, or the test proves nothing. */
static void test_checker_catches_partial_files(void)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	CHECK_INT(render_version(&b, 5), 0);
	CHECK(is_whole_version(b.data, b.len));
	CHECK(!is_whole_version(b.data, b.len / 2));
	CHECK(!is_whole_version(b.data, 0));
	b.data[b.len - 3] = 'x'; /* same length, other bytes: not one version */
	CHECK(!is_whole_version(b.data, b.len));
	buf_done(&b);
}

/* ---- the writer ---- */

static void test_writer_writes_only_changes(void)
{
	struct filesd_writer w;
	struct stat a, b;

	CHECK(make_dir());
	CHECK_INT(filesd_writer_init(&w, in_dir("t.json")), 0);
	CHECK_INT(filesd_writer_update(&w, "[1]", 3), 1);
	CHECK_INT(stat(in_dir("t.json"), &a), 0);
	CHECK_INT(filesd_writer_update(&w, "[1]", 3), 0);
	CHECK_INT(stat(in_dir("t.json"), &b), 0);
	CHECK(a.st_ino == b.st_ino); /* not replaced */
	CHECK_INT(filesd_writer_update(&w, "[2]", 3), 1);
	CHECK_INT(stat(in_dir("t.json"), &b), 0);
	CHECK(a.st_ino != b.st_ino);
	CHECK_INT(filesd_writer_update(&w, "[1]", 3), 1); /* back to an old one */
	filesd_writer_done(&w);
	filesd_writer_done(&w);
	remove_dir();
}

static void test_writer_seed(void)
{
	struct filesd_writer w;

	CHECK(make_dir());
	CHECK_INT(filesd_writer_init(&w, in_dir("t.json")), 0);
	filesd_writer_seed(&w, "[7]", 3);
	CHECK_INT(filesd_writer_update(&w, "[7]", 3), 0);
	CHECK(access(in_dir("t.json"), F_OK) != 0); /* trusted the seed */
	CHECK_INT(filesd_writer_update(&w, "[8]", 3), 1);
	filesd_writer_done(&w);
	remove_dir();
}

static void test_writer_counts_failures_and_retries(void)
{
	struct filesd_writer w;
	char *got;

	CHECK(make_dir());
	CHECK_INT(filesd_writer_init(&w, in_dir("sub/t.json")), 0);
	CHECK_INT(filesd_writer_update(&w, "[1]", 3), -ENOENT);
	CHECK_INT(w.failures, 1);
	CHECK_INT(filesd_writer_update(&w, "[1]", 3), -ENOENT); /* tried again */
	CHECK_INT(w.failures, 2);
	CHECK_INT(mkdir(in_dir("sub"), 0755), 0);
	CHECK_INT(filesd_writer_update(&w, "[1]", 3), 1);
	CHECK_INT(w.failures, 0);
	got = test_read_file(in_dir("sub/t.json"), NULL);
	CHECK_STR(got, "[1]");
	free(got);
	unlink(in_dir("sub/t.json"));
	rmdir(in_dir("sub"));
	filesd_writer_done(&w);
	remove_dir();
}

/* ---- filesd_read ---- */

static void test_read(void)
{
	int64_t mtime = 0;
	struct stat st;
	char *data = (char *)"untouched";
	size_t len = 0;

	CHECK(make_dir());
	CHECK_INT(filesd_read(in_dir("none"), 100, &data, &len, &mtime), -ENOENT);
	CHECK_STR(data, "untouched");
	CHECK_INT(filesd_read(dir, 100, &data, &len, &mtime), -EINVAL);
	CHECK_INT(filesd_write_atomic(in_dir("t.json"), "[\"a\"]", 5), 0);
	CHECK_INT(filesd_read(in_dir("t.json"), 4, &data, &len, &mtime), -EFBIG);
	CHECK_INT(filesd_read(in_dir("t.json"), 5, &data, &len, &mtime), 0);
	CHECK_INT(len, 5);
	CHECK_STR(data, "[\"a\"]");
	free(data);
	CHECK_INT(stat(in_dir("t.json"), &st), 0);
	CHECK_INT(mtime, st.st_mtime);
	remove_dir();
}

/* A sparse file just over the cap is refused without being read. */
static void test_read_huge_file(void)
{
	int64_t mtime;
	char *data;
	size_t len;
	int fd;

	CHECK(make_dir());
	fd = open(in_dir("huge.json"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, (off_t)FILESD_MAX_BYTES + 1), 0);
	close(fd);
	CHECK_INT(filesd_read(in_dir("huge.json"), FILESD_MAX_BYTES, &data, &len, &mtime), -EFBIG);
	remove_dir();
}

/* ---- filesd_parse: valid files ---- */

static struct snapshot *parse_ok(const char *text, int64_t at)
{
	struct filesd_error err = { "" };
	struct snapshot *s = NULL;
	int r = filesd_parse(text, strlen(text), at, &s, &err);

	if (r < 0)
		printf("# filesd_parse: %d: %s\n", r, err.msg);
	return s;
}

/* The whole answer of s, valid until the next call. */
static const char *json_of(const struct snapshot *s)
{
	static char *json;
	size_t len;

	free(json);
	json = NULL;
	if (snapshot_json_copy(s, &json, &len) < 0)
		abort();
	return json;
}

static const char *name_of(const struct snapshot *s, uint32_t idx)
{
	return idx < s->n_names ? s->names[idx] : "(out of range)";
}

static bool group_is(const struct snapshot *s, size_t i, const char *json, const char *ns,
		     const char *svc)
{
	const struct snapshot_group *g = &s->groups[i];
	uint64_t hash;
	json_t *root = json_loadb(snapshot_group_json(s, g), g->len, 0, NULL);
	const char *addr = json_string_value(json_array_get(json_object_get(root, "targets"), 0));
	bool ok = addr && snapshot_address_hash(addr, strlen(addr), &hash) == 0 &&
		  hash == g->address_hash;

	json_decref(root);
	return ok && g->len == strlen(json) &&
	       memcmp(snapshot_group_json(s, g), json, g->len) == 0 &&
	       strcmp(name_of(s, g->namespace_idx), ns) == 0 &&
	       strcmp(name_of(s, g->service_idx), svc) == 0;
}

#define G_API1                                                                                    \
	"{\"targets\":[\"10.0.0.1:80\"],\"labels\":{\"__meta_cloudmap_namespace_name\":\"prod\"," \
	"\"__meta_cloudmap_service_name\":\"api\",\"cluster\":\"c1\"}}"
#define G_API2                                                                                    \
	"{\"targets\":[\"10.0.0.2:80\"],\"labels\":{\"__meta_cloudmap_namespace_name\":\"prod\"," \
	"\"__meta_cloudmap_service_name\":\"api\",\"cluster\":\"c1\"}}"
#define G_WEB                                                                               \
	"{\"targets\":[\"[fd00::1]:9100\"],\"labels\":{\"__meta_cloudmap_namespace_name\":" \
	"\"prod\",\"__meta_cloudmap_service_name\":\"web\"}}"

/* Our own output (compact, one target a group, each service's groups
 * together) comes back byte for byte. */
static void test_parse_round_trip(void)
{
	const char *text = "[" G_API1 "," G_API2 "," G_WEB "]";
	struct snapshot *s = parse_ok(text, 1700000000);

	CHECK(s != NULL);
	CHECK_INT(s->json_len, strlen(text));
	CHECK_STR(json_of(s), text);
	CHECK(s->warm_start);
	CHECK_INT(s->refreshed_at_unix, 1700000000);
	CHECK_INT(s->n_groups, 3);
	CHECK(group_is(s, 0, G_API1, "prod", "api"));
	CHECK(group_is(s, 1, G_API2, "prod", "api"));
	CHECK(group_is(s, 2, G_WEB, "prod", "web"));
	CHECK_INT(s->n_names, 3); /* "prod" interned once */
	CHECK_INT(s->n_services, 2);
	CHECK_STR(name_of(s, s->services[0].service_idx), "api");
	CHECK_INT(s->services[0].targets, 2);
	CHECK_STR(name_of(s, s->services[1].service_idx), "web");
	CHECK_INT(s->services[1].targets, 1);
	CHECK_INT(s->n_skips, 0);
	CHECK_INT(atomic_load(&s->refcount), 1);
	CHECK(s->gzip_pieces != NULL); /* served compressed too */
	snapshot_unref(s);
}

/* A file whose services' groups are interleaved is served one service
 * after the other, in the order services first appear. */
static void test_parse_interleaved_services(void)
{
	const char *text = "[" G_API1 "," G_WEB "," G_API2 "]";
	struct snapshot *s = parse_ok(text, 1700000000);

	CHECK(s != NULL);
	CHECK_STR(json_of(s), "[" G_API1 "," G_API2 "," G_WEB "]");
	CHECK_INT(s->n_services, 2);
	CHECK_INT(s->services[0].targets, 2);
	CHECK_INT(s->services[1].targets, 1);
	snapshot_unref(s);
}

/* Other writers' layouts: white space, several targets a group, no
 * labels, empty groups, members Prometheus ignores. */
static void test_parse_other_layouts(void)
{
	const char *text = "[\n  {\"targets\": [\"a:1\", \"b:2\"], \"labels\": {\"job\": \"x\"}},\n"
			   "  {\"targets\": []},\n  {\"targets\": [\"c:3\"], \"extra\": 1}\n]\n";
	struct snapshot *s = parse_ok(text, 5);

	CHECK(s != NULL);
	CHECK_STR(json_of(s), "[{\"targets\":[\"a:1\"],\"labels\":{\"job\":\"x\"}},"
			      "{\"targets\":[\"b:2\"],\"labels\":{\"job\":\"x\"}},"
			      "{\"targets\":[\"c:3\"],\"labels\":{}}]");
	CHECK_INT(s->n_groups, 3);
	CHECK(group_is(s, 0, "{\"targets\":[\"a:1\"],\"labels\":{\"job\":\"x\"}}", "", ""));
	CHECK(group_is(s, 1, "{\"targets\":[\"b:2\"],\"labels\":{\"job\":\"x\"}}", "", ""));
	CHECK(group_is(s, 2, "{\"targets\":[\"c:3\"],\"labels\":{}}", "", ""));
	CHECK_INT(s->n_services, 1);
	CHECK_INT(s->services[0].targets, 3);
	snapshot_unref(s);
}

static void test_parse_empty_array(void)
{
	struct snapshot *s = parse_ok(" [ ] ", 0);

	CHECK(s != NULL);
	CHECK_STR(json_of(s), "[]");
	CHECK_INT(s->json_len, 2);
	CHECK_INT(s->n_groups, 0);
	CHECK_INT(s->n_services, 0);
	CHECK(s->warm_start);
	snapshot_unref(s);
}

/* Escapes and UTF-8 survive: the served bytes parse to the same values. */
static void test_parse_escapes(void)
{
	const char *text =
	    "[{\"targets\":[\"h\\\"x:1\"],\"labels\":{\"l\":\"\\u00e9\\n\\\\/\\t\"}}]";
	struct snapshot *s = parse_ok(text, 0);
	json_t *back;

	CHECK(s != NULL);
	back = json_loadb(json_of(s), s->json_len, 0, NULL);
	CHECK(back != NULL);
	CHECK_STR(json_string_value(
		      json_array_get(json_object_get(json_array_get(back, 0), "targets"), 0)),
		  "h\"x:1");
	CHECK_STR(json_string_value(
		      json_object_get(json_object_get(json_array_get(back, 0), "labels"), "l")),
		  "\xc3\xa9\n\\/\t");
	json_decref(back);
	snapshot_unref(s);
}

/* ---- filesd_parse: what is refused ---- */

static void check_refused(const char *text, size_t len, int want, const char *msg_part)
{
	struct snapshot *sentinel = (struct snapshot *)&sentinel, *s = sentinel;
	struct filesd_error err = { "" };
	int r = filesd_parse(text, len, 0, &s, &err);

	if (r != want || s != sentinel || !strstr(err.msg, msg_part))
		TEST_FAIL("%.60s: got %d \"%s\", want %d with \"%s\"", text, r, err.msg, want,
			  msg_part);
}

#define REFUSED(text, part) check_refused(text, strlen(text), -EBADMSG, part)

static void test_parse_corrupt(void)
{
	REFUSED("", "not JSON");
	REFUSED("[{\"targets\":[\"a:1\"]", "not JSON");
	REFUSED("[] trailing", "not JSON");
	REFUSED("[{\"targets\":[\"a\\u0000b\"]}]", "not JSON");	  /* NUL in a string */
	REFUSED("[{\"targets\":[\"\xff\"]}]", "not JSON");	  /* bad UTF-8 */
	REFUSED("[{\"targets\":[],\"targets\":[]}]", "not JSON"); /* duplicate keys */
	check_refused("[]\0[]", 5, -EBADMSG, "not JSON");
}

/* Nesting deeper than the parser goes: refused, without exhausting the stack. */
static void test_parse_deep_nesting(void)
{
	size_t depth = 100000, i;
	char *text = malloc(2 * depth + 1);

	CHECK(text != NULL);
	for (i = 0; i < depth; i++) {
		text[i] = '[';
		text[2 * depth - 1 - i] = ']';
	}
	text[2 * depth] = '\0';
	check_refused(text, 2 * depth, -EBADMSG, "");
	free(text);
}

static void test_parse_wrong_shape(void)
{
	REFUSED("{\"targets\":[\"a:1\"]}", "not an array of target groups");
	REFUSED("\"x\"", "not an array of target groups");
	REFUSED("[1]", "group 0 is not an object");
	REFUSED("[{\"targets\":[\"a:1\"]},[]]", "group 1 is not an object");
	REFUSED("[{\"labels\":{}}]", "group 0: \"targets\" is not an array");
	REFUSED("[{\"targets\":\"a:1\"}]", "group 0: \"targets\" is not an array");
	REFUSED("[{\"targets\":[1]}]", "group 0: target 0 is not a non-empty string");
	REFUSED("[{\"targets\":[\"a:1\",\"\"]}]", "group 0: target 1 is not");
	REFUSED("[{\"targets\":[\"a:1\"],\"labels\":[]}]", "\"labels\" is not an object");
	REFUSED("[{\"targets\":[\"a:1\"],\"labels\":{\"a\":1}}]", "label \"a\" is not a string");
	REFUSED("[{\"targets\":[\"a:1\"],\"labels\":{\"a\":null}}]", "label \"a\" is not");
	REFUSED("[{\"targets\":[\"a:1\"],\"labels\":{\"1a\":\"x\"}}]", "invalid label name \"1a\"");
	REFUSED("[{\"targets\":[\"a:1\"],\"labels\":{\"a-b\":\"x\"}}]", "invalid label name");
	REFUSED("[{\"targets\":[\"a:1\"],\"labels\":{\"\":\"x\"}}]", "invalid label name");
}

/* Over the cap: refused before a byte is looked at. The buffer is never
 * touched, so the kernel never backs it with memory. */
static void test_parse_huge(void)
{
	size_t len = (size_t)FILESD_MAX_BYTES + 1;
	char *big = calloc(1, len); /* zero pages: mapped, never touched */

	CHECK(big != NULL);
	check_refused(big, len, -EFBIG, "larger than");
	free(big);
}

int main(void)
{
	json_object_seed(1);
	return TEST_MAIN(
	    TEST_CASE(test_write_creates_and_replaces), TEST_CASE(test_write_relative_path),
	    TEST_CASE(test_write_missing_directory),
	    TEST_CASE(test_write_over_directory_removes_temp),
	    TEST_CASE(test_write_unwritable_directory),
	    TEST_CASE(test_concurrent_reader_sees_whole_files),
	    TEST_CASE(test_checker_catches_partial_files),
	    TEST_CASE(test_writer_writes_only_changes), TEST_CASE(test_writer_seed),
	    TEST_CASE(test_writer_counts_failures_and_retries), TEST_CASE(test_read),
	    TEST_CASE(test_read_huge_file), TEST_CASE(test_parse_round_trip),
	    TEST_CASE(test_parse_interleaved_services), TEST_CASE(test_parse_other_layouts),
	    TEST_CASE(test_parse_empty_array), TEST_CASE(test_parse_escapes),
	    TEST_CASE(test_parse_corrupt), TEST_CASE(test_parse_deep_nesting),
	    TEST_CASE(test_parse_wrong_shape), TEST_CASE(test_parse_huge));
}
