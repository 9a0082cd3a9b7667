/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_webid: credentials from STS AssumeRoleWithWebIdentity, for the
 * AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN environment (EKS IRSA) and for
 * profiles with web_identity_token_file. See include/creds_providers.h.
 *
 * The call is unsigned: the token is the proof. The token is read on every
 * fetch because it rotates. The answer is XML, read with a small bounded
 * tag extractor (no entities but the five predefined ones, no CDATA), which
 * is all STS's fixed response shapes need. Buffers that held the token or
 * the credentials are wiped before they are freed. One thread at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "creds.h"
#include "creds_providers.h"
#include "http.h"

#define CREDS_WEBID_MAX_URL 1024

struct creds_webid {
	struct creds_provider base;
	const struct creds_context *ctx;
};

/* A bounded piece of the answer. */
struct creds_webid_span {
	const char *p;
	size_t n;
};

/*
 * The request: a form-encoded body, sized exactly so that the token is
 * never copied by a reallocation (only this buffer is wiped).
 */

static int creds_webid_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* Writes s form-encoded to out (when not NULL); returns the length. */
static size_t creds_webid_encode(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (creds_webid_unreserved(c)) {
			if (out)
				out[n] = (char)c;
			n++;
			continue;
		}
		if (out) {
			out[n] = '%';
			out[n + 1] = hex[c >> 4];
			out[n + 2] = hex[c & 15];
		}
		n += 3;
	}
	return n;
}

/* Builds the body from NULL-terminated pairs of literal prefixes and values
 * to encode; returns NULL on ENOMEM. */
static char *creds_webid_form(const char *const *parts, size_t *ret_len)
{
	size_t i, len = 0;
	char *body;

	for (i = 0; parts[i]; i += 2)
		len += strlen(parts[i]) + creds_webid_encode(NULL, parts[i + 1]);
	body = malloc(len + 1);
	if (!body)
		return NULL;
	len = 0;
	for (i = 0; parts[i]; i += 2) {
		memcpy(body + len, parts[i], strlen(parts[i]));
		len += strlen(parts[i]);
		len += creds_webid_encode(body + len, parts[i + 1]);
	}
	body[len] = '\0';
	*ret_len = len;
	return body;
}

static int creds_webid_url(const struct creds_context *ctx, char *url, size_t size)
{
	const char *endpoint = ctx->sts_endpoint;
	size_t n;
	int r;

	if (endpoint)
		r = snprintf(url, size, "%s", endpoint);
	else if (ctx->region)
		r = snprintf(url, size, "https://sts.%s.amazonaws.com%s", ctx->region,
			     strncmp(ctx->region, "cn-", 3) == 0 ? ".cn" : "");
	else
		r = snprintf(url, size, "https://sts.amazonaws.com");
	if (r < 0 || (size_t)r >= size - 1)
		return -EINVAL;
	n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	url[n] = '/';
	url[n + 1] = '\0';
	return 0;
}

/* Reads the token, without trailing white space. */
static int creds_webid_read_token(const char *path, char **ret)
{
	size_t len;
	char *t;
	int r;

	r = creds_read_file(path, CREDS_TOKEN_FILE_MAX_BYTES, &t, &len);
	if (r == -ENOENT)
		return -EINVAL; /* configured, but the file is not there */
	if (r < 0)
		return r;
	while (len && strchr(" \t\r\n", t[len - 1]))
		t[--len] = '\0';
	if (!len || strlen(t) != len) {
		OPENSSL_cleanse(t, len);
		free(t);
		return -EINVAL; /* empty, or a NUL inside */
	}
	*ret = t;
	return 0;
}

static int creds_webid_post(const struct creds_context *ctx, const char *body, size_t len,
			    struct http_response *resp)
{
	static const struct http_header headers[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
	};
	char url[CREDS_WEBID_MAX_URL];
	struct http_request req = {
		.method = "POST",
		.url = url,
		.headers = headers,
		.n_headers = sizeof(headers) / sizeof(headers[0]),
		.body = body,
		.body_len = len,
		.max_response_bytes = CREDS_RESPONSE_MAX_BYTES,
	};
	int r;

