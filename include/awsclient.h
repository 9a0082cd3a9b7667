/* SPDX-License-Identifier: Apache-2.0 */
/*
 * awsclient: the AWS JSON 1.1 protocol client, with the SDKs' "standard"
 * retry mode, run on a curl multi handle so that many calls proceed at
 * once, bounded by max_concurrency.
 *
 * A call is POST / with X-Amz-Target: <prefix>.<Operation>, Content-Type
 * application/x-amz-json-1.1 and a JSON body, signed with SigV4 using the
 * credentials the provider hands out at each attempt. An error answer is
 * parsed from the body's "__type" (or the X-Amzn-ErrorType header): the
 * text after '#' and before ':' is the code, "message" (or "Message") the
 * message.
 *
 * Retries ("standard" mode): at most max_attempts attempts (3); full-jitter
 * exponential back-off, random * min(2^(retry-1) s, 20 s); a retry quota
 * of 500 shared by every call of the client, a retry costs 5 (10 after a
 * timeout), a success refunds the cost of its retry (or adds 1 when it
 * needed none). Retried: throttling error codes, HTTP 500/502/503/504,
 * RequestTimeout(Exception), and connection errors. No other 4xx.
 *
 * Threads: a client belongs to the refresher thread, which submits calls
 * and runs them; aws_client_abort() is the one function any thread may
 * call. Calls are borrowed: the client hands each back through its done
 * callback, after which it no longer touches it.
 *
 * Secrets: neither the secret key nor the session token ever appear in an
 * error, a callback argument or a log line.
 */
#ifndef CLOUDMAP_AWSCLIENT_H
#define CLOUDMAP_AWSCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "endpoint.h"

struct creds_provider;
struct http_options;

#define AWS_MAX_ATTEMPTS	 3
#define AWS_RETRY_QUOTA		 500
#define AWS_RETRY_COST		 5
#define AWS_RETRY_TIMEOUT_COST	 10
#define AWS_NO_RETRY_INCREMENT	 1
#define AWS_MAX_BACKOFF_MS	 20000
#define AWS_DEFAULT_MAX_RESPONSE (8u << 20)
#define AWS_PAGINATE_MAX_PAGES	 10000

struct aws_error {
	char code[64];	   /* e.g. "ThrottlingException"; empty when none */
	char message[256]; /* AWS's message, truncated */
};

/* How one attempt's outcome is treated by the retry strategy. */
enum aws_retry_class {
	AWS_RETRY_NO,	     /* success, or an error that must not be retried */
	AWS_RETRY_TRANSIENT, /* 5xx, connection errors, RequestTimeout */
	AWS_RETRY_THROTTLE,  /* a throttling error code */
	AWS_RETRY_TIMEOUT,   /* the attempt timed out (costs more quota) */
};

/* What one attempt came to, for metrics. */
struct aws_attempt_info {
	enum aws_service service;
	const char *operation;
	const char *outcome; /* "success", "throttled", "client_error", "server_error",
				"network_error", "malformed" */
	bool will_retry;
	int64_t duration_ms;
};

typedef void (*aws_observe_fn)(void *userdata, const struct aws_attempt_info *attempt);
typedef double (*aws_random_fn)(void *userdata); /* uniform in [0, 1) */

struct aws_client_config {
	const char *endpoint_url[AWS_SERVICE_COUNT]; /* NULL: that service is not used */
	const char *region;
	struct creds_provider *creds;	 /* borrowed */
	const struct http_options *http; /* borrowed; may be NULL */
	unsigned max_concurrency;	 /* 0: 16 */
	unsigned max_attempts;		 /* 0: AWS_MAX_ATTEMPTS */
	long connect_timeout_ms;	 /* 0: http.h's default */
	long timeout_ms;		 /* 0: http.h's default */
	size_t max_response_bytes;	 /* 0: AWS_DEFAULT_MAX_RESPONSE */
	aws_observe_fn observe;		 /* may be NULL */
	void *observe_userdata;
	aws_random_fn random; /* NULL: a seeded PRNG */
	void *random_userdata;
};

struct aws_call;
typedef void (*aws_call_done_fn)(struct aws_call *call, void *userdata);

struct aws_call {
	/* Set by the caller before aws_client_submit(). */
	enum aws_service service;
	const char *operation; /* e.g. "ListServices"; must outlive the call */
	json_t *input;	       /* owned by the call; released when it completes */
	aws_call_done_fn done; /* called once, from aws_client_run() */
	void *userdata;

