/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http: one HTTP exchange over libcurl, with caps and timeouts, behind a
 * function table so that tests can replace the network.
 *
 * Two ways in:
 *  - struct http_transport: a blocking perform() for the callers that make
 *    one call at a time (credential providers, region lookup). Tests pass a
 *    table of their own.
 *  - struct http_exchange: one request prepared on its own easy handle, for
 *    the AWS client's concurrent executor, which drives many of them on a
 *    curl multi handle.
 *
 * Both enforce: http and https only, no redirects, TLS verification always
 * on (AWS_CA_BUNDLE may name another CA file, never turn it off), a connect
 * and a total timeout, and a cap on the response body and headers.
 *
 * Only the refresher thread (and main, before any thread starts) uses this
 * module; curl_global_init() must have run.
 */
#ifndef CLOUDMAP_HTTP_H
#define CLOUDMAP_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

#include "buf.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 3000L
#define HTTP_DEFAULT_TIMEOUT_MS		10000L
#define HTTP_DEFAULT_MAX_RESPONSE_BYTES (4u << 20)
#define HTTP_MAX_HEADER_BYTES		(64u << 10)

struct http_header {
	const char *name;
	const char *value;
};

/* A request; borrowed for the duration of the call (an exchange copies it). */
struct http_request {
	const char *method; /* "GET", "PUT", "POST" */
	const char *url;
	const struct http_header *headers;
	size_t n_headers;
	const char *body; /* may be NULL when body_len is 0 */
	size_t body_len;
	long connect_timeout_ms;   /* 0: HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
	long timeout_ms;	   /* 0: HTTP_DEFAULT_TIMEOUT_MS */
	size_t max_response_bytes; /* 0: HTTP_DEFAULT_MAX_RESPONSE_BYTES */
};

struct http_response {
	long status;	    /* HTTP status code */
	struct buf body;    /* capped at the request's max_response_bytes */
	struct buf headers; /* raw header lines of the final response, capped */
	/* Why the transfer failed, for a log line, when perform() or
	 * http_exchange_complete() returned a transport error: curl's words,
	 * e.g. "SSL certificate problem: self-signed certificate". Empty
	 * otherwise. Never holds a header or a body, so no secret. */
	char error[CURL_ERROR_SIZE];
};

/* Process-wide settings of the curl-based transport. */
struct http_options {
	const char *ca_bundle; /* a CA file instead of the system's, or NULL */
};

void http_response_init(struct http_response *resp);
void http_response_done(struct http_response *resp);

/* Copies the value of the first response header called name (compared
 * case-insensitively, surrounding white space trimmed) into out. Returns 0,
 * -ENOENT when absent, or -ERANGE when it does not fit. */
int http_response_header(const struct http_response *resp, const char *name, char *out,
			 size_t out_size);

struct http_transport {
	/* Performs one request and fills *resp (which the caller initialised).
	 * Returns 0 when a response arrived, whatever its status, or a negative
	 * errno: -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EHOSTUNREACH (name
	 * did not resolve), -EMSGSIZE (response over its cap), -EPERM (TLS
	 * verification failed), -EINVAL (bad URL), -ENOMEM, -EPROTO. On a
	 * transport error resp->error says why in words. */
	int (*perform)(struct http_transport *t, const struct http_request *req,
		       struct http_response *resp);
	/* Frees the transport. */
	void (*free)(struct http_transport *t);
};

/* Returns a new blocking transport over libcurl that keeps its connections
 * alive between calls, or NULL on ENOMEM. opts is copied. */
struct http_transport *http_curl_new(const struct http_options *opts);

/* Frees t; accepts NULL; returns NULL. */
struct http_transport *http_transport_free(struct http_transport *t);

/* One request prepared for a curl multi handle. */
struct http_exchange;

/* Prepares req (copied) on a new easy handle. Returns 0 and *ret, or
 * -ENOMEM / -EINVAL. */
int http_exchange_new(const struct http_options *opts, const struct http_request *req,
		      struct http_exchange **ret);

/* The easy handle to add to a multi handle; owned by the exchange. */
CURL *http_exchange_easy(struct http_exchange *x);

/* Records how the transfer ended (the CURLcode from curl_multi_info_read).
 * Returns 0 when a response arrived, or a negative errno as perform(), with
 * the response's error text set. */
int http_exchange_complete(struct http_exchange *x, CURLcode code);

/* The response of a completed exchange; owned by the exchange. */
struct http_response *http_exchange_response(struct http_exchange *x);

/* Frees x (removing it from no multi handle: do that first); accepts NULL;
 * returns NULL. */
struct http_exchange *http_exchange_free(struct http_exchange *x);

/* Maps a CURLcode to the negative errno documented at perform(). */
int http_errno_from_curl(CURLcode code);

#endif
