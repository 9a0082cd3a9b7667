/* SPDX-License-Identifier: Apache-2.0 */
/*
 * statuspage: renders the status page (HTML) and its JSON twin from a
 * statuspage_view. See include/statuspage.h; docs/STATUS.md describes the
 * JSON.
 *
 * Both renderers write through a writer that keeps the first buf error, so
 * a page reads as a flat run of appends; on failure the output is cut back
 * to where it began. Every string that came from AWS or the configuration
 * goes through statuspage_escape(), which also repairs invalid UTF-8 (each
 * bad byte becomes U+FFFD), so the HTML and the JSON are always valid.
 * Lists are capped (STATUSPAGE_MAX_*) and say how many were left out.
 *
 * Pure and reentrant: the HTTP threads call it with references they hold.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "report.h"
#include "snapshot.h"
#include "statuspage.h"
#include "targets.h"

#define STATUSPAGE_MAX_SERVICES 5000
#define STATUSPAGE_MAX_SKIPS	1000
#define STATUSPAGE_MAX_ERRORS	200
#define STATUSPAGE_REPLACEMENT	"\xef\xbf\xbd" /* U+FFFD */

enum statuspage_escape_mode {
	STATUSPAGE_ESCAPE_HTML,
	STATUSPAGE_ESCAPE_JSON,
};

/* Appends to out and keeps the first error. */
struct statuspage_writer {
	struct buf *out;
	int err;
};

enum statuspage_state {
	STATUSPAGE_STATE_OK,
	STATUSPAGE_STATE_PARTIAL,
	STATUSPAGE_STATE_FAILING,
	STATUSPAGE_STATE_STALE,
	STATUSPAGE_STATE_WARM_START,
	STATUSPAGE_STATE_NO_DISCOVERY,
};

struct statuspage_state_info {
	const char *name;  /* JSON "state" */
	const char *title; /* the banner's first words */
	const char *text;  /* what it means */
};

static const struct statuspage_state_info statuspage_states[] = {
	[STATUSPAGE_STATE_OK] = { "ok", "OK",
				  "The last refresh read every namespace and service." },
	[STATUSPAGE_STATE_PARTIAL] = { "partial", "Partial",
				       "The last refresh could not read some namespaces or "
				       "services: see the errors under Last refresh." },
	[STATUSPAGE_STATE_FAILING] = { "failing", "Failing",
				       "The last refresh failed: the targets served are those of "
				       "the last successful refresh." },
	[STATUSPAGE_STATE_STALE] = { "stale", "Stale",
				     "No refresh has succeeded for longer than the maximum "
				     "staleness: /targets answers 503 until one does." },
	[STATUSPAGE_STATE_WARM_START] = { "warm_start", "Warm start",
					  "The targets served were loaded from the file_sd file at "
					  "start and are not yet confirmed by AWS." },
	[STATUSPAGE_STATE_NO_DISCOVERY] = { "no_discovery", "No discovery yet",
					    "No refresh has succeeded yet: /targets answers 503 "
					    "until one does." },
};

/* ---- writer ---- */

static void statuspage_append(struct statuspage_writer *w, const void *p, size_t n)
{
	int r;

	if (w->err || n == 0)
		return;
	r = buf_append(w->out, p, n);
	if (r < 0)
		w->err = r;
}

static void statuspage_puts(struct statuspage_writer *w, const char *s)
{
	statuspage_append(w, s, strlen(s));
}

static void statuspage_printf(struct statuspage_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void statuspage_printf(struct statuspage_writer *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (w->err)
		return;
	va_start(ap, fmt);
	r = buf_vprintf(w->out, fmt, ap);
	va_end(ap);
	if (r < 0)
		w->err = r;
}

/* Runs render into out; on failure out is cut back to its old length. */
static int statuspage_run(const struct statuspage_view *v, struct buf *out,
			  void (*render)(struct statuspage_writer *w,
					 const struct statuspage_view *v))
{
	struct statuspage_writer w = { .out = out };
	size_t start = out->len;

	render(&w, v);
	if (w.err && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return w.err;
}

static size_t statuspage_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- escaping ---- */

/* The length of the valid UTF-8 sequence at s (NUL-terminated), or 0 when
 * the byte at s does not start one: no overlongs, surrogates or code points
 * past U+10FFFF. */
static size_t statuspage_utf8_seq(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return n;
}

/* The escape of one ASCII byte in HTML text and attribute values, or NULL
 * when it stands for itself. Controls (but tab and newline) become U+FFFD. */
static const char *statuspage_html_escape_byte(unsigned char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	case '\t':
	case '\n':
		return NULL;
	default:
		return c < 0x20 || c == 0x7f ? STATUSPAGE_REPLACEMENT : NULL;
	}
}

/* The escape of one ASCII byte in a JSON string, in esc (8 bytes), or
 * NULL when it stands for itself. */
static const char *statuspage_json_escape_byte(unsigned char c, char *esc)
{
	if (c == '"')
		return "\\\"";
	if (c == '\\')
		return "\\\\";
	if (c >= 0x20)
		return NULL;
	snprintf(esc, 8, "\\u%04x", c);
	return esc;
}

static const char *statuspage_escape_byte(unsigned char c, enum statuspage_escape_mode mode,
					  char *esc)
{
	if (mode == STATUSPAGE_ESCAPE_HTML)
		return statuspage_html_escape_byte(c);
	return statuspage_json_escape_byte(c, esc);
}

/* Appends s escaped for mode; runs of plain bytes are copied at once. */
static void statuspage_escape(struct statuspage_writer *w, const char *s,
			      enum statuspage_escape_mode mode)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	const char *esc;
	char tmp[8];
	size_t n;

	while (*p) {
		n = statuspage_utf8_seq(p);
		esc = n == 1 ? statuspage_escape_byte(*p, mode, tmp) : NULL;
		if (n > 1 || (n == 1 && !esc)) {
			p += n;
			continue;
		}
		statuspage_append(w, run, (size_t)(p - run));
		statuspage_puts(w, n ? esc : STATUSPAGE_REPLACEMENT);
		run = ++p;
	}
	statuspage_append(w, run, (size_t)(p - run));
}

