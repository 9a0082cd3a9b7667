/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_httpheader: http_response_header() (http.h), the lookup of one
 * header in the raw header lines of a response, which a peer controls.
 *
 * Input: one byte giving the size of the output buffer (0..255), the name
 * to look up up to the first newline, then the raw headers, put in the
 * response's capped buffer as the curl transport does.
 *
 * Checked: only 0, -ENOENT and -ERANGE; out untouched unless found; a
 * found value terminated inside out, trimmed (blanks before; blanks and
 * CRs after, when the headers hold no NUL byte), without a newline, and
 * the same when looked up with the name in another case.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "http.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static int fuzz_httpheader_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The same lookup with the name's letters in the other case. */
static void fuzz_httpheader_again(const struct http_response *resp, char *name, const char *want)
{
	char out[256];
	size_t i;

	for (i = 0; name[i]; i++)
		name[i] = islower((unsigned char)name[i]) ? (char)toupper((unsigned char)name[i])
							  : (char)tolower((unsigned char)name[i]);
	FUZZ_CHECK(http_response_header(resp, name, out, sizeof(out)) == 0);
	FUZZ_CHECK(strcmp(out, want) == 0);
}

static void fuzz_httpheader_found(const struct http_response *resp, char *name, const char *out,
				  size_t out_size)
{
	size_t len = strnlen(out, out_size);

	FUZZ_CHECK(len < out_size);
	FUZZ_CHECK(!strchr(out, '\n'));
	FUZZ_CHECK(len == 0 || !fuzz_httpheader_is_blank(out[0]));
	/* A NUL inside a value (no valid response has one) ends the C string
	 * early, maybe after a blank: the end is checked only without one. */
	if (!memchr(resp->headers.data, '\0', resp->headers.len))
		FUZZ_CHECK(len == 0 ||
			   (!fuzz_httpheader_is_blank(out[len - 1]) && out[len - 1] != '\r'));
	fuzz_httpheader_again(resp, name, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct http_response resp;
	size_t out_size = fuzz_take_byte(&in);
	char *name = fuzz_take_until(&in, '\n', NULL);
	char out[256];
	int r;

	http_response_init(&resp);
	if (!name || (in.n && buf_append(&resp.headers, in.p, in.n) < 0))
		goto out;
	memset(out, 0x5a, sizeof(out));
	r = http_response_header(&resp, name, out, out_size);
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -ERANGE);
	if (r == 0)
		fuzz_httpheader_found(&resp, name, out, out_size);
	else
		FUZZ_CHECK(out[0] == 0x5a && out[out_size ? out_size - 1 : 0] == 0x5a);
out:
	free(name);
	http_response_done(&resp);
	return 0;
}
