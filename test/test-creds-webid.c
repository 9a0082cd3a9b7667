/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the web identity provider over a fake STS: configuration, the
 * request (URL, headers, form-encoded body, unsigned), the token file read
 * on every fetch and its limits, and STS answers: good, escaped, error
 * codes, garbage, truncated, transport errors.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "creds_providers.h"
#include "test.h"

#include "creds/fake.h"

#define ROLE "arn:aws:iam::123456789012:role/web"

#define CREDS_XML(id, secret, token, expiration)                                                  \
	"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">" \
	"<AssumeRoleWithWebIdentityResult>"                                                       \
	"<SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>"  \
	"<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/web/s</Arn>"                \
	"<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>"                                 \
	"<Credentials><AccessKeyId>" id "</AccessKeyId><SecretAccessKey>" secret                  \
	"</SecretAccessKey><SessionToken>" token "</SessionToken><Expiration>" expiration         \
	"</Expiration></Credentials>"                                                             \
	"</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r</RequestId>"            \
	"</ResponseMetadata></AssumeRoleWithWebIdentityResponse>"

#define GOOD CREDS_XML("ASIASTS", "SECRET/+=", "TOKEN", "2023-11-14T23:13:20Z")

#define ERROR_XML(code)                                                                     \
	"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"        \
	"<Type>Sender</Type><Code>" code "</Code><Message>no &amp; never</Message></Error>" \
	"<RequestId>r</RequestId></ErrorResponse>"

struct fixture {
	struct fake_world w;
	const char *token_file;
	struct creds_provider *p;
};

static int setup(struct fixture *f, const char *token)
{
	int r = fake_world_init(&f->w);

	if (r < 0)
		return r;
	f->token_file = fake_file(&f->w, "token", token);
	fake_setenv(&f->w, "AWS_WEB_IDENTITY_TOKEN_FILE", f->token_file);
	fake_setenv(&f->w, "AWS_ROLE_ARN", ROLE);
	f->p = creds_webid_new(&f->w.ctx);
	return f->token_file && f->p ? 0 : -ENOMEM;
}

static void teardown(struct fixture *f)
{
	creds_provider_free(f->p);
	fake_world_done(&f->w);
}

/* Fetches with STS answering status and body; returns the error or 0. */
static int fetch_answer(long status, const char *body)
{
	struct creds *c = NULL;
	struct fixture f;
	int r;

	r = setup(&f, "TOKEN");
	if (r == 0) {
		fake_route(&f.w, "POST", "https://sts.test/", status, body);
		r = creds_provider_fetch(f.p, &c);
	}
	creds_unref(c);
	teardown(&f);
	return r;
}

static void test_not_configured(void)
{
	struct creds_provider *p;
	struct fake_world w;
	struct creds *c = NULL;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	p = creds_webid_new(&w.ctx);
	CHECK(p != NULL);
	CHECK_INT(creds_provider_fetch(p, &c), -ENOENT);
	fake_setenv(&w, "AWS_ROLE_ARN", ROLE); /* a role alone configures nothing */
	CHECK_INT(creds_provider_fetch(p, &c), -ENOENT);
	fake_setenv(&w, "AWS_ROLE_ARN", NULL);
	fake_setenv(&w, "AWS_WEB_IDENTITY_TOKEN_FILE", "/some/token");
	CHECK_INT(creds_provider_fetch(p, &c), -EINVAL); /* a token without a role */
	CHECK_INT(w.http.n_requests, 0);
	creds_provider_free(p);
}