	if (!ctx->http)
		return -EINVAL;
	r = creds_webid_url(ctx, url, sizeof(url));
	if (r < 0)
		return r;
	return ctx->http->perform(ctx->http, &req, resp);
}

/*
 * The answer.
 */

/* Finds needle in s; NULL when absent. */
static const char *creds_webid_find(struct creds_webid_span s, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; n <= s.n && i <= s.n - n; i++)
		if (memcmp(s.p + i, needle, n) == 0)
			return s.p + i;
	return NULL;
}

/* The content of the first element called tag in s (attributes allowed on
 * its start tag). -EBADMSG when absent or not closed. */
static int creds_webid_xml_element(struct creds_webid_span s, const char *tag,
				   struct creds_webid_span *ret)
{
	size_t tag_len = strlen(tag);
	const char *end = s.p + s.n, *p, *q;
	char close[64];

	if (snprintf(close, sizeof(close), "</%s>", tag) >= (int)sizeof(close))
		return -EINVAL;
	while ((p = memchr(s.p, '<', s.n)) != NULL) {
		q = p + 1 + tag_len;
		s = (struct creds_webid_span){ p + 1, (size_t)(end - p - 1) };
		if (q >= end || strncmp(p + 1, tag, tag_len) != 0 || (*q != '>' && *q != ' '))
			continue;
		q = memchr(q, '>', (size_t)(end - q));
		if (!q)
			return -EBADMSG;
		s = (struct creds_webid_span){ q + 1, (size_t)(end - q - 1) };
		p = creds_webid_find(s, close);
		if (!p)
			return -EBADMSG;
		*ret = (struct creds_webid_span){ q + 1, (size_t)(p - q - 1) };
		return 0;
	}
	return -EBADMSG;
}

