/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the INI parser: data-driven from test/creds/ini/ (every
 * valid/NAME.ini must dump to valid/NAME.expected, every invalid/NAME.ini
 * must be refused), plus what files in git cannot carry well: CRLF line
 * ends, a NUL byte, an over-long line, and lookups.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ini.h"
#include "test.h"

/* Appends s with line breaks and tabs written as \n and \t. */
static int put_escaped(struct buf *out, const char *s)
{
	int r = 0;

	for (; *s; s++)
		r |= *s == '\n'	  ? buf_puts(out, "\\n")
		     : *s == '\t' ? buf_puts(out, "\\t")
				  : buf_putc(out, *s);
	return r;
}

/* Dumps ini in the format of the .expected files. */
static int dump(const struct ini *ini, struct buf *out)
{
	const char *key, *value;
	size_t i, j;
	int r = 0;

	for (i = 0; i < ini_section_count(ini); i++) {
		r |= buf_putc(out, '[') | put_escaped(out, ini_section_name(ini, i)) |
		     buf_puts(out, "]\n");
		for (j = 0; j < ini_section_key_count(ini, i); j++) {
			ini_section_key(ini, i, j, &key, &value);
			r |= put_escaped(out, key) | buf_putc(out, '=') | put_escaped(out, value) |
			     buf_putc(out, '\n');
		}
	}
	return r;
}

/* Calls fn(dir, name) for every NAME.ini in dir; returns how many. */
static int for_each_ini(const char *dir, int (*fn)(const char *dir, const char *name))
{
	DIR *d = opendir(test_path(dir));
	struct dirent *e;
	int n = 0, failed = 0;
	size_t len;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0)
			continue;
		failed |= fn(dir, e->d_name) < 0;
		n++;
	}
	closedir(d);
	return failed ? -1 : n;
}

static int check_valid(const char *dir, const char *name)
{
	char path[512], *text, *want;
	struct buf got;
	struct ini *ini = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text = test_read_file(test_path(path), &len);
	snprintf(path + strlen(path) - 4, 10, ".expected");
	want = test_read_file(test_path(path), NULL);
	buf_init(&got, 1 << 20);
	r = text && want ? ini_parse(text, len, &ini) : -ENOENT;
	if (r == 0 && dump(ini, &got) < 0)
		r = -ENOMEM;
	if (r == 0 && strcmp(got.data ? got.data : "", want) != 0)
		r = -EBADMSG;
	if (r < 0)
		printf("# %s: %s\n# got:\n%s# want:\n%s", name, strerror(-r),
		       got.data ? got.data : "", want ? want : "(missing)\n");
	ini_free(ini);
	buf_done(&got);
	free(text);
	free(want);
	return r;
}

static int check_invalid(const char *dir, const char *name)
{
	struct ini *ini = NULL;
	char path[512], *text;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text = test_read_file(test_path(path), &len);
	r = text ? ini_parse(text, len, &ini) : -ENOENT;
	free(text);
	if (r == -EBADMSG && !ini)
		return 0;
	printf("# %s: got %d, want -EBADMSG\n", name, r);
	ini_free(ini);
	return -1;
}

static void test_valid_files(void)
{
	CHECK(for_each_ini("creds/ini/valid", check_valid) >= 20);
}

static void test_invalid_files(void)
{
	CHECK(for_each_ini("creds/ini/invalid", check_invalid) >= 8);
}

static void test_crlf(void)
{
	static const char text[] = "[default]\r\naws_access_key_id = AKID\r\n"
				   "s3 =\r\n  a = b\r\n\r\n[profile x] ; c\r\nk=v\r\n";
	struct ini *ini;

	CHECK_INT(ini_parse(text, sizeof(text) - 1, &ini), 0);
	CHECK_INT(ini_section_count(ini), 2);
	CHECK_STR(ini_section_name(ini, 0), "default");
	CHECK_STR(ini_section_get(ini, 0, "aws_access_key_id"), "AKID");
	CHECK_STR(ini_section_get(ini, 0, "s3"), "\na = b");
	CHECK_STR(ini_section_name(ini, 1), "profile x");
	CHECK_STR(ini_section_get(ini, 1, "k"), "v");
	ini_free(ini);
}

static void test_lookup(void)
{
	static const char text[] = "[a]\nKey = 1\nkey = 2\nother = 3\n[a]\nkey = 4\n[b]\n";
	struct ini *ini;

	CHECK_INT(ini_parse(text, sizeof(text) - 1, &ini), 0);
	CHECK_INT(ini_section_count(ini), 3);
	CHECK_STR(ini_section_get(ini, 0, "KEY"), "2"); /* last wins, any case */
	CHECK_STR(ini_section_get(ini, 0, "other"), "3");
	CHECK(ini_section_get(ini, 0, "missing") == NULL);
	CHECK_STR(ini_section_get(ini, 1, "key"), "4"); /* repeated sections stay apart */
	CHECK(ini_section_get(ini, 1, "other") == NULL);
	CHECK_INT(ini_section_key_count(ini, 2), 0);
	ini_free(ini);
}

static void test_nul_byte(void)
{
	static const char text[] = "[a]\nk = v\0w\n";
	struct ini *ini = NULL;

	CHECK_INT(ini_parse(text, sizeof(text) - 1, &ini), -EBADMSG);
	CHECK(ini == NULL);
}

static void test_line_length_cap(void)
{
	size_t n = INI_MAX_LINE_BYTES + 16;
	char *text = malloc(n + 1);
	struct ini *ini = NULL;
	int r;

	CHECK(text != NULL);
	/* "[a]\n" then "k = xxx...": the second line is exactly at the cap,
	 * then one byte over it. */
	memcpy(text, "[a]\nk = ", 8);
	memset(text + 8, 'x', n - 8);
	r = ini_parse(text, 4 + INI_MAX_LINE_BYTES, &ini);
	ini = ini_free(ini);
	if (r == 0)
		r = ini_parse(text, 4 + INI_MAX_LINE_BYTES + 1, &ini);
	free(text);
	CHECK_INT(r, -EMSGSIZE);
	CHECK(ini == NULL);
}

static void test_empty_input(void)
{
	struct ini *ini;

	CHECK_INT(ini_parse(NULL, 0, &ini), 0);
	CHECK_INT(ini_section_count(ini), 0);
	ini_free(ini);
	CHECK(ini_free(NULL) == NULL);
}

/* The arena is sized from the input: the worst cases for it must fit
 * (checked by the sanitizer build). */
static void test_arena_worst_case(void)
{
	static const char *const texts[] = {
		"[a]\nk=\n x\n y\n z",
		"[a]\nk=v\n\t#\n\tw",
		"[b]",
		"[a]\n=",
	};
	struct ini *ini;
	size_t i;

	for (i = 0; i < 3; i++) {
		CHECK_INT(ini_parse(texts[i], strlen(texts[i]), &ini), 0);
		ini = ini_free(ini);
	}
	CHECK_INT(ini_parse(texts[3], strlen(texts[3]), &ini), -EBADMSG);
	CHECK_INT(ini_parse(texts[0], strlen(texts[0]), &ini), 0);
	CHECK_STR(ini_section_get(ini, 0, "k"), "\nx\ny\nz");
	ini_free(ini);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_valid_files), TEST_CASE(test_invalid_files),
			 TEST_CASE(test_crlf), TEST_CASE(test_lookup), TEST_CASE(test_nul_byte),
			 TEST_CASE(test_line_length_cap), TEST_CASE(test_empty_input),
			 TEST_CASE(test_arena_worst_case));
}
