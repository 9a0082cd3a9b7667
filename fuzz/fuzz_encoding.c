/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_encoding: encoding_accepts_gzip() (encoding.h), the parser of the
 * Accept-Encoding header that any HTTP client sends. The input is the
 * header value, cut at a NUL as the server hands it over.
 *
 * Checked: the answer does not change when the value is upper- or
 * lower-cased (names and "q" compare case-insensitively; digits and
 * punctuation do not change), and gzip is never chosen unless "gzip"
 * (or "x-gzip") or "*" appears in the value.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

/* Converts s in place with f (toupper or tolower), ASCII only. */
static void fuzz_encoding_map(char *s, int (*f)(int))
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x80)
			*s = (char)f((unsigned char)*s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = strndup((const char *)data, size);
	bool gzip;

	if (!value)
		return 0;
	FUZZ_CHECK(!encoding_accepts_gzip(NULL));
	gzip = encoding_accepts_gzip(value);
	fuzz_encoding_map(value, toupper);
	FUZZ_CHECK(encoding_accepts_gzip(value) == gzip);
	fuzz_encoding_map(value, tolower);
	FUZZ_CHECK(encoding_accepts_gzip(value) == gzip);
	FUZZ_CHECK(!gzip || strstr(value, "gzip") || strchr(value, '*'));
	free(value);
	return 0;
}
