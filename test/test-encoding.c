/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-encoding: Accept-Encoding negotiation, as a table of header values
 * and whether gzip is chosen.
 */
#include <stdbool.h>
#include <stddef.h>

#include "encoding.h"
#include "test.h"

struct negotiation {
	const char *header;
	bool gzip;
};

static const struct negotiation cases[] = {
	{ NULL, false },
	{ "", false },
	{ "gzip", true },
	{ "GZIP", true },
	{ "x-gzip", true },
	{ "gzip, deflate, br", true }, /* browsers, curl --compressed */
	{ "br, deflate", false },
	{ "identity", false },
	{ "*", true },
	{ "*;q=0", false },
	{ "gzip;q=0", false },
	{ "gzip; q=0", false },
	{ "gzip;Q=0.000", false },
	{ "gzip ; q=0 , *", false }, /* the listed gzip wins over "*" */
	{ "gzip;q=0.001", true },
	{ "gzip;q=1", true },
	{ "gzip;q=1.000", true },
	{ "gzip;q=0.5, identity", false },	/* identity preferred */
	{ "gzip;q=0.5, identity;q=0.5", true }, /* a tie goes to gzip */
	{ "gzip;q=0.5, identity;q=0.4", true },
	{ "gzip;q=0.5, *;q=0.9", true },	     /* "*" does not weigh identity */
	{ "deflate, *;q=0.1, identity;q=1", false }, /* gzip through "*" only */
	{ "gzip;q=1.001", false },		     /* malformed: ignored */
	{ "gzip;q=2", false },
	{ "gzip;q=0.1234", false },
	{ "gzip;q=", false },
	{ "gzip;q", false },
	{ "gzip;q=abc, *", true }, /* the bad element is ignored, "*" counts */
	{ "gzip;level=9", true },  /* other parameters do not matter */
	{ "gzip;level=9;q=0", false },
	{ "gzip;q=0, gzip", false }, /* the first occurrence counts */
	{ " ,, gzip ,", true },
	{ "\tgzip\t", true },
	{ "gzipx", false },
	{ "xgzip", false },
	{ "gzip;q=0.8,identity;q=0", true },
	{ "identity;q=0", false }, /* gzip not listed: not acceptable */
};

static void test_negotiation(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (encoding_accepts_gzip(cases[i].header) != cases[i].gzip)
			TEST_FAIL("\"%s\": want %s", cases[i].header ? cases[i].header : "(null)",
				  cases[i].gzip ? "gzip" : "identity");
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_negotiation));
}
