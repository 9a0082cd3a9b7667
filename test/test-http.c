/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the curl transport against a one-shot server on loopback, run in
 * a thread of this program: real sockets, scripted answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "test.h"

enum behaviour { ANSWER, CLOSE, HANG };

struct server {
	int listen_fd;
	int port;
	enum behaviour behaviour;
	const char *answer;
	char request[8192]; /* what the client sent */
	pthread_t thread;
};

static void read_request(int fd, struct server *s)
{
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(s->request) - 1) {
		r = read(fd, s->request + n, sizeof(s->request) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		s->request[n] = '\0';
		if (strstr(s->request, "\r\n\r\n"))
			break;
	}
}

static void *serve_one(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	char c;

	if (fd < 0)
		return NULL;
	read_request(fd, s);
	if (s->behaviour == ANSWER && write(fd, s->answer, strlen(s->answer)) < 0)
		s->request[0] = '\0';
	if (s->behaviour == HANG)
		while (read(fd, &c, 1) > 0)
			;
	close(fd);
	return NULL;
}

static int server_start(struct server *s, enum behaviour b, const char *answer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(s->request, 0, sizeof(s->request));
	s->behaviour = b;
	s->answer = answer;
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->listen_fd, 1) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	s->port = ntohs(a.sin_port);
	return -pthread_create(&s->thread, NULL, serve_one, s);
}

static void server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

static int perform(struct server *s, const char *method, const struct http_header *h, size_t nh,
		   long timeout_ms, size_t cap, struct http_response *resp)
{
	struct http_transport *t = http_curl_new(NULL);
	char url[64];
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = h,
		.n_headers = nh,
		.body = "{}",
		.body_len = 2,
		.timeout_ms = timeout_ms,
		.max_response_bytes = cap,
	};
	int r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s->port);
	r = t->perform(t, &req, resp);
	http_transport_free(t);
	return r;
}

static void test_answer_status_body_and_headers(void)
{
	static const struct http_header h[] = { { "X-Amz-Target", "Svc.Op" }, { "X-Empty", "" } };
	struct http_response resp;
	struct server s;
	char v[64];

	CHECK_INT(server_start(&s, ANSWER,
			       "HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n"
			       "X-Amzn-ErrorType:  Throttling:http://x \r\n\r\nhello"),
		  0);
	http_response_init(&resp);
	CHECK_INT(perform(&s, "POST", h, 2, 2000, 0, &resp), 0);
	server_stop(&s);
	CHECK_INT(resp.status, 400);
	CHECK_STR(resp.body.data, "hello");
	CHECK_INT(http_response_header(&resp, "x-amzn-errortype", v, sizeof(v)), 0);
	CHECK_STR(v, "Throttling:http://x");
	CHECK_INT(http_response_header(&resp, "X-Missing", v, sizeof(v)), -ENOENT);
	CHECK_INT(http_response_header(&resp, "X-Amzn-ErrorType", v, 4), -ERANGE);
	CHECK(strstr(s.request, "POST /x HTTP/1.1\r\n") == s.request);
	CHECK(strstr(s.request, "\r\nX-Amz-Target: Svc.Op\r\n") != NULL);
	CHECK(strstr(s.request, "\r\nX-Empty:\r\n") != NULL);
	CHECK(strstr(s.request, "Expect:") == NULL);
	http_response_done(&resp);
}

static void test_header_lookup_without_headers(void)
{
	struct http_response resp;
	char v[8];

	http_response_init(&resp); /* no header bytes at all: data is NULL */
	CHECK_INT(http_response_header(&resp, "X-Amzn-ErrorType", v, sizeof(v)), -ENOENT);
}

static void test_body_over_cap(void)
{
	struct http_response resp;
	struct server s;

	CHECK_INT(
	    server_start(&s, ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"), 0);
	http_response_init(&resp);
	CHECK_INT(perform(&s, "GET", NULL, 0, 2000, 9, &resp), -EMSGSIZE);
	server_stop(&s);
	http_response_done(&resp);
}

static void test_body_over_cap_without_length(void)
{
	struct http_response resp;
	struct server s;

	CHECK_INT(
	    server_start(&s, ANSWER, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789"), 0);
	http_response_init(&resp);
	CHECK_INT(perform(&s, "GET", NULL, 0, 2000, 9, &resp), -EMSGSIZE);
	server_stop(&s);
	http_response_done(&resp);
}

static void test_timeout(void)
{
	struct http_response resp;
	struct server s;

	CHECK_INT(server_start(&s, HANG, NULL), 0);
	http_response_init(&resp);
	CHECK_INT(perform(&s, "GET", NULL, 0, 300, 0, &resp), -ETIMEDOUT);
	server_stop(&s);
	http_response_done(&resp);
}

static void test_reset_and_truncation(void)
{
	struct http_response resp;
	struct server s;

	CHECK_INT(server_start(&s, CLOSE, NULL), 0);
	http_response_init(&resp);
	CHECK_INT(perform(&s, "GET", NULL, 0, 2000, 0, &resp), -ECONNRESET);
	server_stop(&s);
	http_response_done(&resp);

	CHECK_INT(server_start(&s, ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"),
		  0);
	http_response_init(&resp);
	CHECK_INT(perform(&s, "GET", NULL, 0, 2000, 0, &resp), -ECONNRESET);
	server_stop(&s);
	http_response_done(&resp);
}

static void test_refused(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct http_response resp;
	struct server s = { .port = 0 };
	int fd;

	/* A port that was just free and that nobody listens on: bound, never
	 * listened on, closed. No thread waits in accept(). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	s.port = ntohs(a.sin_port);
	close(fd);
	http_response_init(&resp);
	CHECK_INT(perform(&s, "GET", NULL, 0, 2000, 0, &resp), -ECONNREFUSED);
	http_response_done(&resp);
}

static void test_header_injection_refused(void)
{
	static const struct http_header h[] = { { "Authorization", "x\r\nEvil: 1" } };
	struct http_request req = {
		.method = "GET", .url = "http://127.0.0.1:1/", .headers = h, .n_headers = 1
	};
	struct http_exchange *x = NULL;

	CHECK_INT(http_exchange_new(NULL, &req, &x), -EINVAL);
	CHECK(x == NULL);
}

static void test_other_schemes_refused(void)
{
	struct http_transport *t = http_curl_new(NULL);
	struct http_request req = { .method = "GET", .url = "file:///etc/passwd" };
	struct http_response resp;

	http_response_init(&resp);
	CHECK_INT(t->perform(t, &req, &resp), -EINVAL);
	http_response_done(&resp);
	http_transport_free(t);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int r = TEST_MAIN(
	    TEST_CASE(test_answer_status_body_and_headers),
	    TEST_CASE(test_header_lookup_without_headers), TEST_CASE(test_body_over_cap),
	    TEST_CASE(test_body_over_cap_without_length), TEST_CASE(test_timeout),
	    TEST_CASE(test_reset_and_truncation), TEST_CASE(test_refused),
	    TEST_CASE(test_header_injection_refused), TEST_CASE(test_other_schemes_refused));
	curl_global_cleanup();
	return r;
}
