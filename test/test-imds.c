/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the IMDS client over the shared fakes of test/creds/fake.h
 * (scripted answers, recorded requests, a fixed clock): the IMDSv2 token flow, token reuse
 * and renewal, the fallback to IMDSv1 and its end, the 401 retry, statuses,
 * and the environment (disabled, endpoint, endpoint mode, v1 disabled).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "imds.h"
#include "test.h"

#include "creds/fake.h"

/* One test's world: the shared fakes (transport, environment, clock) and a
 * client. */
struct world {
	struct fake_world fw;
	struct imds *m;
	struct buf out;
};

/* The world without a client yet. */
static int world_init_bare(struct world *w)
{
	int r;

	w->m = NULL;
	buf_init(&w->out, 4096);
	r = fake_world_init(&w->fw);
	fake_world_done(&w->fw); /* no files */
	return r;
}

static int world_init(struct world *w)
{
	int r = world_init_bare(w);

	return r < 0 ? r : imds_new(&w->fw.ctx, &w->m);
}

static void world_done(struct world *w)
{
	w->m = imds_free(w->m);
	buf_done(&w->out);
}

/* GETs the region path into a fresh w->out. */
static int world_get(struct world *w)
{
	buf_reset(&w->out);
	return imds_get(w->m, "/latest/meta-data/placement/region", &w->out);
}

#define REGION_URL "http://169.254.169.254/latest/meta-data/placement/region"
#define TOKEN_URL  "http://169.254.169.254/latest/api/token"

static void test_v2_token_flow(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 200, "us-east-1", NULL);
	CHECK_INT(world_get(&w), 0);
	CHECK_STR(w.out.data, "us-east-1");
	CHECK_INT(w.fw.http.n_requests, 2);
	CHECK_STR(w.fw.http.requests[0].method, "PUT");
	CHECK_STR(w.fw.http.requests[0].url, TOKEN_URL);
	CHECK_STR(w.fw.http.requests[0].headers, "X-aws-ec2-metadata-token-ttl-seconds: 21600\n");
	CHECK_INT(w.fw.http.requests[0].timeout_ms, IMDS_TIMEOUT_MS);
	CHECK_INT(w.fw.http.requests[0].connect_timeout_ms, IMDS_TIMEOUT_MS);
	CHECK(w.fw.http.requests[0].max_response_bytes > 0 &&
	      w.fw.http.requests[0].max_response_bytes <= 4096);
	CHECK_STR(w.fw.http.requests[1].method, "GET");
	CHECK_STR(w.fw.http.requests[1].url, REGION_URL);
	CHECK_STR(w.fw.http.requests[1].headers, "X-aws-ec2-metadata-token: TOKEN-A\n");
	CHECK_INT(w.fw.http.requests[1].timeout_ms, IMDS_TIMEOUT_MS);
	CHECK(w.fw.http.requests[1].max_response_bytes > 0 &&
	      w.fw.http.requests[1].max_response_bytes <= (1u << 20));
	world_done(&w);
}

static void test_token_reused_until_shortly_before_expiry(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 200, "r1", NULL);
	fake_answer(&w.fw, 0, 200, "r2", NULL);
	fake_answer(&w.fw, 0, 200, "TOKEN-B", NULL);
	fake_answer(&w.fw, 0, 200, "r3", NULL);
	CHECK_INT(world_get(&w), 0);
	w.fw.now += IMDS_TOKEN_TTL_SEC - 61;
	CHECK_INT(world_get(&w), 0);
	CHECK_INT(w.fw.http.n_requests, 3); /* no second PUT */
	CHECK_STR(w.fw.http.requests[2].headers, "X-aws-ec2-metadata-token: TOKEN-A\n");
	w.fw.now += 1;
	CHECK_INT(world_get(&w), 0);
	CHECK_INT(w.fw.http.n_requests, 5);
	CHECK_STR(w.fw.http.requests[3].method, "PUT");
	CHECK_STR(w.fw.http.requests[4].headers, "X-aws-ec2-metadata-token: TOKEN-B\n");
	CHECK_STR(w.out.data, "r3");
	world_done(&w);
}

static void test_token_ttl_from_answer(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", "X-aws-ec2-metadata-token-ttl-seconds: 100\r\n");
	fake_answer(&w.fw, 0, 200, "r1", NULL);
	fake_answer(&w.fw, 0, 200, "r2", NULL);
	fake_answer(&w.fw, 0, 200, "TOKEN-B", NULL);
	fake_answer(&w.fw, 0, 200, "r3", NULL);
	CHECK_INT(world_get(&w), 0);
	w.fw.now += 49;
	CHECK_INT(world_get(&w), 0);
	CHECK_INT(w.fw.http.n_requests, 3);
	w.fw.now += 1; /* half of a short TTL */
	CHECK_INT(world_get(&w), 0);
	CHECK_INT(w.fw.http.n_requests, 5);
	CHECK_STR(w.fw.http.requests[3].method, "PUT");
	world_done(&w);
}