static void statuspage_html_text(struct statuspage_writer *w, const char *s)
{
	statuspage_escape(w, s, STATUSPAGE_ESCAPE_HTML);
}

/* A JSON string, or null for NULL. */
static void statuspage_json_str(struct statuspage_writer *w, const char *s)
{
	if (!s) {
		statuspage_puts(w, "null");
		return;
	}
	statuspage_puts(w, "\"");
	statuspage_escape(w, s, STATUSPAGE_ESCAPE_JSON);
	statuspage_puts(w, "\"");
}

/* ---- what the view says ---- */

static const char *statuspage_name(const struct snapshot *s, uint32_t idx)
{
	return idx < s->n_names && s->names[idx] ? s->names[idx] : "?";
}

static int64_t statuspage_targets_age_ms(const struct statuspage_view *v)
{
	return v->now_ms - v->snapshot->refreshed_at_unix * 1000;
}

static bool statuspage_is_stale(const struct statuspage_view *v)
{
	return v->snapshot && !v->snapshot->warm_start && v->max_staleness_ms > 0 &&
	       statuspage_targets_age_ms(v) > v->max_staleness_ms;
}

static bool statuspage_report_is(const struct statuspage_view *v, const char *result)
{
	return v->report && v->report->result && strcmp(v->report->result, result) == 0;
}

static enum statuspage_state statuspage_state_of(const struct statuspage_view *v)
{
	if (!v->snapshot)
		return statuspage_report_is(v, "failure") ? STATUSPAGE_STATE_FAILING
							  : STATUSPAGE_STATE_NO_DISCOVERY;
	if (v->snapshot->warm_start)
		return STATUSPAGE_STATE_WARM_START;
	if (statuspage_is_stale(v))
		return STATUSPAGE_STATE_STALE;
	if (statuspage_report_is(v, "failure"))
		return STATUSPAGE_STATE_FAILING;
	if (statuspage_report_is(v, "partial"))
		return STATUSPAGE_STATE_PARTIAL;
	return STATUSPAGE_STATE_OK;
}

/* The banner's explanation: a failure before any success says so. */
static const char *statuspage_state_text(const struct statuspage_view *v, enum statuspage_state st)
{
	if (st == STATUSPAGE_STATE_FAILING && !v->snapshot)
		return "No refresh has succeeded yet and the last one failed: see the errors "
		       "under Last refresh. /targets answers 503 until a refresh succeeds.";
	return statuspage_states[st].text;
}

/* The plain words for a skip reason. */
static const char *statuspage_reason_text(enum target_skip_reason reason)
{
	switch (reason) {
	case TARGET_SKIP_NO_METRICS_PATH:
		return "service has no METRICS_PATH tag";
	case TARGET_SKIP_NO_ADDRESS:
		return "no usable AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 attribute";
	case TARGET_SKIP_BAD_PORT:
		return "bad port (not a number in 1..65535)";
	case TARGET_SKIP_BAD_PATH:
		return "bad metrics path (does not start with /)";
	case TARGET_SKIP_COUNT:
		break;
	}
	return "unknown reason";
}

static const char *statuspage_plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static unsigned statuspage_total_targets(const struct snapshot *s)
{
	unsigned total = 0;
	size_t i;

	for (i = 0; i < s->n_services; i++)
		total += s->services[i].targets;
	return total;
}

/* ---- time ---- */

/* "2023-11-14 22:13:20 UTC" into out (at least 32 bytes). */
static void statuspage_utc(int64_t unix_ms, char *out, size_t size)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, size, "%" PRId64 " ms since 1970", unix_ms);
}

