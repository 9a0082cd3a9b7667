/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test.h: the shared harness of the C test programs.
 *
 * Each program lists its cases in a table and calls test_main(); the output
 * is TAP, so meson counts every case. A failed CHECK prints where and why,
 * marks the case failed and returns from it.
 *
 *	static void test_parse_empty(void) { CHECK_INT(parse("", 0), -EINVAL); }
 *	int main(void) { return TEST_MAIN(test_parse_empty); }
 */
#ifndef CLOUDMAP_TEST_H
#define CLOUDMAP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

extern int test_failed; /* set by the CHECK macros for the current case */

#define TEST_FAIL(...)                                   \
	do {                                             \
		printf("# %s:%d: ", __FILE__, __LINE__); \
		printf(__VA_ARGS__);                     \
		printf("\n");                            \
		test_failed = 1;                         \
	} while (0)

#define CHECK(cond)                                           \
	do {                                                  \
		if (!(cond)) {                                \
			TEST_FAIL("check failed: %s", #cond); \
			return;                               \
		}                                             \
	} while (0)

#define CHECK_INT(got, want)                                              \
	do {                                                              \
		long long g_ = (long long)(got), w_ = (long long)(want);  \
		if (g_ != w_) {                                           \
			TEST_FAIL("%s == %lld, want %lld", #got, g_, w_); \
			return;                                           \
		}                                                         \
	} while (0)

#define CHECK_STR(got, want)                                                             \
	do {                                                                             \
		const char *g_ = (got), *w_ = (want);                                    \
		if (!g_ || !w_ || strcmp(g_, w_) != 0) {                                 \
			TEST_FAIL("%s == \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", \
				  w_ ? w_ : "(null)");                                   \
			return;                                                          \
		}                                                                        \
	} while (0)

#define TEST_CASE(fn)   \
	{               \
#fn, fn \
	}
#define TEST_MAIN(...)                                       \
	test_main((const struct test_case[]){ __VA_ARGS__ }, \
		  sizeof((const struct test_case[]){ __VA_ARGS__ }) / sizeof(struct test_case))

/* Runs the cases in order, printing TAP; returns the exit code. */
int test_main(const struct test_case *cases, size_t n);

/* Reads a whole file into a new NUL-terminated string (the caller frees
 * it); NULL when it cannot. *ret_len receives its length when not NULL. */
char *test_read_file(const char *path, size_t *ret_len);

/* The path of a file below the test directory (TEST_SRCDIR, set by meson),
 * in a static buffer. */
const char *test_path(const char *rel);

#endif
