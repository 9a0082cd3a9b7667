/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AWS JSON client driven end to end against the botocore-verifying
 * fake: every request is signed for real, recomputed by botocore's signer
 * and validated against botocore's servicediscovery model. Success, several
 * pages, throttling then success, a 5xx burst longer than the attempts, a
 * malformed body, a connection reset, a timeout, concurrency and abort.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "awsclient.h"
#include "creds.h"
#include "creds_providers.h"
#include "fakeaws.h"
#include "test.h"

static struct creds_context ctx;
static struct creds_provider *creds;
static unsigned throttled, retried;

static double no_jitter(void *userdata)
{
	return 0.0; /* retries at once: the back-off's bounds are unit-tested */
}

static void observe(void *userdata, const struct aws_attempt_info *a)
{
	throttled += strcmp(a->outcome, "throttled") == 0;
	retried += a->will_retry;
}

static struct aws_client *client(unsigned concurrency, long timeout_ms)
{
	const char *url = getenv("FAKE_AWS_URL");
	struct aws_client_config c = {
		.endpoint_url = { url, url, url },
		.region = "us-east-1",
		.creds = creds,
		.max_concurrency = concurrency,
		.timeout_ms = timeout_ms,
		.observe = observe,
		.random = no_jitter,
	};
	struct aws_client *cl = NULL;