/* "42 s", "3 min 12 s", "2 h 5 min", "3 d 2 h": how long ms is. */
static void statuspage_span(int64_t ms, char *out, size_t size)
{
	long long s = ms > 0 ? (long long)(ms / 1000) : 0;

	if (s < 120)
		snprintf(out, size, "%lld s", s);
	else if (s < 7200)
		snprintf(out, size, "%lld min %lld s", s / 60, s % 60);
	else if (s < 172800)
		snprintf(out, size, "%lld h %lld min", s / 3600, s / 60 % 60);
	else
		snprintf(out, size, "%lld d %lld h", s / 86400, s / 3600 % 24);
}

/* "240 ms", "1.5 s". */
static void statuspage_duration(int64_t ms, char *out, size_t size)
{
	if (ms < 1000)
		snprintf(out, size, "%" PRId64 " ms", ms);
	else
		snprintf(out, size, "%.1f s", (double)ms / 1000.0);
}

/* "<time> (<span> ago)" of a wall-clock instant. */
static void statuspage_html_when(struct statuspage_writer *w, const struct statuspage_view *v,
				 int64_t at_ms)
{
	char when[64], ago[48];

	statuspage_utc(at_ms, when, sizeof(when));
	statuspage_span(v->now_ms - at_ms, ago, sizeof(ago));
	statuspage_printf(w, "%s <span class=\"muted\">(%s ago)</span>", when, ago);
}

/* ---- HTML: frame ---- */

static const char statuspage_css[] =
    ":root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--line:#d1d9e0;"
    "--head:#f6f8fa}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;"
    "--line:#3d444d;--head:#151b23}}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);"
    "font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    "main{max-width:1100px;margin:0 auto;padding:16px}"
    "h1{font-size:1.6em;margin:0 0 12px;overflow-wrap:anywhere}"
    "h1 .ver{font-size:.55em;font-weight:400;color:var(--muted)}"
    "h2{font-size:1.25em;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid "
    "var(--line)}"
    "h3{font-size:1em;margin:20px 0 6px;overflow-wrap:anywhere}"
    "p{margin:6px 0}"
    ".banner{color:#1f2328;border:1px solid;border-left-width:8px;border-radius:6px;"
    "padding:10px 14px;margin:0 0 14px}"
    ".banner strong{display:block;font-size:1.2em}"
    ".s-ok{background:#dafbe1;border-color:#1a7f37}"
    ".s-partial,.s-warm_start{background:#fff8c5;border-color:#9a6700}"
    ".s-failing,.s-stale{background:#ffebe9;border-color:#cf222e}"
    ".s-no_discovery{background:#eaeef2;border-color:#59636e}"
    ".facts{display:flex;flex-wrap:wrap;gap:8px;list-style:none;padding:0;margin:0}"
    ".facts li{flex:1 1 130px;border:1px solid var(--line);border-radius:6px;padding:8px 12px;"
    "color:var(--muted);font-size:.9em}"
    ".facts b{display:block;color:var(--fg);font-size:1.6em;line-height:1.25}"
    ".scroll{overflow-x:auto;margin:0 0 8px}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid "
    "var(--line)}"
    "td{overflow-wrap:anywhere}"
    "thead th{background:var(--head);white-space:nowrap}"
    ".n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    ".kv th{width:38%;font-weight:600}"
    "@media (min-width:720px){.kv th{width:26%}}"
    ".services td:first-child{width:60%}"
    ".skips td:first-child{width:40%}"
    ".errors td:first-child{width:35%}"
    "code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
    ".muted{color:var(--muted)}"
    ".zero{color:var(--muted)}"
    "footer{margin:32px 0 8px;color:var(--muted);font-size:.9em}";

static void statuspage_html_head(struct statuspage_writer *w)
{
	statuspage_puts(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<meta name=\"viewport\" content=\"width=device-width,"
			   "initial-scale=1\"><title>cloudmap-sd status</title><style>");
	statuspage_puts(w, statuspage_css);
	statuspage_puts(w, "</style></head>\n<body><main>\n");
}

static void statuspage_html_banner(struct statuspage_writer *w, const struct statuspage_view *v)
{
	enum statuspage_state st = statuspage_state_of(v);

	statuspage_puts(w, "<h1>cloudmap-sd <span class=\"ver\">version " CLOUDMAP_SD_VERSION
			   "</span></h1>\n");
	statuspage_printf(w, "<div class=\"banner s-%s\" role=\"status\"><strong>%s</strong> ",
			  statuspage_states[st].name, statuspage_states[st].title);
	statuspage_html_text(w, statuspage_state_text(v, st));
	statuspage_puts(w, "</div>\n");
}

static void statuspage_html_fact(struct statuspage_writer *w, const char *label, const char *value)
{
	statuspage_puts(w, "<li>");
	statuspage_html_text(w, label);
	statuspage_puts(w, " <b>");
	statuspage_html_text(w, value);
	statuspage_puts(w, "</b></li>");
}

