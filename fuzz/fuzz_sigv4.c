/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_sigv4: sigv4_sign() and sigv4_canonical_request() (sigv4.h) over
 * requests built from the input. Signing must never crash or read out of
 * bounds, whatever the method, path, query, headers and payload.
 *
 * Input: a parameter line, then an HTTP request in the form of the official
 * test suite's request.txt files (test/sigv4/v4/<case>/request.txt):
 *   line 0   byte 0: flag bits (& 0x1f): 1 normalize_path, 2
 *            double_encode_path, 4 sign_body, 8 omit_session_token, 16
 *            with a session token; then the signing time as decimal unix
 *            seconds (empty: 2015-08-30T12:36:00Z, the suite's)
 *   line 1   "METHOD PATH[?QUERY] HTTP/1.1" (the " HTTP/..." part optional)
 *   then     "Name:value" header lines; a line starting with a blank
 *            continues the previous value (joined with a newline); a line
 *            without ':' is a name with an empty value
 *   then     an empty line, and the payload.
 * The credentials are the suite's (AKIDEXAMPLE), region us-east-1.
 *
 * Checked: only the documented returns; *ret untouched on failure and
 * out unchanged when the canonical request fails; both agree; on success a
 * well-formed signature and date, no CR or LF in any header the signer
 * returns, and the same signature when signing again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "sigv4.h"

#define FUZZ_SIGV4_MAX_HEADERS (SIGV4_MAX_HEADERS + 8)
#define FUZZ_SIGV4_DEFAULT_NOW 1440938160 /* 2015-08-30T12:36:00Z */

/* The pieces cut from the input; every string owned. */
struct fuzz_sigv4_req {
	char *params, *line;
	char *names[FUZZ_SIGV4_MAX_HEADERS], *values[FUZZ_SIGV4_MAX_HEADERS];
	struct http_header headers[FUZZ_SIGV4_MAX_HEADERS];
	size_t n;
	uint8_t *payload;
	size_t payload_len;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

/* Appends "\n" and line to the last header's value. */
static int fuzz_sigv4_continue(struct fuzz_sigv4_req *q, const char *line)
{
	char **v = &q->values[q->n - 1];
	size_t a = strlen(*v), b = strlen(line);
	char *p = realloc(*v, a + b + 2);

	if (!p)
		return -ENOMEM;
	p[a] = '\n';
	memcpy(p + a + 1, line, b + 1);
	*v = p;
	return 0;
}

/* One header line: "Name:value", a continuation, or a bare name. */
static int fuzz_sigv4_header(struct fuzz_sigv4_req *q, char *line)
{
	char *colon = strchr(line, ':');

	if ((line[0] == ' ' || line[0] == '\t') && q->n) {
		int r = fuzz_sigv4_continue(q, line);

		free(line);
		return r;
	}
	if (q->n == FUZZ_SIGV4_MAX_HEADERS) {
		free(line);
		return 0;
	}
	q->names[q->n] = line;
	q->values[q->n] = strdup(colon ? colon + 1 : "");
	if (colon)
		*colon = '\0';
	return q->values[q->n++] ? 0 : -ENOMEM;
}

static int fuzz_sigv4_split(const uint8_t *data, size_t size, struct fuzz_sigv4_req *q)
{
	struct fuzz_input in = { data, size };
	char *line;
	size_t i;
	int r = 0;

	q->params = fuzz_take_until(&in, '\n', NULL);
	q->line = fuzz_take_until(&in, '\n', NULL);
	if (!q->params || !q->line)
		return -ENOMEM;
	while (in.n && r == 0) {
		line = fuzz_take_until(&in, '\n', NULL);
		if (!line)
			return -ENOMEM;
		if (!line[0]) {
			free(line);
			break;
		}
		r = fuzz_sigv4_header(q, line);
	}
	for (i = 0; i < q->n; i++)
		q->headers[i] = (struct http_header){ q->names[i], q->values[i] };
	q->payload = fuzz_take_rest(&in, &q->payload_len);
	return r;
}

static void fuzz_sigv4_free(struct fuzz_sigv4_req *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->names[i]);
		free(q->values[i]);
	}
	free(q->params);
	free(q->line);
	free(q->payload);
}

