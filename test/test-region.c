/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of region resolution: the order of the sources, each source (the
 * environment, the ECS task metadata, IMDS) and its failures, and which
 * region names are refused. HTTP goes to the shared fake transport of
 * test/creds/fake.h, with scripted answers, which records what was asked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "region.h"
#include "test.h"

#include "creds/fake.h"

struct world {
	struct fake_world fw;
	char *region;
	const char *source;
};

static int world_init(struct world *w)
{
	int r;

	w->region = NULL;
	w->source = NULL;
	r = fake_world_init(&w->fw);
	fake_world_done(&w->fw); /* no files */
	return r;
}

static int world_resolve(struct world *w)
{
	free(w->region);
	w->region = NULL;
	w->source = NULL;
	return region_resolve(&w->fw.ctx, &w->region, &w->source);
}

static void world_done(struct world *w)
{
	free(w->region);
	w->region = NULL;
}

#define ECS_URI "http://169.254.170.2/v4/0123abcd"
#define ECS_ARN "\"TaskARN\": \"arn:aws:ecs:eu-west-1:123456789012:task/c/0123\""

static void test_aws_region_first(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_setenv(&w.fw, "AWS_DEFAULT_REGION", "eu-west-2");
	fake_setenv(&w.fw, "AWS_REGION", "us-west-2");
	fake_setenv(&w.fw, "ECS_CONTAINER_METADATA_URI_V4", ECS_URI);
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "us-west-2");
	CHECK_STR(w.source, "AWS_REGION");
	CHECK_INT(w.fw.http.n_requests, 0);
	world_done(&w);
}

static void test_aws_default_region_second(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_setenv(&w.fw, "AWS_DEFAULT_REGION", "eu-west-2");
	fake_setenv(&w.fw, "AWS_REGION", "");
	fake_setenv(&w.fw, "ECS_CONTAINER_METADATA_URI_V4", ECS_URI);
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "eu-west-2");
	CHECK_STR(w.source, "AWS_DEFAULT_REGION");
	CHECK_INT(w.fw.http.n_requests, 0);
	world_done(&w);
}

static void test_bad_region_in_environment(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_setenv(&w.fw, "AWS_REGION", "US-EAST-1");
	fake_setenv(&w.fw, "AWS_DEFAULT_REGION", "eu-west-1");
	CHECK_INT(world_resolve(&w), -EINVAL);
	CHECK(w.region == NULL && w.source == NULL);
	fake_setenv(&w.fw, "AWS_REGION", NULL);
	fake_setenv(&w.fw, "AWS_DEFAULT_REGION", "eu-west-1.evil.example/");
	CHECK_INT(world_resolve(&w), -EINVAL);
	CHECK_INT(w.fw.http.n_requests, 0);
	world_done(&w);
}

static void test_ecs_task_arn(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_setenv(&w.fw, "ECS_CONTAINER_METADATA_URI_V4", ECS_URI "/");
	fake_answer(&w.fw, 0, 200,
		    "{\"Cluster\": \"c\", " ECS_ARN ", \"AvailabilityZone\": \"us-east-1a\"}",
		    NULL);
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "eu-west-1");
	CHECK_STR(w.source, "ecs-metadata");
	CHECK_INT(w.fw.http.n_requests, 1);
	CHECK_STR(w.fw.http.requests[0].method, "GET");
	CHECK_STR(w.fw.http.requests[0].url, ECS_URI "/task");
	world_done(&w);
}

static void test_ecs_task_arn_other_partition(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_setenv(&w.fw, "ECS_CONTAINER_METADATA_URI_V4", ECS_URI);
	fake_answer(&w.fw, 0, 200,
		    "{\"TaskARN\": \"arn:aws-us-gov:ecs:us-gov-west-1:1:task/c/0123\"}", NULL);
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "us-gov-west-1");
	CHECK_STR(w.fw.http.requests[0].url, ECS_URI "/task");
	world_done(&w);
}

/* The region taken from a task metadata body without a usable TaskARN. */
static int ecs_region(const char *body, char *out, size_t out_size)
{
	struct world w;
	int r;

	r = world_init(&w);
	if (r < 0)
		return r;
	fake_setenv(&w.fw, "ECS_CONTAINER_METADATA_URI_V4", ECS_URI);
	fake_answer(&w.fw, 0, 200, body, NULL);
	r = world_resolve(&w);
	if (r == 0)
		snprintf(out, out_size, "%s", w.region);
	world_done(&w);
	return r;
}

static void test_ecs_availability_zone(void)
{
	char region[64];

	CHECK_INT(ecs_region("{\"AvailabilityZone\": \"us-west-2b\"}", region, sizeof(region)), 0);
	CHECK_STR(region, "us-west-2");
	CHECK_INT(
	    ecs_region("{\"TaskARN\": \"arn:aws:ecs\", \"AvailabilityZone\": \"ap-south-1c\"}",
		       region, sizeof(region)),
	    0);
	CHECK_STR(region, "ap-south-1");
	CHECK_INT(ecs_region("{\"TaskARN\": 7, \"AvailabilityZone\": \"us-west-2-lax-1a\"}", region,
			     sizeof(region)),
		  0);
	CHECK_STR(region, "us-west-2");
	CHECK_INT(ecs_region("{\"AvailabilityZone\": \"cn-northwest-1a\"}", region, sizeof(region)),
		  0);
	CHECK_STR(region, "cn-northwest-1");
}