/* The figures a person looks for first, as boxes that wrap on a phone. */
static void statuspage_html_facts(struct statuspage_writer *w, const struct statuspage_view *v)
{
	char targets[24] = "–", services[24] = "–", skipped[24] = "–", ago[64] = "none yet";
	char span[48];

	if (v->snapshot) {
		snprintf(targets, sizeof(targets), "%u", statuspage_total_targets(v->snapshot));
		snprintf(services, sizeof(services), "%zu", v->snapshot->n_services);
		snprintf(skipped, sizeof(skipped), "%zu", v->snapshot->n_skips);
	}
	if (v->report) {
		statuspage_span(v->now_ms - v->report->finished_at_ms, span, sizeof(span));
		snprintf(ago, sizeof(ago), "%s ago", span);
	}
	statuspage_puts(w, "<ul class=\"facts\">");
	statuspage_html_fact(w, "Targets", targets);
	statuspage_html_fact(w, "Services", services);
	statuspage_html_fact(w, "Not scraped", skipped);
	statuspage_html_fact(w, "Last refresh", ago);
	statuspage_puts(w, "</ul>\n");
}

/* ---- HTML: tables ---- */

static void statuspage_html_table_open(struct statuspage_writer *w, const char *cls,
				       const char *header)
{
	statuspage_printf(w, "<div class=\"scroll\"><table class=\"%s\">", cls);
	if (header)
		statuspage_printf(w, "<thead><tr>%s</tr></thead>", header);
	statuspage_puts(w, "<tbody>\n");
}

static void statuspage_html_table_close(struct statuspage_writer *w)
{
	statuspage_puts(w, "</tbody></table></div>\n");
}

/* A key/value row; the value is escaped. */
static void statuspage_html_kv(struct statuspage_writer *w, const char *key, const char *value)
{
	statuspage_puts(w, "<tr><th scope=\"row\">");
	statuspage_html_text(w, key);
	statuspage_puts(w, "</th><td>");
	statuspage_html_text(w, value ? value : "");
	statuspage_puts(w, "</td></tr>\n");
}

static void statuspage_html_kv_when(struct statuspage_writer *w, const struct statuspage_view *v,
				    const char *key, int64_t at_ms)
{
	statuspage_printf(w, "<tr><th scope=\"row\">%s</th><td>", key);
	statuspage_html_when(w, v, at_ms);
	statuspage_puts(w, "</td></tr>\n");
}

static void statuspage_html_kv_count(struct statuspage_writer *w, const char *key, unsigned n)
{
	char text[24];

	snprintf(text, sizeof(text), "%u", n);
	statuspage_html_kv(w, key, text);
}

/* "and 12 more ..." under a capped list. */
static void statuspage_html_more(struct statuspage_writer *w, size_t total, size_t listed,
				 const char *what)
{
	if (total > listed)
		statuspage_printf(w,
				  "<p class=\"muted\">… and %zu more %s, not listed here (the "
				  "first %zu are shown).</p>\n",
				  total - listed, what, listed);
}

/* ---- HTML: last refresh ---- */

/* One error: where ("ns / service", or what could not be listed) and what. */
static void statuspage_html_error_row(struct statuspage_writer *w, const struct report_error *e)
{
	statuspage_puts(w, "<tr><td>");
	if (e->namespace_name) {
		statuspage_html_text(w, e->namespace_name);
		statuspage_puts(w, " / ");
		statuspage_html_text(w, e->service_name ? e->service_name : "(all services)");
	} else {
		statuspage_puts(w, "(all namespaces)");
	}
	statuspage_puts(w, "</td><td>");
	statuspage_html_text(w, e->text ? e->text : "");
	statuspage_puts(w, "</td></tr>\n");
}

static void statuspage_html_errors(struct statuspage_writer *w, const struct refresh_report *rep)
{
	size_t i, n = statuspage_min(rep->n_errors, STATUSPAGE_MAX_ERRORS);

	statuspage_printf(w, "<h3>Errors (%zu)</h3>\n", rep->n_errors);
	if (!rep->n_errors) {
		statuspage_puts(w, "<p>None.</p>\n");
		return;
	}
	statuspage_html_table_open(w, "errors", "<th>Where</th><th>Error</th>");
	for (i = 0; i < n; i++)
		statuspage_html_error_row(w, &rep->errors[i]);
	statuspage_html_table_close(w);
	statuspage_html_more(w, rep->n_errors, n, "errors");
}

static void statuspage_html_discovered(struct statuspage_writer *w,
				       const struct refresh_report *rep)
{
	char text[128];

	snprintf(text, sizeof(text), "%u namespaces, %u services, %u instances", rep->namespaces,
		 rep->services, rep->instances);
	statuspage_html_kv(w, "Discovered", text);
	if (rep->namespaces_missing)
		statuspage_html_kv_count(w, "Namespaces asked for that do not exist",
					 rep->namespaces_missing);
	if (rep->services_truncated)
		statuspage_html_kv_count(w, "Services cut at 1000 instances",
					 rep->services_truncated);
}

