/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the EC2 instance profile provider over a fake IMDS (through the
 * real IMDS client): the role listing and the credentials, the session
 * token reused across fetches, IMDS disabled, no role, and bad answers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "creds_providers.h"
#include "test.h"

#include "creds/fake.h"

#define BASE  "http://169.254.169.254"
#define LIST  BASE "/latest/meta-data/iam/security-credentials/"
#define TOKEN BASE "/latest/api/token"

#define GOOD                                                                            \
	"{\"Code\":\"Success\",\"LastUpdated\":\"2023-11-14T22:00:00Z\","               \
	"\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"S\"," \
	"\"Token\":\"T\",\"Expiration\":\"2023-11-15T04:13:20Z\"}"

struct fixture {
	struct fake_world w;
	struct creds_provider *p;
};

static int setup(struct fixture *f, const char *list)
{
	int r = fake_world_init(&f->w);

	if (r < 0)
		return r;
	fake_world_done(&f->w); /* no files */
	fake_route(&f->w, "PUT", TOKEN, 200, "IMDSTOKEN");
	fake_route(&f->w, "GET", LIST, 200, list);
	fake_route(&f->w, "GET", LIST "my-role", 200, GOOD);
	f->p = creds_imds_new(&f->w.ctx);
	return f->p ? 0 : -ENOMEM;
}

static size_t count_requests(const struct fake_world *w, const char *method, const char *url)
{
	size_t i, n = 0;

	for (i = 0; i < w->http.n_requests; i++)
		n += strcmp(w->http.requests[i].method, method) == 0 &&
		     strcmp(w->http.requests[i].url, url) == 0;
	return n;
}

static void test_credentials(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "my-role\n"), 0);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	CHECK_STR(c->access_key_id, "ASIAIMDS");
	CHECK_STR(c->secret_access_key, "S");
	CHECK_STR(c->session_token, "T");
	CHECK_INT(c->expires_at_unix, 1700021600);
	CHECK_STR(c->provider, "imds");
	c = creds_unref(c);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	creds_unref(c);
	/* The client lives with the provider: one token for both fetches. */
	CHECK_INT(count_requests(&f.w, "PUT", TOKEN), 1);
	CHECK_INT(count_requests(&f.w, "GET", LIST), 2);
	CHECK_INT(count_requests(&f.w, "GET", LIST "my-role"), 2);
	CHECK(strstr(f.w.http.requests[1].headers, "X-aws-ec2-metadata-token: IMDSTOKEN") != NULL);
	creds_provider_free(f.p);
}

static void test_role_list_first_line(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "my-role  \r\nother-role\n"), 0);
	CHECK_INT(creds_provider_fetch(f.p, &c), 0);
	CHECK_STR(c->access_key_id, "ASIAIMDS");
	creds_unref(c);
	creds_provider_free(f.p);
}

static void test_disabled(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "my-role"), 0);
	fake_setenv(&f.w, "AWS_EC2_METADATA_DISABLED", "true");
	CHECK_INT(creds_provider_fetch(f.p, &c), -ENOENT);
	CHECK_INT(f.w.http.n_requests, 0);
	creds_provider_free(f.p);
}

static void test_no_role(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "my-role"), 0);
	fake_route(&f.w, "GET", LIST, 404, "");
	CHECK_INT(creds_provider_fetch(f.p, &c), -ENOENT); /* no instance profile */
	creds_provider_free(f.p);
}

/* Fetches with the list answering list and the role answering status and
 * body; returns the error or 0. */
static int fetch_with(const char *list, long status, const char *body)
{
	struct creds *c = NULL;
	struct fixture f;
	int r;

	r = setup(&f, list);
	if (r == 0) {
		fake_route(&f.w, "GET", LIST "my-role", status, body);
		r = creds_provider_fetch(f.p, &c);
		creds_provider_free(f.p);
	}
	creds_unref(c);
	return r;
}

static void test_bad_answers(void)
{
	CHECK_INT(fetch_with("my-role", 200, GOOD), 0);
	CHECK_INT(fetch_with("", 200, GOOD), -EBADMSG);
	CHECK_INT(fetch_with("../../user-data", 200, GOOD), -EBADMSG);
	CHECK_INT(fetch_with("my role", 200, GOOD), -EBADMSG);
	CHECK_INT(fetch_with("my-role", 404, ""), -EPROTO); /* listed, then gone */
	CHECK_INT(fetch_with("my-role", 200, "{\"Code\":\"AssumeRoleUnauthorizedAccess\"}"),
		  -EACCES);
	CHECK_INT(fetch_with("my-role", 200, "{\"Code\":\"Success\"}"), -EBADMSG);
	CHECK_INT(fetch_with("my-role", 200, "<html/>"), -EBADMSG);
	CHECK_INT(fetch_with("my-role", 500, ""), -EPROTO);
}

static void test_transport_error(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "my-role"), 0);
	fake_route(&f.w, "GET", LIST, 0, NULL)->err = -ECONNREFUSED;
	CHECK_INT(creds_provider_fetch(f.p, &c), -ECONNREFUSED);
	creds_provider_free(f.p);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_credentials), TEST_CASE(test_role_list_first_line),
			 TEST_CASE(test_disabled), TEST_CASE(test_no_role),
			 TEST_CASE(test_bad_answers), TEST_CASE(test_transport_error));
}
