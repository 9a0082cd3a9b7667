/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the SigV4 signer: unit tests of the helpers and caps, then every
 * case of the official AWS test suite in test/sigv4/v4 (one TAP line each),
 * compared byte for byte with header-canonical-request.txt,
 * header-string-to-sign.txt, header-signature.txt and
 * header-signed-request.txt. The case list is read from the directory at
 * run time; one more line checks that all 38 cases are there.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sigv4.h"
#include "test.h"

#define VECTOR_DIR	   "sigv4/v4"
#define VECTOR_COUNT	   38
#define VECTOR_MAX_HEADERS 16
#define ARRAY_SIZE(a)	   (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

/* Prints text as TAP comment lines. */
static void print_text(const char *what, const char *s, size_t n)
{
	size_t i;

	printf("# %s:\n# ", what);
	for (i = 0; i < n; i++)
		printf(s[i] == '\n' ? "$\n# " : "%c", s[i]);
	printf("<EOF>\n");
}

/* Compares two texts; prints both when they differ. */
static bool text_equal(const char *what, const char *got, size_t got_len, const char *want,
		       size_t want_len)
{
	if (got && want && got_len == want_len && memcmp(got, want, got_len) == 0)
		return true;
	printf("# %s differs\n", what);
	print_text("got", got ? got : "(null)", got ? got_len : 6);
	print_text("want", want ? want : "(null)", want ? want_len : 6);
	return false;
}

/* Drops every '\r', as the upstream harness does. */
static size_t strip_cr(char *s, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n; i++)
		if (s[i] != '\r')
			s[j++] = s[i];
	s[j] = '\0';
	return j;
}

static const struct sigv4_params test_params = {
	.region = "us-east-1",
	.service = "service",
	.access_key_id = "AKIDEXAMPLE",
	.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	.now_unix = 1440938160, /* 2015-08-30T12:36:00Z */
	.normalize_path = true,
	.double_encode_path = true,
};

static const struct http_header test_host = { "Host", "example.amazonaws.com" };

/* The canonical request of GET path?query with the given headers, into a
 * static buffer; NULL on failure (*ret_err gets the error). */
static const char *canon_of(const char *path, const char *query, const struct http_header *h,
			    size_t nh, const struct sigv4_params *p, int *ret_err)
{
	static char text[8192];
	struct sigv4_request req = { "GET", path, query, h, nh, NULL, 0 };
	struct buf b;
	int r;

	buf_init(&b, sizeof(text) - 1);
	r = sigv4_canonical_request(&req, p ? p : &test_params, &b);
	if (ret_err)
		*ret_err = r;
	if (r == 0)
		memcpy(text, b.data, b.len + 1);
	buf_done(&b);
	return r == 0 ? text : NULL;
}

/* Line n (0-based) of text, in a static buffer. */
static const char *line_of(const char *text, int n)
{
	static char line[4096];
	size_t len;

	while (text && n-- > 0) {
		text = strchr(text, '\n');
		text = text ? text + 1 : NULL;
	}
	if (!text)
		return "(no such line)";
	len = strcspn(text, "\n");
	len = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, text, len);
	line[len] = '\0';
	return line;
}

/* ---- unit tests ---- */

static const char *encode(const char *s, size_t n, bool keep_slash)
{
	static char out[256];
	struct buf b;

	buf_init(&b, sizeof(out) - 1);
	if (sigv4_uri_encode(s, n, keep_slash, &b) < 0 || !b.data)
		strcpy(out, "(failed)");
	else
		memcpy(out, b.data, b.len + 1);
	buf_done(&b);
	return out;
}

static void test_uri_encode_rules(void)
{
	static const char unreserved[] =
	    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	CHECK_STR(encode(unreserved, strlen(unreserved), false), unreserved);
	CHECK_STR(encode("a b+c%d*e=f&g", 13, false), "a%20b%2Bc%25d%2Ae%3Df%26g");
	CHECK_STR(encode("/a/b c/", 7, true), "/a/b%20c/");
	CHECK_STR(encode("/a/b", 4, false), "%2Fa%2Fb");
	CHECK_STR(encode("\xe1\x88\xb4", 3, false), "%E1%88%B4");
	CHECK_STR(encode("a\0b", 3, false), "a%00b");
	CHECK_STR(encode("", 0, false), "(failed)"); /* nothing appended: no data */
}

