/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the container credentials provider over a fake endpoint: the
 * relative and full URIs, the full URI's allow list (literals and names
 * that resolve to loopback), the authorization token from the variable or
 * the file (re-read on every fetch) and the refusal of CR/LF, statuses and
 * bad answers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "creds_providers.h"
#include "test.h"

#include "creds/fake.h"

#define GOOD                                                            \
	"{\"AccessKeyId\":\"AKID_ECS\",\"SecretAccessKey\":\"SECRET\"," \
	"\"Token\":\"TOKEN\",\"Expiration\":\"2023-11-14T23:13:20Z\","  \
	"\"RoleArn\":\"arn:aws:iam::123456789012:role/task\"}"

struct fixture {
	struct fake_world w;
	struct creds_provider *p;
};

static int setup(struct fixture *f)
{
	int r = fake_world_init(&f->w);

	if (r < 0)
		return r;
	f->p = creds_ecs_new(&f->w.ctx);
	return f->p ? 0 : -ENOMEM;
}

static void teardown(struct fixture *f)
{
	creds_provider_free(f->p);
	fake_world_done(&f->w);
}

/* Fetches with AWS_CONTAINER_CREDENTIALS_FULL_URI=uri, the endpoint
 * answering GOOD at uri; returns the error or 0. */
static int fetch_full_uri(const char *uri)
{
	struct creds *c = NULL;
	struct fixture f;
	int r;

	r = setup(&f);
	if (r == 0) {
		fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
		fake_route(&f.w, "GET", uri, 200, GOOD);
		r = creds_provider_fetch(f.p, &c);
	}
	if (r == 0 && (f.w.http.n_requests != 1 || strcmp(f.w.http.requests[0].url, uri) != 0))
		r = -EPROTO;
	if (r < 0 && f.w.http.n_requests != 0)
		r = -EPROTO; /* a refusal must come before any request */
	creds_unref(c);
	teardown(&f);
	return r;
}

static void test_not_configured(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f), 0);
	CHECK_INT(creds_provider_fetch(f.p, &c), -ENOENT);
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "x"); /* a token alone */
	CHECK_INT(creds_provider_fetch(f.p, &c), -ENOENT);
	CHECK_INT(f.w.http.n_requests, 0);
	teardown(&f);
}

static void test_relative_uri(void)
{
	struct fake_request *req;
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f), 0);
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
	/* The relative URI wins over a full one. */
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/other");
	fake_route(&f.w, "GET", "http://169.254.170.2/v2/credentials/abc", 200, GOOD);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	CHECK_STR(c->access_key_id, "AKID_ECS");
	CHECK_STR(c->secret_access_key, "SECRET");
	CHECK_STR(c->session_token, "TOKEN");
	CHECK_INT(c->expires_at_unix, 1700003600);
	CHECK_STR(c->provider, "ecs");
	creds_unref(c);
	CHECK_INT(f.w.http.n_requests, 1);
	req = &f.w.http.requests[0];
	CHECK_STR(req->method, "GET");
	CHECK_STR(req->headers, ""); /* no token configured: no Authorization */
	CHECK(req->timeout_ms > 0 && req->max_response_bytes > 0);
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/credentials/abc");
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL);
	teardown(&f);
}

static void test_full_uri_allowed(void)
{
	CHECK_INT(fetch_full_uri("http://127.0.0.1:51679/creds"), 0);
	CHECK_INT(fetch_full_uri("http://127.1.2.3/creds"), 0);
	CHECK_INT(fetch_full_uri("http://[::1]:8080/creds"), 0);
	CHECK_INT(fetch_full_uri("http://169.254.170.2/v2/credentials/x"), 0);
	CHECK_INT(fetch_full_uri("http://169.254.170.23/v1/credentials"), 0);
	CHECK_INT(fetch_full_uri("http://[fd00:ec2::23]/v1/credentials"), 0);
	CHECK_INT(fetch_full_uri("http://localhost:8080/creds"), 0);	 /* resolves to loopback */
	CHECK_INT(fetch_full_uri("https://creds.example.com/creds"), 0); /* https: any host */
}