static void statuspage_html_report_rows(struct statuspage_writer *w,
					const struct statuspage_view *v)
{
	const struct refresh_report *rep = v->report;
	char text[64];

	statuspage_html_kv_when(w, v, "Finished", rep->finished_at_ms);
	statuspage_duration(rep->duration_ms, text, sizeof(text));
	statuspage_html_kv(w, "Took", text);
	statuspage_html_kv(w, "Kind", rep->kind);
	statuspage_html_kv(w, "Result", rep->result);
	statuspage_html_discovered(w, rep);
	if (rep->last_success_ms > 0)
		statuspage_html_kv_when(w, v, "Last success", rep->last_success_ms);
	else
		statuspage_html_kv(w, "Last success", "never");
	if (rep->consecutive_failures)
		statuspage_html_kv_count(w, "Failed refreshes in a row", rep->consecutive_failures);
}

static void statuspage_html_served_rows(struct statuspage_writer *w,
					const struct statuspage_view *v)
{
	char text[64];

	statuspage_html_kv_when(w, v, "Targets served as of",
				v->snapshot->refreshed_at_unix * 1000);
	if (v->snapshot->warm_start)
		statuspage_html_kv(w, "Source", "file_sd file (warm start)");
	if (v->client_refresh_interval_sec > 0) {
		snprintf(text, sizeof(text), "every %.0f s", v->client_refresh_interval_sec);
		statuspage_html_kv(w, "Prometheus asks", text);
	}
}

static void statuspage_html_refresh(struct statuspage_writer *w, const struct statuspage_view *v)
{
	char ago[48];

	statuspage_puts(w, "<h2 id=\"refresh\">Last refresh</h2>\n");
	if (!v->report) {
		statuspage_span(v->now_ms - v->started_at_ms, ago, sizeof(ago));
		statuspage_printf(w, "<p>No refresh has finished yet (started %s ago).</p>\n", ago);
	}
	if (v->report || v->snapshot) {
		statuspage_html_table_open(w, "kv", NULL);
		if (v->report)
			statuspage_html_report_rows(w, v);
		if (v->snapshot)
			statuspage_html_served_rows(w, v);
		statuspage_html_table_close(w);
	}
	if (v->report)
		statuspage_html_errors(w, v->report);
}

/* ---- HTML: targets ---- */

/* The services of the namespace that starts at first, up to end. */
static size_t statuspage_namespace_end(const struct snapshot *s, size_t first, size_t end)
{
	size_t i = first;

	while (i < end && s->services[i].namespace_idx == s->services[first].namespace_idx)
		i++;
	return i;
}

static void statuspage_html_count_cell(struct statuspage_writer *w, unsigned n)
{
	statuspage_printf(w, "<td class=\"n%s\">%u</td>", n ? "" : " zero", n);
}

static void statuspage_html_service_row(struct statuspage_writer *w, const struct snapshot *s,
					const struct snapshot_service *svc)
{
	statuspage_puts(w, "<tr><td>");
	statuspage_html_text(w, statuspage_name(s, svc->service_idx));
	statuspage_puts(w, "</td>");
	statuspage_html_count_cell(w, svc->targets);
	statuspage_html_count_cell(w, svc->skipped);
	statuspage_puts(w, "</tr>\n");
}

/* One namespace: a heading with its totals and a table of its services. */
static void statuspage_html_namespace(struct statuspage_writer *w, const struct snapshot *s,
				      size_t first, size_t end)
{
	unsigned targets = 0;
	size_t i;

	for (i = first; i < end; i++)
		targets += s->services[i].targets;
	statuspage_puts(w, "<h3>Namespace ");
	statuspage_html_text(w, statuspage_name(s, s->services[first].namespace_idx));
	statuspage_printf(w, " <span class=\"muted\">· %u target%s in %zu service%s</span></h3>\n",
			  targets, statuspage_plural(targets), end - first,
			  statuspage_plural(end - first));
	statuspage_html_table_open(w, "services",
				   "<th>Service</th><th class=\"n\">Targets</th>"
				   "<th class=\"n\">Not scraped</th>");
	for (i = first; i < end; i++)
		statuspage_html_service_row(w, s, &s->services[i]);
	statuspage_html_table_close(w);
}

static void statuspage_html_targets(struct statuspage_writer *w, const struct statuspage_view *v)
{
	const struct snapshot *s = v->snapshot;
	size_t i, end, n;

	statuspage_puts(w, "<h2 id=\"targets\">Targets per namespace and service</h2>\n");
	if (!s) {
		statuspage_puts(w, "<p>Nothing discovered yet.</p>\n");
		return;
	}
	if (!s->n_services)
		statuspage_puts(w, "<p>No services found.</p>\n");
	n = statuspage_min(s->n_services, STATUSPAGE_MAX_SERVICES);
	for (i = 0; i < n; i = end) {
		end = statuspage_namespace_end(s, i, n);
		statuspage_html_namespace(w, s, i, end);
	}
	statuspage_html_more(w, s->n_services, n, "services");
}