/* The token call fails with err or status: GETs go without a token for a
 * while, then IMDSv2 is tried again. */
static void check_fallback(int err, long status)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, err, status, NULL, NULL);
	fake_answer(&w.fw, 0, 200, "v1-a", NULL);
	fake_answer(&w.fw, 0, 200, "v1-b", NULL);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 200, "v2", NULL);
	CHECK_INT(world_get(&w), 0);
	CHECK_STR(w.out.data, "v1-a");
	CHECK_INT(w.fw.http.n_requests, 2);
	CHECK_STR(w.fw.http.requests[1].method, "GET");
	CHECK_STR(w.fw.http.requests[1].headers, "");
	w.fw.now += 60;
	CHECK_INT(world_get(&w), 0);
	CHECK_INT(w.fw.http.n_requests, 3); /* the fallback is remembered */
	CHECK_STR(w.fw.http.requests[2].headers, "");
	w.fw.now += 3600;
	CHECK_INT(world_get(&w), 0);
	CHECK_INT(w.fw.http.n_requests, 5);
	CHECK_STR(w.fw.http.requests[3].method, "PUT");
	CHECK_STR(w.fw.http.requests[4].headers, "X-aws-ec2-metadata-token: TOKEN-A\n");
	CHECK_STR(w.out.data, "v2");
	world_done(&w);
}

static void test_fallback_v1_on_403(void)
{
	check_fallback(0, 403);
}

static void test_fallback_v1_on_404(void)
{
	check_fallback(0, 404);
}

static void test_fallback_v1_on_405(void)
{
	check_fallback(0, 405);
}

static void test_fallback_v1_on_timeout(void)
{
	check_fallback(-ETIMEDOUT, 0);
}

static void test_other_token_failures(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 400, NULL, NULL);
	fake_answer(&w.fw, -ECONNREFUSED, 0, NULL, NULL);
	fake_answer(&w.fw, 0, 200, "bad\ntoken", NULL);
	fake_answer(&w.fw, 0, 200, "", NULL);
	CHECK_INT(world_get(&w), -EPROTO);
	CHECK_INT(world_get(&w), -ECONNREFUSED);
	CHECK_INT(world_get(&w), -EBADMSG);
	CHECK_INT(world_get(&w), -EBADMSG);
	CHECK_INT(w.fw.http.n_requests, 4); /* all PUTs: no GET without a decision */
	CHECK(w.out.len == 0);
	world_done(&w);
}

static void test_401_gets_a_new_token_once(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 401, "", NULL);
	fake_answer(&w.fw, 0, 200, "TOKEN-B", NULL);
	fake_answer(&w.fw, 0, 200, "ok", NULL);
	CHECK_INT(world_get(&w), 0);
	CHECK_STR(w.out.data, "ok");
	CHECK_INT(w.fw.http.n_requests, 4);
	CHECK_STR(w.fw.http.requests[2].method, "PUT");
	CHECK_STR(w.fw.http.requests[3].headers, "X-aws-ec2-metadata-token: TOKEN-B\n");
	world_done(&w);

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 401, "", NULL);
	fake_answer(&w.fw, 0, 200, "TOKEN-B", NULL);
	fake_answer(&w.fw, 0, 401, "", NULL);
	CHECK_INT(world_get(&w), -EACCES);
	CHECK_INT(w.fw.http.n_requests, 4);
	world_done(&w);
}

static void test_401_without_token_tries_v2_again(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 404, NULL, NULL);
	fake_answer(&w.fw, 0, 401, "", NULL);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 200, "ok", NULL);
	CHECK_INT(world_get(&w), 0);
	CHECK_INT(w.fw.http.n_requests, 4);
	CHECK_STR(w.fw.http.requests[1].headers, "");
	CHECK_STR(w.fw.http.requests[2].method, "PUT");
	CHECK_STR(w.fw.http.requests[3].headers, "X-aws-ec2-metadata-token: TOKEN-A\n");
	world_done(&w);
}

static void test_get_statuses(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 404, "not found", NULL);
	fake_answer(&w.fw, 0, 403, "forbidden", NULL);
	fake_answer(&w.fw, 0, 500, "oops", NULL);
	fake_answer(&w.fw, -ETIMEDOUT, 0, NULL, NULL);
	CHECK_INT(world_get(&w), -ENOENT);
	CHECK_INT(world_get(&w), -EACCES);
	CHECK_INT(world_get(&w), -EPROTO);
	CHECK_INT(world_get(&w), -ETIMEDOUT);
	CHECK(w.out.len == 0);
	CHECK_INT(w.fw.http.n_requests, 5);
	CHECK_INT(imds_get(w.m, "latest/meta-data", &w.out), -EINVAL);
	world_done(&w);
}

