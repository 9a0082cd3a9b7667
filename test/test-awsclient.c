/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the AWS JSON client's pure parts: error parsing, retry
 * classification, back-off bounds and the retry quota; and of its event
 * loop's scheduling against a keep-alive HTTP server on loopback, run in a
 * thread of this program: queued calls start while finished calls' answers
 * are parsed. The client itself is driven end to end against the
 * botocore-verifying fake in test-awsclient-integration.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "awsclient.h"
#include "creds.h"
#include "creds_providers.h"
#include "test.h"

static void parse(const char *body, const char *header, struct aws_error *e)
{
	aws_error_parse(body, body ? strlen(body) : 0, header, e);
}

static void test_error_from_body_type(void)
{
	struct aws_error e;

	parse("{\"__type\":\"com.amazonaws.servicediscovery#NamespaceNotFound\","
	      "\"message\":\"no such namespace\"}",
	      NULL, &e);
	CHECK_STR(e.code, "NamespaceNotFound");
	CHECK_STR(e.message, "no such namespace");

	parse("{\"__type\":\"aws.protocols#ThrottlingException:http://internal.amazon.com/\","
	      "\"Message\":\"Rate exceeded\"}",
	      NULL, &e);
	CHECK_STR(e.code, "ThrottlingException");
	CHECK_STR(e.message, "Rate exceeded");

	parse("{\"__type\":\"ValidationException\"}", NULL, &e);
	CHECK_STR(e.code, "ValidationException");
	CHECK_STR(e.message, "");
}

static void test_error_from_header(void)
{
	struct aws_error e;

	/* The body's __type wins; the header is the fallback. */
	parse("{\"__type\":\"A\"}", "B:http://x", &e);
	CHECK_STR(e.code, "A");
	parse("{\"message\":\"m\"}", "ThrottlingException:http://internal.amazon.com/", &e);
	CHECK_STR(e.code, "ThrottlingException");
	CHECK_STR(e.message, "m");
	parse("<html>bad gateway</html>", "ns#InternalFailure", &e);
	CHECK_STR(e.code, "InternalFailure");
	parse("<html>bad gateway</html>", NULL, &e);
	CHECK_STR(e.code, "");
	parse(NULL, NULL, &e);
	CHECK_STR(e.code, "");
}

static void test_error_truncates(void)
{
	char body[1024], longcode[200];
	struct aws_error e;

	memset(longcode, 'C', sizeof(longcode) - 1);
	longcode[sizeof(longcode) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"__type\":\"%s\",\"message\":\"%0400d\"}", longcode, 0);
	parse(body, NULL, &e);
	CHECK_INT(strlen(e.code), sizeof(e.code) - 1);
	CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
}

static void test_throttle_codes(void)
{
	static const char *const codes[] = {
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
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		CHECK(aws_is_throttle_code(codes[i]));
		CHECK_INT(aws_retry_classify(0, 400, codes[i]), AWS_RETRY_THROTTLE);
	}
	CHECK(!aws_is_throttle_code("throttling"));
	CHECK(!aws_is_throttle_code("AccessDeniedException"));
}

