/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imds: EC2 instance metadata client, IMDSv2 with a fallback to IMDSv1.
 * See include/imds.h.
 *
 * State: the cached session token and its expiry, and, after the token call
 * failed in a way that means "no IMDSv2 here" (403, 404, 405, a timeout as
 * when the hop limit drops the answer), how long to go on without a token
 * before trying IMDSv2 again. A 401 to a GET forgets both and retries once.
 *
 * Environment, read once by imds_new():
 *  - AWS_EC2_METADATA_DISABLED=true: no client (-ENOENT);
 *  - AWS_EC2_METADATA_SERVICE_ENDPOINT: base URL (http or https; trailing
 *    slashes dropped);
 *  - AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6: http://[fd00:ec2::254]
 *    when no endpoint is set (IPv4, the default, or IPv6; else -EINVAL);
 *  - AWS_EC2_METADATA_V1_DISABLED=true: never fall back to IMDSv1.
 *
 * One thread at a time uses a client.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "endpoint.h"
#include "http.h"
#include "imds.h"

#define IMDS_IPV6_ENDPOINT    "http://[fd00:ec2::254]"
#define IMDS_TOKEN_HEADER     "X-aws-ec2-metadata-token"
#define IMDS_TOKEN_TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"
#define IMDS_TOKEN_PATH	      "/latest/api/token"
#define IMDS_MAX_TOKEN_BYTES  1024
#define IMDS_MAX_BODY_BYTES   (64u << 10)
#define IMDS_URL_MAX	      2048
/* Renew the token this long before its TTL ends (at most half the TTL). */
#define IMDS_TOKEN_EARLY_SEC 60
/* After a fallback to IMDSv1, try IMDSv2 again after this long. */
#define IMDS_V1_FALLBACK_SEC 300

struct imds {
	const struct creds_context *ctx; /* borrowed */
	char *endpoint;			 /* base URL, no trailing slash */
	bool v1_disabled;
	char *token; /* NULL: none cached */
	int64_t token_expires_at_unix;
	int64_t v1_until_unix; /* without a token until then; 0: not fallen back */
};

static const char *imds_getenv(const struct creds_context *ctx, const char *name)
{
	const char *v = ctx->getenv ? ctx->getenv(name, ctx->getenv_userdata) : getenv(name);

	return v && *v ? v : NULL;
}

static bool imds_getenv_true(const struct creds_context *ctx, const char *name)
{
	const char *v = imds_getenv(ctx, name);

	return v && strcasecmp(v, "true") == 0;
}

static int64_t imds_now(const struct imds *m)
{
	const struct creds_context *ctx = m->ctx;

	return ctx->now ? ctx->now(ctx->now_userdata) : (int64_t)time(NULL);
}

/* The base URL from the environment: 0 and a new string in *ret, -EINVAL,
 * or -ENOMEM. */
