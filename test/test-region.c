/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of region resolution: the order of the sources, each source (the
 * environment, the ECS task metadata, IMDS) and its failures, and which
 * region names are refused. HTTP goes to a fake transport with scripted
 * answers that records what was asked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "region.h"
#include "test.h"

#define FAKE_MAX 8

struct fake_answer {
	int err; /* returned by perform() when not 0 */
	long status;
	const char *body;
};

struct fake {
	struct http_transport base;
	struct fake_answer answers[FAKE_MAX];
	size_t n_answers;
	char methods[FAKE_MAX][8];
	char urls[FAKE_MAX][256];
	size_t n_reqs;
};

static int fake_perform(struct http_transport *t, const struct http_request *req,
			struct http_response *resp)
{
	struct fake *f = (struct fake *)t;
	const struct fake_answer *a;

	if (f->n_reqs == f->n_answers)
		return -ECONNREFUSED; /* unscripted: the checks of n_reqs catch it */
	snprintf(f->methods[f->n_reqs], sizeof(f->methods[0]), "%s", req->method);
	snprintf(f->urls[f->n_reqs], sizeof(f->urls[0]), "%s", req->url);
	a = &f->answers[f->n_reqs++];
	if (a->err)
		return a->err;
	if (a->body && strlen(a->body) > req->max_response_bytes)
		return -EMSGSIZE;
	resp->status = a->status;
	if (a->body)
		buf_puts(&resp->body, a->body);
	return 0;
}

static void fake_answer(struct fake *f, int err, long status, const char *body)
{
	f->answers[f->n_answers++] = (struct fake_answer){ err, status, body };
}

struct env {
	const char *names[4];
	const char *values[4];
};

static const char *env_get(const char *name, void *userdata)
{
	const struct env *e = userdata;
	size_t i;

	for (i = 0; i < 4 && e->names[i]; i++)
		if (strcmp(e->names[i], name) == 0)
			return e->values[i];
	return NULL;
}

static int64_t clock_now(void *userdata)
{
	return *(int64_t *)userdata;
}

struct world {
	struct fake fake;
	struct env env;
	int64_t now;
	struct creds_context ctx;
	char *region;
	const char *source;
};

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->fake.base.perform = fake_perform;
	w->now = 1700000000;
	w->ctx = (struct creds_context){ .getenv = env_get,
					 .getenv_userdata = &w->env,
					 .now = clock_now,
					 .now_userdata = &w->now,
					 .http = &w->fake.base };
}

static int world_resolve(struct world *w)
{
	free(w->region);
	w->region = NULL;
	w->source = NULL;
	return region_resolve(&w->ctx, &w->region, &w->source);
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

	world_init(&w);
	w.env =
	    (struct env){ { "AWS_DEFAULT_REGION", "AWS_REGION", "ECS_CONTAINER_METADATA_URI_V4" },
			  { "eu-west-2", "us-west-2", ECS_URI } };
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "us-west-2");
	CHECK_STR(w.source, "AWS_REGION");
	CHECK_INT(w.fake.n_reqs, 0);
	world_done(&w);
}

static void test_aws_default_region_second(void)
{
	struct world w;

	world_init(&w);
	w.env =
	    (struct env){ { "AWS_DEFAULT_REGION", "AWS_REGION", "ECS_CONTAINER_METADATA_URI_V4" },
			  { "eu-west-2", "", ECS_URI } };
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "eu-west-2");
	CHECK_STR(w.source, "AWS_DEFAULT_REGION");
	CHECK_INT(w.fake.n_reqs, 0);
	world_done(&w);
}

static void test_bad_region_in_environment(void)
{
	struct world w;

	world_init(&w);
	w.env =
	    (struct env){ { "AWS_REGION", "AWS_DEFAULT_REGION" }, { "US-EAST-1", "eu-west-1" } };
	CHECK_INT(world_resolve(&w), -EINVAL);
	CHECK(w.region == NULL && w.source == NULL);
	w.env = (struct env){ { "AWS_DEFAULT_REGION" }, { "eu-west-1.evil.example/" } };
	CHECK_INT(world_resolve(&w), -EINVAL);
	CHECK_INT(w.fake.n_reqs, 0);
	world_done(&w);
}