/* Cuts the request line, in place, into method, path and query. */
static void fuzz_sigv4_request(char *line, struct sigv4_request *req)
{
	char *sp = strchr(line, ' '), *version, *mark;

	req->method = line;
	req->path = "";
	req->query = NULL;
	if (!sp)
		return;
	*sp = '\0';
	req->path = sp + 1;
	version = strstr(sp + 1, " HTTP/");
	if (version)
		*version = '\0';
	mark = strchr(sp + 1, '?');
	if (mark) {
		*mark = '\0';
		req->query = mark + 1;
	}
}

static void fuzz_sigv4_params(const char *line, struct sigv4_params *p)
{
	unsigned bits = (unsigned char)line[0] & 0x1f;

	*p = (struct sigv4_params){
		.region = "us-east-1",
		.service = "service",
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		.session_token = bits & 16 ? "6e86291e8372ff2a2260956d9b8aae1d" : NULL,
		.now_unix =
		    line[0] && line[1] ? strtoll(line + 1, NULL, 10) : FUZZ_SIGV4_DEFAULT_NOW,
		.normalize_path = bits & 1,
		.double_encode_path = bits & 2,
		.sign_body = bits & 4,
		.omit_session_token = bits & 8,
	};
}

static int fuzz_sigv4_is_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* What a successful signature promises. */
static void fuzz_sigv4_check(const struct sigv4_request *req, const struct sigv4_params *p,
			     const struct sigv4_result *res)
{
	struct http_header out[SIGV4_RESULT_MAX_HEADERS];
	struct sigv4_result again;
	size_t i, n;

	FUZZ_CHECK(fuzz_sigv4_is_hex(res->signature, 64));
	FUZZ_CHECK(fuzz_sigv4_is_hex(res->content_sha256, 64));
	FUZZ_CHECK(strlen(res->amz_date) == 16 && res->amz_date[8] == 'T');
	FUZZ_CHECK(strncmp(res->authorization, SIGV4_ALGORITHM " Credential=AKIDEXAMPLE/",
			   strlen(SIGV4_ALGORITHM " Credential=AKIDEXAMPLE/")) == 0);
	n = sigv4_result_headers(res, out);
	FUZZ_CHECK(n >= 2 && n <= SIGV4_RESULT_MAX_HEADERS);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(out[i].value && !strpbrk(out[i].value, "\r\n"));
	FUZZ_CHECK(sigv4_sign(req, p, &again) == 0);
	FUZZ_CHECK(strcmp(again.signature, res->signature) == 0);
	FUZZ_CHECK(strcmp(again.authorization, res->authorization) == 0);
	sigv4_result_done(&again);
}

static int fuzz_sigv4_allowed(int r)
{
	return r == 0 || r == -EINVAL || r == -E2BIG || r == -EMSGSIZE || r == -ENOMEM || r == -EIO;
}

/* The canonical request alone, into a buffer that already holds a byte. */
static int fuzz_sigv4_canonical(const struct sigv4_request *req, const struct sigv4_params *p)
{
	struct buf b;
	int r;

	buf_init(&b, SIGV4_MAX_CANONICAL_BYTES + 1);
	if (buf_putc(&b, 'x') < 0)
		return -ENOMEM;
	r = sigv4_canonical_request(req, p, &b);
	FUZZ_CHECK(fuzz_sigv4_allowed(r));
	FUZZ_CHECK(r == 0 || (b.len == 1 && b.data[0] == 'x' && b.data[1] == '\0'));
	FUZZ_CHECK(r < 0 || (b.len > 1 && strlen(b.data) == b.len));
	buf_done(&b);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sigv4_req q = { .n = 0 };
	struct sigv4_result res, untouched;
	struct sigv4_request req;
	struct sigv4_params p;
	int r, rc;

	if (fuzz_sigv4_split(data, size, &q) < 0)
		goto out;
	fuzz_sigv4_params(q.params, &p);
	fuzz_sigv4_request(q.line, &req);
	req.headers = q.headers;
	req.n_headers = q.n;
	req.payload = q.payload;
	req.payload_len = q.payload_len;
	memset(&res, 0x5a, sizeof(res));
	memcpy(&untouched, &res, sizeof(res));
	r = sigv4_sign(&req, &p, &res);
	FUZZ_CHECK(fuzz_sigv4_allowed(r));
	rc = fuzz_sigv4_canonical(&req, &p);
	FUZZ_CHECK(r != 0 || rc == 0);
	if (r < 0) {
		FUZZ_CHECK(memcmp(&res, &untouched, sizeof(res)) == 0);
		goto out;
	}
	fuzz_sigv4_check(&req, &p, &res);
	sigv4_result_done(&res);
out:
	fuzz_sigv4_free(&q);
	return 0;
}
