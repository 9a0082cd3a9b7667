/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fake.h: the fakes shared by the tests of the modules that take a
 * creds_context (test-creds*.c, test-imds.c, test-region.c).
 *
 *  - struct fake_http: an http_transport that records every request and
 *    answers either from a script (fake_answer(): answers in the order
 *    given, whatever was asked; once the script is used up, -ECONNREFUSED)
 *    or, when no answer was scripted, from a table of routes (method and
 *    exact URL; the last matching route wins, so a test overrides one by
 *    adding another; an unrouted request gets a 404).
 *  - struct fake_env: a getenv table; the real environment is never read.
 *  - a fixed clock the test moves by hand.
 *  - temporary files in a private directory, removed by fake_world_done().
 *
 * Header-only (static inline) so that each test program includes what it
 * uses without unused-function warnings.
 */
#ifndef CLOUDMAP_TEST_CREDS_FAKE_H
#define CLOUDMAP_TEST_CREDS_FAKE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "creds_providers.h"
#include "http.h"

#define FAKE_MAX_ROUTES	  16
#define FAKE_MAX_ANSWERS  16
#define FAKE_MAX_REQUESTS 32
#define FAKE_MAX_VARS	  32
#define FAKE_MAX_FILES	  16

/* A route, or a scripted answer (method and url unused). */
struct fake_route {
	const char *method;
	const char *url;
	long status;
	const char *body;
	int err;	      /* perform() returns it instead of answering, when not 0 */
	const char *headers;  /* raw header lines after the status line, or NULL */
	const char *err_text; /* resp->error with err, or NULL for "fake error" */
};

struct fake_request {
	char method[8];
	char url[512];
	char headers[4096]; /* "Name: value\n" each */
	char body[4096];
	size_t body_len;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_response_bytes;
};

struct fake_http {
	struct http_transport base;
	struct fake_route routes[FAKE_MAX_ROUTES];
	size_t n_routes;
	struct fake_route answers[FAKE_MAX_ANSWERS];
	size_t n_answers, next_answer;
	struct fake_request requests[FAKE_MAX_REQUESTS];
	size_t n_requests;
};

struct fake_env {
	const char *names[FAKE_MAX_VARS];
	const char *values[FAKE_MAX_VARS];
	size_t n;
};

struct fake_world {
	struct fake_http http;
	struct fake_env env;
	int64_t now;
	struct creds_context ctx;
	char dir[64]; /* the temporary directory */
	char files[FAKE_MAX_FILES][128];
	size_t n_files;
};

static inline void fake_record(struct fake_http *f, const struct http_request *req)
{
	struct fake_request *r = &f->requests[f->n_requests++];
	size_t i, n = 0;

	snprintf(r->method, sizeof(r->method), "%s", req->method);
	snprintf(r->url, sizeof(r->url), "%s", req->url);
	r->headers[0] = '\0';
	for (i = 0; i < req->n_headers && n < sizeof(r->headers); i++)
		n += (size_t)snprintf(r->headers + n, sizeof(r->headers) - n, "%s: %s\n",
				      req->headers[i].name, req->headers[i].value);
	r->body_len = req->body_len < sizeof(r->body) - 1 ? req->body_len : sizeof(r->body) - 1;
	if (r->body_len)
		memcpy(r->body, req->body, r->body_len);
	r->body[r->body_len] = '\0';
	r->connect_timeout_ms = req->connect_timeout_ms;
	r->timeout_ms = req->timeout_ms;
	r->max_response_bytes = req->max_response_bytes;
}

/* The route for req: the last that matches, or NULL. */
static inline const struct fake_route *fake_find_route(const struct fake_http *f,
						       const struct http_request *req)
{
	size_t i;

	for (i = f->n_routes; i > 0; i--)
		if (strcmp(f->routes[i - 1].method, req->method) == 0 &&
		    strcmp(f->routes[i - 1].url, req->url) == 0)
			return &f->routes[i - 1];
	return NULL;
}

