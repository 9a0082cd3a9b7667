/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of endpoint resolution: default hosts of every service in every
 * partition, the override variables and their precedence, the refusal of
 * FIPS and dual-stack, URL checks and Host values. The environment is a
 * table of this program's, never the process's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "test.h"

struct env {
	const char *names[8];
	const char *values[8];
};

static const char *env_get(const char *name, void *userdata)
{
	const struct env *e = userdata;
	size_t i;

	for (i = 0; i < 8 && e->names[i]; i++)
		if (strcmp(e->names[i], name) == 0)
			return e->values[i];
	return NULL;
}

/* Resolves and compares; returns 0 when the URL is want, else -1. */
static int resolved_is(enum aws_service svc, const char *region, struct env *e, const char *want)
{
	char *url = NULL;
	int r;

	r = endpoint_resolve(svc, region, env_get, e, &url);
	if (r < 0) {
		printf("# endpoint_resolve(%d, %s) = %d\n", (int)svc, region, r);
		return -1;
	}
	r = strcmp(url, want) == 0 ? 0 : -1;
	if (r < 0)
		printf("# got %s, want %s\n", url, want);
	free(url);
	return r;
}

static void test_partitions_and_services(void)
{
	static const struct {
		enum aws_service svc;
		const char *region, *url;
	} cases[] = {
		{ AWS_SERVICE_SERVICEDISCOVERY, "us-east-1",
		  "https://servicediscovery.us-east-1.amazonaws.com" },
		{ AWS_SERVICE_SERVICEDISCOVERY_DATA, "eu-west-1",
		  "https://data-servicediscovery.eu-west-1.amazonaws.com" },
		{ AWS_SERVICE_SSM, "ap-southeast-2", "https://ssm.ap-southeast-2.amazonaws.com" },
		{ AWS_SERVICE_STS, "us-east-1", "https://sts.us-east-1.amazonaws.com" },
		{ AWS_SERVICE_STS, "il-central-1", "https://sts.il-central-1.amazonaws.com" },
		{ AWS_SERVICE_SSM, "mx-central-1", "https://ssm.mx-central-1.amazonaws.com" },
		{ AWS_SERVICE_SERVICEDISCOVERY, "cn-north-1",
		  "https://servicediscovery.cn-north-1.amazonaws.com.cn" },
		{ AWS_SERVICE_SERVICEDISCOVERY_DATA, "cn-northwest-1",
		  "https://data-servicediscovery.cn-northwest-1.amazonaws.com.cn" },
		{ AWS_SERVICE_STS, "cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn" },
		{ AWS_SERVICE_SERVICEDISCOVERY, "us-gov-west-1",
		  "https://servicediscovery.us-gov-west-1.amazonaws.com" },
		{ AWS_SERVICE_STS, "us-gov-east-1", "https://sts.us-gov-east-1.amazonaws.com" },
		{ AWS_SERVICE_SSM, "us-iso-east-1", "https://ssm.us-iso-east-1.c2s.ic.gov" },
		{ AWS_SERVICE_SERVICEDISCOVERY_DATA, "us-iso-west-1",
		  "https://data-servicediscovery.us-iso-west-1.c2s.ic.gov" },
		{ AWS_SERVICE_STS, "us-isob-east-1", "https://sts.us-isob-east-1.sc2s.sgov.gov" },
		{ AWS_SERVICE_SERVICEDISCOVERY, "us-isob-east-1",
		  "https://servicediscovery.us-isob-east-1.sc2s.sgov.gov" },
	};
	struct env e = { { NULL }, { NULL } };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(resolved_is(cases[i].svc, cases[i].region, &e, cases[i].url), 0);
}

static void test_partition_names(void)
{
	CHECK_STR(endpoint_partition("us-east-1"), "aws");
	CHECK_STR(endpoint_partition("il-central-1"), "aws");
	CHECK_STR(endpoint_partition("cn-north-1"), "aws-cn");
	CHECK_STR(endpoint_partition("us-gov-west-1"), "aws-us-gov");
	CHECK_STR(endpoint_partition("us-iso-east-1"), "aws-iso");
	CHECK_STR(endpoint_partition("us-isob-east-1"), "aws-iso-b");
	CHECK_STR(endpoint_partition("xx-unknown-1"), "aws");
}