	throttled = retried = 0;
	if (aws_client_new(&c, &cl) < 0)
		return NULL;
	return cl;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup_world(int namespaces)
{
	int i;

	if (fake_post("reset", "{}") < 0)
		return -1;
	for (i = 0; i < namespaces; i++)
		if (fake_post("namespaces", "{\"Name\":\"ns%d\",\"Type\":\"HTTP\"}", i) < 0)
			return -1;
	return fake_post("calls/reset", "{}");
}

static int list_namespaces(struct aws_client *c, json_t **out, struct aws_error *e)
{
	return aws_client_call(c, AWS_SERVICE_SERVICEDISCOVERY, "ListNamespaces",
			       json_pack("{s:i}", "MaxResults", 100), out, e);
}

static void test_success(void)
{
	struct aws_client *c = client(4, 0);
	struct aws_error e;
	json_t *out = NULL;

	CHECK(c);
	CHECK_INT(setup_world(2), 0);
	CHECK_INT(list_namespaces(c, &out, &e), 0);
	CHECK_INT(json_array_size(json_object_get(out, "Namespaces")), 2);
	json_decref(out);
	CHECK_INT(fake_calls("ListNamespaces"), 1);
	CHECK_INT(fake_rejections(), 0);
	aws_client_free(c);
}

struct pages {
	unsigned pages;
	size_t items;
	int result;
	bool done;
};

static int on_page(void *userdata, json_t *page)
{
	struct pages *p = userdata;

	p->pages++;
	p->items += json_array_size(json_object_get(page, "Namespaces"));
	return 0;
}

static void on_done(void *userdata, int result, const struct aws_error *e)
{
	struct pages *p = userdata;

	p->result = result;
	p->done = true;
}

static void test_pages(void)
{
	struct aws_client *c = client(4, 0);
	struct pages p = { 0 };

	CHECK(c);
	CHECK_INT(setup_world(5), 0);
	/* Two items a page, and two empty pages that still carry a token. */
	CHECK_INT(fake_post("pages", "{\"operation\":\"ListNamespaces\",\"page_size\":2,"
				     "\"empty_pages\":2}"),
		  0);
	CHECK_INT(aws_paginate(c, AWS_SERVICE_SERVICEDISCOVERY, "ListNamespaces",
			       json_pack("{s:i}", "MaxResults", 100), on_page, on_done, &p),
		  0);
	CHECK_INT(aws_client_run(c), 0);
	CHECK(p.done);
	CHECK_INT(p.result, 0);
	CHECK_INT(p.items, 5);
	CHECK(p.pages >= 5); /* 3 with items, 2 empty */
	CHECK_INT(fake_calls("ListNamespaces"), p.pages);
	CHECK_INT(fake_rejections(), 0);
	aws_client_free(c);
}

static void test_throttling_then_success(void)
{
	struct aws_client *c = client(4, 0);
	struct aws_error e;
	json_t *out = NULL;

	CHECK(c);
	CHECK_INT(setup_world(1), 0);
	CHECK_INT(fake_post("faults", "{\"operation\":\"ListNamespaces\",\"kind\":\"error\","
				      "\"status\":400,\"code\":\"ThrottlingException\","
				      "\"message\":\"Rate exceeded\",\"count\":2}"),
		  0);
	CHECK_INT(list_namespaces(c, &out, &e), 0);
	json_decref(out);
	CHECK_INT(throttled, 2);
	CHECK_INT(retried, 2);
	CHECK_INT(fake_calls("ListNamespaces"), 3);
	CHECK_INT(fake_rejections(), 0);
	aws_client_free(c);
}

static void test_5xx_burst_longer_than_attempts(void)
{
	struct aws_client *c = client(4, 0);
	struct aws_error e;
	json_t *out = NULL;

	CHECK(c);
	CHECK_INT(setup_world(1), 0);
	CHECK_INT(fake_post("faults",
			    "{\"operation\":\"ListNamespaces\",\"kind\":\"error\","
			    "\"status\":503,\"code\":\"ServiceUnavailable\",\"count\":5}"),
		  0);
	CHECK_INT(list_namespaces(c, &out, &e), -EREMOTEIO);
	CHECK_STR(e.code, "ServiceUnavailable");
	CHECK_INT(fake_calls("ListNamespaces"), AWS_MAX_ATTEMPTS);
	CHECK_INT(retried, AWS_MAX_ATTEMPTS - 1);
	CHECK_INT(fake_rejections(), 0);
	aws_client_free(c);
}

static void test_client_error_not_retried(void)
{
	struct aws_client *c = client(4, 0);
	struct aws_error e;
	json_t *out = NULL;

	CHECK(c);
	CHECK_INT(setup_world(0), 0);
	CHECK_INT(aws_client_call(c, AWS_SERVICE_SERVICEDISCOVERY, "ListTagsForResource",
				  json_pack("{s:s}", "ResourceARN",
					    "arn:aws:servicediscovery:us-east-1:123456789012:"
					    "service/srv-nope"),
				  &out, &e),
		  -EREMOTEIO);
	CHECK_STR(e.code, "ResourceNotFoundException");
	CHECK_INT(fake_calls("ListTagsForResource"), 1);
	CHECK_INT(fake_rejections(), 0);
	aws_client_free(c);
}

static void test_malformed_body(void)
{
	struct aws_client *c = client(4, 0);
	struct aws_error e;
	json_t *out = NULL;

	CHECK(c);
	CHECK_INT(setup_world(1), 0);
	CHECK_INT(fake_post("faults", "{\"operation\":\"ListNamespaces\",\"kind\":\"malformed\","
				      "\"count\":1}"),
		  0);
	CHECK_INT(list_namespaces(c, &out, &e), -EBADMSG);
	CHECK_INT(fake_calls("ListNamespaces"), 1);
	aws_client_free(c);
}

static void test_reset_and_truncation_retried(void)
{
	static const char *const kinds[] = { "reset", "close", "truncate" };
	struct aws_error e;
	json_t *out = NULL;
	size_t i;

	for (i = 0; i < 3; i++) {
		struct aws_client *c = client(4, 0);

		CHECK(c);
		CHECK_INT(setup_world(1), 0);
		CHECK_INT(fake_post("faults",
				    "{\"operation\":\"ListNamespaces\",\"kind\":\"%s\","
				    "\"count\":1}",
				    kinds[i]),
			  0);
		CHECK_INT(list_namespaces(c, &out, &e), 0);
		json_decref(out);
		CHECK_INT(retried, 1);
		CHECK_INT(fake_calls("ListNamespaces"), 2);
		aws_client_free(c);
	}
	CHECK_INT(fake_rejections(), 0);
}

static void test_timeout_retried(void)
{
	struct aws_client *c = client(4, 300);
	struct aws_error e;
	json_t *out = NULL;
	int64_t t0 = now_ms();

	CHECK(c);
	CHECK_INT(setup_world(1), 0);
	CHECK_INT(fake_post("faults", "{\"operation\":\"ListNamespaces\",\"kind\":\"hang\","
				      "\"count\":1}"),
		  0);
	CHECK_INT(list_namespaces(c, &out, &e), 0);
	json_decref(out);
	CHECK_INT(retried, 1);
	CHECK(now_ms() - t0 >= 300);
	CHECK(now_ms() - t0 < 5000);
	CHECK_INT(fake_post("faults/clear", "{}"), 0);
	aws_client_free(c);
}

struct concurrent {
	int done;
	int failed;
};

static void on_call(struct aws_call *call, void *userdata)
{
	struct concurrent *cc = userdata;

	cc->done++;
	cc->failed += call->result != 0;
	json_decref(call->output);
}

static void test_concurrency_bounded(void)
{
	struct aws_client *c = client(8, 0);
	struct aws_call calls[16];
	struct concurrent cc = { 0 };
	int64_t t0, elapsed;
	int i;

	CHECK(c);
	CHECK_INT(setup_world(1), 0);
	CHECK_INT(fake_post("faults", "{\"operation\":\"ListNamespaces\",\"kind\":\"latency\","
				      "\"delay_ms\":200}"),
		  0);
	for (i = 0; i < 16; i++) {
		calls[i] = (struct aws_call){ .service = AWS_SERVICE_SERVICEDISCOVERY,
					      .operation = "ListNamespaces",
					      .input = json_pack("{s:i}", "MaxResults", 10),
					      .done = on_call,
					      .userdata = &cc };
		CHECK_INT(aws_client_submit(c, &calls[i]), 0);
	}
	t0 = now_ms();
	CHECK_INT(aws_client_run(c), 0);
	elapsed = now_ms() - t0;
	printf("# 16 calls of 200 ms, 8 at a time: %lld ms\n", (long long)elapsed);
	CHECK_INT(cc.done, 16);
	CHECK_INT(cc.failed, 0);
	CHECK(elapsed >= 400); /* never more than 8 at once */
	CHECK(elapsed < 1500); /* but 8 at once, not one by one (3.2 s) */
	CHECK_INT(fake_post("faults/clear", "{}"), 0);
	CHECK_INT(fake_rejections(), 0);
	aws_client_free(c);
}

static void *abort_later(void *arg)
{
	struct timespec ts = { 0, 200 * 1000000 };

	nanosleep(&ts, NULL); /* the abort must land while the call hangs */
	aws_client_abort(arg);
	return NULL;
}

static void test_abort(void)
{
	struct aws_client *c = client(4, 30000);
	struct aws_error e;
	json_t *out = NULL;
	pthread_t t;
	int64_t t0 = now_ms();

	CHECK(c);
	CHECK_INT(setup_world(1), 0);
	CHECK_INT(fake_post("faults", "{\"operation\":\"ListNamespaces\",\"kind\":\"hang\"}"), 0);
	CHECK_INT(pthread_create(&t, NULL, abort_later, c), 0);
	CHECK_INT(list_namespaces(c, &out, &e), -ECANCELED);
	pthread_join(t, NULL);
	CHECK(now_ms() - t0 < 2000);
	CHECK_INT(fake_post("faults/clear", "{}"), 0);
	aws_client_free(c);
}

int main(void)
{
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	creds = creds_env_new(&ctx);
	r = TEST_MAIN(TEST_CASE(test_success), TEST_CASE(test_pages),
		      TEST_CASE(test_throttling_then_success),
		      TEST_CASE(test_5xx_burst_longer_than_attempts),
		      TEST_CASE(test_client_error_not_retried), TEST_CASE(test_malformed_body),
		      TEST_CASE(test_reset_and_truncation_retried), TEST_CASE(test_timeout_retried),
		      TEST_CASE(test_concurrency_bounded), TEST_CASE(test_abort));
	creds_provider_free(creds);
	curl_global_cleanup();
	return r;
}
