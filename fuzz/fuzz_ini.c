/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ini: ini_parse() (ini.h), the parser of the AWS shared config and
 * credentials files. The whole input is the file.
 *
 * Checked on top of "no crash": only the documented returns (0, -EBADMSG,
 * -EMSGSIZE, -ENOMEM), *ret untouched on failure; on success every section
 * and property readable, names and keys non-empty and trimmed, values
 * trimmed, and
 * ini_section_get() answering the last value of a key (compared
 * case-insensitively) for sections small enough to check that quickly.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "ini.h"

#define FUZZ_SENTINEL	     ((struct ini *)0x5a5a)
#define FUZZ_INI_MAX_CHECKED 64 /* keys per section for the quadratic check */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static int fuzz_ini_trimmed(const char *s)
{
	size_t n = strlen(s);

	return n && s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t';
}

/* The value of the last property called key, as ini_section_get() says. */
static const char *fuzz_ini_last(const struct ini *ini, size_t i, const char *key)
{
	const char *k, *v, *found = NULL;
	size_t j;

	for (j = 0; j < ini_section_key_count(ini, i); j++) {
		ini_section_key(ini, i, j, &k, &v);
		if (strcasecmp(k, key) == 0)
			found = v;
	}
	return found;
}

static void fuzz_ini_section(const struct ini *ini, size_t i)
{
	size_t j, n = ini_section_key_count(ini, i);
	const char *k, *v;

	FUZZ_CHECK(fuzz_ini_trimmed(ini_section_name(ini, i)));
	for (j = 0; j < n; j++) {
		ini_section_key(ini, i, j, &k, &v);
		FUZZ_CHECK(k && v && fuzz_ini_trimmed(k) && !strchr(k, '='));
		FUZZ_CHECK(!v[0] || fuzz_ini_trimmed(v));
		FUZZ_CHECK(ini_section_get(ini, i, k) != NULL);
		if (n <= FUZZ_INI_MAX_CHECKED)
			FUZZ_CHECK(strcmp(ini_section_get(ini, i, k), fuzz_ini_last(ini, i, k)) ==
				   0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ini *ini = FUZZ_SENTINEL;
	size_t i;
	int r;

	r = ini_parse((const char *)data, size, &ini);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(ini == FUZZ_SENTINEL);
		return 0;
	}
	for (i = 0; i < ini_section_count(ini); i++)
		fuzz_ini_section(ini, i);
	FUZZ_CHECK(ini_free(ini) == NULL);
	return 0;
}
