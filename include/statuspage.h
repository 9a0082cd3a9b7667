/* SPDX-License-Identifier: Apache-2.0 */
/*
 * statuspage: the human status page (GET /) and its JSON twin
 * (GET /api/v1/status).
 *
 * One HTML page without JavaScript, readable on a phone: the build and
 * configuration summary; the last refresh (when, how long, result, errors
 * by namespace and service); targets per namespace and service; and every
 * instance that was seen but not turned into a target, with the reason (no
 * METRICS_PATH tag, no address, bad port, bad path), which answers "why is
 * my task not scraped?". The JSON says the same for programs.
 *
 * Pure rendering from borrowed inputs: called by the HTTP threads with
 * references they hold for the duration of the call. Every string that
 * came from AWS or the configuration is escaped (HTML or JSON).
 */
#ifndef CLOUDMAP_STATUSPAGE_H
#define CLOUDMAP_STATUSPAGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct snapshot;
struct refresh_report;

/* One line of the build and configuration summary, e.g. {"Region",
 * "us-east-1"}. Borrowed. */
struct statuspage_item {
	const char *key;
	const char *value;
};

struct statuspage_view {
	const struct snapshot *snapshot;     /* may be NULL: nothing discovered yet */
	const struct refresh_report *report; /* may be NULL: no refresh has ended yet */
	const struct statuspage_item *summary;
	size_t n_summary;
	int64_t now_ms;		  /* wall clock */
	int64_t started_at_ms;	  /* when the daemon started */
	int64_t max_staleness_ms; /* when the targets are called stale */
	double
	    client_refresh_interval_sec; /* last X-Prometheus-Refresh-Interval-Seconds, 0: none */
};

#define STATUSPAGE_HTML_CONTENT_TYPE "text/html; charset=utf-8"
#define STATUSPAGE_JSON_CONTENT_TYPE "application/json"

/* Appends the HTML page to out. Returns 0 or a buf error (-EMSGSIZE,
 * -ENOMEM). */
int statuspage_html(const struct statuspage_view *v, struct buf *out);

/* Appends the same as one JSON object to out. Returns 0 or a buf error. */
int statuspage_json(const struct statuspage_view *v, struct buf *out);

#endif
