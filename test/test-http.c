/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the curl transport against a one-shot server on loopback, run in
 * a thread of this program: real sockets, scripted answers. And against a
 * TLS server on loopback (libmicrohttpd with a self-signed certificate made
 * here): refused unless the CA bundle names the certificate, the refusal
 * naming the certificate problem.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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
	CHECK_STR(resp.error, ""); /* a response arrived: no transport error */
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
	CHECK(resp.error[0] != '\0'); /* curl's words on why */
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

/*
 * TLS.
 */

/* A self-signed certificate for IP:127.0.0.1, and its key, in PEM. */
struct tls_pem {
	char *key;
	char *cert;
};

static char *bio_steal(BIO *b)
{
	char *data, *copy;
	long n = BIO_get_mem_data(b, &data);

	copy = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (copy) {
		memcpy(copy, data, (size_t)n);
		copy[n] = '\0';
	}
	BIO_free(b);
	return copy;
}

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *san;

	if (!x)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "IP:127.0.0.1");
	if (!san || !X509_add_ext(x, san, -1) || !X509_sign(x, key, EVP_sha256())) {
		X509_EXTENSION_free(san);
		X509_free(x);
		return NULL;
	}
	X509_EXTENSION_free(san);
	return x;
}

static int tls_pem_make(struct tls_pem *pem)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key ? self_signed(key) : NULL;
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	int ok = x && kb && cb && PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) &&
		 PEM_write_bio_X509(cb, x);

	pem->key = kb ? bio_steal(kb) : NULL;
	pem->cert = cb ? bio_steal(cb) : NULL;
	X509_free(x);
	EVP_PKEY_free(key);
	return ok && pem->key && pem->cert ? 0 : -ENOMEM;
}

static void tls_pem_done(struct tls_pem *pem)
{
	free(pem->key);
	free(pem->cert);
}

struct tls_server {
	struct MHD_Daemon *mhd;
	int port;
	int requests; /* how many reached the handler */
};

static enum MHD_Result tls_answer(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct tls_server *s = cls;
	struct MHD_Response *resp;
	enum MHD_Result r;

	s->requests++;
	resp = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	r = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

static int tls_server_start(struct tls_server *s, const struct tls_pem *pem)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const union MHD_DaemonInfo *info;

	s->requests = 0;
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL,
				  tls_answer, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
				  MHD_OPTION_HTTPS_MEM_KEY, pem->key, MHD_OPTION_HTTPS_MEM_CERT,
				  pem->cert, MHD_OPTION_END);
	info = s->mhd ? MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info)
		return -EIO;
	s->port = info->port;
	return 0;
}

/* GETs / from the TLS server with ca_bundle (NULL: the system's CAs). */
static int tls_get(const struct tls_server *s, const char *ca_bundle, struct http_response *resp)
{
	struct http_options opts = { .ca_bundle = ca_bundle };
	struct http_transport *t = http_curl_new(&opts);
	char url[64];
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 5000 };
	int r;

	if (!t)
		return -ENOMEM;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", s->port);
	r = t->perform(t, &req, resp);
	http_transport_free(t);
	return r;
}

static void test_tls_unknown_ca_names_the_certificate(void)
{
	struct http_response resp;
	struct tls_server s;
	struct tls_pem pem;

	CHECK_INT(tls_pem_make(&pem), 0);
	CHECK_INT(tls_server_start(&s, &pem), 0);
	http_response_init(&resp);
	CHECK_INT(tls_get(&s, NULL, &resp), -EPERM);
	printf("# %s\n", resp.error);
	CHECK(strstr(resp.error, "SSL certificate problem") != NULL); /* curl's words */
	CHECK_INT(s.requests, 0);
	http_response_done(&resp);
	MHD_stop_daemon(s.mhd);
	tls_pem_done(&pem);
}

/* The same server is accepted once the CA bundle holds its certificate:
 * what failed above was the certificate, not the server. */
static void test_tls_known_ca_accepted(void)
{
	char path[] = "/tmp/test-http-ca-XXXXXX";
	struct http_response resp;
	struct tls_server s;
	struct tls_pem pem;
	int fd, r;

	CHECK_INT(tls_pem_make(&pem), 0);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	r = write(fd, pem.cert, strlen(pem.cert)) == (ssize_t)strlen(pem.cert) ? 0 : -EIO;
	close(fd);
	CHECK_INT(r, 0);
	CHECK_INT(tls_server_start(&s, &pem), 0);
	http_response_init(&resp);
	r = tls_get(&s, path, &resp);
	unlink(path);
	CHECK_INT(r, 0);
	CHECK_INT(resp.status, 200);
	CHECK_STR(resp.error, "");
	CHECK_INT(s.requests, 1);
	http_response_done(&resp);
	MHD_stop_daemon(s.mhd);
	tls_pem_done(&pem);
}

/* The exchange for the multi handle says the same. */
static void test_tls_exchange_names_the_certificate(void)
{
	struct http_exchange *x = NULL;
	struct tls_server s;
	struct tls_pem pem;
	char url[64];
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 5000 };

	CHECK_INT(tls_pem_make(&pem), 0);
	CHECK_INT(tls_server_start(&s, &pem), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", s.port);
	CHECK_INT(http_exchange_new(NULL, &req, &x), 0);
	CHECK_INT(http_exchange_complete(x, curl_easy_perform(http_exchange_easy(x))), -EPERM);
	CHECK(strstr(http_exchange_response(x)->error, "SSL certificate problem") != NULL);
	http_exchange_free(x);
	MHD_stop_daemon(s.mhd);
	tls_pem_done(&pem);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int r = TEST_MAIN(
	    TEST_CASE(test_answer_status_body_and_headers),
	    TEST_CASE(test_header_lookup_without_headers), TEST_CASE(test_body_over_cap),
	    TEST_CASE(test_body_over_cap_without_length), TEST_CASE(test_timeout),
	    TEST_CASE(test_reset_and_truncation), TEST_CASE(test_refused),
	    TEST_CASE(test_header_injection_refused), TEST_CASE(test_other_schemes_refused),
	    TEST_CASE(test_tls_unknown_ca_names_the_certificate),
	    TEST_CASE(test_tls_known_ca_accepted),
	    TEST_CASE(test_tls_exchange_names_the_certificate));
	curl_global_cleanup();
	return r;
}