static void test_request_and_answer(void)
{
	struct fake_request *req;
	struct creds *c = NULL;
	struct fixture f;

	/* Every reserved byte encoded, trailing new line dropped. */
	CHECK_INT(setup(&f, "eyJ.a-b_c~d+e/f= g&h%\n"), 0);
	fake_route(&f.w, "POST", "https://sts.test/", 200, GOOD);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	teardown(&f);
	CHECK_STR(c->access_key_id, "ASIASTS");
	CHECK_STR(c->secret_access_key, "SECRET/+=");
	CHECK_STR(c->session_token, "TOKEN");
	CHECK_INT(c->expires_at_unix, 1700003600);
	CHECK_STR(c->provider, "web-identity");
	creds_unref(c);
	CHECK_INT(f.w.http.n_requests, 1);
	req = &f.w.http.requests[0];
	CHECK_STR(req->method, "POST");
	CHECK_STR(req->url, "https://sts.test/");
	CHECK_STR(req->headers, "Content-Type: application/x-www-form-urlencoded; charset=utf-8\n");
	CHECK_STR(req->body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
			     "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb"
			     "&RoleSessionName=cloudmap-sd-1700000000"
			     "&WebIdentityToken=eyJ.a-b_c~d%2Be%2Ff%3D%20g%26h%25");
	CHECK_INT(req->body_len, strlen(req->body));
	CHECK(req->max_response_bytes > 0);
}

static void test_session_name_and_token_rotation(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "FIRST"), 0);
	fake_setenv(&f.w, "AWS_ROLE_SESSION_NAME", "my-session");
	fake_route(&f.w, "POST", "https://sts.test/", 200, GOOD);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	c = creds_unref(c);
	CHECK(fake_file(&f.w, "token", "SECOND") != NULL); /* rotated */
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	c = creds_unref(c);
	teardown(&f);
	CHECK_INT(f.w.http.n_requests, 2);
	CHECK(strstr(f.w.http.requests[0].body, "&RoleSessionName=my-session&") != NULL);
	CHECK(strstr(f.w.http.requests[0].body, "&WebIdentityToken=FIRST") != NULL);
	CHECK(strstr(f.w.http.requests[1].body, "&WebIdentityToken=SECOND") != NULL);
}

static void test_token_file_problems(void)
{
	struct creds *c = NULL;
	struct fixture f;
	char *big;

	CHECK_INT(setup(&f, " \n"), 0);
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL); /* empty */
	big = malloc(CREDS_TOKEN_FILE_MAX_BYTES + 2);
	CHECK(big != NULL);
	memset(big, 'x', CREDS_TOKEN_FILE_MAX_BYTES + 1);
	big[CREDS_TOKEN_FILE_MAX_BYTES + 1] = '\0';
	CHECK(fake_file(&f.w, "token", big) != NULL);
	free(big);
	CHECK_INT(creds_provider_fetch(f.p, &c), -EFBIG);
	fake_setenv(&f.w, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token");
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL); /* configured: never -ENOENT */
	fake_setenv(&f.w, "AWS_WEB_IDENTITY_TOKEN_FILE", "/");
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL);
	CHECK_INT(f.w.http.n_requests, 0);
	teardown(&f);
}

static void test_escaped_answer(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "T"), 0);
	fake_route(&f.w, "POST", "https://sts.test/", 200,
		   CREDS_XML("A", "s&amp;&lt;&gt;&quot;&apos;", "t", "2023-11-14T23:13:20.000Z"));
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	CHECK_STR(c->secret_access_key, "s&<>\"'");
	creds_unref(c);
	teardown(&f);
}

static void test_error_answers(void)
{
	CHECK_INT(fetch_answer(403, ERROR_XML("AccessDenied")), -EACCES);
	CHECK_INT(fetch_answer(400, ERROR_XML("InvalidIdentityToken")), -EACCES);
	CHECK_INT(fetch_answer(400, ERROR_XML("ExpiredTokenException")), -EACCES);
	CHECK_INT(fetch_answer(400, ERROR_XML("IDPRejectedClaim")), -EACCES);
	CHECK_INT(fetch_answer(400, ERROR_XML("IDPCommunicationError")), -EAGAIN);
	CHECK_INT(fetch_answer(400, ERROR_XML("Throttling")), -EAGAIN);
	CHECK_INT(fetch_answer(400, ERROR_XML("ValidationError")), -EINVAL);
	CHECK_INT(fetch_answer(400, ERROR_XML("SomethingNew")), -EPROTO);
}

