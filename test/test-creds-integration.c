/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration tests of the credential providers against the local AWS
 * fakes (test/fake/, run by run-with-fakes.py, which exports FAKE_*_URL):
 * the ECS endpoint with its authorization token, IMDSv2 and STS
 * AssumeRoleWithWebIdentity, over the real curl transport on loopback. The
 * providers read a fake environment table, never the process's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "creds.h"
#include "creds_providers.h"
#include "http.h"
#include "test.h"

#include "creds/fake.h"

#define ROLE "arn:aws:iam::123456789012:role/cloudmap-sd"

struct fixture {
	struct fake_world w;
	struct http_transport *http;
	char url[512];
};

static int setup(struct fixture *f)
{
	int r = fake_world_init(&f->w);

	if (r < 0)
		return r;
	f->http = http_curl_new(NULL);
	f->w.ctx.http = f->http;
	f->w.ctx.now = NULL; /* the fakes run on the wall clock */
	return f->http ? 0 : -ENOMEM;
}

static void teardown(struct fixture *f)
{
	http_transport_free(f->http);
	fake_world_done(&f->w);
}

/* Calls the fakes' admin API; returns the JSON answer (the caller
 * decrefs it) or NULL. */
static json_t *admin(struct fixture *f, const char *method, const char *route, const char *body)
{
	static const struct http_header h = { "Content-Type", "application/json" };
	const char *base = getenv("FAKE_ADMIN_URL");
	struct http_request req = { .method = method,
				    .url = f->url,
				    .headers = &h,
				    .n_headers = 1,
				    .body = body,
				    .body_len = body ? strlen(body) : 0 };
	struct http_response resp;
	json_t *answer = NULL;

	if (!base)
		return NULL;
	snprintf(f->url, sizeof(f->url), "%s/%s", base, route);
	http_response_init(&resp);
	if (f->http->perform(f->http, &req, &resp) == 0 && resp.status == 200)
		answer = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	http_response_done(&resp);
	return answer;
}

static int admin_post(struct fixture *f, const char *route, const char *body)
{
	json_t *j = admin(f, "POST", route, body);

	json_decref(j);
	return j ? 0 : -EPROTO;
}

/* An integer counter from a GET of route: answer["stats"][name]. */
static long long admin_stat(struct fixture *f, const char *route, const char *name)
{
	json_t *j = admin(f, "GET", route, NULL);
	long long v = json_integer_value(json_object_get(json_object_get(j, "stats"), name));

	json_decref(j);
	return j ? v : -1;
}

static int fetch(struct creds_provider *p, const char *want_provider)
{
	struct creds *c = NULL;
	int r;

	r = creds_provider_fetch(p, &c);
	if (r == 0 && (strcmp(c->provider, want_provider) != 0 || !c->session_token ||
		       c->expires_at_unix <= 0))
		r = -EBADMSG;
	creds_unref(c);
	return r;
}

static void test_fakes_present(void)
{
	CHECK(getenv("FAKE_ADMIN_URL") && getenv("FAKE_ECS_URL") && getenv("FAKE_IMDS_URL") &&
	      getenv("FAKE_AWS_URL"));
}

static void test_ecs(void)
{
	struct creds_provider *p;
	struct fixture f;
	char uri[512];
	json_t *ecs;

	CHECK_INT(setup(&f), 0);
	CHECK_INT(admin_post(&f, "reset", "{}"), 0);
	CHECK_INT(admin_post(&f, "ecs", "{\"authorization\":\"Bearer it-1\"}"), 0);
	snprintf(uri, sizeof(uri), "%s/v2/credentials/fake", getenv("FAKE_ECS_URL"));
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_FULL_URI", uri); /* 127.0.0.1: allowed */
	fake_setenv(&f.w, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		    fake_file(&f.w, "token", "Bearer it-1"));
	p = creds_ecs_new(&f.w.ctx);
	CHECK(p != NULL);
	CHECK_INT(fetch(p, "ecs"), 0);
	CHECK(fake_file(&f.w, "token", "Bearer stale") != NULL);
	CHECK_INT(fetch(p, "ecs"), -EACCES); /* the fake answers 403 */
	creds_provider_free(p);
	ecs = admin(&f, "GET", "ecs", NULL);
	CHECK(ecs != NULL);
	CHECK_STR(json_string_value(json_array_get(
		      json_object_get(json_object_get(ecs, "stats"), "authorization_headers"), 0)),
		  "Bearer it-1");
	json_decref(ecs);
	teardown(&f);
}