static void test_ecs_task_arn(void)
{
	struct world w;

	world_init(&w);
	w.env = (struct env){ { "ECS_CONTAINER_METADATA_URI_V4" }, { ECS_URI "/" } };
	fake_answer(&w.fake, 0, 200,
		    "{\"Cluster\": \"c\", " ECS_ARN ", \"AvailabilityZone\": \"us-east-1a\"}");
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "eu-west-1");
	CHECK_STR(w.source, "ecs-metadata");
	CHECK_INT(w.fake.n_reqs, 1);
	CHECK_STR(w.fake.methods[0], "GET");
	CHECK_STR(w.fake.urls[0], ECS_URI "/task");
	world_done(&w);
}

static void test_ecs_task_arn_other_partition(void)
{
	struct world w;

	world_init(&w);
	w.env = (struct env){ { "ECS_CONTAINER_METADATA_URI_V4" }, { ECS_URI } };
	fake_answer(&w.fake, 0, 200,
		    "{\"TaskARN\": \"arn:aws-us-gov:ecs:us-gov-west-1:1:task/c/0123\"}");
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "us-gov-west-1");
	CHECK_STR(w.fake.urls[0], ECS_URI "/task");
	world_done(&w);
}

/* The region taken from a task metadata body without a usable TaskARN. */
static int ecs_region(const char *body, char *out, size_t out_size)
{
	struct world w;
	int r;

	world_init(&w);
	w.env = (struct env){ { "ECS_CONTAINER_METADATA_URI_V4" }, { ECS_URI } };
	fake_answer(&w.fake, 0, 200, body);
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

	world_init(&w);
	w.env = (struct env){ { "ECS_CONTAINER_METADATA_URI_V4" }, { ECS_URI } };
	fake_answer(&w.fake, 0, 500, "{}");
	fake_answer(&w.fake, -ECONNREFUSED, 0, NULL);
	CHECK_INT(world_resolve(&w), -EPROTO);
	CHECK_INT(world_resolve(&w), -ECONNREFUSED);
	CHECK_INT(w.fake.n_reqs, 2);
	w.env.values[0] = "file:///etc/passwd";
	CHECK_INT(world_resolve(&w), -EINVAL);
	CHECK_INT(w.fake.n_reqs, 2);
	world_done(&w);
}

static void test_imds(void)
{
	struct world w;

	world_init(&w);
	fake_answer(&w.fake, 0, 200, "TOKEN");
	fake_answer(&w.fake, 0, 200, "ap-south-1\n");
	CHECK_INT(world_resolve(&w), 0);
	CHECK_STR(w.region, "ap-south-1");
	CHECK_STR(w.source, "imds");
	CHECK_INT(w.fake.n_reqs, 2);
	CHECK_STR(w.fake.methods[0], "PUT");
	CHECK_STR(w.fake.urls[1], "http://169.254.169.254/latest/meta-data/placement/region");
	world_done(&w);
}

static void test_imds_bad_region(void)
{
	struct world w;

	world_init(&w);
	fake_answer(&w.fake, 0, 200, "TOKEN");
	fake_answer(&w.fake, 0, 200, "<html>us-east-1</html>");
	CHECK_INT(world_resolve(&w), -EBADMSG);
	CHECK(w.region == NULL);
	world_done(&w);
}

static void test_nothing_knows(void)
{
	struct world w;
	char *region = NULL;

	/* IMDS times out (token, then the IMDSv1 GET). */
	world_init(&w);
	fake_answer(&w.fake, -ETIMEDOUT, 0, NULL);
	fake_answer(&w.fake, -ETIMEDOUT, 0, NULL);
	CHECK_INT(world_resolve(&w), -ENOENT);
	CHECK_INT(w.fake.n_reqs, 2);
	/* IMDS without the path. */
	world_init(&w);
	fake_answer(&w.fake, 0, 200, "TOKEN");
	fake_answer(&w.fake, 0, 404, "");
	CHECK_INT(world_resolve(&w), -ENOENT);
	/* IMDS disabled: not asked. */
	world_init(&w);
	w.env = (struct env){ { "AWS_EC2_METADATA_DISABLED" }, { "true" } };
	CHECK_INT(world_resolve(&w), -ENOENT);
	CHECK_INT(w.fake.n_reqs, 0);
	/* No transport: the environment only. */
	world_init(&w);
	w.ctx.http = NULL;
	CHECK_INT(region_resolve(&w.ctx, &region, NULL), -ENOENT);
	CHECK(region == NULL);
	w.env = (struct env){ { "AWS_REGION" }, { "eu-north-1" } };
	CHECK_INT(region_resolve(&w.ctx, &region, NULL), 0);
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