static void test_signing_names_and_env_ids(void)
{
	CHECK_STR(endpoint_signing_name(AWS_SERVICE_SERVICEDISCOVERY), "servicediscovery");
	CHECK_STR(endpoint_signing_name(AWS_SERVICE_SERVICEDISCOVERY_DATA), "servicediscovery");
	CHECK_STR(endpoint_signing_name(AWS_SERVICE_SSM), "ssm");
	CHECK_STR(endpoint_signing_name(AWS_SERVICE_STS), "sts");
	CHECK(endpoint_signing_name(AWS_SERVICE_COUNT) == NULL);
	CHECK_STR(endpoint_env_id(AWS_SERVICE_SERVICEDISCOVERY), "SERVICEDISCOVERY");
	CHECK_STR(endpoint_env_id(AWS_SERVICE_SERVICEDISCOVERY_DATA), "SERVICEDISCOVERY");
	CHECK_STR(endpoint_env_id(AWS_SERVICE_SSM), "SSM");
	CHECK_STR(endpoint_env_id(AWS_SERVICE_STS), "STS");
	CHECK(endpoint_env_id(AWS_SERVICE_COUNT) == NULL);
}

static void test_service_overrides(void)
{
	struct env e = { { "AWS_ENDPOINT_URL_SERVICEDISCOVERY", "AWS_ENDPOINT_URL_SSM",
			   "AWS_ENDPOINT_URL_STS" },
			 { "http://127.0.0.1:4566", "https://ssm.example:8443/",
			   "http://localhost:9000/sts" } };

	/* Exactly as given, for both Cloud Map hosts: no "data-" prefix. */
	CHECK_INT(
	    resolved_is(AWS_SERVICE_SERVICEDISCOVERY, "us-east-1", &e, "http://127.0.0.1:4566"), 0);
	CHECK_INT(resolved_is(AWS_SERVICE_SERVICEDISCOVERY_DATA, "us-east-1", &e,
			      "http://127.0.0.1:4566"),
		  0);
	CHECK_INT(resolved_is(AWS_SERVICE_SSM, "cn-north-1", &e, "https://ssm.example:8443/"), 0);
	CHECK_INT(resolved_is(AWS_SERVICE_STS, "us-east-1", &e, "http://localhost:9000/sts"), 0);
}

static void test_global_override_and_precedence(void)
{
	struct env e = { { "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_STS" },
			 { "http://fake:1234", "http://ssm-fake:1", "" } };
	const char *name, *value;

	CHECK_INT(resolved_is(AWS_SERVICE_SSM, "us-east-1", &e, "http://ssm-fake:1"), 0);
	CHECK_INT(resolved_is(AWS_SERVICE_SERVICEDISCOVERY, "us-east-1", &e, "http://fake:1234"),
		  0);
	CHECK_INT(
	    resolved_is(AWS_SERVICE_SERVICEDISCOVERY_DATA, "us-east-1", &e, "http://fake:1234"), 0);
	/* An empty service variable counts as unset. */
	CHECK_INT(resolved_is(AWS_SERVICE_STS, "us-east-1", &e, "http://fake:1234"), 0);
	CHECK_INT(endpoint_override(AWS_SERVICE_SSM, env_get, &e, &name, &value), 0);
	CHECK_STR(name, "AWS_ENDPOINT_URL_SSM");
	CHECK_STR(value, "http://ssm-fake:1");
	CHECK_INT(endpoint_override(AWS_SERVICE_STS, env_get, &e, &name, &value), 0);
	CHECK_STR(name, "AWS_ENDPOINT_URL");
}

static void test_ignore_configured_endpoint_urls(void)
{
	struct env e = { { "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" },
			 { "http://fake:1234", "TRUE" } };
	const char *name = NULL, *value = NULL;

	CHECK_INT(
	    resolved_is(AWS_SERVICE_SSM, "us-east-1", &e, "https://ssm.us-east-1.amazonaws.com"),
	    0);
	CHECK_INT(endpoint_override(AWS_SERVICE_SSM, env_get, &e, &name, &value), -ENOENT);
	CHECK(name == NULL && value == NULL);
	e.values[1] = "false";
	CHECK_INT(resolved_is(AWS_SERVICE_SSM, "us-east-1", &e, "http://fake:1234"), 0);
	e.values[1] = "maybe";
	CHECK_INT(endpoint_override(AWS_SERVICE_SSM, env_get, &e, &name, &value), -EINVAL);
}

static void test_bad_override_urls(void)
{
	static const char *const bad[] = {
		"ftp://host",	   "file:///etc/passwd",  "host:443",
		"http://",	   "http:///path",	  "http://user:pw@host",
		"http://host?x=1", "http://host/#frag",	  "http://ho st",
		"http://host\n",   "https://h\xc3\xa9st", "//host",
	};
	struct env e = { { "AWS_ENDPOINT_URL_STS" }, { NULL } };
	char *url = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.values[0] = bad[i];
		if (endpoint_resolve(AWS_SERVICE_STS, "us-east-1", env_get, &e, &url) != -EINVAL)
			TEST_FAIL("override %s accepted", bad[i]);
		CHECK(url == NULL);
		CHECK_INT(endpoint_check_url(bad[i]), -EINVAL);
	}
	CHECK_INT(endpoint_check_url(NULL), -EINVAL);
	CHECK_INT(endpoint_check_url("HTTPS://Host.Example:8443/a/b"), 0);
	CHECK_INT(endpoint_check_url("http://[::1]:8080"), 0);
}

