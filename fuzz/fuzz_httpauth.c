/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_httpauth: auth_allows() (auth.h), the check of the Authorization
 * header that any HTTP client sends: scheme, bearer token, base64 of
 * "user:password", user lookup, password digest.
 *
 * At start-up a token file and a basic auth file with two SHA-256 users
 * (alice:pw, bob:secret; no bcrypt, which would cost 60 ms an input) are
 * written and read once with auth_new(). The input is the header value,
 * cut at a NUL as the server hands it over.
 *
 * Checked: nobody gets in without one of the secrets: an accepted value
 * holds the token or the base64 of a user's "user:password" (up to its
 * last character, which padding may make non-canonical). The files are
 * local configuration and not fuzzed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "fuzz.h"

#define FUZZ_HTTPAUTH_TOKEN "fuzz-token-0123"

static struct auth *fuzz_httpauth;
static char fuzz_httpauth_token_path[64], fuzz_httpauth_basic_path[64];

/* Writes text to a new temporary file whose name goes to path. */
static void fuzz_httpauth_file(char *path, size_t size, const char *text)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, size, "%s/fuzz-auth-XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("fuzz_httpauth: temporary file");
		abort();
	}
	close(fd);
}

static void fuzz_httpauth_cleanup(void)
{
	fuzz_httpauth = auth_free(fuzz_httpauth);
	unlink(fuzz_httpauth_token_path);
	unlink(fuzz_httpauth_basic_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char why[AUTH_WHY_MAX];

	fuzz_init();
	fuzz_httpauth_file(fuzz_httpauth_token_path, sizeof(fuzz_httpauth_token_path),
			   FUZZ_HTTPAUTH_TOKEN "\n");
	fuzz_httpauth_file(
	    fuzz_httpauth_basic_path, sizeof(fuzz_httpauth_basic_path),
	    "# users\n"
	    "alice:sha256:30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4\n"
	    "bob:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b \n");
	atexit(fuzz_httpauth_cleanup);
	if (auth_new(fuzz_httpauth_token_path, fuzz_httpauth_basic_path, &fuzz_httpauth, why) < 0) {
		fprintf(stderr, "fuzz_httpauth: %s\n", why);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = strndup((const char *)data, size);
	bool allowed;

	if (!value)
		return 0;
	FUZZ_CHECK(auth_required(fuzz_httpauth) && !auth_allows(fuzz_httpauth, NULL));
	allowed = auth_allows(fuzz_httpauth, value);
	/* base64("alice:pw") = YWxpY2U6cHc=, base64("bob:secret") =
	 * Ym9iOnNlY3JldA==, without the last character before the padding. */
	FUZZ_CHECK(!allowed || strstr(value, FUZZ_HTTPAUTH_TOKEN) || strstr(value, "YWxpY2U6cH") ||
		   strstr(value, "Ym9iOnNlY3Jld"));
	free(value);
	return 0;
}