/* Answers req as route says, as the curl transport would. */
static inline int fake_answer_with(const struct fake_route *route, const struct http_request *req,
				   struct http_response *resp)
{
	if (route->err) {
		snprintf(resp->error, sizeof(resp->error), "%s",
			 route->err_text ? route->err_text : "fake error");
		return route->err;
	}
	if (route->body && req->max_response_bytes && strlen(route->body) > req->max_response_bytes)
		return -EMSGSIZE;
	resp->status = route->status;
	if (route->body)
		buf_puts(&resp->body, route->body);
	buf_printf(&resp->headers, "HTTP/1.1 %ld X\r\n", route->status);
	if (route->headers)
		buf_puts(&resp->headers, route->headers);
	return 0;
}

static inline int fake_perform(struct http_transport *t, const struct http_request *req,
			       struct http_response *resp)
{
	struct fake_http *f = (struct fake_http *)t;
	const struct fake_route *route;

	if (f->n_requests == FAKE_MAX_REQUESTS)
		return -ECONNREFUSED;
	if (f->n_answers) {
		if (f->next_answer == f->n_answers)
			return -ECONNREFUSED; /* unscripted: the checks of n_requests catch it */
		fake_record(f, req);
		return fake_answer_with(&f->answers[f->next_answer++], req, resp);
	}
	fake_record(f, req);
	route = fake_find_route(f, req);
	if (!route) {
		resp->status = 404;
		return 0;
	}
	return fake_answer_with(route, req, resp);
}

static inline void fake_http_free(struct http_transport *t)
{
	(void)t; /* embedded in the world */
}

/* Adds a route; returns it so that the test may change it later. */
static inline struct fake_route *fake_route(struct fake_world *w, const char *method,
					    const char *url, long status, const char *body)
{
	struct fake_route *r = &w->http.routes[w->http.n_routes++];

	*r = (struct fake_route){ .method = method, .url = url, .status = status, .body = body };
	return r;
}

/* Scripts the next answer: err (with err_text as resp->error), else status,
 * body and raw header lines (each may be NULL). Returns it. */
static inline struct fake_route *fake_answer(struct fake_world *w, int err, long status,
					     const char *body, const char *headers)
{
	struct fake_route *a = &w->http.answers[w->http.n_answers++];

	*a = (struct fake_route){ .status = status, .body = body, .err = err, .headers = headers };
	return a;
}

static inline const char *fake_getenv(const char *name, void *userdata)
{
	const struct fake_env *env = userdata;
	size_t i;

	for (i = env->n; i > 0; i--)
		if (strcmp(env->names[i - 1], name) == 0)
			return env->values[i - 1];
	return NULL;
}

/* Sets a variable (a later setting wins; value NULL unsets it). */
static inline void fake_setenv(struct fake_world *w, const char *name, const char *value)
{
	w->env.names[w->env.n] = name;
	w->env.values[w->env.n] = value;
	w->env.n++;
}

static inline int64_t fake_clock(void *userdata)
{
	return *(const int64_t *)userdata;
}

/* Writes a file in the world's directory; returns its path (owned by the
 * world) or NULL. */
static inline const char *fake_file(struct fake_world *w, const char *name, const char *content)
{
	char *path = w->files[w->n_files];
	FILE *f;

	if (w->n_files == FAKE_MAX_FILES)
		return NULL;
	snprintf(path, sizeof(w->files[0]), "%s/%s", w->dir, name);
	f = fopen(path, "wb");
	if (!f)
		return NULL;
	fputs(content, f);
	if (fclose(f) != 0)
		return NULL;
	w->n_files++;
	return path;
}

static inline int fake_world_init(struct fake_world *w)
{
	memset(w, 0, sizeof(*w));
	w->http.base.perform = fake_perform;
	w->http.base.free = fake_http_free;
	w->now = 1700000000; /* 2023-11-14T22:13:20Z */
	w->ctx = (struct creds_context){
		.getenv = fake_getenv,
		.getenv_userdata = &w->env,
		.now = fake_clock,
		.now_userdata = &w->now,
		.http = &w->http.base,
		.region = "us-east-1",
		.sts_endpoint = "https://sts.test",
	};
	snprintf(w->dir, sizeof(w->dir), "/tmp/test-creds-XXXXXX");
	return mkdtemp(w->dir) ? 0 : -errno;
}

static inline void fake_world_done(struct fake_world *w)
{
	size_t i;

	for (i = 0; i < w->n_files; i++)
		unlink(w->files[i]);
	rmdir(w->dir);
}

#endif