static void test_classify(void)
{
	CHECK_INT(aws_retry_classify(0, 200, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 500, "InternalFailure"), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 502, ""), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 503, "ServiceUnavailable"), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 504, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 501, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 400, "RequestTimeout"), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(0, 408, "RequestTimeoutException"), AWS_RETRY_TRANSIENT);
	/* No other 4xx is retried. */
	CHECK_INT(aws_retry_classify(0, 400, "ValidationException"), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 403, "AccessDeniedException"), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 404, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(0, 429, NULL), AWS_RETRY_NO);
	/* Connection errors are transient; a timeout is its own class. */
	CHECK_INT(aws_retry_classify(-ECONNRESET, 0, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(-ECONNREFUSED, 0, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(-EHOSTUNREACH, 0, NULL), AWS_RETRY_TRANSIENT);
	CHECK_INT(aws_retry_classify(-ETIMEDOUT, 0, NULL), AWS_RETRY_TIMEOUT);
	CHECK_INT(aws_retry_classify(-EMSGSIZE, 0, NULL), AWS_RETRY_NO);
	CHECK_INT(aws_retry_classify(-EPERM, 0, NULL), AWS_RETRY_NO);
}

static void test_backoff_bounds(void)
{
	unsigned retry;

	CHECK_INT(aws_backoff_ms(1, 0.0), 0);
	CHECK_INT(aws_backoff_ms(1, 0.5), 500);
	CHECK_INT(aws_backoff_ms(2, 0.5), 1000);
	CHECK_INT(aws_backoff_ms(3, 0.5), 2000);
	for (retry = 1; retry < 64; retry++) {
		int64_t hi = aws_backoff_ms(retry, 0.9999999);

		CHECK(hi >= 0 && hi < AWS_MAX_BACKOFF_MS);
		CHECK(aws_backoff_ms(retry, 0.0) == 0);
	}
	CHECK(aws_backoff_ms(6, 0.9999) > 19000);			/* capped at 20 s, not 32 */
	CHECK_INT(aws_backoff_ms(2, 1.5), aws_backoff_ms(2, 0.999999)); /* rnd clamped */
}

static void test_quota(void)
{
	struct aws_retry_quota q;
	unsigned cost, n = 0;

	aws_retry_quota_init(&q, AWS_RETRY_QUOTA);
	CHECK_INT(aws_retry_quota_acquire(&q, AWS_RETRY_TRANSIENT, &cost), 0);
	CHECK_INT(cost, AWS_RETRY_COST);
	CHECK_INT(aws_retry_quota_acquire(&q, AWS_RETRY_TIMEOUT, &cost), 0);
	CHECK_INT(cost, AWS_RETRY_TIMEOUT_COST);
	CHECK_INT(q.available, AWS_RETRY_QUOTA - 15);
	aws_retry_quota_release(&q, AWS_RETRY_TIMEOUT_COST);
	CHECK_INT(q.available, AWS_RETRY_QUOTA - 5);
	aws_retry_quota_release(&q, 0);
	CHECK_INT(q.available, AWS_RETRY_QUOTA - 4);
	aws_retry_quota_release(&q, AWS_RETRY_COST);
	CHECK_INT(q.available, AWS_RETRY_QUOTA); /* never above the max */

	while (aws_retry_quota_acquire(&q, AWS_RETRY_THROTTLE, &cost) == 0)
		n++;
	CHECK_INT(n, AWS_RETRY_QUOTA / AWS_RETRY_COST);
	CHECK_INT(aws_retry_quota_acquire(&q, AWS_RETRY_TRANSIENT, &cost), -EDQUOT);
	aws_retry_quota_release(&q, 0);
	CHECK_INT(q.available, 1);
}

/* ---- a keep-alive server on loopback that counts requests ---- */

#define SRV_MAX_CONNS	 8
#define SRV_MAX_REQUESTS 16
#define SRV_ANSWER                                                        \
	"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n" \
	"Content-Length: 2\r\n\r\n{}"

struct srv_conn {
	int fd; /* -1: free */
	char buf[16384];
	size_t len;
	unsigned unanswered; /* requests read on it and not answered yet */
};

struct server {
	int listen_fd;
	int stop_pipe[2];
	int port;
	unsigned hold_until; /* answer nothing before this many requests arrived */
	struct srv_conn conns[SRV_MAX_CONNS];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t arrived;
	unsigned n_requests;		    /* under lock */
	char targets[SRV_MAX_REQUESTS][64]; /* X-Amz-Target of each, under lock */
};

/* The value of header name in the head of a request, or "" (in out). */
static void srv_header(const char *head, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	const char *line, *end;

	out[0] = '\0';
	for (line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, name, n) != 0 || line[2 + n] != ':')
			continue;
		line += 3 + n;
		line += strspn(line, " ");
		end = strstr(line, "\r\n");
		snprintf(out, size, "%.*s", (int)(end - line), line);
		return;
	}
}

static void srv_record(struct server *s, const char *head)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_requests < SRV_MAX_REQUESTS)
		srv_header(head, "X-Amz-Target", s->targets[s->n_requests], sizeof(s->targets[0]));
	s->n_requests++;
	pthread_cond_broadcast(&s->arrived);
	pthread_mutex_unlock(&s->lock);
}

/* Takes every whole request off the front of conn's buffer. */
static void srv_parse(struct server *s, struct srv_conn *conn)
{
	char *end, cl[32];
	size_t head_len, total;

	while ((end = strstr(conn->buf, "\r\n\r\n"))) {
		head_len = (size_t)(end + 4 - conn->buf);
		end[2] = '\0';
		srv_header(conn->buf, "Content-Length", cl, sizeof(cl));
		end[2] = '\r';
		total = head_len + (size_t)strtoul(cl, NULL, 10);
		if (conn->len < total)
			return;
		end[2] = '\0';
		srv_record(s, conn->buf);
		conn->unanswered++;
		memmove(conn->buf, conn->buf + total, conn->len - total + 1);
		conn->len -= total;
	}
}

static void srv_answer_due(struct server *s)
{
	unsigned n;
	int i;

	pthread_mutex_lock(&s->lock);
	n = s->n_requests;
	pthread_mutex_unlock(&s->lock);
	if (n < s->hold_until)
		return;
	for (i = 0; i < SRV_MAX_CONNS; i++) {
		struct srv_conn *conn = &s->conns[i];

		for (; conn->fd >= 0 && conn->unanswered; conn->unanswered--)
			if (write(conn->fd, SRV_ANSWER, strlen(SRV_ANSWER)) < 0)
				break;
	}
}