	/* Results, valid in the done callback. */
	int result;	  /* 0; -EREMOTEIO (an AWS error, see error); -EBADMSG
				  (unparsable answer); -ECANCELED (aborted); -EDQUOT is
				  never returned: a call out of retry quota reports its
				  last error; or a transport error from http.h */
	long http_status; /* 0 when no response arrived */
	json_t *output;	  /* on success a new reference that the done
				  callback owns (and must release), else NULL */
	struct aws_error error;
	unsigned attempts;

	/* Private to the client. */
	struct aws_call *next;
	int64_t ready_at_ms; /* queued: when it may start; ended: when its transfer ended */
	int64_t started_ms;
	char *body;
	size_t body_len;
	unsigned retry_cost;
	struct http_exchange *exchange;
};

struct aws_client;

/* Returns 0 and a new client in *ret, -EINVAL for a bad config, or -ENOMEM.
 * The config's strings are copied; creds, http and the callbacks' data are
 * borrowed. */
int aws_client_new(const struct aws_client_config *cfg, struct aws_client **ret);

/* Frees c; no call may be pending. Accepts NULL; returns NULL. */
struct aws_client *aws_client_free(struct aws_client *c);

/* Queues a call; it starts in aws_client_run(). Returns 0, or -EINVAL (no
 * endpoint for its service, no input). A done callback may submit more calls:
 * the same run() carries them out too. */
int aws_client_submit(struct aws_client *c, struct aws_call *call);

/* Runs every queued call (and those their callbacks submit) to completion.
 * Returns 0 (each call's own result says how it ended), or -ECANCELED after
 * aws_client_abort(), in which case the calls still queued completed with
 * -ECANCELED. Done callbacks run one at a time on this thread; before it
 * reads each finished call's answer, run() starts the queued calls that may
 * start (none after an abort), so other calls are in flight while a done
 * callback runs and their round trips overlap its work. */
int aws_client_run(struct aws_client *c);

/* Makes a running or the next aws_client_run() stop promptly. Thread-safe
 * and async-signal-unsafe. Sticky until aws_client_reset_abort(). */
void aws_client_abort(struct aws_client *c);
void aws_client_reset_abort(struct aws_client *c);

/* One blocking call: steals input; on 0 *ret_output holds a new reference.
 * On failure ret_error (if not NULL) says what AWS said. */
int aws_client_call(struct aws_client *c, enum aws_service service, const char *operation,
		    json_t *input, json_t **ret_output, struct aws_error *ret_error);

/*
 * Pagination. aws_paginate() submits the first page; each page's output is
 * lent to page(); while the output carries a "NextToken" (a page may be
 * empty and still carry one), the next page is requested with it. It stops
 * with -ELOOP when a token repeats the previous one and with -E2BIG past
 * AWS_PAGINATE_MAX_PAGES pages. finished() is called once at the end with
 * the result (0 or the failing page's result) and AWS's error.
 */
typedef int (*aws_page_fn)(void *userdata, json_t *output);
typedef void (*aws_pages_done_fn)(void *userdata, int result, const struct aws_error *error);

/* Steals input. Returns 0 when the first page is queued, or -ENOMEM /
 * -EINVAL (then neither callback is called). */
int aws_paginate(struct aws_client *c, enum aws_service service, const char *operation,
		 json_t *input, aws_page_fn page, aws_pages_done_fn finished, void *userdata);

/* Pure helpers of the protocol and retry strategy, exposed for tests. */

/* Parses an error answer. errortype_header may be NULL. Always fills *ret
 * (code empty when none could be found). */
void aws_error_parse(const char *body, size_t len, const char *errortype_header,
		     struct aws_error *ret);

bool aws_is_throttle_code(const char *code);

/* Classifies an attempt: result is 0 for a response (then status and code
 * decide) or a transport error. */
enum aws_retry_class aws_retry_classify(int result, long status, const char *code);

/* The delay before retry number retry (1 for the first retry), for a random
 * draw rnd in [0, 1). */
int64_t aws_backoff_ms(unsigned retry, double rnd);

struct aws_retry_quota {
	unsigned available;
	unsigned max;
};

void aws_retry_quota_init(struct aws_retry_quota *q, unsigned max);

/* Takes the cost of a retry of class cls. Returns 0 and the cost in
 * *ret_cost, or -EDQUOT when the quota cannot pay it. */
int aws_retry_quota_acquire(struct aws_retry_quota *q, enum aws_retry_class cls,
			    unsigned *ret_cost);

/* Credits a success: the cost of its last retry, or AWS_NO_RETRY_INCREMENT
 * when it needed none (retry_cost 0); never above max. */
void aws_retry_quota_release(struct aws_retry_quota *q, unsigned retry_cost);

#endif
