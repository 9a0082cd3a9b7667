/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen: a paced HTTP client thread. See loadgen.h.
 *
 * The thread keeps a deadline for the next request on the monotonic clock;
 * between deadlines it drives the transfers in flight with curl_multi_poll(),
 * which loadgen_stop() interrupts with curl_multi_wakeup(). Requests are
 * http.h exchanges, so they keep its caps and timeouts; the multi handle
 * keeps connections alive between them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "loadgen.h"

struct loadgen {
	char *url;
	uint64_t period_ns;
	uint64_t next_ns; /* the next request's deadline; loadgen thread only */
	CURLM *multi;
	struct http_exchange *in_flight[LOADGEN_MAX_IN_FLIGHT]; /* loadgen thread only */
	atomic_bool stop;
	_Atomic uint64_t sent, ok, failed;
	pthread_t thread;
};

static uint64_t loadgen_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void loadgen_count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/* Starts one request in a free slot, or counts a failure when none is. */
static void loadgen_fire(struct loadgen *lg)
{
	struct http_request req = { .method = "GET",
				    .url = lg->url,
				    .timeout_ms = LOADGEN_TIMEOUT_MS };
	struct http_exchange *x = NULL;
	size_t i;

	for (i = 0; i < LOADGEN_MAX_IN_FLIGHT && lg->in_flight[i]; i++)
		;
	if (i == LOADGEN_MAX_IN_FLIGHT || http_exchange_new(NULL, &req, &x) < 0) {
		loadgen_count(&lg->failed);
		return;
	}
	curl_easy_setopt(http_exchange_easy(x), CURLOPT_USERAGENT, "webapp-loadgen");
	if (curl_multi_add_handle(lg->multi, http_exchange_easy(x)) != CURLM_OK) {
		http_exchange_free(x);
		loadgen_count(&lg->failed);
		return;
	}
	lg->in_flight[i] = x;
	loadgen_count(&lg->sent);
}

static void loadgen_finish(struct loadgen *lg, CURL *easy, CURLcode code)
{
	struct http_exchange *x;
	size_t i;

	for (i = 0; i < LOADGEN_MAX_IN_FLIGHT; i++) {
		x = lg->in_flight[i];
		if (!x || http_exchange_easy(x) != easy)
			continue;
		if (http_exchange_complete(x, code) == 0 &&
		    http_exchange_response(x)->status / 100 == 2)
			loadgen_count(&lg->ok);
		else
			loadgen_count(&lg->failed);
		curl_multi_remove_handle(lg->multi, easy);
		lg->in_flight[i] = http_exchange_free(x);
		return;
	}
}

/* Drives the transfers and collects the finished ones. */
static void loadgen_pump(struct loadgen *lg)
{
	struct CURLMsg *msg;
	int running, left;

	curl_multi_perform(lg->multi, &running);
	while ((msg = curl_multi_info_read(lg->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			loadgen_finish(lg, msg->easy_handle, msg->data.result);
}

/* Starts the requests that are due; after a stall longer than a burst,
 * drops the backlog instead of catching up. */
static void loadgen_tick(struct loadgen *lg, uint64_t now_ns)
{
	unsigned int n = 0;

	while (lg->next_ns <= now_ns && n++ < LOADGEN_MAX_BURST) {
		loadgen_fire(lg);
		lg->next_ns += lg->period_ns;
	}
	if (lg->next_ns <= now_ns)
		lg->next_ns = now_ns + lg->period_ns;
}

static void *loadgen_run(void *arg)
{
	struct loadgen *lg = arg;
	uint64_t now_ns;
	int wait_ms;

	lg->next_ns = loadgen_now_ns();
	while (!atomic_load(&lg->stop)) {
		loadgen_tick(lg, loadgen_now_ns());
		loadgen_pump(lg);
		now_ns = loadgen_now_ns();
		wait_ms =
		    lg->next_ns > now_ns ? (int)((lg->next_ns - now_ns + 999999) / 1000000) : 0;
		curl_multi_poll(lg->multi, NULL, 0, wait_ms, NULL);
	}
	return NULL;
}

static struct loadgen *loadgen_free(struct loadgen *lg)
{
	size_t i;

	for (i = 0; i < LOADGEN_MAX_IN_FLIGHT; i++) {
		if (!lg->in_flight[i])
			continue;
		curl_multi_remove_handle(lg->multi, http_exchange_easy(lg->in_flight[i]));
		http_exchange_free(lg->in_flight[i]);
	}
	if (lg->multi)
		curl_multi_cleanup(lg->multi);
	free(lg->url);
	free(lg);
	return NULL;
}

int loadgen_start(const char *url, unsigned int rate_per_sec, struct loadgen **ret)
{
	struct loadgen *lg;
	int r;

	if (!rate_per_sec)
		return -EINVAL;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	lg->period_ns = 1000000000u / rate_per_sec;
	lg->url = strdup(url);
	lg->multi = curl_multi_init();
	if (!lg->url || !lg->multi) {
		loadgen_free(lg);
		return -ENOMEM;
	}
	r = -pthread_create(&lg->thread, NULL, loadgen_run, lg);
	if (r < 0) {
		loadgen_free(lg);
		return r;
	}
	*ret = lg;
	return 0;
}

void loadgen_stats(const struct loadgen *lg, struct loadgen_stats *ret)
{
	ret->sent = atomic_load_explicit(&lg->sent, memory_order_relaxed);
	ret->ok = atomic_load_explicit(&lg->ok, memory_order_relaxed);
	ret->failed = atomic_load_explicit(&lg->failed, memory_order_relaxed);
}

struct loadgen *loadgen_stop(struct loadgen *lg)
{
	if (!lg)
		return NULL;
	atomic_store(&lg->stop, true);
	curl_multi_wakeup(lg->multi);
	pthread_join(lg->thread, NULL);
	return loadgen_free(lg);
}