/* ---- HTML: not scraped ---- */

static bool statuspage_same_service(const struct snapshot_skip *a, const struct snapshot_skip *b)
{
	return a->namespace_idx == b->namespace_idx && a->service_idx == b->service_idx;
}

static void statuspage_html_skip_row(struct statuspage_writer *w, const struct snapshot_skip *k)
{
	statuspage_puts(w, "<tr><td><code>");
	statuspage_html_text(w, k->instance_id);
	statuspage_puts(w, "</code></td><td>");
	statuspage_html_text(w, statuspage_reason_text(k->reason));
	if (k->detail) {
		statuspage_puts(w, "<br><code class=\"muted\">");
		statuspage_html_text(w, k->detail);
		statuspage_puts(w, "</code>");
	}
	statuspage_puts(w, "</td></tr>\n");
}

/* The skips of one service, [first, end): a heading and a table. */
static void statuspage_html_skip_group(struct statuspage_writer *w, const struct snapshot *s,
				       size_t first, size_t end)
{
	const struct snapshot_skip *k = &s->skips[first];
	size_t i;

	statuspage_puts(w, "<h3>");
	statuspage_html_text(w, statuspage_name(s, k->namespace_idx));
	statuspage_puts(w, " / ");
	statuspage_html_text(w, statuspage_name(s, k->service_idx));
	statuspage_printf(w, " <span class=\"muted\">· %zu not scraped</span></h3>\n", end - first);
	statuspage_html_table_open(w, "skips", "<th>Instance</th><th>Reason</th>");
	for (i = first; i < end; i++)
		statuspage_html_skip_row(w, &s->skips[i]);
	statuspage_html_table_close(w);
}

static void statuspage_html_skip_totals(struct statuspage_writer *w, const struct snapshot *s)
{
	int reason;

	statuspage_printf(w, "<p>%zu instance%s seen but not turned into targets:</p><ul>",
			  s->n_skips, statuspage_plural(s->n_skips));
	for (reason = 0; reason < TARGET_SKIP_COUNT; reason++)
		if (s->skipped[reason])
			statuspage_printf(w, "<li>%u × %s</li>", s->skipped[reason],
					  statuspage_reason_text((enum target_skip_reason)reason));
	statuspage_puts(w, "</ul>\n<p class=\"muted\">Instances that Cloud Map's health "
			   "status filter leaves out (see Health status below) never reach "
			   "cloudmap-sd and are not listed.</p>\n");
}

static void statuspage_html_skips(struct statuspage_writer *w, const struct statuspage_view *v)
{
	const struct snapshot *s = v->snapshot;
	size_t i, end, n;

	statuspage_puts(w, "<h2 id=\"not-scraped\">Not scraped</h2>\n");
	if (!s) {
		statuspage_puts(w, "<p>Nothing discovered yet.</p>\n");
		return;
	}
	if (!s->n_skips) {
		statuspage_puts(w, "<p>Every instance seen is scraped.</p>\n");
		return;
	}
	statuspage_html_skip_totals(w, s);
	n = statuspage_min(s->n_skips, STATUSPAGE_MAX_SKIPS);
	for (i = 0; i < n; i = end) {
		for (end = i + 1; end < n && statuspage_same_service(&s->skips[i], &s->skips[end]);)
			end++;
		statuspage_html_skip_group(w, s, i, end);
	}
	statuspage_html_more(w, s->n_skips, n, "instances");
}

/* ---- HTML: summary ---- */

static void statuspage_html_summary(struct statuspage_writer *w, const struct statuspage_view *v)
{
	size_t i;

	statuspage_puts(w, "<h2 id=\"config\">Build and configuration</h2>\n");
	statuspage_html_table_open(w, "kv", NULL);
	for (i = 0; i < v->n_summary; i++)
		statuspage_html_kv(w, v->summary[i].key ? v->summary[i].key : "",
				   v->summary[i].value);
	statuspage_html_kv_when(w, v, "Started", v->started_at_ms);
	statuspage_html_table_close(w);
}

static void statuspage_html_page(struct statuspage_writer *w, const struct statuspage_view *v)
{
	char now[64];

	statuspage_html_head(w);
	statuspage_html_banner(w, v);
	statuspage_html_facts(w, v);
	statuspage_html_refresh(w, v);
	statuspage_html_targets(w, v);
	statuspage_html_skips(w, v);
	statuspage_html_summary(w, v);
	statuspage_utc(v->now_ms, now, sizeof(now));
	statuspage_printf(w,
			  "<footer>Page made %s. The same as JSON: "
			  "<a href=\"api/v1/status\">api/v1/status</a>.</footer>\n"
			  "</main></body></html>\n",
			  now);
}