/* Decodes the five predefined entities in place; -EBADMSG for another. */
static int creds_webid_xml_unescape(char *s)
{
	static const char *const names[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
	static const char chars[] = "&<>\"'";
	char *out = s;
	size_t i;

	while (*s) {
		if (*s != '&') {
			*out++ = *s++;
			continue;
		}
		for (i = 0; i < 5 && strncmp(s, names[i], strlen(names[i])) != 0; i++)
			;
		if (i == 5)
			return -EBADMSG;
		*out++ = chars[i];
		s += strlen(names[i]);
	}
	*out = '\0';
	return 0;
}

/* A new unescaped copy of the text of element tag in s. */
static int creds_webid_xml_text(struct creds_webid_span s, const char *tag, char **ret)
{
	struct creds_webid_span e;
	char *t;
	int r;

	r = creds_webid_xml_element(s, tag, &e);
	if (r < 0)
		return r;
	t = malloc(e.n + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t, e.p, e.n);
	t[e.n] = '\0';
	r = strlen(t) == e.n ? creds_webid_xml_unescape(t) : -EBADMSG;
	if (r < 0) {
		creds_secret_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

static int creds_webid_errno(const char *code)
{
	static const struct {
		const char *code;
		int err;
	} map[] = {
		{ "AccessDenied", -EACCES },	      { "InvalidIdentityToken", -EACCES },
		{ "ExpiredToken", -EACCES },	      { "ExpiredTokenException", -EACCES },
		{ "IDPRejectedClaim", -EACCES },      { "RegionDisabledException", -EACCES },
		{ "IDPCommunicationError", -EAGAIN }, { "Throttling", -EAGAIN },
		{ "ThrottlingException", -EAGAIN },   { "ServiceUnavailable", -EAGAIN },
		{ "InternalFailure", -EAGAIN },	      { "ValidationError", -EINVAL },
		{ "InvalidParameterValue", -EINVAL }, { "MalformedPolicyDocument", -EINVAL },
		{ "PackedPolicyTooLarge", -EINVAL },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].err;
	return -EPROTO;
}

/* <ErrorResponse><Error><Code>..</Code><Message>..</Message></Error>. */
static int creds_webid_parse_error(struct creds_webid_span body)
{
	struct creds_webid_span error;
	char *code;
	int r;

	r = creds_webid_xml_element(body, "Error", &error);
	if (r == 0)
		r = creds_webid_xml_text(error, "Code", &code);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	r = creds_webid_errno(code);
	free(code);
	return r;
}

/* The four fields, copied; the caller wipes them. */
struct creds_webid_fields {
	char *id, *secret, *token, *expiration;
};

static int creds_webid_parse_fields(struct creds_webid_span body, struct creds_webid_fields *f)
{
	struct creds_webid_span result, c;
	int r;

	r = creds_webid_xml_element(body, "AssumeRoleWithWebIdentityResult", &result);
	if (r == 0)
		r = creds_webid_xml_element(result, "Credentials", &c);
	if (r == 0)
		r = creds_webid_xml_text(c, "AccessKeyId", &f->id);
	if (r == 0)
		r = creds_webid_xml_text(c, "SecretAccessKey", &f->secret);
	if (r == 0)
		r = creds_webid_xml_text(c, "SessionToken", &f->token);
	if (r == 0)
		r = creds_webid_xml_text(c, "Expiration", &f->expiration);
	return r;
}

static int creds_webid_parse(const struct http_response *resp, const char *provider,
			     struct creds **ret)
{
	struct creds_webid_span body = { resp->body.data ? resp->body.data : "", resp->body.len };
	struct creds_webid_fields f = { NULL, NULL, NULL, NULL };
	int64_t expires;
	int r;

	if (resp->status != 200)
		return creds_webid_parse_error(body);
	r = creds_webid_parse_fields(body, &f);
	if (r == 0 && creds_parse_iso8601(f.expiration, strlen(f.expiration), &expires) < 0)
		r = -EBADMSG;
	if (r == 0)
		r = creds_new(f.id, f.secret, f.token, expires, provider, ret);
	if (r == -EINVAL)
		r = -EBADMSG; /* an empty key in the answer */
	free(f.id);
	creds_secret_free(f.secret);
	creds_secret_free(f.token);
	free(f.expiration);
	return r;
}

int creds_webid_assume(const struct creds_context *ctx, const char *token_file,
		       const char *role_arn, const char *session_name, const char *provider,
		       struct creds **ret)
{
	return creds_webid_assume_why(ctx, token_file, role_arn, session_name, provider, ret, NULL);
}

int creds_webid_assume_why(const struct creds_context *ctx, const char *token_file,
			   const char *role_arn, const char *session_name, const char *provider,
			   struct creds **ret, struct creds_failure *why)
{
	char default_name[64], *token, *body;
	struct http_response resp;
	size_t len;
	int r;

	if (!session_name) {
		snprintf(default_name, sizeof(default_name), "cloudmap-sd-%lld",
			 (long long)creds_now(ctx));
		session_name = default_name;
	}
	r = creds_webid_read_token(token_file, &token);
	if (r < 0)
		return r;
	body = creds_webid_form(
	    (const char *const[]){
		"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=", role_arn,
		"&RoleSessionName=", session_name, "&WebIdentityToken=", token, NULL },
	    &len);
	token = creds_secret_free(token);
	if (!body)
		return -ENOMEM;
	http_response_init(&resp);
	r = creds_webid_post(ctx, body, len, &resp);
	creds_secret_free(body);
	if (r < 0)
		creds_failure_from_http(why, &resp);
	else
		r = creds_webid_parse(&resp, provider, ret);
	creds_buf_wipe(&resp.body);
	http_response_done(&resp);
	return r;
}

static int creds_webid_fetch(struct creds_provider *p, struct creds **ret,
			     struct creds_failure *why)
{
	const struct creds_context *ctx = ((struct creds_webid *)p)->ctx;
	const char *token_file = creds_getenv(ctx, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role_arn = creds_getenv(ctx, "AWS_ROLE_ARN");

	if (!token_file)
		return -ENOENT;
	if (!role_arn)
		return -EINVAL;
	return creds_webid_assume_why(ctx, token_file, role_arn,
				      creds_getenv(ctx, "AWS_ROLE_SESSION_NAME"), "web-identity",
				      ret, why);
}

static void creds_webid_free(struct creds_provider *p)
{
	free(p);
}

struct creds_provider *creds_webid_new(const struct creds_context *ctx)
{
	struct creds_webid *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->base.name = "web-identity";
	w->base.fetch = creds_webid_fetch;
	w->base.free = creds_webid_free;
	w->ctx = ctx;
	return &w->base;
}
