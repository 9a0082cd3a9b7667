/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test.c: the harness behind test.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "test.h"

int test_failed;

int test_main(const struct test_case *cases, size_t n)
{
	size_t i, failed = 0;

	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		test_failed = 0;
		cases[i].fn();
		fflush(stdout);
		printf("%s %zu - %s\n", test_failed ? "not ok" : "ok", i + 1, cases[i].name);
		failed += test_failed != 0;
	}
	return failed ? 1 : 0;
}

char *test_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n + 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p) {
			p[n] = '\0';
			if (ret_len)
				*ret_len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

const char *test_path(const char *rel)
{
	static char path[4096];
	const char *dir = getenv("TEST_SRCDIR");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", rel);
	return path;
}