static void test_full_uri_refused(void)
{
	CHECK_INT(fetch_full_uri("http://169.254.169.254/latest/meta-data/"), -EACCES);
	CHECK_INT(fetch_full_uri("http://10.0.0.1/creds"), -EACCES);
	CHECK_INT(fetch_full_uri("http://192.168.1.1:8080/creds"), -EACCES);
	CHECK_INT(fetch_full_uri("http://169.254.170.3/creds"), -EACCES);
	CHECK_INT(fetch_full_uri("http://[fe80::1]/creds"), -EACCES);
	CHECK_INT(fetch_full_uri("http://[fd00:ec2::24]/creds"), -EACCES);
	CHECK_INT(fetch_full_uri("http://128.0.0.1/creds"), -EACCES);
	CHECK_INT(fetch_full_uri("ftp://127.0.0.1/creds"), -EINVAL);
	CHECK_INT(fetch_full_uri("not a uri"), -EINVAL);
}

static void test_authorization_token(void)
{
	struct creds *c = NULL;
	const char *path;
	struct fixture f;

	CHECK_INT(setup(&f), 0);
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/c");
	fake_route(&f.w, "GET", "http://169.254.170.23/v1/c", 200, GOOD);
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env");
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	c = creds_unref(c);
	path = fake_file(&f.w, "token", "from-file-1");
	CHECK(path != NULL);
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0); /* the file wins */
	c = creds_unref(c);
	CHECK(fake_file(&f.w, "token", "from-file-2") != NULL);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0); /* and is read again */
	c = creds_unref(c);
	teardown(&f);
	CHECK_INT(f.w.http.n_requests, 3);
	CHECK_STR(f.w.http.requests[0].headers, "Authorization: from-env\n");
	CHECK_STR(f.w.http.requests[1].headers, "Authorization: from-file-1\n");
	CHECK_STR(f.w.http.requests[2].headers, "Authorization: from-file-2\n");
}

static void test_authorization_token_refused(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f), 0);
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c");
	fake_route(&f.w, "GET", "http://169.254.170.2/c", 200, GOOD);
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\r\nX-Evil: 1");
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL);
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\n");
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL);
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		    fake_file(&f.w, "token", "line\n"));
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL);
	CHECK(fake_file(&f.w, "token", "a\rb") != NULL);
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL);
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/token");
	CHECK_INT(creds_provider_fetch(f.p, &c), -EINVAL); /* configured: never -ENOENT */
	CHECK_INT(f.w.http.n_requests, 0);
	teardown(&f);
}

static void test_statuses_and_answers(void)
{
	static const struct {
		long status;
		const char *body;
		int err;
	} cases[] = {
		{ 401, "{}", -EACCES },
		{ 403, "", -EACCES },
		{ 404, "", -EPROTO },
		{ 500, GOOD, -EPROTO },
		{ 200, "{\"AccessKeyId\":\"A\"}", -EBADMSG },
		{ 200, "<html/>", -EBADMSG },
		{ 200, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"x\"}",
		  -EBADMSG },
	};
	struct creds *c = NULL;
	struct fixture f;
	size_t i;

	CHECK_INT(setup(&f), 0);
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_route(&f.w, "GET", "http://169.254.170.2/c", cases[i].status, cases[i].body);
		CHECK_INT(creds_provider_fetch(f.p, &c), cases[i].err);
	}
	fake_route(&f.w, "GET", "http://169.254.170.2/c", 0, NULL)->err = -ECONNREFUSED;
	CHECK_INT(creds_provider_fetch(f.p, &c), -ECONNREFUSED);
	CHECK(c == NULL);
	teardown(&f);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_not_configured), TEST_CASE(test_relative_uri),
			 TEST_CASE(test_full_uri_allowed), TEST_CASE(test_full_uri_refused),
			 TEST_CASE(test_authorization_token),
			 TEST_CASE(test_authorization_token_refused),
			 TEST_CASE(test_statuses_and_answers));
}
