/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fakeaws.c: the admin API of the AWS fakes, over the project's own curl
 * transport.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fakeaws.h"
#include "http.h"

json_t *fake_admin(const char *method, const char *route, const char *body)
{
	static const struct http_header json_type[] = { { "Content-Type", "application/json" } };
	const char *base = getenv("FAKE_ADMIN_URL");
	struct http_transport *t = http_curl_new(NULL);
	struct http_response resp;
	struct http_request req = { .method = method,
				    .headers = json_type,
				    .n_headers = 1,
				    .body = body,
				    .body_len = body ? strlen(body) : 0 };
	char url[1024];
	json_t *answer = NULL;
	int r;

	if (!base || !t) {
		printf("# FAKE_ADMIN_URL is not set: run under test/fake/run-with-fakes.py\n");
		http_transport_free(t);
		return NULL;
	}
	snprintf(url, sizeof(url), "%s/%s", base, route);
	req.url = url;
	http_response_init(&resp);
	r = t->perform(t, &req, &resp);
	if (r == 0 && resp.status == 200)
		answer = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	else
		printf("# admin %s %s: %s\n", method, route, r < 0 ? strerror(-r) : "HTTP error");
	if (!answer && r == 0 && resp.body.data)
		for (char *line = strtok(resp.body.data, "\n"); line; line = strtok(NULL, "\n"))
			printf("#   %s\n", line);
	http_response_done(&resp);
	http_transport_free(t);
	return answer;
}

int fake_post(const char *route, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	json_t *answer;

	buf_init(&b, 1 << 20);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	answer = fake_admin("POST", route, b.data ? b.data : "{}");
	buf_done(&b);
	json_decref(answer);
	return answer ? 0 : -1;
}

long long fake_calls(const char *operation)
{
	json_t *calls = fake_admin("GET", "calls", NULL);
	long long n;

	n = json_integer_value(json_object_get(json_object_get(calls, operation), "accepted"));
	json_decref(calls);
	return n;
}

long long fake_rejections(void)
{
	json_t *list = fake_admin("GET", "rejections", NULL), *e;
	size_t i;
	long long n;

	if (!list)
		return -1;
	json_array_foreach (list, i, e) {
		char *s = json_dumps(e, JSON_COMPACT);

		printf("# rejected: %s\n", s ? s : "?");
		free(s);
	}
	n = (long long)json_array_size(list);
	json_decref(list);
	return n;
}
