/* SPDX-License-Identifier: Apache-2.0 */
/*
 * awsclient: AWS JSON 1.1 calls on a curl multi handle, with the standard
 * retry mode. See include/awsclient.h.
 *
 * DESIGN: one event loop in aws_client_run(). Calls wait in a queue, each
 * with the time it may start (now, or after its back-off). The loop starts
 * ready calls while fewer than max_concurrency are in flight, polls the
 * multi handle until the next transfer ends or the next back-off elapses,
 * and completes finished transfers: a retryable failure goes back into the
 * queue with a new start time, anything else is handed to the call's done
 * callback, which may queue more calls (the next page, say). Parsing an
 * answer and running a callback take CPU while no transfer moves, so the
 * loop first takes every ended transfer off the multi handle (freeing its
 * slot), and before reading each answer it starts what may start and lets
 * curl send it: the next calls' round trips overlap this parsing. Every
 * attempt is signed afresh, so a retry after a credential refresh uses the
 * new keys. Owned and run by the refresher thread only.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "awsclient.h"
#include "creds.h"
#include "http.h"
#include "sigv4.h"

#define AWS_JSON_CONTENT_TYPE "application/x-amz-json-1.1"
#define DEFAULT_CONCURRENCY   16

struct aws_target {
	char *url;
	char *host; /* host[:port] as the Host header and the signature carry it */
	char *path;
};

struct aws_client {
	struct aws_target target[AWS_SERVICE_COUNT];
	char *region;
	struct creds_provider *creds;
	struct http_options http;
	char *ca_bundle;
	unsigned max_concurrency;
	unsigned max_attempts;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_response_bytes;
	aws_observe_fn observe;
	void *observe_userdata;
	aws_random_fn random;
	void *random_userdata;
	uint64_t rng;

	CURLM *multi;
	struct aws_retry_quota quota;
	struct aws_call *queue;	 /* waiting calls, unordered */
	struct aws_call *flying; /* calls with a transfer under way */
	unsigned in_flight;
	atomic_bool aborted;
};

static const char *const throttle_codes[] = {
	"Throttling",
	"ThrottlingException",
	"ThrottledException",
	"RequestThrottledException",
	"TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException",
	"RequestLimitExceeded",
	"BandwidthLimitExceeded",
	"LimitExceededException",
	"RequestThrottled",
	"SlowDown",
	"PriorRequestNotComplete",
	"EC2ThrottledException",
};

/* ---- protocol and retry strategy: pure functions ---- */

