/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay: a plain driver for the fuzz targets, for builds without
 * libFuzzer (gcc, sanitizer builds): runs LLVMFuzzerTestOneInput() once on
 * every file of the directories (or files) named on the command line, in
 * name order, one TAP case per file. A crash, a sanitizer report or a
 * FUZZ_CHECK abort fails the test; so does an empty corpus.
 *
 *	fuzz-replay-ini fuzz/corpus/ini
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "test.h"

static char **replay_paths;
static size_t replay_n, replay_next;

static int replay_add(const char *path)
{
	char **p = realloc(replay_paths, (replay_n + 1) * sizeof(*p));

	if (!p)
		return -1;
	replay_paths = p;
	replay_paths[replay_n] = strdup(path);
	return replay_paths[replay_n++] ? 0 : -1;
}

static int replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path, or the regular files directly inside it (hidden ones left
 * out), sorted by name. */
static int replay_collect(const char *path)
{
	size_t first = replay_n;
	struct dirent *e;
	struct stat st;
	char sub[4096];
	DIR *d;

	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return replay_add(path);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_name[0] != '.' && stat(sub, &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_add(sub) < 0)
			break;
	}
	closedir(d);
	qsort(replay_paths + first, replay_n - first, sizeof(*replay_paths), replay_cmp);
	return e ? -1 : 0;
}

/* One case: the next file, in the order of the table. */
static void replay_one(void)
{
	const char *path = replay_paths[replay_next++];
	size_t len = 0;
	char *data = test_read_file(path, &len);
	uint8_t *copy;

	/* Names the input before running it, so a crash shows which. */
	printf("# %s\n", path);
	CHECK(data != NULL);
	/* An exactly-sized copy, as libFuzzer hands them: no NUL after it. */
	copy = malloc(len ? len : 1);
	if (copy && len)
		memcpy(copy, data, len);
	free(data);
	CHECK(copy != NULL);
	CHECK_INT(LLVMFuzzerTestOneInput(copy, len), 0);
	free(copy);
}

int main(int argc, char **argv)
{
	struct test_case *cases;
	size_t i;
	int r, a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (a = 1; a < argc; a++) {
		if (replay_collect(argv[a]) < 0) {
			printf("Bail out! cannot read %s\n", argv[a]);
			return 1;
		}
	}
	if (!replay_n) {
		printf("Bail out! empty corpus\n");
		return 1;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	cases = calloc(replay_n, sizeof(*cases));
	if (!cases)
		return 1;
	for (i = 0; i < replay_n; i++)
		cases[i] = (struct test_case){ replay_paths[i], replay_one };
	r = test_main(cases, replay_n);
	for (i = 0; i < replay_n; i++)
		free(replay_paths[i]);
	free(replay_paths);
	free(cases);
	return r;
}
