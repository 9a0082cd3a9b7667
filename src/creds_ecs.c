/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_ecs: credentials from the container credentials endpoint (ECS task
 * roles, EKS Pod Identity). See include/creds_providers.h.
 *
 * A full URI is checked against the allow list before any request: its
 * host is resolved here and every address must be loopback or one of the
 * agents' addresses, unless the scheme is https. The authorization token
 * is read on every fetch (the file rotates) and wiped after the call. One
 * thread at a time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "creds.h"
#include "creds_providers.h"
#include "http.h"

#define CREDS_ECS_HOST		     "http://169.254.170.2"
#define CREDS_ECS_MAX_URL	     4096
#define CREDS_ECS_CONNECT_TIMEOUT_MS 2000L
#define CREDS_ECS_TIMEOUT_MS	     5000L

struct creds_ecs {
	struct creds_provider base;
	const struct creds_context *ctx;
};

static int creds_ecs_ipv4_allowed(const struct sockaddr_in *a)
{
	uint32_t ip = ntohl(a->sin_addr.s_addr);

	return ip >> 24 == 127 || ip == 0xa9feaa02u /* 169.254.170.2 */ ||
	       ip == 0xa9feaa17u /* 169.254.170.23 */;
}

static int creds_ecs_ipv6_allowed(const struct sockaddr_in6 *a)
{
	static const struct in6_addr eks = { { { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
						 0, 0, 0x23 } } }; /* fd00:ec2::23 */

	return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) || memcmp(&a->sin6_addr, &eks, sizeof(eks)) == 0;
}

/* Whether every address host resolves to is allowed: 1, 0, or
 * -EHOSTUNREACH when it does not resolve. */
static int creds_ecs_host_allowed(const char *host)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int ok = 1;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai && ok; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			ok = creds_ecs_ipv4_allowed((const struct sockaddr_in *)ai->ai_addr);
		else if (ai->ai_family == AF_INET6)
			ok = creds_ecs_ipv6_allowed((const struct sockaddr_in6 *)ai->ai_addr);
		else
			ok = 0;
	}
	freeaddrinfo(res);
	return ok;
}

/* Strips the brackets of an IPv6 literal, in place. */
static char *creds_ecs_unbracket(char *host)
{
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		return host + 1;
	}
	return host;
}

/* 0 when uri may be used, -EACCES when refused, -EINVAL when it does not
 * parse or is neither http nor https, -EHOSTUNREACH. */
static int creds_ecs_check_full_uri(const char *uri)
{
	char *scheme = NULL, *host = NULL;
	CURLU *u = curl_url();
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcmp(scheme, "https") == 0) {
		r = 0;
	} else if (strcmp(scheme, "http") == 0) {
		r = creds_ecs_host_allowed(creds_ecs_unbracket(host));
		r = r < 0 ? r : r ? 0 : -EACCES;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

static int creds_ecs_url(const struct creds_context *ctx, char *url, size_t size)
{
	const char *rel = creds_getenv(ctx, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = creds_getenv(ctx, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	int r;

	if (rel) {
		if (rel[0] != '/')
			return -EINVAL;
		r = snprintf(url, size, "%s%s", CREDS_ECS_HOST, rel);
	} else if (full) {
		r = creds_ecs_check_full_uri(full);
		if (r < 0)
			return r;
		r = snprintf(url, size, "%s", full);
	} else {
		return -ENOENT;
	}
	return r < 0 || (size_t)r >= size ? -EINVAL : 0;
}

/* The authorization token, from the file or the variable; *ret is NULL
 * when there is none. Free it with creds_secret_free(). */
static int creds_ecs_auth_token(const struct creds_context *ctx, char **ret)
{
	const char *file = creds_getenv(ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *value = creds_getenv(ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *t = NULL;
	size_t len = 0;
	int r = 0;

	if (file) {
		r = creds_read_file(file, CREDS_TOKEN_FILE_MAX_BYTES, &t, &len);
		if (r == -ENOENT)
			r = -EINVAL; /* configured, but the file is not there */
		if (r == 0 && strlen(t) != len)
			r = -EINVAL; /* a NUL inside */
	} else if (value) {
		len = strlen(value);
		t = strdup(value);
		r = t ? 0 : -ENOMEM;
	}
	if (r == 0 && t && strpbrk(t, "\r\n"))
		r = -EINVAL; /* not a legal header value */
	if (r < 0) {
		if (t)
			OPENSSL_cleanse(t, len);
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

/* The credentials in an answer that arrived, or why there are none. */
static int creds_ecs_answer(const struct http_response *resp, struct creds **ret,
			    struct creds_failure *why)
{
	if (resp->status != 200) {
		snprintf(why->detail, sizeof(why->detail), "the endpoint answered HTTP %ld",
			 resp->status);
		return resp->status == 401 || resp->status == 403 ? -EACCES : -EPROTO;
	}
	return creds_from_json(resp->body.data ? resp->body.data : "", resp->body.len, "ecs", ret);
}

static int creds_ecs_get(const struct creds_context *ctx, const char *url, const char *token,
			 struct creds **ret, struct creds_failure *why)
{
	struct http_header auth = { "Authorization", token };
	struct http_request req = {
		.method = "GET",
		.url = url,
		.headers = token ? &auth : NULL,
		.n_headers = token ? 1 : 0,
		.connect_timeout_ms = CREDS_ECS_CONNECT_TIMEOUT_MS,
		.timeout_ms = CREDS_ECS_TIMEOUT_MS,
		.max_response_bytes = CREDS_RESPONSE_MAX_BYTES,
	};
	struct http_response resp;
	int r;

	if (!ctx->http)
		return -EINVAL;
	http_response_init(&resp);
	r = ctx->http->perform(ctx->http, &req, &resp);
	if (r < 0)
		creds_failure_from_http(why, &resp);
	else
		r = creds_ecs_answer(&resp, ret, why);
	creds_buf_wipe(&resp.body);
	http_response_done(&resp);
	return r;
}

static int creds_ecs_fetch(struct creds_provider *p, struct creds **ret, struct creds_failure *why)
{
	const struct creds_context *ctx = ((struct creds_ecs *)p)->ctx;
	char url[CREDS_ECS_MAX_URL], *token = NULL;
	int r;

	r = creds_ecs_url(ctx, url, sizeof(url));
	if (r < 0)
		return r;
	r = creds_ecs_auth_token(ctx, &token);
	if (r < 0)
		return r;
	r = creds_ecs_get(ctx, url, token, ret, why);
	creds_secret_free(token);
	return r;
}

static void creds_ecs_free(struct creds_provider *p)
{
	free(p);
}

struct creds_provider *creds_ecs_new(const struct creds_context *ctx)
{
	struct creds_ecs *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->base.name = "ecs";
	e->base.fetch = creds_ecs_fetch;
	e->base.free = creds_ecs_free;
	e->ctx = ctx;
	return &e->base;
}