static void srv_accept(struct server *s)
{
	int fd = accept(s->listen_fd, NULL, NULL), i;

	for (i = 0; fd >= 0 && i < SRV_MAX_CONNS; i++) {
		if (s->conns[i].fd < 0) {
			s->conns[i] = (struct srv_conn){ .fd = fd };
			return;
		}
	}
	if (fd >= 0)
		close(fd);
}

static void srv_read(struct server *s, struct srv_conn *conn)
{
	ssize_t r = read(conn->fd, conn->buf + conn->len, sizeof(conn->buf) - 1 - conn->len);

	if (r <= 0) {
		close(conn->fd);
		conn->fd = -1;
		return;
	}
	conn->len += (size_t)r;
	conn->buf[conn->len] = '\0';
	srv_parse(s, conn);
}

static void *srv_run(void *arg)
{
	struct server *s = arg;
	struct pollfd p[SRV_MAX_CONNS + 2];
	int i;

	for (;;) {
		p[0] = (struct pollfd){ .fd = s->stop_pipe[0], .events = POLLIN };
		p[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (i = 0; i < SRV_MAX_CONNS; i++)
			p[i + 2] = (struct pollfd){ .fd = s->conns[i].fd, .events = POLLIN };
		if (poll(p, SRV_MAX_CONNS + 2, -1) < 0 || p[0].revents)
			return NULL;
		if (p[1].revents)
			srv_accept(s);
		for (i = 0; i < SRV_MAX_CONNS; i++)
			if (p[i + 2].revents && s->conns[i].fd >= 0)
				srv_read(s, &s->conns[i]);
		srv_answer_due(s);
	}
}

static int srv_listen(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->listen_fd, SRV_MAX_CONNS) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	s->port = ntohs(a.sin_port);
	return 0;
}

/* Starts a server that answers "{}" to every request once hold_until
 * requests have arrived (at once when 0). */
static int server_start(struct server *s, unsigned hold_until)
{
	pthread_condattr_t ca;
	int i, r;

	memset(s, 0, sizeof(*s));
	s->hold_until = hold_until;
	for (i = 0; i < SRV_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->arrived, &ca);
	pthread_condattr_destroy(&ca);
	if (pipe(s->stop_pipe) < 0)
		return -errno;
	r = srv_listen(s);
	return r < 0 ? r : -pthread_create(&s->thread, NULL, srv_run, s);
}

static void server_stop(struct server *s)
{
	int i;

	if (write(s->stop_pipe[1], "x", 1) == 1)
		pthread_join(s->thread, NULL);
	for (i = 0; i < SRV_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			close(s->conns[i].fd);
	close(s->listen_fd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	pthread_cond_destroy(&s->arrived);
	pthread_mutex_destroy(&s->lock);
}

/* Waits until n requests have arrived or timeout_ms passed; true when they
 * did. */
static bool server_wait(struct server *s, unsigned n, long timeout_ms)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->lock);
	while (s->n_requests < n &&
	       pthread_cond_timedwait(&s->arrived, &s->lock, &deadline) != ETIMEDOUT)
		;
	ok = s->n_requests >= n;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* ---- the event loop against the server ---- */

#define WAIT_MS 2000

/* Fixed keys, through the environment provider. */
static const char *fixed_getenv(const char *name, void *userdata)
{
	if (strcmp(name, "AWS_ACCESS_KEY_ID") == 0)
		return "AKIDEXAMPLE";
	if (strcmp(name, "AWS_SECRET_ACCESS_KEY") == 0)
		return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	return NULL;
}

static const struct creds_context fixed_env = { .getenv = fixed_getenv };

static struct aws_client *loop_client(struct server *s, struct creds_provider *creds,
				      unsigned concurrency)
{
	char url[64];
	struct aws_client_config cfg = {
		.endpoint_url = { url, url, url },
		.region = "us-east-1",
		.creds = creds,
		.max_concurrency = concurrency,
		.timeout_ms = 5000,
	};
	struct aws_client *c = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s->port);
	return aws_client_new(&cfg, &c) == 0 ? c : NULL;
}

/* What the done callbacks of one test do and saw. */
struct loop_test {
	struct server *srv;
	struct aws_client *client;
	struct aws_call calls[3];
	unsigned callbacks; /* how many ran */
	int results[3];
	unsigned submit_in;  /* the callback (1-based) that submits calls[2]; 0: none */
	unsigned wait_in;    /* the callback that waits for wait_for requests; 0: none */
	unsigned wait_for;   /* requests the server must have seen */
	bool abort_in_first; /* the first callback aborts the run */
	bool saw;	     /* they arrived while callback wait_in ran */
};