static void test_ecs_bad_answers(void)
{
	char region[64];

	CHECK_INT(ecs_region("not json", region, sizeof(region)), -EBADMSG);
	CHECK_INT(ecs_region("{}", region, sizeof(region)), -EBADMSG);
	CHECK_INT(
	    ecs_region("{\"TaskARN\": \"arn:aws:ecs:EU_WEST:1:task/x\"}", region, sizeof(region)),
	    -EBADMSG);
	CHECK_INT(ecs_region("{\"AvailabilityZone\": \"nowhere\"}", region, sizeof(region)),
		  -EBADMSG);
	CHECK_INT(ecs_region("[\"TaskARN\"]", region, sizeof(region)), -EBADMSG);
}

/* A configured ECS endpoint decides: its failures are not followed by IMDS. */
static void test_ecs_failures_are_errors(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_setenv(&w.fw, "ECS_CONTAINER_METADATA_URI_V4", ECS_URI);
	fake_answer(&w.fw, 0, 500, "{}", NULL);
	fake_answer(&w.fw, -ECONNREFUSED, 0, NULL, NULL);
	CHECK_INT(world_resolve(&w), -EPROTO);
	CHECK_INT(world_resolve(&w), -ECONNREFUSED);
	CHECK_INT(w.fw.http.n_requests, 2);
	fake_setenv(&w.fw, "ECS_CONTAINER_METADATA_URI_V4", "file:///etc/passwd");
	CHECK_INT(world_resolve(&w), -EINVAL);
	CHECK_INT(w.fw.http.n_requests, 2);
	world_done(&w);
}

static void test_imds(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN", NULL);
	fake_answer(&w.fw, 0, 200, "ap-south-1\n", NULL);
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "ap-south-1");
	CHECK_STR(w.source, "imds");
	CHECK_INT(w.fw.http.n_requests, 2);
	CHECK_STR(w.fw.http.requests[0].method, "PUT");
	CHECK_STR(w.fw.http.requests[1].url,
		  "http://169.254.169.254/latest/meta-data/placement/region");
	world_done(&w);
}

static void test_imds_bad_region(void)
{
	struct world w;

	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN", NULL);
	fake_answer(&w.fw, 0, 200, "<html>us-east-1</html>", NULL);
	CHECK_INT(world_resolve(&w), -EBADMSG);
	CHECK(w.region == NULL);
	world_done(&w);
}

static void test_nothing_knows(void)
{
	struct world w;
	char *region = NULL;

	/* IMDS times out (token, then the IMDSv1 GET). */
	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, -ETIMEDOUT, 0, NULL, NULL);
	fake_answer(&w.fw, -ETIMEDOUT, 0, NULL, NULL);
	CHECK_INT(world_resolve(&w), -ENOENT);
	CHECK_INT(w.fw.http.n_requests, 2);
	/* IMDS without the path. */
	CHECK_INT(world_init(&w), 0);
	fake_answer(&w.fw, 0, 200, "TOKEN", NULL);
	fake_answer(&w.fw, 0, 404, "", NULL);
	CHECK_INT(world_resolve(&w), -ENOENT);
	/* IMDS disabled: not asked. */
	CHECK_INT(world_init(&w), 0);
	fake_setenv(&w.fw, "AWS_EC2_METADATA_DISABLED", "true");
	CHECK_INT(world_resolve(&w), -ENOENT);
	CHECK_INT(w.fw.http.n_requests, 0);
	/* No transport: the environment only. */
	CHECK_INT(world_init(&w), 0);
	w.fw.ctx.http = NULL;
	CHECK_INT(region_resolve(&w.fw.ctx, &region, NULL), -ENOENT);
	CHECK(region == NULL);
	fake_setenv(&w.fw, "AWS_REGION", "eu-north-1");
	CHECK_INT(region_resolve(&w.fw.ctx, &region, NULL), 0);
	CHECK_STR(region, "eu-north-1");
	free(region);
}

static void test_region_names(void)
{
	static const char *const good[] = { "us-east-1",      "us-gov-west-1", "cn-north-1",
					    "us-isob-east-1", "il-central-1",  "local" };
	static const char *const bad[] = { "",
					   "US-EAST-1",
					   "us_east_1",
					   "-us-east-1",
					   "us-east-1-",
					   "us--east-1",
					   "1us-east",
					   "us-east-1 ",
					   "us.east.1",
					   "us-east-1/../x",
					   "abcdefghij-abcdefghij-abcdefghij-1" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!region_is_valid(good[i]))
			TEST_FAIL("%s refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (region_is_valid(bad[i]))
			TEST_FAIL("%s accepted", bad[i]);
	CHECK(!region_is_valid(NULL));
	CHECK(region_is_valid("abcdefghij-abcdefghij-abcdefgh-1")); /* 32 */
}

int main(void)
{
	return TEST_MAIN(
	    TEST_CASE(test_aws_region_first), TEST_CASE(test_aws_default_region_second),
	    TEST_CASE(test_bad_region_in_environment), TEST_CASE(test_ecs_task_arn),
	    TEST_CASE(test_ecs_task_arn_other_partition), TEST_CASE(test_ecs_availability_zone),
	    TEST_CASE(test_ecs_bad_answers), TEST_CASE(test_ecs_failures_are_errors),
	    TEST_CASE(test_imds), TEST_CASE(test_imds_bad_region), TEST_CASE(test_nothing_knows),
	    TEST_CASE(test_region_names));
}
