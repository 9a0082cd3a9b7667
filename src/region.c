/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region: resolves the AWS region from the environment, the ECS task
 * metadata endpoint or EC2 instance metadata. See include/region.h.
 *
 * Called by main while it starts, on one thread; keeps no state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "endpoint.h"
#include "http.h"
#include "imds.h"
#include "region.h"

#define REGION_ECS_TIMEOUT_MS	  2000L
#define REGION_ECS_MAX_BODY_BYTES (1u << 20)
#define REGION_URL_MAX		  2048

bool region_is_valid(const char *name)
{
	size_t i, len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len > REGION_NAME_MAX || name[0] < 'a' || name[0] > 'z' ||
	    name[len - 1] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (c == '-' && name[i + 1] == '-')
			return false;
		if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-')
			return false;
	}
	return true;
}

static const char *region_getenv(const struct creds_context *ctx, const char *name)
{
	const char *v = ctx->getenv ? ctx->getenv(name, ctx->getenv_userdata) : getenv(name);

	return v && *v ? v : NULL;
}

/* Copies n bytes of s into a new string if they name a valid region.
 * Returns 0, -EBADMSG, or -ENOMEM. */
static int region_take(const char *s, size_t n, char **ret)
{
	char *region;

	if (n == 0 || n > REGION_NAME_MAX)
		return -EBADMSG;
	region = strndup(s, n);
	if (!region)
		return -ENOMEM;
	if (strlen(region) != n || !region_is_valid(region)) {
		free(region);
		return -EBADMSG;
	}
	*ret = region;
	return 0;
}

/* The fourth field of arn:partition:service:region:account:resource. */
static int region_from_arn(const char *arn, char **ret)
{
	const char *p = arn;
	int field;

	if (strncmp(arn, "arn:", 4) != 0)
		return -EBADMSG;
	for (field = 0; field < 3; field++) {
		p = strchr(p, ':');
		if (!p)
			return -EBADMSG;
		p++;
	}
	return region_take(p, strcspn(p, ":"), ret);
}

/* An availability zone's region: the name up to the end of its first
 * dash-separated part that starts with a digit, and of that part's digits
 * (us-east-1a, us-east-1-bos-1a and us-east-1-wl1-bos-wlz-1 give us-east-1). */
static int region_from_zone(const char *zone, char **ret)
{
	const char *p = zone;

	while ((p = strchr(p, '-'))) {
		p++;
		if (*p >= '0' && *p <= '9') {
			while (*p >= '0' && *p <= '9')
				p++;
			return region_take(zone, (size_t)(p - zone), ret);
		}
	}
	return -EBADMSG;
}

/* Finds the region in the body of the ECS task metadata. */
static int region_parse_ecs_task(const char *body, size_t len, char **ret)
{
	json_t *root, *v;
	int r = -EBADMSG;

	root = json_loadb(body, len, 0, NULL);
	if (!root)
		return -EBADMSG;
	v = json_object_get(root, "TaskARN"); /* borrowed */
	if (json_is_string(v))
		r = region_from_arn(json_string_value(v), ret);
	if (r == -EBADMSG) {
		v = json_object_get(root, "AvailabilityZone");
		if (json_is_string(v))
			r = region_from_zone(json_string_value(v), ret);
	}
	json_decref(root);
	return r;
}

/* Builds <uri>/task, dropping trailing slashes of uri. */
static int region_ecs_url(const char *uri, struct buf *url)
{
	size_t n = strlen(uri);
	int r;

	r = endpoint_check_url(uri);
	if (r < 0)
		return r;
	while (n > 0 && uri[n - 1] == '/')
		n--;
	r = buf_append(url, uri, n);
	if (r == 0)
		r = buf_puts(url, "/task");
	return r == -EMSGSIZE ? -EINVAL : r;
}

static int region_from_ecs(const struct creds_context *ctx, const char *uri, char **ret)
{
	struct http_request req = {
		.method = "GET",
		.connect_timeout_ms = REGION_ECS_TIMEOUT_MS,
		.timeout_ms = REGION_ECS_TIMEOUT_MS,
		.max_response_bytes = REGION_ECS_MAX_BODY_BYTES,
	};
	struct http_response resp;
	struct buf url;
	int r;

	buf_init(&url, REGION_URL_MAX);
	r = region_ecs_url(uri, &url);
	if (r < 0)
		goto out_url;
	req.url = url.data;
	http_response_init(&resp);
	r = ctx->http->perform(ctx->http, &req, &resp);
	if (r == 0 && resp.status != 200)
		r = -EPROTO;
	if (r == 0)
		r = region_parse_ecs_task(resp.body.data ? resp.body.data : "", resp.body.len, ret);
	http_response_done(&resp);
out_url:
	buf_done(&url);
	return r;
}

/* The region of the instance, from IMDS; -ENOENT when there is no IMDS. */
static int region_from_imds(const struct creds_context *ctx, char **ret)
{
	struct imds *m = NULL;
	struct buf body;
	int r;

	buf_init(&body, 256);
	r = imds_new(ctx, &m);
	if (r == 0)
		r = imds_get(m, "/latest/meta-data/placement/region", &body);
	if (r == -ETIMEDOUT || r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH)
		r = -ENOENT;
	else if (r == -EMSGSIZE)
		r = -EBADMSG;
	if (r == 0) {
		size_t n = body.len;

		while (n > 0 && (body.data[n - 1] == '\n' || body.data[n - 1] == '\r' ||
				 body.data[n - 1] == ' ' || body.data[n - 1] == '\t'))
			n--;
		r = region_take(body.data ? body.data : "", n, ret);
	}
	imds_free(m);
	buf_done(&body);
	return r;
}

/* The environment variables, in order; -ENOENT when none is set. */
static int region_from_env(const struct creds_context *ctx, char **ret, const char **ret_source)
{
	static const char *const names[] = { "AWS_REGION", "AWS_DEFAULT_REGION" };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = region_getenv(ctx, names[i]);
		if (!v)
			continue;
		if (!region_is_valid(v))
			return -EINVAL;
		*ret = strdup(v);
		if (!*ret)
			return -ENOMEM;
		*ret_source = names[i];
		return 0;
	}
	return -ENOENT;
}

int region_resolve(const struct creds_context *ctx, char **ret_region, const char **ret_source)
{
	const char *source, *uri;
	char *region = NULL;
	int r;

	r = region_from_env(ctx, &region, &source);
	if (r == -ENOENT && ctx->http) {
		uri = region_getenv(ctx, "ECS_CONTAINER_METADATA_URI_V4");
		source = uri ? "ecs-metadata" : "imds";
		r = uri ? region_from_ecs(ctx, uri, &region) : region_from_imds(ctx, &region);
	}
	if (r < 0)
		return r;
	*ret_region = region;
	if (ret_source)
		*ret_source = source;
	return 0;
}
