/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the AWS JSON client's pure parts: error parsing, retry
 * classification, back-off bounds and the retry quota. The client itself is
 * driven end to end against the botocore-verifying fake in
 * test-awsclient-integration.c.
 */
#include <errno.h>
#include <string.h>

#include "awsclient.h"
#include "test.h"

static void parse(const char *body, const char *header, struct aws_error *e)
{
	aws_error_parse(body, body ? strlen(body) : 0, header, e);
}

static void test_error_from_body_type(void)
{
	struct aws_error e;

	parse("{\"__type\":\"com.amazonaws.servicediscovery#NamespaceNotFound\","
	      "\"message\":\"no such namespace\"}",
	      NULL, &e);
	CHECK_STR(e.code, "NamespaceNotFound");
	CHECK_STR(e.message, "no such namespace");

	parse("{\"__type\":\"aws.protocols#ThrottlingException:http://internal.amazon.com/\","
	      "\"Message\":\"Rate exceeded\"}",
	      NULL, &e);
	CHECK_STR(e.code, "ThrottlingException");
	CHECK_STR(e.message, "Rate exceeded");

	parse("{\"__type\":\"ValidationException\"}", NULL, &e);
	CHECK_STR(e.code, "ValidationException");
	CHECK_STR(e.message, "");
}

static void test_error_from_header(void)
{
	struct aws_error e;

	/* The body's __type wins; the header is the fallback. */
	parse("{\"__type\":\"A\"}", "B:http://x", &e);
	CHECK_STR(e.code, "A");
	parse("{\"message\":\"m\"}", "ThrottlingException:http://internal.amazon.com/", &e);
	CHECK_STR(e.code, "ThrottlingException");
	CHECK_STR(e.message, "m");
	parse("<html>bad gateway</html>", "ns#InternalFailure", &e);
	CHECK_STR(e.code, "InternalFailure");
	parse("<html>bad gateway</html>", NULL, &e);
	CHECK_STR(e.code, "");
	parse(NULL, NULL, &e);
	CHECK_STR(e.code, "");
}

static void test_error_truncates(void)
{
	char body[1024], longcode[200];
	struct aws_error e;

	memset(longcode, 'C', sizeof(longcode) - 1);
	longcode[sizeof(longcode) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"__type\":\"%s\",\"message\":\"%0400d\"}", longcode, 0);
	parse(body, NULL, &e);
	CHECK_INT(strlen(e.code), sizeof(e.code) - 1);
	CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
}

static void test_throttle_codes(void)
{
	static const char *const codes[] = {
		"Throttling",
		"ThrottlingException",
		"ThrottledException",
		"RequestThrottledException",
		"TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException",
		"RequestLimitExceeded",
		"BandwidthLimitExceeded",
		"LimitExceededException",
		"RequestThrottled",
		"SlowDown",
		"PriorRequestNotComplete",
		"EC2ThrottledException",
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		CHECK(aws_is_throttle_code(codes[i]));
		CHECK_INT(aws_retry_classify(0, 400, codes[i]), AWS_RETRY_THROTTLE);
	}
	CHECK(!aws_is_throttle_code("throttling"));
	CHECK(!aws_is_throttle_code("AccessDeniedException"));
}

static void test_classify(void)
{
	CHECK_INT(aws_retry_classify(0, 200, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 500, "InternalFailure"), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 502, ""), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 503, "ServiceUnavailable"), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 504, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 501, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 400, "RequestTimeout"), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 408, "RequestTimeoutException"), AWS_RETRY_TRANSIENT);
	/* No other 4xx is retried. */
	CHECK_INT(aws_retry_classify(0, 400, "ValidationException"), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 403, "AccessDeniedException"), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 404, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 429, NULL), AWS_RETRY_NO);
	/* Connection errors are transient; a timeout is its own class. */
	CHECK_INT(aws_retry_classify(-ECONNRESET, 0, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(-ECONNREFUSED, 0, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(-EHOSTUNREACH, 0, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(-ETIMEDOUT, 0, NULL), AWS_RETRY_TIMEOUT);
	CHECK_INT(aws_retry_classify(-EMSGSIZE, 0, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(-EPERM, 0, NULL), AWS_RETRY_NO);
}

static void test_backoff_bounds(void)
{
	unsigned retry;

	CHECK_INT(aws_backoff_ms(1, 0.0), 0);
	CHECK_INT(aws_backoff_ms(1, 0.5), 500);
	CHECK_INT(aws_backoff_ms(2, 0.5), 1000);
	CHECK_INT(aws_backoff_ms(3, 0.5), 2000);
	for (retry = 1; retry < 64; retry++) {
		int64_t hi = aws_backoff_ms(retry, 0.9999999);

		CHECK(hi >= 0 && hi < AWS_MAX_BACKOFF_MS);
		CHECK(aws_backoff_ms(retry, 0.0) == 0);
	}
	CHECK(aws_backoff_ms(6, 0.9999) > 19000);			/* capped at 20 s, not 32 */
	CHECK_INT(aws_backoff_ms(2, 1.5), aws_backoff_ms(2, 0.999999)); /* rnd clamped */
}

static void test_quota(void)
{
	struct aws_retry_quota q;
	unsigned cost, n = 0;

	aws_retry_quota_init(&q, AWS_RETRY_QUOTA);
	CHECK_INT(aws_retry_quota_acquire(&q, AWS_RETRY_TRANSIENT, &cost), 0);
	CHECK_INT(cost, AWS_RETRY_COST);
	CHECK_INT(aws_retry_quota_acquire(&q, AWS_RETRY_TIMEOUT, &cost), 0);
	CHECK_INT(cost, AWS_RETRY_TIMEOUT_COST);
	CHECK_INT(q.available, AWS_RETRY_QUOTA - 15);
	aws_retry_quota_release(&q, AWS_RETRY_TIMEOUT_COST);
	CHECK_INT(q.available, AWS_RETRY_QUOTA - 5);
	aws_retry_quota_release(&q, 0);
	CHECK_INT(q.available, AWS_RETRY_QUOTA - 4);
	aws_retry_quota_release(&q, AWS_RETRY_COST);
	CHECK_INT(q.available, AWS_RETRY_QUOTA); /* never above the max */

	while (aws_retry_quota_acquire(&q, AWS_RETRY_THROTTLE, &cost) == 0)
		n++;
	CHECK_INT(n, AWS_RETRY_QUOTA / AWS_RETRY_COST);
	CHECK_INT(aws_retry_quota_acquire(&q, AWS_RETRY_TRANSIENT, &cost), -EDQUOT);
	aws_retry_quota_release(&q, 0);
	CHECK_INT(q.available, 1);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_error_from_body_type), TEST_CASE(test_error_from_header),
			 TEST_CASE(test_error_truncates), TEST_CASE(test_throttle_codes),
			 TEST_CASE(test_classify), TEST_CASE(test_backoff_bounds),
			 TEST_CASE(test_quota));
}