static void test_uri_encode_cap_leaves_buf(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_INT(buf_puts(&b, "ab"), 0);
	CHECK_INT(sigv4_uri_encode("c d e", 5, false, &b), -EMSGSIZE); /* "c%20d%20e" */
	CHECK_STR(b.data, "ab");
	CHECK_INT(b.len, 2);
	CHECK_INT(sigv4_uri_encode("c d", 3, false, &b), 0);
	CHECK_STR(b.data, "abc%20d");
	buf_done(&b);
}

static void test_header_value_trim_and_fold(void)
{
	const struct http_header h[] = {
		test_host,
		{ "My-Header", " \t a \t\t b   c \t" },
		{ "Folded", "one\r\n   two\n\tthree  " },
		{ "Empty", "   " },
	};
	const char *c = canon_of("/", NULL, h, ARRAY_SIZE(h), NULL, NULL);

	CHECK(c);
	CHECK_STR(line_of(c, 3), "empty:");
	CHECK_STR(line_of(c, 4), "folded:one two three");
	CHECK_STR(line_of(c, 6), "my-header:a b c");
	CHECK_STR(line_of(c, 9), "empty;folded;host;my-header;x-amz-date");
}

static void test_header_duplicates_merge_in_order(void)
{
	const struct http_header h[] = {
		{ "X-B", "2" }, { "x-a", " 1 " }, test_host, { "X-A", "0" }, { "X-b", "1" },
	};
	const char *c = canon_of("/", NULL, h, ARRAY_SIZE(h), NULL, NULL);

	CHECK(c);
	CHECK_STR(line_of(c, 4), "x-a:1,0");
	CHECK_STR(line_of(c, 5), "x-amz-date:20150830T123600Z");
	CHECK_STR(line_of(c, 6), "x-b:2,1");
	CHECK_STR(line_of(c, 8), "host;x-a;x-amz-date;x-b");
}

static void test_unsigned_headers_are_skipped(void)
{
	const struct http_header h[] = {
		test_host,
		{ "User-Agent", "cloudmap-sd" },
		{ "X-Amzn-Trace-Id", "Root=1" },
		{ "Expect", "100-continue" },
		{ "Connection", "keep-alive" },
	};
	const char *c = canon_of("/", NULL, h, ARRAY_SIZE(h), NULL, NULL);

	CHECK(c);
	CHECK_STR(line_of(c, 6), "host;x-amz-date");
}

static void test_query_canonical(void)
{
	const char *c =
	    canon_of("/", "b=2&a=x%20y&a=+&c&&d=%7e&%e1%88%b4=%2F&e=", &test_host, 1, NULL, NULL);

	CHECK(c);
	CHECK_STR(line_of(c, 2), "%E1%88%B4=%2F&a=%2B&a=x%20y&b=2&c=&d=~&e=");
	CHECK(canon_of("/", "&&", &test_host, 1, NULL, NULL));
	CHECK_STR(line_of(canon_of("/", "&&", &test_host, 1, NULL, NULL), 2), "");
}

static void test_query_bad_escape(void)
{
	int r;

	CHECK(!canon_of("/", "a=%zz", &test_host, 1, NULL, &r));
	CHECK_INT(r, -EINVAL);
	CHECK(!canon_of("/", "a=%4", &test_host, 1, NULL, &r));
	CHECK_INT(r, -EINVAL);
}

static void test_path_encoding_modes(void)
{
	struct sigv4_params p = test_params;

	CHECK_STR(line_of(canon_of("/a%20b/./c d//e/../", NULL, &test_host, 1, &p, NULL), 1),
		  "/a%2520b/c%20d/");
	p.normalize_path = false;
	CHECK_STR(line_of(canon_of("/a%20b/./c", NULL, &test_host, 1, &p, NULL), 1),
		  "/a%2520b/./c");
	p.double_encode_path = false; /* S3: the path as sent */
	CHECK_STR(line_of(canon_of("/a%20b/./c", NULL, &test_host, 1, &p, NULL), 1), "/a%20b/./c");
	p.normalize_path = true;
	CHECK_STR(line_of(canon_of("/a%20b/./c/..", NULL, &test_host, 1, &p, NULL), 1), "/a%20b");
}

