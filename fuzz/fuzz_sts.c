/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_sts: the reader of STS AssumeRoleWithWebIdentity answers (XML).
 *
 * The parser (creds_webid_parse() and its tag extractor in
 * src/creds_webid.c) is static, so this target goes through the closest
 * exported entry point, creds_webid_assume() (creds_providers.h), with a
 * fake transport that answers the input and a token file written once at
 * start-up. Nothing leaves the process.
 *
 * Input: one byte choosing the HTTP status (see fuzz_sts_statuses), then
 * the body. Checked: only the documented returns; credentials, when
 * returned, with non-empty keys and the provider's name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "creds.h"
#include "creds_providers.h"
#include "fuzz.h"
#include "http.h"

static const long fuzz_sts_statuses[] = { 200, 400, 403, 500, 503, 200, 200, 200 };

struct fuzz_sts_transport {
	struct http_transport base;
	long status;
	const uint8_t *body;
	size_t len;
};

static char fuzz_sts_token_path[64];

/* Answers the input, honouring the request's cap as the curl transport. */
static int fuzz_sts_perform(struct http_transport *t, const struct http_request *req,
			    struct http_response *resp)
{
	struct fuzz_sts_transport *f = (struct fuzz_sts_transport *)t;

	if (req->max_response_bytes && f->len > req->max_response_bytes)
		return -EMSGSIZE;
	resp->status = f->status;
	return f->len ? buf_append(&resp->body, f->body, f->len) : 0;
}

static void fuzz_sts_cleanup(void)
{
	unlink(fuzz_sts_token_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char token[] = "eyJhbGciOiJSUzI1NiJ9.fuzz.token\n";
	const char *dir = getenv("TMPDIR");
	int fd;

	fuzz_init();
	snprintf(fuzz_sts_token_path, sizeof(fuzz_sts_token_path), "%s/fuzz-sts-XXXXXX",
		 dir && strlen(dir) < 40 ? dir : "/tmp");
	fd = mkstemp(fuzz_sts_token_path);
	if (fd < 0 || write(fd, token, sizeof(token) - 1) != (ssize_t)(sizeof(token) - 1)) {
		perror("fuzz_sts: token file");
		abort();
	}
	close(fd);
	atexit(fuzz_sts_cleanup);
	return 0;
}

static int fuzz_sts_allowed(int r)
{
	return r == 0 || r == -EACCES || r == -EAGAIN || r == -EINVAL || r == -EPROTO ||
	       r == -EBADMSG || r == -ENOMEM || r == -EMSGSIZE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sts_transport t = { .base = { .perform = fuzz_sts_perform } };
	struct creds_context ctx = { .http = &t.base, .sts_endpoint = "https://sts.fuzz.test" };
	struct creds *c = NULL;
	int r;

	if (size < 1)
		return 0;
	t.status = fuzz_sts_statuses[data[0] & 7];
	t.body = data + 1;
	t.len = size - 1;
	r = creds_webid_assume(&ctx, fuzz_sts_token_path, "arn:aws:iam::123456789012:role/fuzz",
			       "fuzz", "web-identity", &c);
	FUZZ_CHECK(fuzz_sts_allowed(r));
	FUZZ_CHECK((r == 0) == (c != NULL));
	if (c) {
		FUZZ_CHECK(c->access_key_id[0] && c->secret_access_key[0]);
		FUZZ_CHECK(strcmp(c->provider, "web-identity") == 0);
	}
	creds_unref(c);
	return 0;
}