static void test_imds(void)
{
	struct creds_provider *p;
	struct fixture f;

	CHECK_INT(setup(&f), 0);
	CHECK_INT(admin_post(&f, "reset", "{}"), 0);
	fake_setenv(&f.w, "AWS_EC2_METADATA_SERVICE_ENDPOINT", getenv("FAKE_IMDS_URL"));
	p = creds_imds_new(&f.w.ctx);
	CHECK(p != NULL);
	CHECK_INT(fetch(p, "imds"), 0);
	CHECK_INT(fetch(p, "imds"), 0);
	creds_provider_free(p);
	CHECK_INT(admin_stat(&f, "imds", "token_puts"), 1); /* one IMDSv2 session */
	CHECK_INT(admin_stat(&f, "imds", "gets_with_token"), 4);
	CHECK_INT(admin_stat(&f, "imds", "gets_without_token"), 0);
	teardown(&f);
}

static void test_web_identity(void)
{
	struct creds_provider *p;
	struct fixture f;

	CHECK_INT(setup(&f), 0);
	CHECK_INT(admin_post(&f, "reset", "{}"), 0);
	CHECK_INT(admin_post(&f, "sts/web-identity", "{\"role_arn\":\"" ROLE "\"}"), 0);
	f.w.ctx.sts_endpoint = getenv("FAKE_AWS_URL");
	fake_setenv(&f.w, "AWS_ROLE_ARN", ROLE);
	fake_setenv(&f.w, "AWS_WEB_IDENTITY_TOKEN_FILE",
		    fake_file(&f.w, "token", "fake-web-identity-token\n"));
	p = creds_webid_new(&f.w.ctx);
	CHECK(p != NULL);
	CHECK_INT(fetch(p, "web-identity"), 0);
	CHECK(fake_file(&f.w, "token", "another-token") != NULL);
	CHECK_INT(fetch(p, "web-identity"), -EACCES); /* InvalidIdentityToken */
	CHECK(fake_file(&f.w, "token", "fake-web-identity-token") != NULL);
	CHECK_INT(admin_post(&f, "sts/web-identity", "{\"token_expired\":true}"), 0);
	CHECK_INT(fetch(p, "web-identity"), -EACCES); /* ExpiredTokenException */
	CHECK_INT(admin_post(&f, "sts/web-identity",
			     "{\"token_expired\":false,\"role_arn\":\"arn:aws:iam::1:role/x\"}"),
		  0);
	CHECK_INT(fetch(p, "web-identity"), -EACCES); /* AccessDenied */
	creds_provider_free(p);
	teardown(&f);
}

static void test_default_chain(void)
{
	struct creds_provider *chain;
	struct fixture f;
	char uri[512];

	CHECK_INT(setup(&f), 0);
	CHECK_INT(admin_post(&f, "reset", "{}"), 0);
	snprintf(uri, sizeof(uri), "%s/v2/credentials/fake", getenv("FAKE_ECS_URL"));
	fake_setenv(&f.w, "AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
	fake_setenv(&f.w, "AWS_EC2_METADATA_SERVICE_ENDPOINT", getenv("FAKE_IMDS_URL"));
	chain = creds_chain_new(&f.w.ctx);
	CHECK(chain != NULL);
	CHECK_INT(fetch(chain, "ecs"), 0); /* ECS before IMDS */
	CHECK_INT(fetch(chain, "ecs"), 0); /* cached */
	creds_provider_free(chain);
	CHECK_INT(admin_stat(&f, "ecs", "credential_calls"), 1);
	CHECK_INT(admin_stat(&f, "imds", "token_puts"), 0);
	teardown(&f);
}

int main(void)
{
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = TEST_MAIN(TEST_CASE(test_fakes_present), TEST_CASE(test_ecs), TEST_CASE(test_imds),
		      TEST_CASE(test_web_identity), TEST_CASE(test_default_chain));
	curl_global_cleanup();
	return r;
}