static int imds_endpoint(const struct creds_context *ctx, char **ret)
{
	const char *url = imds_getenv(ctx, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = imds_getenv(ctx, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	size_t n;
	int r;

	if (!url) {
		if (mode && strcasecmp(mode, "IPv6") == 0)
			url = IMDS_IPV6_ENDPOINT;
		else if (!mode || strcasecmp(mode, "IPv4") == 0)
			url = IMDS_DEFAULT_ENDPOINT;
		else
			return -EINVAL;
	}
	r = endpoint_check_url(url);
	if (r < 0)
		return r;
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	*ret = strndup(url, n);
	return *ret ? 0 : -ENOMEM;
}

int imds_new(const struct creds_context *ctx, struct imds **ret)
{
	struct imds *m;
	int r;

	if (imds_getenv_true(ctx, "AWS_EC2_METADATA_DISABLED"))
		return -ENOENT;
	if (!ctx->http)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ctx = ctx;
	m->v1_disabled = imds_getenv_true(ctx, "AWS_EC2_METADATA_V1_DISABLED");
	r = imds_endpoint(ctx, &m->endpoint);
	if (r < 0) {
		imds_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

/* Forgets the token and any fallback, so that the next call asks for a new
 * token. */
static void imds_forget(struct imds *m)
{
	free(m->token);
	m->token = NULL;
	m->token_expires_at_unix = 0;
	m->v1_until_unix = 0;
}

struct imds *imds_free(struct imds *m)
{
	if (!m)
		return NULL;
	imds_forget(m);
	free(m->endpoint);
	free(m);
	return NULL;
}

/* Performs one request to path under the endpoint. */
static int imds_perform(struct imds *m, const char *method, const char *path,
			const struct http_header *h, size_t max_body, struct http_response *resp)
{
	struct http_request req = {
		.method = method,
		.headers = h,
		.n_headers = h ? 1 : 0,
		.connect_timeout_ms = IMDS_TIMEOUT_MS,
		.timeout_ms = IMDS_TIMEOUT_MS,
		.max_response_bytes = max_body,
	};
	struct buf url;
	int r;

	buf_init(&url, IMDS_URL_MAX);
	r = buf_printf(&url, "%s%s", m->endpoint, path);
	if (r == -EMSGSIZE)
		r = -EINVAL;
	if (r == 0) {
		req.url = url.data;
		r = m->ctx->http->perform(m->ctx->http, &req, resp);
	}
	buf_done(&url);
	return r;
}

/* The token's lifetime: the TTL the answer states, if sane, else the one
 * asked for. */
static int64_t imds_token_ttl(const struct http_response *resp)
{
	char v[32], *end;
	long long ttl;

	if (http_response_header(resp, IMDS_TOKEN_TTL_HEADER, v, sizeof(v)) < 0)
		return IMDS_TOKEN_TTL_SEC;
	errno = 0;
	ttl = strtoll(v, &end, 10);
	if (errno || end == v || *end || ttl <= 0 || ttl > IMDS_TOKEN_TTL_SEC)
		return IMDS_TOKEN_TTL_SEC;
	return ttl;
}

/* Keeps the token of a 200 answer to the token call. */
static int imds_keep_token(struct imds *m, const struct http_response *resp, int64_t now)
{
	const char *t = resp->body.data;
	int64_t ttl = imds_token_ttl(resp);
	size_t i;

	if (!t || resp->body.len == 0)
		return -EBADMSG;
	for (i = 0; i < resp->body.len; i++)
		if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
			return -EBADMSG;
	free(m->token);
	m->token = strdup(t);
	if (!m->token)
		return -ENOMEM;
	m->token_expires_at_unix =
	    now + ttl - (ttl > 2 * IMDS_TOKEN_EARLY_SEC ? IMDS_TOKEN_EARLY_SEC : ttl / 2);
	return 0;
}

/* Whether an answer to the token call means IMDSv2 is not to be had. */
static bool imds_token_unavailable(int r, long status)
{
	if (r == -ETIMEDOUT)
		return true;
	return r == 0 && (status == 403 || status == 404 || status == 405);
}

/* Asks for a new token. Returns 0 with m->token set or, after a fallback to
 * IMDSv1, NULL; or a negative errno. */
static int imds_fetch_token(struct imds *m, int64_t now)
{
	char ttl[16];
	const struct http_header h = { IMDS_TOKEN_TTL_HEADER, ttl };
	struct http_response resp;
	int r;

	snprintf(ttl, sizeof(ttl), "%d", IMDS_TOKEN_TTL_SEC);
	http_response_init(&resp);
	r = imds_perform(m, "PUT", IMDS_TOKEN_PATH, &h, IMDS_MAX_TOKEN_BYTES, &resp);
	if (imds_token_unavailable(r, resp.status) && !m->v1_disabled) {
		m->v1_until_unix = now + IMDS_V1_FALLBACK_SEC;
		r = 0;
	} else if (r == 0 && resp.status == 200) {
		r = imds_keep_token(m, &resp, now);
	} else if (r == 0) {
		r = resp.status == 401 || resp.status == 403 ? -EACCES : -EPROTO;
	}
	http_response_done(&resp);
	return r;
}

/* Makes sure there is a valid token, or a fallback to IMDSv1 in force. */
static int imds_session(struct imds *m)
{
	int64_t now = imds_now(m);

	if (m->token && now < m->token_expires_at_unix)
		return 0;
	free(m->token);
	m->token = NULL;
	if (m->v1_until_unix && now < m->v1_until_unix)
		return 0;
	m->v1_until_unix = 0;
	return imds_fetch_token(m, now);
}

/* One GET of path, with the token if there is one. On success *ret_status
 * holds the status, and a 200's body has been appended to out. */
static int imds_get_once(struct imds *m, const char *path, struct buf *out, long *ret_status)
{
	const struct http_header h = { IMDS_TOKEN_HEADER, m->token };
	struct http_response resp;
	int r;

	http_response_init(&resp);
	r = imds_perform(m, "GET", path, m->token ? &h : NULL, IMDS_MAX_BODY_BYTES, &resp);
	if (r == 0 && resp.status == 200 && resp.body.len)
		r = buf_append(out, resp.body.data, resp.body.len);
	if (r == 0)
		*ret_status = resp.status;
	http_response_done(&resp);
	return r;
}

static int imds_status_errno(long status)
{
	switch (status) {
	case 200:
		return 0;
	case 404:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	default:
		return -EPROTO;
	}
}

int imds_get(struct imds *m, const char *path, struct buf *out)
{
	long status = 0;
	int r, attempt;

	if (!path || path[0] != '/')
		return -EINVAL;
	for (attempt = 0; attempt < 2; attempt++) {
		r = imds_session(m);
		if (r == 0)
			r = imds_get_once(m, path, out, &status);
		if (r < 0)
			return r;
		if (status != 401)
			break;
		/* The token expired early or IMDSv2 became required. */
		imds_forget(m);
	}
	return imds_status_errno(status);
}