int statuspage_html(const struct statuspage_view *v, struct buf *out)
{
	return statuspage_run(v, out, statuspage_html_page);
}

/* ---- JSON ---- */

static void statuspage_json_key(struct statuspage_writer *w, bool first, const char *key)
{
	statuspage_printf(w, "%s\"%s\":", first ? "" : ",", key);
}

static void statuspage_json_key_str(struct statuspage_writer *w, const char *key, const char *s)
{
	statuspage_json_key(w, false, key);
	statuspage_json_str(w, s);
}

static void statuspage_json_key_int(struct statuspage_writer *w, const char *key, int64_t n)
{
	statuspage_json_key(w, false, key);
	statuspage_printf(w, "%" PRId64, n);
}

/* A time in unix milliseconds, or null for 0 (never). */
static void statuspage_json_key_ms_or_null(struct statuspage_writer *w, const char *key, int64_t ms)
{
	if (ms > 0)
		statuspage_json_key_int(w, key, ms);
	else
		statuspage_json_key_str(w, key, NULL);
}

static void statuspage_json_error(struct statuspage_writer *w, const struct report_error *e)
{
	statuspage_puts(w, "{");
	statuspage_json_key(w, true, "namespace");
	statuspage_json_str(w, e->namespace_name);
	statuspage_json_key_str(w, "service", e->service_name);
	statuspage_json_key_str(w, "error", e->text ? e->text : "");
	statuspage_puts(w, "}");
}

static void statuspage_json_errors(struct statuspage_writer *w, const struct refresh_report *rep)
{
	size_t i, n = statuspage_min(rep->n_errors, STATUSPAGE_MAX_ERRORS);

	statuspage_json_key_int(w, "errors_total", (int64_t)rep->n_errors);
	statuspage_json_key(w, false, "errors");
	statuspage_puts(w, "[");
	for (i = 0; i < n; i++) {
		if (i)
			statuspage_puts(w, ",");
		statuspage_json_error(w, &rep->errors[i]);
	}
	statuspage_puts(w, "]");
}

static void statuspage_json_report(struct statuspage_writer *w, const struct statuspage_view *v)
{
	const struct refresh_report *rep = v->report;

	statuspage_json_key(w, false, "last_refresh");
	if (!rep) {
		statuspage_puts(w, "null");
		return;
	}
	statuspage_puts(w, "{");
	statuspage_json_key(w, true, "finished_at_unix_ms");
	statuspage_printf(w, "%" PRId64, rep->finished_at_ms);
	statuspage_json_key_int(w, "age_ms", v->now_ms - rep->finished_at_ms);
	statuspage_json_key_int(w, "duration_ms", rep->duration_ms);
	statuspage_json_key_str(w, "kind", rep->kind);
	statuspage_json_key_str(w, "result", rep->result);
	statuspage_json_key_int(w, "namespaces", rep->namespaces);
	statuspage_json_key_int(w, "services", rep->services);
	statuspage_json_key_int(w, "instances", rep->instances);
	statuspage_json_key_int(w, "namespaces_missing", rep->namespaces_missing);
	statuspage_json_key_int(w, "services_truncated", rep->services_truncated);
	statuspage_json_key_ms_or_null(w, "last_success_unix_ms", rep->last_success_ms);
	statuspage_json_key_int(w, "consecutive_failures", rep->consecutive_failures);
	statuspage_json_errors(w, rep);
	statuspage_puts(w, "}");
}

static void statuspage_json_service(struct statuspage_writer *w, const struct snapshot *s,
				    const struct snapshot_service *svc)
{
	statuspage_puts(w, "{");
	statuspage_json_key(w, true, "namespace");
	statuspage_json_str(w, statuspage_name(s, svc->namespace_idx));
	statuspage_json_key_str(w, "service", statuspage_name(s, svc->service_idx));
	statuspage_json_key_int(w, "targets", svc->targets);
	statuspage_json_key_int(w, "skipped", svc->skipped);
	statuspage_puts(w, "}");
}

static void statuspage_json_services(struct statuspage_writer *w, const struct snapshot *s)
{
	size_t i, n = statuspage_min(s->n_services, STATUSPAGE_MAX_SERVICES);

	statuspage_json_key_int(w, "services_total", (int64_t)s->n_services);
	statuspage_json_key(w, false, "services");
	statuspage_puts(w, "[");
	for (i = 0; i < n; i++) {
		if (i)
			statuspage_puts(w, ",");
		statuspage_json_service(w, s, &s->services[i]);
	}
	statuspage_puts(w, "]");
}

