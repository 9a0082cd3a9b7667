/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http: HTTP exchanges over libcurl with caps and timeouts. See include/http.h.
 *
 * Called from the refresher thread only (and from main before threads
 * start). A transport or exchange belongs to one thread at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

struct http_exchange {
	CURL *easy;
	struct curl_slist *headers;
	struct http_response resp;
	int overflow; /* a write callback refused bytes over the cap */
};

struct curl_transport {
	struct http_transport base; /* first: the table's address is ours */
	struct http_options opts;
	char *ca_bundle;
	CURL *easy; /* kept between calls for connection reuse */
};

void http_response_init(struct http_response *resp)
{
	resp->status = 0;
	resp->error[0] = '\0';
	buf_init(&resp->body, HTTP_DEFAULT_MAX_RESPONSE_BYTES);
	buf_init(&resp->headers, HTTP_MAX_HEADER_BYTES);
}

void http_response_done(struct http_response *resp)
{
	buf_done(&resp->body);
	buf_done(&resp->headers);
	resp->status = 0;
	resp->error[0] = '\0';
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

int http_response_header(const struct http_response *resp, const char *name, char *out,
			 size_t out_size)
{
	size_t name_len = strlen(name);
	const char *p = resp->headers.data, *end;

	if (!p)
		return -ENOENT;
	end = p + resp->headers.len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v, *ve;

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > name_len && p[name_len] == ':' &&
		    strncasecmp(p, name, name_len) == 0) {
			v = skip_space(p + name_len + 1, eol);
			ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if ((size_t)(ve - v) >= out_size)
				return -ERANGE;
			memcpy(out, v, (size_t)(ve - v));
			out[ve - v] = '\0';
			return 0;
		}
		p = eol + 1;
	}
	return -ENOENT;
}

int http_errno_from_curl(CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return -EMSGSIZE;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EPERM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
	struct http_exchange *x = userdata;

	if (buf_append(&x->resp.body, p, size * n) < 0) {
		x->overflow = 1;
		return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
	}
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
	struct http_exchange *x = userdata;

	/* A new status line starts the headers of a later response (after a
	 * 100 Continue): keep only the final response's. */
	if (size * n >= 5 && strncmp(p, "HTTP/", 5) == 0)
		buf_reset(&x->resp.headers);
	if (buf_append(&x->resp.headers, p, size * n) < 0) {
		x->overflow = 1;
		return 0;
	}
	return size * n;
}

static int set_headers(struct http_exchange *x, const struct http_request *req)
{
	struct curl_slist *l;
	size_t i;

	/* No "Expect: 100-continue" round trip, and no Accept curl made up. */
	l = curl_slist_append(NULL, "Expect:");
	if (!l)
		return -ENOMEM;
	x->headers = l;
	for (i = 0; i < req->n_headers; i++) {
		struct buf line;
		int r;

		if (strpbrk(req->headers[i].value, "\r\n") ||
		    strpbrk(req->headers[i].name, "\r\n:"))
			return -EINVAL;
		buf_init(&line, HTTP_MAX_HEADER_BYTES);
		/* "Name;" is curl's spelling of a header with an empty value. */
		r = req->headers[i].value[0]
			? buf_printf(&line, "%s: %s", req->headers[i].name, req->headers[i].value)
			: buf_printf(&line, "%s;", req->headers[i].name);
		if (r == 0) {
			l = curl_slist_append(x->headers, line.data);
			r = l ? 0 : -ENOMEM;
			if (l)
				x->headers = l;
		}
		buf_done(&line);
		if (r < 0)
			return r;
	}
	return 0;
}