static void test_path_normalization(void)
{
	static const char *const cases[][2] = {
		{ "/", "/" },
		{ "//", "/" },
		{ "/..", "/" },
		{ "/../../a", "/a" },
		{ "/a/./b/../c/", "/a/c/" },
		{ "/a/b/..", "/a" },
		{ "/a/b/../", "/a/" },
		{ "/.../a", "/.../a" },
		{ "/a/..b", "/a/..b" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_STR(line_of(canon_of(cases[i][0], NULL, &test_host, 1, NULL, NULL), 1),
			  cases[i][1]);
}

static void test_date_formatting(void)
{
	struct sigv4_params p = test_params;

	p.now_unix = 0;
	CHECK_STR(line_of(canon_of("/", NULL, &test_host, 1, &p, NULL), 4),
		  "x-amz-date:19700101T000000Z");
	p.now_unix = 1456704000; /* a leap day */
	CHECK_STR(line_of(canon_of("/", NULL, &test_host, 1, &p, NULL), 4),
		  "x-amz-date:20160229T000000Z");
	p.now_unix = 253402300799;
	CHECK_STR(line_of(canon_of("/", NULL, &test_host, 1, &p, NULL), 4),
		  "x-amz-date:99991231T235959Z");
}

static void test_rejects_bad_input(void)
{
	const struct http_header no_host = { "X-A", "1" };
	const struct http_header reserved[] = { test_host, { "authorization", "x" } };
	const struct http_header bad_name[] = { test_host, { "My Header", "x" } };
	struct sigv4_params p = test_params;
	int r;

	CHECK(!canon_of("/", NULL, &no_host, 1, NULL, &r) && r == -EINVAL);
	CHECK(!canon_of("/", NULL, reserved, 2, NULL, &r) && r == -EINVAL);
	CHECK(!canon_of("/", NULL, bad_name, 2, NULL, &r) && r == -EINVAL);
	CHECK(!canon_of("a/b", NULL, &test_host, 1, NULL, &r) && r == -EINVAL);
	CHECK(!canon_of("", NULL, &test_host, 1, NULL, &r) && r == -EINVAL);
	p.now_unix = -1;
	CHECK(!canon_of("/", NULL, &test_host, 1, &p, &r) && r == -EINVAL);
	p = test_params;
	p.region = "";
	CHECK(!canon_of("/", NULL, &test_host, 1, &p, &r) && r == -EINVAL);
	p = test_params;
	p.service = "a/b";
	CHECK(!canon_of("/", NULL, &test_host, 1, &p, &r) && r == -EINVAL);
	p = test_params;
	p.session_token = "tok\r\nX-Evil: 1";
	CHECK(!canon_of("/", NULL, &test_host, 1, &p, &r) && r == -EINVAL);
}

/* Signs with header 1 cut to keep bytes (0: whole) into a roomy buffer. */
static int canon_big(struct http_header *h, size_t nh, size_t keep)
{
	struct sigv4_request req = { "GET", "/", NULL, h, nh, NULL, 0 };
	char saved = h[1].value[keep];
	struct buf b;
	int r;

	if (keep)
		((char *)h[1].value)[keep] = '\0';
	buf_init(&b, 4 * SIGV4_MAX_CANONICAL_BYTES);
	r = sigv4_canonical_request(&req, &test_params, &b);
	buf_done(&b);
	if (keep)
		((char *)h[1].value)[keep] = saved;
	return r;
}

static void test_caps(void)
{
	struct http_header h[SIGV4_MAX_HEADERS + 1];
	char *big = malloc(SIGV4_MAX_CANONICAL_BYTES + 1);
	char query[4 * (SIGV4_MAX_QUERY_PARAMS + 1) + 1] = "";
	size_t i;
	int r;

	CHECK(big);
	for (i = 0; i < ARRAY_SIZE(h); i++)
		h[i] = test_host;
	CHECK(canon_of("/", NULL, h, SIGV4_MAX_HEADERS, NULL, &r) && r == 0);
	CHECK(!canon_of("/", NULL, h, SIGV4_MAX_HEADERS + 1, NULL, &r) && r == -E2BIG);
	for (i = 0; i < SIGV4_MAX_QUERY_PARAMS + 1; i++)
		strcat(query, "a=1&");
	CHECK(!canon_of("/", query, &test_host, 1, NULL, &r) && r == -E2BIG);
	query[4 * SIGV4_MAX_QUERY_PARAMS] = '\0';
	CHECK(canon_of("/", query, &test_host, 1, NULL, &r) && r == 0);
	memset(big, 'x', SIGV4_MAX_CANONICAL_BYTES);
	big[SIGV4_MAX_CANONICAL_BYTES] = '\0';
	h[1] = (struct http_header){ "X-Big", big };
	r = canon_big(h, 2, 1000);
	if (r == 0)
		r = canon_big(h, 2, 0);
	free(big);
	CHECK_INT(r, -EMSGSIZE); /* the signer's own cap, not out's */
}

static void test_output_cap_leaves_buf(void)
{
	struct sigv4_request req = { "GET", "/", NULL, &test_host, 1, NULL, 0 };
	struct buf b;

	buf_init(&b, 64);
	CHECK_INT(buf_puts(&b, "keep"), 0);
	CHECK_INT(sigv4_canonical_request(&req, &test_params, &b), -EMSGSIZE);
	CHECK_STR(b.data, "keep");
	CHECK_INT(sigv4_string_to_sign(&test_params, "x", 1, &b), -EMSGSIZE);
	CHECK_STR(b.data, "keep");
	buf_done(&b);
}

static void test_sign_failure_leaves_result(void)
{
	struct sigv4_request req = { "GET", "/", NULL, &test_host, 1, NULL, 0 };
	struct sigv4_params p = test_params;
	struct sigv4_result res, before;

	memset(&res, 0x5a, sizeof(res));
	memcpy(&before, &res, sizeof(res));
	p.secret_access_key = "";
	CHECK_INT(sigv4_sign(&req, &p, &res), -EINVAL);
	req.path = NULL;
	CHECK_INT(sigv4_sign(&req, &test_params, &res), -EINVAL);
	req.path = "/";
	req.query = "a=%";
	CHECK_INT(sigv4_sign(&req, &test_params, &res), -EINVAL);
	req.query = NULL;
	req.payload_len = 5; /* and no payload */
	CHECK_INT(sigv4_sign(&req, &test_params, &res), -EINVAL);
	CHECK(memcmp(&res, &before, sizeof(res)) == 0);
}

/* A JSON API call as the AWS client makes it, with a body and a token but
 * no x-amz-content-sha256. Expected values computed independently from the
 * AWS documentation (Python hashlib/hmac). */
static void test_sign_json_post(void)
{
	static const char body[] = "{\"NamespaceName\":\"ns\",\"ServiceName\":\"svc\"}";
	const struct http_header h[] = {
		{ "Host", "servicediscovery.us-east-1.amazonaws.com" },
		{ "Content-Type", "application/x-amz-json-1.1" },
		{ "X-Amz-Target", "Route53AutoNaming_v20170314.DiscoverInstances" },
	};
	struct sigv4_request req = { "POST", "/", NULL, h, 3, body, strlen(body) };
	struct sigv4_params p = test_params;
	struct http_header added[SIGV4_RESULT_MAX_HEADERS];
	struct sigv4_result res;

	p.service = "servicediscovery";
	p.session_token = "TOKEN/+=";
	CHECK_INT(sigv4_sign(&req, &p, &res), 0);
	CHECK_STR(res.signature,
		  "763203fecc06d006700730d8bf2f67da6fba8e3f4c2d9e5dc911ed9771c44790");
	CHECK_STR(res.content_sha256,
		  "57c2e56c875425a996786b410ac6061411305d241eee9c22c283498459a25929");
	CHECK_INT(sigv4_result_headers(&res, added), 3);
	CHECK_STR(added[0].name, "X-Amz-Security-Token");
	CHECK_STR(added[0].value, "TOKEN/+=");
	CHECK_STR(added[1].value, "20150830T123600Z");
	CHECK_STR(added[2].name, "Authorization");
	CHECK_STR(added[2].value,
		  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
		  "servicediscovery/aws4_request, SignedHeaders=content-type;host;"
		  "x-amz-date;x-amz-security-token;x-amz-target, Signature="
		  "763203fecc06d006700730d8bf2f67da6fba8e3f4c2d9e5dc911ed9771c44790");
	sigv4_result_done(&res);
	CHECK(!res.authorization && !res.security_token);
	sigv4_result_done(&res);
}

static void test_result_headers_order(void)
{
	struct sigv4_request req = { "POST", "/", NULL, &test_host, 1, "x", 1 };
	struct sigv4_params p = test_params;
	struct http_header added[SIGV4_RESULT_MAX_HEADERS];
	struct sigv4_result res;

	p.session_token = "tok";
	p.sign_body = true;
	p.omit_session_token = true;
	CHECK_INT(sigv4_sign(&req, &p, &res), 0);
	CHECK_INT(sigv4_result_headers(&res, added), 4);
	CHECK_STR(added[0].name, "X-Amz-Security-Token");
	CHECK_STR(added[1].name, "X-Amz-Date");
	CHECK_STR(added[2].name, "x-amz-content-sha256");
	CHECK_STR(added[2].value, res.content_sha256);
	CHECK_STR(added[3].name, "Authorization");
	CHECK(strstr(res.authorization, "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
	sigv4_result_done(&res);
}

static const struct test_case unit_cases[] = {
	TEST_CASE(test_uri_encode_rules),
	TEST_CASE(test_uri_encode_cap_leaves_buf),
	TEST_CASE(test_header_value_trim_and_fold),
	TEST_CASE(test_header_duplicates_merge_in_order),
	TEST_CASE(test_unsigned_headers_are_skipped),
	TEST_CASE(test_query_canonical),
	TEST_CASE(test_query_bad_escape),
	TEST_CASE(test_path_encoding_modes),
	TEST_CASE(test_path_normalization),
	TEST_CASE(test_date_formatting),
	TEST_CASE(test_rejects_bad_input),
	TEST_CASE(test_caps),
	TEST_CASE(test_output_cap_leaves_buf),
	TEST_CASE(test_sign_failure_leaves_result),
	TEST_CASE(test_sign_json_post),
	TEST_CASE(test_result_headers_order),
};

/* ---- the official test suite ---- */

/* One case, parsed. The strings are owned. */
struct vector {
	char *request_text; /* request.txt, cut up in place */
	const char *method, *target, *version;
	char *path, *query;
	struct http_header headers[VECTOR_MAX_HEADERS];
	char *values[VECTOR_MAX_HEADERS]; /* owned values, continuation lines joined */
	size_t n_headers;
	const char *body;
	size_t body_len;
	json_t *context;
	struct sigv4_params params;
	struct buf canon, sts, signed_request;
	struct sigv4_result result;
	bool signed_ok;
};

static void vector_done(struct vector *v)
{
	size_t i;

	for (i = 0; i < v->n_headers; i++)
		free(v->values[i]);
	free(v->request_text);
	free(v->path);
	json_decref(v->context);
	buf_done(&v->canon);
	buf_done(&v->sts);
	buf_done(&v->signed_request);
	if (v->signed_ok)
		sigv4_result_done(&v->result);
}

static char *vector_read(const char *name, const char *file, size_t *ret_len)
{
	char rel[512];
	size_t len;
	char *s;

	snprintf(rel, sizeof(rel), "%s/%s/%s", VECTOR_DIR, name, file);
	s = test_read_file(test_path(rel), &len);
	if (s)
		len = strip_cr(s, len);
	if (s && ret_len)
		*ret_len = len;
	return s;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* "2015-08-30T12:36:00Z" to unix time; -1 when malformed. */
static int64_t parse_timestamp(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    s[n] != '\0')
		return -1;
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

static bool json_flag(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* Reads context.json into v->params (strings borrowed from v->context). */
static int vector_load_context(struct vector *v, const char *name)
{
	char *text = vector_read(name, "context.json", NULL);
	json_t *cred;

	if (!text)
		return -ENOENT;
	v->context = json_loads(text, 0, NULL);
	free(text);
	cred = json_object_get(v->context, "credentials");
	if (!json_is_object(cred))
		return -EBADMSG;
	v->params.access_key_id = json_string_value(json_object_get(cred, "access_key_id"));
	v->params.secret_access_key = json_string_value(json_object_get(cred, "secret_access_key"));
	v->params.session_token = json_string_value(json_object_get(cred, "token"));
	v->params.region = json_string_value(json_object_get(v->context, "region"));
	v->params.service = json_string_value(json_object_get(v->context, "service"));
	v->params.now_unix =
	    parse_timestamp(json_string_value(json_object_get(v->context, "timestamp")));
	v->params.normalize_path = json_flag(v->context, "normalize");
	v->params.double_encode_path = true; /* as the upstream harness */
	v->params.sign_body = json_flag(v->context, "sign_body");
	v->params.omit_session_token = json_flag(v->context, "omit_session_token");
	return v->params.now_unix < 0 ? -EBADMSG : 0;
}

/* "METHOD target HTTP/1.1": the target may hold spaces. */
static int vector_parse_request_line(struct vector *v, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' '), *q;
	size_t n;

	if (!sp1 || sp2 == sp1)
		return -EBADMSG;
	*sp1 = *sp2 = '\0';
	v->method = line;
	v->target = sp1 + 1;
	v->version = sp2 + 1;
	n = strcspn(v->target, "?");
	v->path = strndup(v->target, n);
	if (!v->path)
		return -ENOMEM;
	q = strchr(v->target, '?');
	v->query = q ? q + 1 : NULL;
	return 0;
}

/* One header line: "Name:value" (value kept raw), or a continuation line
 * (starting with white space) appended to the previous value after a '\n'. */
static int vector_parse_header(struct vector *v, char *line)
{
	char *colon, *joined;
	size_t i = v->n_headers, len;

	if (*line == ' ' || *line == '\t') {
		if (i == 0)
			return -EBADMSG;
		len = strlen(v->values[i - 1]) + 1 + strlen(line) + 1;
		joined = malloc(len);
		if (!joined)
			return -ENOMEM;
		snprintf(joined, len, "%s\n%s", v->values[i - 1], line);
		free(v->values[i - 1]);
		v->values[i - 1] = joined;
		v->headers[i - 1].value = joined;
		return 0;
	}
	colon = strchr(line, ':');
	if (!colon || i == VECTOR_MAX_HEADERS)
		return -EBADMSG;
	*colon = '\0';
	v->values[i] = strdup(colon + 1);
	if (!v->values[i])
		return -ENOMEM;
	v->headers[i] = (struct http_header){ line, v->values[i] };
	v->n_headers++;
	return 0;
}

/* Parses request.txt: request line, headers, blank line, body. */
static int vector_load_request(struct vector *v, const char *name)
{
	size_t len;
	char *s, *end, *nl;
	int r;

	v->request_text = vector_read(name, "request.txt", &len);
	if (!v->request_text)
		return -ENOENT;
	s = v->request_text;
	end = s + len;
	v->body = end;
	for (r = 0; r == 0 && s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		nl = nl ? nl : end;
		*nl = '\0';
		if (s == v->request_text)
			r = vector_parse_request_line(v, s);
		else if (*s == '\0') {
			v->body = nl + 1 < end ? nl + 1 : end;
			break;
		} else
			r = vector_parse_header(v, s);
	}
	v->body_len = (size_t)(end - v->body);
	return r;
}

/* Rebuilds header-signed-request.txt: the request with the added headers
 * after its own, then a blank line and the body. */
static int vector_signed_request(struct vector *v)
{
	struct http_header added[SIGV4_RESULT_MAX_HEADERS];
	struct buf *b = &v->signed_request;
	size_t i, n;
	int r;

	n = sigv4_result_headers(&v->result, added);
	r = buf_printf(b, "%s %s %s\n", v->method, v->target, v->version);
	for (i = 0; r == 0 && i < v->n_headers; i++)
		r = buf_printf(b, "%s:%s\n", v->headers[i].name, v->headers[i].value);
	for (i = 0; r == 0 && i < n; i++)
		r = buf_printf(b, "%s:%s\n", added[i].name, added[i].value);
	if (r == 0)
		r = buf_putc(b, '\n');
	if (r == 0)
		r = buf_append(b, v->body, v->body_len);
	return r;
}

/* Compares one output with the expected file. */
static bool vector_expect(const char *name, const char *file, const char *got, size_t got_len)
{
	size_t want_len = 0;
	char *want = vector_read(name, file, &want_len);
	bool ok = text_equal(file, got, got_len, want, want_len);

	free(want);
	return ok;
}

static void vector_check(struct vector *v, const char *name)
{
	struct sigv4_request req = { v->method,	   v->path, v->query,	v->headers,
				     v->n_headers, v->body, v->body_len };

	CHECK_INT(vector_load_context(v, name), 0);
	CHECK_INT(sigv4_canonical_request(&req, &v->params, &v->canon), 0);
	CHECK(vector_expect(name, "header-canonical-request.txt", v->canon.data, v->canon.len));
	CHECK_INT(sigv4_string_to_sign(&v->params, v->canon.data, v->canon.len, &v->sts), 0);
	CHECK(vector_expect(name, "header-string-to-sign.txt", v->sts.data, v->sts.len));
	CHECK_INT(sigv4_sign(&req, &v->params, &v->result), 0);
	v->signed_ok = true;
	CHECK(vector_expect(name, "header-signature.txt", v->result.signature,
			    strlen(v->result.signature)));
	CHECK_INT(vector_signed_request(v), 0);
	CHECK(vector_expect(name, "header-signed-request.txt", v->signed_request.data,
			    v->signed_request.len));
}

static void vector_run(const char *name)
{
	struct vector v = { 0 };

	buf_init(&v.canon, 1u << 20);
	buf_init(&v.sts, 1u << 20);
	buf_init(&v.signed_request, 1u << 20);
	if (vector_load_request(&v, name) < 0)
		TEST_FAIL("cannot parse %s/request.txt", name);
	else
		vector_check(&v, name);
	vector_done(&v);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the case directories, sorted. Returns their number, or -1. */
static int vector_list(char ***ret)
{
	DIR *d = opendir(test_path(VECTOR_DIR));
	char **names = NULL, **grown;
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		grown = realloc(names, (size_t)(n + 1) * sizeof(*names));
		if (!grown || !(grown[n] = strdup(e->d_name)))
			abort();
		names = grown;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, (size_t)n, sizeof(*names), name_cmp);
	*ret = names;
	return n;
}

/* ---- runner ---- */

static size_t test_number;
static size_t test_failures;

static void report(const char *name)
{
	fflush(stdout);
	printf("%s %zu - %s\n", test_failed ? "not ok" : "ok", ++test_number, name);
	test_failures += test_failed != 0;
}

int main(void)
{
	char **names = NULL;
	int n = vector_list(&names), i;
	size_t u;

	printf("1..%zu\n", ARRAY_SIZE(unit_cases) + 1 + (size_t)(n > 0 ? n : 0));
	for (u = 0; u < ARRAY_SIZE(unit_cases); u++) {
		test_failed = 0;
		unit_cases[u].fn();
		report(unit_cases[u].name);
	}
	test_failed = 0;
	if (n != VECTOR_COUNT)
		TEST_FAIL("found %d case directories in %s, want %d", n, VECTOR_DIR, VECTOR_COUNT);
	report("the official suite has all its cases");
	for (i = 0; i < n; i++) {
		test_failed = 0;
		vector_run(names[i]);
		report(names[i]);
		free(names[i]);
	}
	free(names);
	return test_failures ? 1 : 0;
}