static void statuspage_json_skip(struct statuspage_writer *w, const struct snapshot *s,
				 const struct snapshot_skip *k)
{
	statuspage_puts(w, "{");
	statuspage_json_key(w, true, "namespace");
	statuspage_json_str(w, statuspage_name(s, k->namespace_idx));
	statuspage_json_key_str(w, "service", statuspage_name(s, k->service_idx));
	statuspage_json_key_str(w, "instance_id", k->instance_id);
	statuspage_json_key_str(w, "reason", target_skip_reason_name(k->reason));
	statuspage_json_key_str(w, "reason_text", statuspage_reason_text(k->reason));
	statuspage_json_key_str(w, "detail", k->detail);
	statuspage_puts(w, "}");
}

static void statuspage_json_skip_reasons(struct statuspage_writer *w, const struct snapshot *s)
{
	int reason;

	statuspage_json_key(w, false, "skipped_by_reason");
	statuspage_puts(w, "{");
	for (reason = 0; reason < TARGET_SKIP_COUNT; reason++) {
		statuspage_json_key(w, reason == 0, target_skip_reason_name(reason));
		statuspage_printf(w, "%u", s->skipped[reason]);
	}
	statuspage_puts(w, "}");
}

static void statuspage_json_skips(struct statuspage_writer *w, const struct snapshot *s)
{
	size_t i, n = statuspage_min(s->n_skips, STATUSPAGE_MAX_SKIPS);

	statuspage_json_key_int(w, "skipped_total", (int64_t)s->n_skips);
	statuspage_json_skip_reasons(w, s);
	statuspage_json_key(w, false, "skipped");
	statuspage_puts(w, "[");
	for (i = 0; i < n; i++) {
		if (i)
			statuspage_puts(w, ",");
		statuspage_json_skip(w, s, &s->skips[i]);
	}
	statuspage_puts(w, "]");
}

static void statuspage_json_targets(struct statuspage_writer *w, const struct statuspage_view *v)
{
	const struct snapshot *s = v->snapshot;

	statuspage_json_key(w, false, "targets");
	if (!s) {
		statuspage_puts(w, "null");
		return;
	}
	statuspage_puts(w, "{");
	statuspage_json_key(w, true, "refreshed_at_unix");
	statuspage_printf(w, "%" PRId64, s->refreshed_at_unix);
	statuspage_json_key_int(w, "age_ms", statuspage_targets_age_ms(v));
	statuspage_json_key(w, false, "warm_start");
	statuspage_puts(w, s->warm_start ? "true" : "false");
	statuspage_json_key(w, false, "stale");
	statuspage_puts(w, statuspage_is_stale(v) ? "true" : "false");
	statuspage_json_key_int(w, "total", statuspage_total_targets(s));
	statuspage_json_key_int(w, "invalid_knobs", s->invalid_knobs);
	statuspage_json_key_int(w, "label_collisions", s->label_collisions);
	statuspage_json_key_int(w, "invalid_utf8", s->invalid_utf8);
	statuspage_json_services(w, s);
	statuspage_json_skips(w, s);
	statuspage_puts(w, "}");
}

static void statuspage_json_summary(struct statuspage_writer *w, const struct statuspage_view *v)
{
	size_t i;

	statuspage_json_key(w, false, "summary");
	statuspage_puts(w, "[");
	for (i = 0; i < v->n_summary; i++) {
		statuspage_puts(w, i ? ",{" : "{");
		statuspage_json_key(w, true, "key");
		statuspage_json_str(w, v->summary[i].key ? v->summary[i].key : "");
		statuspage_json_key_str(w, "value", v->summary[i].value);
		statuspage_puts(w, "}");
	}
	statuspage_puts(w, "]");
}

static void statuspage_json_state(struct statuspage_writer *w, const struct statuspage_view *v)
{
	enum statuspage_state st = statuspage_state_of(v);

	statuspage_json_key_str(w, "state", statuspage_states[st].name);
	statuspage_json_key_str(w, "state_title", statuspage_states[st].title);
	statuspage_json_key_str(w, "state_text", statuspage_state_text(v, st));
}

static void statuspage_json_page(struct statuspage_writer *w, const struct statuspage_view *v)
{
	statuspage_puts(w, "{");
	statuspage_json_key(w, true, "version");
	statuspage_json_str(w, CLOUDMAP_SD_VERSION);
	statuspage_json_key_str(w, "revision", CLOUDMAP_SD_REVISION);
	statuspage_json_key_int(w, "now_unix_ms", v->now_ms);
	statuspage_json_key_int(w, "started_at_unix_ms", v->started_at_ms);
	statuspage_json_state(w, v);
	statuspage_json_key(w, false, "client_refresh_interval_sec");
	if (v->client_refresh_interval_sec > 0)
		statuspage_printf(w, "%.3f", v->client_refresh_interval_sec);
	else
		statuspage_puts(w, "null");
	statuspage_json_summary(w, v);
	statuspage_json_report(w, v);
	statuspage_json_targets(w, v);
	statuspage_puts(w, "}\n");
}

int statuspage_json(const struct statuspage_view *v, struct buf *out)
{
	return statuspage_run(v, out, statuspage_json_page);
}