static void loop_done(struct aws_call *call, void *userdata);

static void loop_submit(struct loop_test *t, unsigned i, const char *operation)
{
	t->calls[i] = (struct aws_call){ .service = AWS_SERVICE_SERVICEDISCOVERY,
					 .operation = operation,
					 .input = json_object(),
					 .done = loop_done,
					 .userdata = t };
	if (aws_client_submit(t->client, &t->calls[i]) < 0)
		json_decref(t->calls[i].input);
}

static void loop_done(struct aws_call *call, void *userdata)
{
	struct loop_test *t = userdata;
	unsigned n = ++t->callbacks;

	t->results[call - t->calls] = call->result;
	json_decref(call->output);
	if (n == 1 && t->abort_in_first)
		aws_client_abort(t->client);
	if (n == t->submit_in)
		loop_submit(t, 2, "ListInstances");
	if (n == t->wait_in)
		t->saw = server_wait(t->srv, t->wait_for, WAIT_MS);
}

/* Runs calls A and B (and C if a callback submits it) on a new client. */
static int loop_run(struct loop_test *t, unsigned concurrency)
{
	struct creds_provider *creds = creds_env_new(&fixed_env);
	int r;

	t->client = creds ? loop_client(t->srv, creds, concurrency) : NULL;
	if (!t->client) {
		creds_provider_free(creds);
		return -ENOMEM;
	}
	loop_submit(t, 0, "ListNamespaces");
	loop_submit(t, 1, "ListServices");
	r = aws_client_run(t->client);
	t->client = aws_client_free(t->client);
	creds_provider_free(creds);
	return r;
}

/* One call at a time: while the first answer is being parsed (its callback
 * blocks), the queued call's request is already on the wire. The old loop
 * ran every callback before starting anything: the callback timed out. */
static void test_run_starts_queued_call_before_callback(void)
{
	struct server s;
	struct loop_test t = { .srv = &s, .wait_in = 1, .wait_for = 2 };
	int r;

	CHECK_INT(server_start(&s, 0), 0);
	r = loop_run(&t, 1);
	server_stop(&s);
	CHECK_INT(r, 0);
	CHECK(t.saw);
	CHECK_INT(t.callbacks, 2);
	CHECK_INT(t.results[0], 0);
	CHECK_INT(t.results[1], 0);
	CHECK_INT(s.n_requests, 2);
}

/* Two calls end together; the first callback queues a third call, which
 * must be on the wire before the second callback ends. */
static void test_run_starts_submitted_call_between_callbacks(void)
{
	struct server s;
	struct loop_test t = { .srv = &s, .submit_in = 1, .wait_in = 2, .wait_for = 3 };
	int r;

	CHECK_INT(server_start(&s, 2), 0); /* answers A and B together */
	r = loop_run(&t, 2);
	server_stop(&s);
	CHECK_INT(r, 0);
	CHECK(t.saw);
	CHECK_INT(t.callbacks, 3);
	CHECK_INT(t.results[2], 0);
	CHECK_STR(s.targets[2], "Route53AutoNaming_v20170314.ListInstances");
}

/* An abort in a callback: the call submitted after the abort never starts.
 * The other call ends with its answer when its transfer had ended with the
 * first one's, else with -ECANCELED. */
static void test_run_starts_nothing_after_abort(void)
{
	struct server s;
	struct loop_test t = { .srv = &s, .submit_in = 1, .abort_in_first = true };
	int r;

	CHECK_INT(server_start(&s, 2), 0);
	r = loop_run(&t, 2);
	server_stop(&s);
	CHECK_INT(r, -ECANCELED);
	CHECK_INT(t.callbacks, 3);
	CHECK(t.results[0] == 0 || t.results[1] == 0);
	CHECK(t.results[0] == 0 || t.results[0] == -ECANCELED);
	CHECK(t.results[1] == 0 || t.results[1] == -ECANCELED);
	CHECK_INT(t.results[2], -ECANCELED);
	CHECK_INT(s.n_requests, 2); /* the server thread is joined */
}

int main(void)
{
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = TEST_MAIN(TEST_CASE(test_error_from_body_type), TEST_CASE(test_error_from_header),
		      TEST_CASE(test_error_truncates), TEST_CASE(test_throttle_codes),
		      TEST_CASE(test_classify), TEST_CASE(test_backoff_bounds),
		      TEST_CASE(test_quota), TEST_CASE(test_run_starts_queued_call_before_callback),
		      TEST_CASE(test_run_starts_submitted_call_between_callbacks),
		      TEST_CASE(test_run_starts_nothing_after_abort));
	curl_global_cleanup();
	return r;
}
