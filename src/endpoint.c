/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoint: service endpoint URLs by partition, environment overrides, and
 * URL checks. See include/endpoint.h.
 *
 * The tables below follow botocore's endpoints.json (Debian's
 * python3-botocore): the partitions' DNS suffixes and region prefixes, and
 * the "data-" host prefix that servicediscovery's service-2.json puts on
 * DiscoverInstances. No state: callable from any thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "endpoint.h"
#include "region.h"

#define ENDPOINT_ENV_PREFIX "AWS_ENDPOINT_URL_"
#define ENDPOINT_URL_MAX    2048

struct endpoint_service {
	const char *host_prefix;     /* put before the service's host name */
	const char *endpoint_prefix; /* the service's part of the host name */
	const char *signing_name;
	const char *env_name; /* AWS_ENDPOINT_URL_<ID> */
};

static const struct endpoint_service endpoint_services[AWS_SERVICE_COUNT] = {
	[AWS_SERVICE_SERVICEDISCOVERY] = { "", "servicediscovery", "servicediscovery",
					   ENDPOINT_ENV_PREFIX "SERVICEDISCOVERY" },
	[AWS_SERVICE_SERVICEDISCOVERY_DATA] = { "data-", "servicediscovery", "servicediscovery",
						ENDPOINT_ENV_PREFIX "SERVICEDISCOVERY" },
	[AWS_SERVICE_SSM] = { "", "ssm", "ssm", ENDPOINT_ENV_PREFIX "SSM" },
	[AWS_SERVICE_STS] = { "", "sts", "sts", ENDPOINT_ENV_PREFIX "STS" },
};

struct endpoint_partition {
	const char *name;
	const char *region_prefix;
	const char *dns_suffix;
};

/* Every partition but "aws", which takes the rest. */
static const struct endpoint_partition endpoint_partitions[] = {
	{ "aws-cn", "cn-", "amazonaws.com.cn" },
	{ "aws-us-gov", "us-gov-", "amazonaws.com" },
	{ "aws-iso", "us-iso-", "c2s.ic.gov" },
	{ "aws-iso-b", "us-isob-", "sc2s.sgov.gov" },
};

static const struct endpoint_partition endpoint_partition_aws = { "aws", "", "amazonaws.com" };

static const struct endpoint_service *endpoint_service_get(enum aws_service svc)
{
	if ((unsigned)svc >= AWS_SERVICE_COUNT)
		return NULL;
	return &endpoint_services[svc];
}

const char *endpoint_signing_name(enum aws_service svc)
{
	const struct endpoint_service *s = endpoint_service_get(svc);

	return s ? s->signing_name : NULL;
}

const char *endpoint_env_id(enum aws_service svc)
{
	const struct endpoint_service *s = endpoint_service_get(svc);

	return s ? s->env_name + strlen(ENDPOINT_ENV_PREFIX) : NULL;
}

static const struct endpoint_partition *endpoint_partition_of(const char *region)
{
	size_t i;

	for (i = 0; i < sizeof(endpoint_partitions) / sizeof(endpoint_partitions[0]); i++) {
		const char *prefix = endpoint_partitions[i].region_prefix;

		if (strncmp(region, prefix, strlen(prefix)) == 0)
			return &endpoint_partitions[i];
	}
	return &endpoint_partition_aws;
}

const char *endpoint_partition(const char *region)
{
	return endpoint_partition_of(region)->name;
}

/* The variable's value, or NULL when unset or empty. */
static const char *endpoint_getenv(creds_getenv_fn fn, void *userdata, const char *name)
{
	const char *v = fn ? fn(name, userdata) : getenv(name);

	return v && *v ? v : NULL;
}

/* Reads a boolean variable: unset, empty or "false" is false, "true" true
 * (either in any case); anything else is -EINVAL. */
static int endpoint_getenv_bool(creds_getenv_fn fn, void *userdata, const char *name, bool *ret)
{
	const char *v = endpoint_getenv(fn, userdata, name);

	if (!v || strcasecmp(v, "false") == 0)
		*ret = false;
	else if (strcasecmp(v, "true") == 0)
		*ret = true;
	else
		return -EINVAL;
	return 0;
}

