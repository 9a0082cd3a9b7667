/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoint: the URL of each AWS service the daemon calls, by partition, and
 * the environment overrides the AWS SDKs honour.
 *
 * The default endpoint is https://<host prefix><service>.<region>.<suffix>,
 * where the DNS suffix comes from the region's partition (as in botocore's
 * endpoints.json):
 *
 *	aws         us-*, eu-*, ap-*, ... (and any unknown region)  amazonaws.com
 *	aws-cn      cn-*                                              amazonaws.com.cn
 *	aws-us-gov  us-gov-*                                          amazonaws.com
 *	aws-iso     us-iso-*                                          c2s.ic.gov
 *	aws-iso-b   us-isob-*                                         sc2s.sgov.gov
 *
 * STS is always regional (sts.<region>.<suffix>), as current SDKs default
 * to; the Cloud Map data plane (DiscoverInstances, DiscoverInstancesRevision)
 * is the control plane's host with the "data-" host prefix.
 *
 * Overrides, first match wins; an empty value counts as unset, and
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true disables them all:
 *  - AWS_ENDPOINT_URL_<ID> (ID from endpoint_env_id(): SERVICEDISCOVERY
 *    covers both Cloud Map hosts, SSM, STS);
 *  - AWS_ENDPOINT_URL for every service.
 * An override is used exactly as given (no host prefix is added), once
 * endpoint_check_url() accepts it. Endpoints set in the shared config file
 * (endpoint_url, services sections) are not read.
 *
 * Not supported: AWS_USE_FIPS_ENDPOINT=true and
 * AWS_USE_DUALSTACK_ENDPOINT=true. botocore's endpoints.json does not
 * describe the variants of the Cloud Map data plane, so rather than guess a
 * host, endpoint_resolve() refuses them with -EOPNOTSUPP (the SDKs also
 * refuse them together with a custom endpoint). Set an AWS_ENDPOINT_URL_*
 * override to the wanted FIPS or dual-stack host instead.
 *
 * Pure functions of their arguments (and the environment they are given):
 * safe from any thread.
 */
#ifndef CLOUDMAP_ENDPOINT_H
#define CLOUDMAP_ENDPOINT_H

#include "creds.h"

enum aws_service {
	AWS_SERVICE_SERVICEDISCOVERY,	   /* control plane: servicediscovery.<region>.<suffix> */
	AWS_SERVICE_SERVICEDISCOVERY_DATA, /* DiscoverInstances*: data-servicediscovery.<...> */
	AWS_SERVICE_SSM,
	AWS_SERVICE_STS,
	AWS_SERVICE_COUNT
};

/* The SigV4 signing name of svc ("servicediscovery" for both Cloud Map
 * hosts, "ssm", "sts"), a static string; NULL for a value out of range. */
const char *endpoint_signing_name(enum aws_service svc);

/* The suffix of svc's AWS_ENDPOINT_URL_<ID> variable ("SERVICEDISCOVERY",
 * "SSM", "STS"), a static string; NULL for a value out of range. */
const char *endpoint_env_id(enum aws_service svc);

/* The partition of a region ("aws", "aws-cn", "aws-us-gov", "aws-iso",
 * "aws-iso-b"), a static string. Unknown names belong to "aws", as in the
 * SDKs. */
const char *endpoint_partition(const char *region);

/* Finds the override that applies to svc. Returns 0, the variable's name in
 * *ret_name (static) and its value in *ret_value (borrowed from the
 * environment; not validated); -ENOENT when there is none or overrides are
 * ignored; -EINVAL for a bad svc. Lets a caller say where an endpoint came
 * from, or which variable endpoint_resolve() refused. */
int endpoint_override(enum aws_service svc, creds_getenv_fn getenv, void *userdata,
		      const char **ret_name, const char **ret_value);

/* Resolves the endpoint URL of svc in region (no trailing slash unless an
 * override has one). getenv may be NULL for getenv(). Returns 0 and in
 * *ret_url a new string the caller frees; -EINVAL for a bad svc or region
 * name, a bad override URL or a value of AWS_USE_FIPS_ENDPOINT /
 * AWS_USE_DUALSTACK_ENDPOINT other than true or false; -EOPNOTSUPP when
 * either of those is true; -ENOMEM. */
int endpoint_resolve(enum aws_service svc, const char *region, creds_getenv_fn getenv,
		     void *userdata, char **ret_url);

/* Checks that url is an absolute http or https URL with a host and without
 * user information, query, fragment, white space or control characters.
 * Returns 0, -EINVAL, or -ENOMEM. */
int endpoint_check_url(const char *url);

/* The value of the Host header (and of SigV4's host) for url: the host as
 * written, with ":port" when the URL names a port other than its scheme's
 * default; IPv6 literals keep their brackets. Returns 0 and in *ret_host a
 * new string the caller frees, -EINVAL when endpoint_check_url() refuses
 * url, or -ENOMEM. */
int endpoint_host(const char *url, char **ret_host);

#endif