static void test_bad_region_or_service(void)
{
	struct env e = { { NULL }, { NULL } };
	char *url = NULL;

	CHECK_INT(endpoint_resolve(AWS_SERVICE_SSM, NULL, env_get, &e, &url), -EINVAL);
	CHECK_INT(endpoint_resolve(AWS_SERVICE_SSM, "", env_get, &e, &url), -EINVAL);
	CHECK_INT(endpoint_resolve(AWS_SERVICE_SSM, "us-east-1.evil.com/", env_get, &e, &url),
		  -EINVAL);
	CHECK_INT(endpoint_resolve(AWS_SERVICE_SSM, "US-EAST-1", env_get, &e, &url), -EINVAL);
	CHECK_INT(endpoint_resolve(AWS_SERVICE_COUNT, "us-east-1", env_get, &e, &url), -EINVAL);
	CHECK(url == NULL);
}

static void test_fips_and_dualstack_refused(void)
{
	struct env e = { { "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT" },
			 { "true", "false" } };
	char *url = NULL;

	CHECK_INT(endpoint_resolve(AWS_SERVICE_STS, "us-east-1", env_get, &e, &url), -EOPNOTSUPP);
	e.values[0] = "False";
	e.values[1] = "True";
	CHECK_INT(endpoint_resolve(AWS_SERVICE_STS, "us-east-1", env_get, &e, &url), -EOPNOTSUPP);
	e.values[1] = "yes";
	CHECK_INT(endpoint_resolve(AWS_SERVICE_STS, "us-east-1", env_get, &e, &url), -EINVAL);
	CHECK(url == NULL);
	e.values[1] = "false";
	CHECK_INT(
	    resolved_is(AWS_SERVICE_STS, "us-east-1", &e, "https://sts.us-east-1.amazonaws.com"),
	    0);
}

static void test_fips_refused_with_override(void)
{
	struct env e = { { "AWS_USE_FIPS_ENDPOINT", "AWS_ENDPOINT_URL" },
			 { "true", "http://fake:1" } };
	char *url = NULL;

	CHECK_INT(endpoint_resolve(AWS_SERVICE_SSM, "us-east-1", env_get, &e, &url), -EOPNOTSUPP);
	CHECK(url == NULL);
}

/* Checks endpoint_host(url) == want; returns 0 or -1. */
static int host_is(const char *url, const char *want)
{
	char *host = NULL;
	int r;

	r = endpoint_host(url, &host);
	if (r < 0) {
		printf("# endpoint_host(%s) = %d\n", url, r);
		return -1;
	}
	r = strcmp(host, want) == 0 ? 0 : -1;
	if (r < 0)
		printf("# host of %s: got %s, want %s\n", url, host, want);
	free(host);
	return r;
}

static void test_host(void)
{
	char *host = NULL;

	CHECK_INT(host_is("https://servicediscovery.us-east-1.amazonaws.com",
			  "servicediscovery.us-east-1.amazonaws.com"),
		  0);
	CHECK_INT(host_is("http://127.0.0.1:4566", "127.0.0.1:4566"), 0);
	CHECK_INT(host_is("http://localhost:4566/some/path", "localhost:4566"), 0);
	CHECK_INT(host_is("https://sts.example:443/", "sts.example"), 0);
	CHECK_INT(host_is("http://sts.example:80", "sts.example"), 0);
	CHECK_INT(host_is("http://sts.example:443", "sts.example:443"), 0);
	CHECK_INT(host_is("https://sts.example:80", "sts.example:80"), 0);
	CHECK_INT(host_is("http://[::1]:8080/", "[::1]:8080"), 0);
	CHECK_INT(host_is("http://[fd00:ec2::254]", "[fd00:ec2::254]"), 0);
	CHECK_INT(endpoint_host("http://u@h/", &host), -EINVAL);
	CHECK_INT(endpoint_host("gopher://h/", &host), -EINVAL);
	CHECK(host == NULL);
}

int main(void)
{
	return TEST_MAIN(
	    TEST_CASE(test_partitions_and_services), TEST_CASE(test_partition_names),
	    TEST_CASE(test_signing_names_and_env_ids), TEST_CASE(test_service_overrides),
	    TEST_CASE(test_global_override_and_precedence),
	    TEST_CASE(test_ignore_configured_endpoint_urls), TEST_CASE(test_bad_override_urls),
	    TEST_CASE(test_bad_region_or_service), TEST_CASE(test_fips_and_dualstack_refused),
	    TEST_CASE(test_fips_refused_with_override), TEST_CASE(test_host));
}