static void test_body_over_out_cap(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN-A", NULL);
	fake_answer(&w.fw, 0, 200, "0123456789", NULL);
	w.out.max = 9;
	CHECK_INT(world_get(&w), -EMSGSIZE);
	CHECK(w.out.len == 0);
	world_done(&w);
}

static void test_disabled(void)
{
	struct world w;

	CHECK_INT(world_init_bare(&w), 0);
	fake_setenv(&w.fw, "AWS_EC2_METADATA_DISABLED", "TRUE");
	CHECK_INT(imds_new(&w.fw.ctx, &w.m), -ENOENT);
	CHECK(w.m == NULL);
	fake_setenv(&w.fw, "AWS_EC2_METADATA_DISABLED", "false");
	CHECK_INT(imds_new(&w.fw.ctx, &w.m), 0);
	CHECK_INT(w.fw.http.n_requests, 0);
	world_done(&w);
	CHECK(imds_free(NULL) == NULL);
}

/* Creates a client with one variable set; returns imds_new()'s answer and
 * in url the first URL it asked for. */
static int new_with(const char *name, const char *value, char *url, size_t url_size)
{
	struct world w;
	int r;

	r = world_init_bare(&w);
	fake_setenv(&w.fw, name, value);
	if (r == 0)
		r = imds_new(&w.fw.ctx, &w.m);
	if (r == 0) {
		fake_answer(&w.fw, 0, 200, "T", NULL);
		fake_answer(&w.fw, 0, 200, "x", NULL);
		r = world_get(&w);
		snprintf(url, url_size, "%s", w.fw.http.requests[0].url);
	}
	world_done(&w);
	return r;
}

static void test_endpoint_override(void)
{
	static const char *const bad[] = { "ftp://127.0.0.1", "169.254.169.254", "http://a b",
					   "http://h?x",      "http://u@h",	 "http://" };
	char url[512]; /* as struct fake_request's */
	size_t i;

	CHECK_INT(new_with("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/", url,
			   sizeof(url)),
		  0);
	CHECK_STR(url, "http://127.0.0.1:1338/latest/api/token");
	CHECK_INT(new_with("AWS_EC2_METADATA_SERVICE_ENDPOINT", "https://imds.example//", url,
			   sizeof(url)),
		  0);
	CHECK_STR(url, "https://imds.example/latest/api/token");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (new_with("AWS_EC2_METADATA_SERVICE_ENDPOINT", bad[i], url, sizeof(url)) !=
		    -EINVAL)
			TEST_FAIL("endpoint %s accepted", bad[i]);
}

static void test_endpoint_mode(void)
{
	char url[512]; /* as struct fake_request's */

	CHECK_INT(new_with("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", url, sizeof(url)), 0);
	CHECK_STR(url, "http://[fd00:ec2::254]/latest/api/token");
	CHECK_INT(new_with("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv4", url, sizeof(url)), 0);
	CHECK_STR(url, TOKEN_URL);
	CHECK_INT(new_with("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", url, sizeof(url)),
		  -EINVAL);
}

static void test_v1_disabled(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	w.m = imds_free(w.m);
	fake_setenv(&w.fw, "AWS_EC2_METADATA_V1_DISABLED", "true");
	CHECK_INT(imds_new(&w.fw.ctx, &w.m), 0);
	fake_answer(&w.fw, 0, 403, NULL, NULL);
	fake_answer(&w.fw, -ETIMEDOUT, 0, NULL, NULL);
	CHECK_INT(world_get(&w), -EACCES);
	CHECK_INT(world_get(&w), -ETIMEDOUT);
	CHECK_INT(w.fw.http.n_requests, 2); /* two PUTs, no GET */
	world_done(&w);
}

int main(void)
{
	return TEST_MAIN(
	    TEST_CASE(test_v2_token_flow), TEST_CASE(test_token_reused_until_shortly_before_expiry),
	    TEST_CASE(test_token_ttl_from_answer), TEST_CASE(test_fallback_v1_on_403),
	    TEST_CASE(test_fallback_v1_on_404), TEST_CASE(test_fallback_v1_on_405),
	    TEST_CASE(test_fallback_v1_on_timeout), TEST_CASE(test_other_token_failures),
	    TEST_CASE(test_401_gets_a_new_token_once),
	    TEST_CASE(test_401_without_token_tries_v2_again), TEST_CASE(test_get_statuses),
	    TEST_CASE(test_body_over_out_cap), TEST_CASE(test_disabled),
	    TEST_CASE(test_endpoint_override), TEST_CASE(test_endpoint_mode),
	    TEST_CASE(test_v1_disabled));
}