static void copy_trunc(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Keeps the text after the last '#' and before the first ':'. */
static void error_code_from(const char *type, char *out, size_t size)
{
	size_t len = strcspn(type, ":");
	const char *hash = memchr(type, '#', len);

	while (hash) {
		const char *next = memchr(hash + 1, '#', len - (size_t)(hash + 1 - type));

		if (!next)
			break;
		hash = next;
	}
	if (hash) {
		len -= (size_t)(hash + 1 - type);
		type = hash + 1;
	}
	copy_trunc(out, size, type, len);
}

void aws_error_parse(const char *body, size_t len, const char *errortype_header,
		     struct aws_error *ret)
{
	json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *type = json_object_get(root, "__type");
	json_t *msg = json_object_get(root, "message");

	memset(ret, 0, sizeof(*ret));
	if (!json_is_string(msg))
		msg = json_object_get(root, "Message");
	if (json_is_string(type))
		error_code_from(json_string_value(type), ret->code, sizeof(ret->code));
	else if (errortype_header && *errortype_header)
		error_code_from(errortype_header, ret->code, sizeof(ret->code));
	if (json_is_string(msg))
		copy_trunc(ret->message, sizeof(ret->message), json_string_value(msg),
			   json_string_length(msg));
	json_decref(root);
}

bool aws_is_throttle_code(const char *code)
{
	size_t i;

	for (i = 0; i < sizeof(throttle_codes) / sizeof(throttle_codes[0]); i++)
		if (strcmp(code, throttle_codes[i]) == 0)
			return true;
	return false;
}

enum aws_retry_class aws_retry_classify(int result, long status, const char *code)
{
	switch (result) {
	case 0:
		break;
	case -ETIMEDOUT:
		return AWS_RETRY_TIMEOUT;
	case -ECONNRESET:
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
		return AWS_RETRY_TRANSIENT;
	default:
		return AWS_RETRY_NO;
	}
	if (status >= 200 && status < 300)
		return AWS_RETRY_NO;
	if (code && aws_is_throttle_code(code))
		return AWS_RETRY_THROTTLE;
	if (code &&
	    (strcmp(code, "RequestTimeout") == 0 || strcmp(code, "RequestTimeoutException") == 0))
		return AWS_RETRY_TRANSIENT;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return AWS_RETRY_TRANSIENT;
	return AWS_RETRY_NO;
}

int64_t aws_backoff_ms(unsigned retry, double rnd)
{
	int64_t cap = AWS_MAX_BACKOFF_MS;

	if (retry == 0)
		return 0;
	if (retry - 1 < 15 && (INT64_C(1000) << (retry - 1)) < cap)
		cap = INT64_C(1000) << (retry - 1);
	if (rnd < 0)
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999;
	return (int64_t)(rnd * (double)cap);
}

void aws_retry_quota_init(struct aws_retry_quota *q, unsigned max)
{
	q->available = max;
	q->max = max;
}

int aws_retry_quota_acquire(struct aws_retry_quota *q, enum aws_retry_class cls, unsigned *ret_cost)
{
	unsigned cost = cls == AWS_RETRY_TIMEOUT ? AWS_RETRY_TIMEOUT_COST : AWS_RETRY_COST;

	if (q->available < cost)
		return -EDQUOT;
	q->available -= cost;
	*ret_cost = cost;
	return 0;
}

void aws_retry_quota_release(struct aws_retry_quota *q, unsigned retry_cost)
{
	unsigned credit = retry_cost ? retry_cost : AWS_NO_RETRY_INCREMENT;

	q->available = q->max - q->available < credit ? q->max : q->available + credit;
}

/* ---- construction ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static double default_random(void *userdata)
{
	uint64_t *s = userdata;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * UINT64_C(2685821657736338717)) >> 11) / (double)(UINT64_C(1) << 53);
}

static char *dup_or_null(const char *s, int *r)
{
	char *p;

	if (!s)
		return NULL;
	p = strdup(s);
	if (!p)
		*r = -ENOMEM;
	return p;
}

/* Splits url into the parts a call needs: the Host header and the path. */
static int target_init(struct aws_target *t, const char *url)
{
	CURLU *u = curl_url();
	char *path = NULL;
	int r;

	if (!u)
		return -ENOMEM;
	r = endpoint_host(url, &t->host);
	if (r == 0 && (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		       curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK))
		r = -EINVAL;
	if (r == 0) {
		t->url = strdup(url);
		t->path = strdup(path);
		r = t->url && t->path ? 0 : -ENOMEM;
	}
	curl_free(path);
	curl_url_cleanup(u);
	return r;
}

static void target_done(struct aws_target *t)
{
	free(t->url);
	free(t->host);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

static void copy_settings(struct aws_client *c, const struct aws_client_config *cfg)
{
	c->creds = cfg->creds;
	c->max_concurrency = cfg->max_concurrency ? cfg->max_concurrency : DEFAULT_CONCURRENCY;
	c->max_attempts = cfg->max_attempts ? cfg->max_attempts : AWS_MAX_ATTEMPTS;
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	c->timeout_ms = cfg->timeout_ms;
	c->max_response_bytes =
	    cfg->max_response_bytes ? cfg->max_response_bytes : AWS_DEFAULT_MAX_RESPONSE;
	c->observe = cfg->observe;
	c->observe_userdata = cfg->observe_userdata;
	c->random = cfg->random ? cfg->random : default_random;
	c->random_userdata = cfg->random ? cfg->random_userdata : &c->rng;
	c->rng = (uint64_t)time(NULL) * UINT64_C(6364136223846793005) + (uint64_t)(uintptr_t)c;
	if (!c->rng)
		c->rng = 1;
	aws_retry_quota_init(&c->quota, AWS_RETRY_QUOTA);
}

int aws_client_new(const struct aws_client_config *cfg, struct aws_client **ret)
{
	struct aws_client *c;
	int r = 0, i;

	if (!cfg->region || !*cfg->region || !cfg->creds)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	copy_settings(c, cfg);
	for (i = 0; i < AWS_SERVICE_COUNT && r == 0; i++)
		if (cfg->endpoint_url[i])
			r = target_init(&c->target[i], cfg->endpoint_url[i]);
	c->region = dup_or_null(cfg->region, &r);
	c->ca_bundle = dup_or_null(cfg->http ? cfg->http->ca_bundle : NULL, &r);
	c->http.ca_bundle = c->ca_bundle;
	c->multi = r == 0 ? curl_multi_init() : NULL;
	if (r == 0 && !c->multi)
		r = -ENOMEM;
	if (r < 0) {
		aws_client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

struct aws_client *aws_client_free(struct aws_client *c)
{
	int i;

	if (!c)
		return NULL;
	for (i = 0; i < AWS_SERVICE_COUNT; i++)
		target_done(&c->target[i]);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c->region);
	free(c->ca_bundle);
	free(c);
	return NULL;
}

/* ---- calls ---- */

static const char *target_prefix(enum aws_service service)
{
	switch (service) {
	case AWS_SERVICE_SERVICEDISCOVERY:
	case AWS_SERVICE_SERVICEDISCOVERY_DATA:
		return "Route53AutoNaming_v20170314";
	case AWS_SERVICE_SSM:
		return "AmazonSSM";
	default:
		return NULL; /* not a JSON 1.1 service */
	}
}

int aws_client_submit(struct aws_client *c, struct aws_call *call)
{
	if ((unsigned)call->service >= AWS_SERVICE_COUNT || !c->target[call->service].url ||
	    !target_prefix(call->service) || !call->input || !call->operation)
		return -EINVAL;
	if (!call->body) {
		call->body = json_dumps(call->input, JSON_COMPACT);
		if (!call->body)
			return -ENOMEM;
		call->body_len = strlen(call->body);
	}
	call->result = 0;
	call->http_status = 0;
	call->output = NULL;
	call->attempts = 0;
	call->retry_cost = 0;
	call->ready_at_ms = 0;
	call->exchange = NULL;
	memset(&call->error, 0, sizeof(call->error));
	call->next = c->queue;
	c->queue = call;
	return 0;
}

/* Reports an ended attempt (ready_at_ms holds when its transfer ended). */
static void observe(struct aws_client *c, const struct aws_call *call, const char *outcome,
		    bool will_retry)
{
	struct aws_attempt_info a = {
		.service = call->service,
		.operation = call->operation,
		.outcome = outcome,
		.will_retry = will_retry,
		.duration_ms = call->ready_at_ms - call->started_ms,
	};

	if (c->observe)
		c->observe(c->observe_userdata, &a);
}

/* Hands a finished call back to its owner. */
static void call_finish(struct aws_client *c, struct aws_call *call, int result)
{
	call->exchange = http_exchange_free(call->exchange);
	json_decref(call->input);
	call->input = NULL;
	free(call->body);
	call->body = NULL;
	call->result = result;
	if (result == 0)
		aws_retry_quota_release(&c->quota, call->retry_cost);
	else {
		json_decref(call->output);
		call->output = NULL;
	}
	call->done(call, call->userdata); /* may free or resubmit the call */
}

/* ---- attempts ---- */

enum { HDR_HOST, HDR_CONTENT_TYPE, HDR_TARGET, HDR_N_BASE, HDR_MAX = 8 };

struct attempt {
	struct http_header headers[HDR_MAX];
	size_t n_headers;
	char target[160];
	struct sigv4_result sig;
};

/* Signs the first a->n_headers headers and appends what signing adds. */
static int sign_headers(struct aws_client *c, const struct aws_call *call, const struct creds *cr,
			struct attempt *a)
{
	const struct aws_target *t = &c->target[call->service];
	struct sigv4_params p = {
		.region = c->region,
		.service = endpoint_signing_name(call->service),
		.access_key_id = cr->access_key_id,
		.secret_access_key = cr->secret_access_key,
		.session_token = cr->session_token,
		.now_unix = (int64_t)time(NULL),
		.normalize_path = true,
		.double_encode_path = true,
	};
	struct sigv4_request req = {
		.method = "POST",
		.path = t->path,
		.headers = a->headers,
		.n_headers = a->n_headers,
		.payload = call->body,
		.payload_len = call->body_len,
	};
	int r;

	r = sigv4_sign(&req, &p, &a->sig);
	if (r < 0)
		return r;
	a->n_headers += sigv4_result_headers(&a->sig, a->headers + a->n_headers);
	return 0;
}

/* Builds the request headers and signs them with the current credentials. */
static int attempt_sign(struct aws_client *c, struct aws_call *call, struct attempt *a)
{
	const struct aws_target *t = &c->target[call->service];
	struct creds_failure why;
	struct creds *cr = NULL;
	int r;

	r = creds_provider_fetch_why(c->creds, &cr, &why);
	if (r < 0) {
		snprintf(call->error.code, sizeof(call->error.code), "CredentialsError");
		if (r == -ENOENT)
			snprintf(call->error.message, sizeof(call->error.message),
				 "no AWS credentials found (environment, shared files, web "
				 "identity, ECS container, EC2 instance metadata)");
		else
			snprintf(call->error.message, sizeof(call->error.message),
				 "cannot get AWS credentials from %s: %.200s", why.provider,
				 why.detail[0] ? why.detail : strerror(-r));
		return r;
	}
	snprintf(a->target, sizeof(a->target), "%s.%s", target_prefix(call->service),
		 call->operation);
	a->headers[HDR_HOST] = (struct http_header){ "Host", t->host };
	a->headers[HDR_CONTENT_TYPE] =
	    (struct http_header){ "Content-Type", AWS_JSON_CONTENT_TYPE };
	a->headers[HDR_TARGET] = (struct http_header){ "X-Amz-Target", a->target };
	a->n_headers = HDR_N_BASE;
	r = sign_headers(c, call, cr, a);
	creds_unref(cr);
	return r;
}

static int attempt_start(struct aws_client *c, struct aws_call *call)
{
	const struct aws_target *t = &c->target[call->service];
	struct attempt a = { .n_headers = 0 };
	struct http_request req = {
		.method = "POST",
		.url = t->url,
		.body = call->body,
		.body_len = call->body_len,
		.connect_timeout_ms = c->connect_timeout_ms,
		.timeout_ms = c->timeout_ms,
		.max_response_bytes = c->max_response_bytes,
	};
	int r;

	r = attempt_sign(c, call, &a);
	if (r < 0)
		return r;
	req.headers = a.headers;
	req.n_headers = a.n_headers;
	r = http_exchange_new(&c->http, &req, &call->exchange);
	sigv4_result_done(&a.sig);
	if (r < 0)
		return r;
	curl_easy_setopt(http_exchange_easy(call->exchange), CURLOPT_PRIVATE, call);
	if (curl_multi_add_handle(c->multi, http_exchange_easy(call->exchange)) != CURLM_OK) {
		call->exchange = http_exchange_free(call->exchange);
		return -ENOMEM;
	}
	call->started_ms = now_ms();
	call->next = c->flying;
	c->flying = call;
	c->in_flight++;
	return 0;
}

static const char *outcome_of(int result, long status, enum aws_retry_class cls)
{
	if (result == 0)
		return "success";
	if (cls == AWS_RETRY_THROTTLE)
		return "throttled";
	if (result == -EBADMSG)
		return "malformed";
	if (status >= 500)
		return "server_error";
	if (status >= 400)
		return "client_error";
	return "network_error";
}

/* Reads the answer of a completed attempt into call; returns the call's
 * result and in *ret_cls how the retry strategy sees it. */
static int attempt_read(struct aws_call *call, int transport, enum aws_retry_class *ret_cls)
{
	struct http_response *resp = http_exchange_response(call->exchange);
	char errortype[128] = "";

	memset(&call->error, 0, sizeof(call->error));
	call->http_status = transport == 0 ? resp->status : 0;
	*ret_cls = aws_retry_classify(transport, call->http_status, NULL);
	if (transport == -EPERM) { /* TLS verification: name the certificate problem */
		snprintf(call->error.code, sizeof(call->error.code), "TLSError");
		snprintf(call->error.message, sizeof(call->error.message), "%s", resp->error);
	}
	if (transport < 0)
		return transport;
	if (resp->status >= 200 && resp->status < 300) {
		call->output =
		    json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
		return call->output ? 0 : -EBADMSG;
	}
	http_response_header(resp, "X-Amzn-ErrorType", errortype, sizeof(errortype));
	aws_error_parse(resp->body.data, resp->body.len, errortype, &call->error);
	*ret_cls = aws_retry_classify(0, resp->status, call->error.code);
	return -EREMOTEIO;
}

static void unlink_flying(struct aws_client *c, struct aws_call *call)
{
	struct aws_call **p;

	for (p = &c->flying; *p; p = &(*p)->next) {
		if (*p == call) {
			*p = call->next;
			break;
		}
	}
	curl_multi_remove_handle(c->multi, http_exchange_easy(call->exchange));
	c->in_flight--;
}

/* Decides between a retry and the end of a call whose transfer ended (see
 * collect_finished() for what it left in the call). */
static void attempt_complete(struct aws_client *c, struct aws_call *call)
{
	enum aws_retry_class cls;
	unsigned cost;
	int r;

	call->attempts++;
	r = attempt_read(call, call->result, &cls);
	if (cls != AWS_RETRY_NO && call->attempts < c->max_attempts &&
	    aws_retry_quota_acquire(&c->quota, cls, &cost) == 0) {
		observe(c, call, outcome_of(r, call->http_status, cls), true);
		call->retry_cost = cost;
		call->exchange = http_exchange_free(call->exchange);
		call->ready_at_ms =
		    now_ms() + aws_backoff_ms(call->attempts, c->random(c->random_userdata));
		call->next = c->queue;
		c->queue = call;
		return;
	}
	observe(c, call, outcome_of(r, call->http_status, cls), false);
	call_finish(c, call, r);
}

/* ---- the event loop ---- */

/* Starts the calls whose time has come, while there is room. Returns the
 * milliseconds until the next waiting call may start (-1: none waits). */
static int64_t start_ready(struct aws_client *c)
{
	struct aws_call **p = &c->queue;
	int64_t now = now_ms(), wait = -1;

	while (*p) {
		struct aws_call *call = *p;
		int r;

		if (call->ready_at_ms > now) {
			int64_t w = call->ready_at_ms - now;

			wait = wait < 0 || w < wait ? w : wait;
			p = &call->next;
			continue;
		}
		if (c->in_flight >= c->max_concurrency) {
			p = &call->next; /* a transfer's end wakes the poll */
			continue;
		}
		*p = call->next;
		r = attempt_start(c, call);
		if (r < 0)
			call_finish(c, call, r); /* may queue more at the head */
		p = &c->queue;
		now = now_ms();
	}
	return wait;
}

/* Calls whose transfer ended and whose answer is still to be read, in the
 * order the transfers ended. */
struct finished {
	struct aws_call *head;
	struct aws_call **tail;
};

/* Takes the ended transfers off the multi handle, which frees their slots,
 * and appends them to f. Until attempt_complete() reads it, a call keeps
 * the transport's result (0 or a negative errno) in result and the end of
 * its transfer in ready_at_ms. */
static void collect_finished(struct aws_client *c, struct finished *f)
{
	struct aws_call *call;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		call->result = http_exchange_complete(call->exchange, m->data.result);
		call->ready_at_ms = now_ms();
		unlink_flying(c, call); /* m is invalid from here on */
		call->next = NULL;
		*f->tail = call;
		f->tail = &call->next;
	}
}

/* Keeps the network busy without waiting: starts what may start and lets
 * curl send what it can. Starts nothing once aborted. */
static void pump(struct aws_client *c, struct finished *f)
{
	int running;

	if (atomic_load(&c->aborted))
		return;
	start_ready(c);
	curl_multi_perform(c->multi, &running);
	collect_finished(c, f);
}

/* Reads the answers of the ended transfers and runs their callbacks, one at
 * a time. Before each, the freed slots are refilled, so that parsing one
 * answer overlaps the next calls' round trips. Returns how many calls it
 * completed or queued for a retry. */
static unsigned complete_finished(struct aws_client *c)
{
	struct finished f = { .head = NULL, .tail = &f.head };
	struct aws_call *call;
	unsigned n = 0;

	collect_finished(c, &f);
	while (f.head) {
		pump(c, &f);
		call = f.head;
		f.head = call->next;
		if (!f.head)
			f.tail = &f.head;
		attempt_complete(c, call);
		n++;
	}
	return n;
}

/* Ends every call, queued or in flight, with -ECANCELED. */
static void cancel_all(struct aws_client *c)
{
	struct aws_call *call;

	while ((call = c->flying)) {
		unlink_flying(c, call);
		call_finish(c, call, -ECANCELED);
	}
	while ((call = c->queue)) {
		c->queue = call->next;
		call_finish(c, call, -ECANCELED);
	}
}

int aws_client_run(struct aws_client *c)
{
	int running;

	for (;;) {
		int64_t wait;

		if (atomic_load(&c->aborted)) {
			/* Callbacks may submit more; cancel until nothing is left. */
			while (c->queue || c->flying)
				cancel_all(c);
			return -ECANCELED;
		}
		wait = start_ready(c);
		if (!c->queue && !c->in_flight)
			return 0;
		curl_multi_perform(c->multi, &running);
		if (complete_finished(c) > 0)
			continue; /* they may have queued calls or retries */
		if (wait < 0 || wait > 1000)
			wait = 1000;
		curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL);
	}
}

void aws_client_abort(struct aws_client *c)
{
	atomic_store(&c->aborted, true);
	curl_multi_wakeup(c->multi);
}

void aws_client_reset_abort(struct aws_client *c)
{
	atomic_store(&c->aborted, false);
}

/* ---- one blocking call ---- */

struct sync_call {
	struct aws_call call;
	json_t *output;
	bool done;
};

static void sync_done(struct aws_call *call, void *userdata)
{
	struct sync_call *s = userdata;

	s->output = call->output;
	call->output = NULL;
	s->done = true;
}

int aws_client_call(struct aws_client *c, enum aws_service service, const char *operation,
		    json_t *input, json_t **ret_output, struct aws_error *ret_error)
{
	struct sync_call s = {
		.call = { .service = service,
			  .operation = operation,
			  .input = input,
			  .done = sync_done,
			  .userdata = &s },
	};
	int r;

	r = aws_client_submit(c, &s.call);
	if (r < 0) {
		json_decref(input);
		return r;
	}
	r = aws_client_run(c);
	if (!s.done)
		return r < 0 ? r : -EIO;
	if (ret_error)
		*ret_error = s.call.error;
	if (s.call.result < 0)
		return s.call.result;
	*ret_output = s.output;
	return 0;
}

/* ---- pagination ---- */

struct pager {
	struct aws_call call;
	struct aws_client *client;
	json_t *input; /* the first page's input; each next page adds its token */
	char *token;   /* the token of the page just requested */
	unsigned pages;
	aws_page_fn page;
	aws_pages_done_fn finished;
	void *userdata;
};

static void pager_free(struct pager *pg)
{
	json_decref(pg->input);
	free(pg->token);
	free(pg);
}

static void pager_finish(struct pager *pg, int result)
{
	pg->finished(pg->userdata, result, &pg->call.error);
	pager_free(pg);
}

/* Queues the page after the one that carried token; steals nothing. */
static int pager_next(struct pager *pg, const char *token)
{
	json_t *input;
	char *t;

	if (pg->token && strcmp(pg->token, token) == 0)
		return -ELOOP;
	if (++pg->pages >= AWS_PAGINATE_MAX_PAGES)
		return -E2BIG;
	input = json_deep_copy(pg->input);
	t = strdup(token);
	if (!input || !t || json_object_set_new(input, "NextToken", json_string(token)) < 0) {
		json_decref(input);
		free(t);
		return -ENOMEM;
	}
	free(pg->token);
	pg->token = t;
	pg->call.input = input;
	return aws_client_submit(pg->client, &pg->call);
}

static void pager_done(struct aws_call *call, void *userdata)
{
	struct pager *pg = userdata;
	json_t *output = call->output, *token;
	int r = call->result;

	call->output = NULL;
	if (r == 0)
		r = pg->page(pg->userdata, output);
	token = json_object_get(output, "NextToken");
	if (r == 0 && json_is_string(token) && json_string_length(token) > 0) {
		r = pager_next(pg, json_string_value(token));
		if (r < 0) {
			json_decref(pg->call.input);
			pg->call.input = NULL;
		}
	} else if (r == 0)
		r = 1; /* the last page */
	json_decref(output);
	if (r != 0)
		pager_finish(pg, r > 0 ? 0 : r);
}

int aws_paginate(struct aws_client *c, enum aws_service service, const char *operation,
		 json_t *input, aws_page_fn page, aws_pages_done_fn finished, void *userdata)
{
	struct pager *pg;
	int r;

	pg = calloc(1, sizeof(*pg));
	if (!pg || !input) {
		free(pg);
		json_decref(input);
		return !input ? -EINVAL : -ENOMEM;
	}
	pg->client = c;
	pg->input = input;
	pg->page = page;
	pg->finished = finished;
	pg->userdata = userdata;
	pg->call = (struct aws_call){ .service = service,
				      .operation = operation,
				      .input = json_deep_copy(input),
				      .done = pager_done,
				      .userdata = pg };
	r = pg->call.input ? aws_client_submit(c, &pg->call) : -ENOMEM;
	if (r < 0) {
		json_decref(pg->call.input);
		pager_free(pg);
	}
	return r;
}