static void test_garbage_answers(void)
{
	CHECK_INT(fetch_answer(500, "<html>oops</html>"), -EBADMSG);
	CHECK_INT(fetch_answer(503, ""), -EBADMSG);
	CHECK_INT(fetch_answer(400, "<ErrorResponse><Error><Code>AccessDen"), -EBADMSG);
	CHECK_INT(fetch_answer(200, "not xml at all"), -EBADMSG);
	CHECK_INT(fetch_answer(200, ""), -EBADMSG);
	CHECK_INT(fetch_answer(200, CREDS_XML("A", "S", "T", "tomorrow")), -EBADMSG);
	CHECK_INT(fetch_answer(200, CREDS_XML("", "S", "T", "2023-11-14T23:13:20Z")), -EBADMSG);
	CHECK_INT(fetch_answer(200, CREDS_XML("A", "S&bogus;", "T", "2023-11-14T23:13:20Z")),
		  -EBADMSG);
	CHECK_INT(fetch_answer(200, "<AssumeRoleWithWebIdentityResult><CredentialsX>"
				    "<AccessKeyId>A</AccessKeyId></CredentialsX>"
				    "</AssumeRoleWithWebIdentityResult>"),
		  -EBADMSG);
}

static void test_truncated_answers(void)
{
	static const char good[] = GOOD;
	char cut[sizeof(good)];
	size_t n;

	/* Cut anywhere inside the Credentials element, the answer is refused. */
	for (n = strstr(good, "<Credentials>") - good;
	     n < (size_t)(strstr(good, "</Credentials>") - good); n += 7) {
		memcpy(cut, good, n);
		cut[n] = '\0';
		if (fetch_answer(200, cut) != -EBADMSG)
			TEST_FAIL("cut at %zu accepted", n);
	}
	CHECK_INT(fetch_answer(200, good), 0);
}

static void test_transport_error(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "T"), 0);
	fake_route(&f.w, "POST", "https://sts.test/", 0, NULL)->err = -ETIMEDOUT;
	CHECK_INT(creds_provider_fetch(f.p, &c), -ETIMEDOUT);
	teardown(&f);
}

static void test_endpoints(void)
{
	static const struct {
		const char *endpoint, *region, *url;
	} cases[] = {
		{ "https://sts.test/", "us-east-1", "https://sts.test/" },
		{ "http://127.0.0.1:8080//", NULL, "http://127.0.0.1:8080/" },
		{ NULL, "eu-west-1", "https://sts.eu-west-1.amazonaws.com/" },
		{ NULL, "cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn/" },
		{ NULL, NULL, "https://sts.amazonaws.com/" },
	};
	struct creds *c = NULL;
	struct fixture f;
	size_t i;

	CHECK_INT(setup(&f, "T"), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.w.ctx.sts_endpoint = cases[i].endpoint;
		f.w.ctx.region = cases[i].region;
		f.w.http.n_requests = 0;
		fake_route(&f.w, "POST", cases[i].url, 200, GOOD);
		CHECK_INT(creds_provider_fetch(f.p, &c), 0);
		c = creds_unref(c);
		CHECK_STR(f.w.http.requests[0].url, cases[i].url);
	}
	teardown(&f);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_not_configured), TEST_CASE(test_request_and_answer),
			 TEST_CASE(test_session_name_and_token_rotation),
			 TEST_CASE(test_token_file_problems), TEST_CASE(test_escaped_answer),
			 TEST_CASE(test_error_answers), TEST_CASE(test_garbage_answers),
			 TEST_CASE(test_truncated_answers), TEST_CASE(test_transport_error),
			 TEST_CASE(test_endpoints));
}
