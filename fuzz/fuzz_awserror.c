/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_awserror: aws_error_parse() (awsclient.h), the reader of AWS JSON
 * error answers: the body's "__type" and "message"/"Message", or the
 * X-Amzn-ErrorType header.
 *
 * Input: the header value up to the first newline, then the body. Without
 * a newline there is no header (NULL) and the whole input is the body.
 * Checked: *ret always filled, both strings terminated inside their
 * arrays, and a code free of the '#' prefix and the ':' suffix it is cut
 * from.
 */
#include <stdlib.h>
#include <string.h>

#include "awsclient.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	char *header = NULL;
	uint8_t *body = NULL;
	struct aws_error e;
	size_t len = 0;

	if (memchr(data, '\n', size)) {
		header = fuzz_take_until(&in, '\n', NULL);
		if (!header)
			return 0;
	}
	body = fuzz_take_rest(&in, &len);
	memset(&e, 0x5a, sizeof(e));
	aws_error_parse((const char *)body, len, header, &e);
	FUZZ_CHECK(memchr(e.code, '\0', sizeof(e.code)) != NULL);
	FUZZ_CHECK(memchr(e.message, '\0', sizeof(e.message)) != NULL);
	FUZZ_CHECK(!strchr(e.code, '#') && !strchr(e.code, ':'));
	free(header);
	free(body);
	return 0;
}