static int setup_easy(struct http_exchange *x, const struct http_options *opts,
		      const struct http_request *req)
{
	CURL *e = x->easy;
	long connect_ms =
	    req->connect_timeout_ms ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	long total_ms = req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	int r;

	x->resp.body.max =
	    req->max_response_bytes ? req->max_response_bytes : HTTP_DEFAULT_MAX_RESPONSE_BYTES;
	r = set_headers(x, req);
	if (r < 0)
		return r;
	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK)
		return -EINVAL;
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	x->resp.error[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->resp.error);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (opts && opts->ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, opts->ca_bundle);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->resp.body.max);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cloudmap-sd");
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		/* Copied: the request is only borrowed for this call. */
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
	}
	return 0;
}

int http_exchange_new(const struct http_options *opts, const struct http_request *req,
		      struct http_exchange **ret)
{
	struct http_exchange *x;
	int r;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	http_response_init(&x->resp);
	x->easy = curl_easy_init();
	if (!x->easy) {
		http_exchange_free(x);
		return -ENOMEM;
	}
	r = setup_easy(x, opts, req);
	if (r < 0) {
		http_exchange_free(x);
		return r;
	}
	*ret = x;
	return 0;
}

CURL *http_exchange_easy(struct http_exchange *x)
{
	return x->easy;
}

int http_exchange_complete(struct http_exchange *x, CURLcode code)
{
	char *error = x->resp.error;

	if (x->overflow) {
		snprintf(error, sizeof(x->resp.error), "response over its size cap");
		return -EMSGSIZE;
	}
	if (code != CURLE_OK) {
		/* curl fills the buffer for most failures, not all. */
		if (!error[0])
			snprintf(error, sizeof(x->resp.error), "%s", curl_easy_strerror(code));
		return http_errno_from_curl(code);
	}
	error[0] = '\0';
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->resp.status);
	return 0;
}

struct http_response *http_exchange_response(struct http_exchange *x)
{
	return &x->resp;
}

/* Frees what one request set up, keeping the easy handle. */
static void exchange_clear(struct http_exchange *x)
{
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	x->overflow = 0;
}

struct http_exchange *http_exchange_free(struct http_exchange *x)
{
	if (!x)
		return NULL;
	exchange_clear(x);
	if (x->easy)
		curl_easy_cleanup(x->easy);
	http_response_done(&x->resp);
	free(x);
	return NULL;
}

/*
 * The blocking transport: one easy handle, reset before each call, so that
 * its connection cache survives from one call to the next.
 */
static int curl_perform(struct http_transport *t, const struct http_request *req,
			struct http_response *resp)
{
	struct curl_transport *ct = (struct curl_transport *)t;
	struct http_exchange x = { .easy = ct->easy };
	CURLcode code;
	int r;

	curl_easy_reset(ct->easy);
	x.resp = *resp;
	r = setup_easy(&x, &ct->opts, req);
	if (r == 0) {
		code = curl_easy_perform(ct->easy);
		r = http_exchange_complete(&x, code);
	}
	/* The error buffer was x's, on this stack: curl must forget it. */
	curl_easy_setopt(ct->easy, CURLOPT_ERRORBUFFER, NULL);
	exchange_clear(&x);
	*resp = x.resp;
	return r;
}

static void curl_transport_free(struct http_transport *t)
{
	struct curl_transport *ct = (struct curl_transport *)t;

	curl_easy_cleanup(ct->easy);
	free(ct->ca_bundle);
	free(ct);
}

struct http_transport *http_curl_new(const struct http_options *opts)
{
	struct curl_transport *ct;

	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return NULL;
	ct->base.perform = curl_perform;
	ct->base.free = curl_transport_free;
	if (opts && opts->ca_bundle) {
		ct->ca_bundle = strdup(opts->ca_bundle);
		if (!ct->ca_bundle)
			goto out_free;
	}
	ct->opts.ca_bundle = ct->ca_bundle;
	ct->easy = curl_easy_init();
	if (!ct->easy)
		goto out_free;
	return &ct->base;
out_free:
	free(ct->ca_bundle);
	free(ct);
	return NULL;
}

struct http_transport *http_transport_free(struct http_transport *t)
{
	if (t)
		t->free(t);
	return NULL;
}