int endpoint_override(enum aws_service svc, creds_getenv_fn getenv, void *userdata,
		      const char **ret_name, const char **ret_value)
{
	const struct endpoint_service *s = endpoint_service_get(svc);
	const char *name, *value;
	bool ignore;
	int r;

	if (!s)
		return -EINVAL;
	r = endpoint_getenv_bool(getenv, userdata, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", &ignore);
	if (r < 0)
		return r;
	if (ignore)
		return -ENOENT;
	name = s->env_name;
	value = endpoint_getenv(getenv, userdata, name);
	if (!value) {
		name = "AWS_ENDPOINT_URL";
		value = endpoint_getenv(getenv, userdata, name);
	}
	if (!value)
		return -ENOENT;
	*ret_name = name;
	*ret_value = value;
	return 0;
}

/* Refuses the FIPS and dual-stack variants, which are not supported. */
static int endpoint_check_variants(creds_getenv_fn getenv, void *userdata)
{
	bool fips, dualstack;
	int r;

	r = endpoint_getenv_bool(getenv, userdata, "AWS_USE_FIPS_ENDPOINT", &fips);
	if (r < 0)
		return r;
	r = endpoint_getenv_bool(getenv, userdata, "AWS_USE_DUALSTACK_ENDPOINT", &dualstack);
	if (r < 0)
		return r;
	return fips || dualstack ? -EOPNOTSUPP : 0;
}

static char *endpoint_default_url(const struct endpoint_service *s, const char *region)
{
	const struct endpoint_partition *p = endpoint_partition_of(region);
	struct buf b;

	buf_init(&b, ENDPOINT_URL_MAX);
	if (buf_printf(&b, "https://%s%s.%s.%s", s->host_prefix, s->endpoint_prefix, region,
		       p->dns_suffix) < 0) {
		buf_done(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

int endpoint_resolve(enum aws_service svc, const char *region, creds_getenv_fn getenv,
		     void *userdata, char **ret_url)
{
	const struct endpoint_service *s = endpoint_service_get(svc);
	const char *name, *value;
	char *url;
	int r;

	if (!s || !region_is_valid(region))
		return -EINVAL;
	r = endpoint_check_variants(getenv, userdata);
	if (r < 0)
		return r;
	r = endpoint_override(svc, getenv, userdata, &name, &value);
	if (r == -ENOENT) {
		url = endpoint_default_url(s, region);
	} else if (r == 0) {
		r = endpoint_check_url(value);
		if (r < 0)
			return r;
		url = strdup(value);
	} else {
		return r;
	}
	if (!url)
		return -ENOMEM;
	*ret_url = url;
	return 0;
}

/* Checks what curl's parser lets through: the scheme as written, the
 * characters, and user information, queries and fragments. */
static int endpoint_check_text(const char *url)
{
	const char *p, *authority;

	if (strncasecmp(url, "http://", 7) == 0)
		authority = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		authority = url + 8;
	else
		return -EINVAL;
	if (strlen(url) > ENDPOINT_URL_MAX)
		return -EINVAL;
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '?' || *p == '#')
			return -EINVAL;
	p = authority + strcspn(authority, "/");
	if (p == authority || memchr(authority, '@', (size_t)(p - authority)))
		return -EINVAL;
	return 0;
}

/* Parses url after endpoint_check_text(). Returns 0 and a new handle in
 * *ret, -EINVAL or -ENOMEM. */
static int endpoint_parse_url(const char *url, CURLU **ret)
{
	CURLUcode rc;
	CURLU *u;
	char *host = NULL;
	int r;

	if (!url)
		return -EINVAL;
	r = endpoint_check_text(url);
	if (r < 0)
		return r;
	u = curl_url();
	if (!u)
		return -ENOMEM;
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (rc == CURLUE_OK && host[0]) {
		curl_free(host);
		*ret = u;
		return 0;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return rc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

int endpoint_check_url(const char *url)
{
	CURLU *u;
	int r;

	r = endpoint_parse_url(url, &u);
	if (r < 0)
		return r;
	curl_url_cleanup(u);
	return 0;
}

/* Formats "host" or "host:port" from a parsed URL into b. */
static int endpoint_format_host(CURLU *u, struct buf *b)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	int r = -ENOMEM;

	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	/* No port part when the URL names none. */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (port && strcmp(port, strcasecmp(scheme, "https") == 0 ? "443" : "80") != 0)
		r = buf_printf(b, "%s:%s", host, port);
	else
		r = buf_puts(b, host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return r;
}

int endpoint_host(const char *url, char **ret_host)
{
	struct buf b;
	char *host;
	CURLU *u;
	int r;

	r = endpoint_parse_url(url, &u);
	if (r < 0)
		return r;
	buf_init(&b, ENDPOINT_URL_MAX);
	r = endpoint_format_host(u, &b);
	curl_url_cleanup(u);
	host = r == 0 ? buf_steal(&b, NULL) : NULL;
	buf_done(&b);
	if (r < 0)
		return r;
	if (!host)
		return -ENOMEM;
	*ret_host = host;
	return 0;
}
