/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log: structured log lines. See include/log.h.
 *
 * DESIGN: the settings are atomics written by main before threads start;
 * each call builds its line in a struct log_line on its own stack, so the
 * only shared state is the file descriptor, and the mutex around write(2)
 * keeps a line whole even when the kernel accepts it in pieces (a full
 * pipe, a signal). A line keeps LOG_TRAILER_ROOM bytes free while fields
 * are added, so that a cut value can always be closed and marked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Both quotes of a cut value + ",\"truncated\":true" + '}' + '\n' fit in this. */
#define LOG_TRAILER_ROOM 24
/* Longest output of one escaped unit ("\u00XX", or a UTF-8 sequence). */
#define LOG_UNIT_MAX 8

const char *const log_level_names[] = { "debug", "info", "warn", "error", NULL };
const char *const log_format_names[] = { "logfmt", "json", NULL };

static atomic_int log_min_level = LOG_LEVEL_INFO;
static atomic_int log_fmt = LOG_FORMAT_LOGFMT;
static atomic_int log_fd = 2;
static log_clock_fn log_clock;
static pthread_mutex_t log_write_lock = PTHREAD_MUTEX_INITIALIZER;

struct log_line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool json;
	bool first;	/* no field written yet */
	bool truncated; /* a field did not fit: add no more */
};

static int log_parse_name(const char *const *names, const char *s, int *ret)
{
	int i;

	for (i = 0; names[i]; i++) {
		if (strcmp(names[i], s) == 0) {
			*ret = i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_level_parse(const char *s, enum log_level *ret)
{
	int i, r;

	r = log_parse_name(log_level_names, s, &i);
	if (r == 0)
		*ret = (enum log_level)i;
	return r;
}

int log_format_parse(const char *s, enum log_format *ret)
{
	int i, r;

	r = log_parse_name(log_format_names, s, &i);
	if (r == 0)
		*ret = (enum log_format)i;
	return r;
}

int log_init(enum log_level level, enum log_format format, int fd)
{
	if ((unsigned)level > LOG_LEVEL_ERROR || (unsigned)format > LOG_FORMAT_JSON || fd < 0)
		return -EINVAL;
	atomic_store(&log_min_level, (int)level);
	atomic_store(&log_fmt, (int)format);
	atomic_store(&log_fd, fd);
	return 0;
}

void log_set_clock(log_clock_fn now_ms)
{
	log_clock = now_ms;
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&log_min_level, memory_order_relaxed);
}

static int64_t log_now_ms(void)
{
	struct timespec ts;

	if (log_clock)
		return log_clock();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Escaping ---- */

/* Length of the valid UTF-8 sequence at s (2..4), or 0. Overlong forms,
 * surrogates and code points past U+10FFFF are invalid. */
static size_t log_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Whether the byte (or the C1 control U+0080..U+009F at s) needs escaping. */
static bool log_is_control(const unsigned char *s)
{
	return s[0] < 0x20 || s[0] == 0x7f || (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f);
}

/* The escaped form of the character at s into out; *used gets the bytes of
 * s it stands for. Returns the length of out. */
static size_t log_escape_unit(const char *s, char out[LOG_UNIT_MAX], size_t *used)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = u[0] < 0x80 ? 1 : log_utf8_len(u);

	*used = n ? n : 1;
	if (!n) {
		memcpy(out, "\xef\xbf\xbd", 3); /* U+FFFD */
		return 3;
	}
	if (u[0] == '"' || u[0] == '\\' || u[0] == '\n' || u[0] == '\r' || u[0] == '\t') {
		out[0] = '\\';
		out[1] = u[0] == '\n' ? 'n' : u[0] == '\r' ? 'r' : u[0] == '\t' ? 't' : s[0];
		return 2;
	}
	if (log_is_control(u)) {
		snprintf(out, LOG_UNIT_MAX, "\\u%04x", n == 2 ? u[1] : u[0]);
		return 6;
	}
	memcpy(out, s, n);
	return n;
}

/* logfmt quotes empty values and those with a space, '=', '"', a control
 * character or invalid UTF-8. */
static bool log_needs_quotes(const char *v)
{
	const unsigned char *u = (const unsigned char *)v;

	if (!*u)
		return true;
	for (; *u; u++) {
		if (*u == ' ' || *u == '=' || *u == '"' || log_is_control(u))
			return true;
		if (*u >= 0x80) {
			size_t n = log_utf8_len(u);

			if (!n)
				return true;
			u += n - 1;
		}
	}
	return false;
}

/* ---- Building a line ---- */

/* Appends n bytes if they leave the trailer room free; false if not. */
static bool log_put(struct log_line *l, const char *p, size_t n)
{
	if (l->len + n > sizeof(l->buf) - LOG_TRAILER_ROOM)
		return false;
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	return true;
}

/* Appends into the trailer room: a value's quotes and the line's end, all
 * of which fit in LOG_TRAILER_ROOM. */
static void log_put_reserved(struct log_line *l, const char *s)
{
	size_t n = strlen(s);

	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* Appends v, escaped and quoted or raw. On running out of room, writes
 * what fits of whole characters, closes the quotes and marks the line. */
static void log_put_string(struct log_line *l, const char *v, bool quoted)
{
	char unit[LOG_UNIT_MAX];
	size_t n, used;

	if (quoted)
		log_put_reserved(l, "\"");
	while (*v) {
		n = log_escape_unit(v, unit, &used);
		if (!log_put(l, quoted ? unit : v, quoted ? n : used)) {
			l->truncated = true;
			break;
		}
		v += used;
	}
	if (quoted)
		log_put_reserved(l, "\"");
}

/* A logfmt key: bytes that would end or confuse it become '_'. */
static bool log_put_logfmt_key(struct log_line *l, const char *key)
{
	const unsigned char *k = (const unsigned char *)key;
	char c;

	if (!*k)
		return log_put(l, "_", 1);
	for (; *k; k++) {
		c = *k <= ' ' || *k >= 0x7f || *k == '=' || *k == '"' ? '_' : (char)*k;
		if (!log_put(l, &c, 1))
			return false;
	}
	return true;
}

/* Appends one key/value field; a field whose key does not fit is dropped
 * whole. */
static void log_field(struct log_line *l, const char *key, const char *value)
{
	size_t mark = l->len;
	bool ok;

	if (l->truncated)
		return;
	ok = l->first || log_put(l, l->json ? "," : " ", 1);
	if (ok && l->json) {
		log_put_string(l, key, true);
		ok = !l->truncated && log_put(l, ":", 1);
	} else if (ok) {
		ok = log_put_logfmt_key(l, key) && log_put(l, "=", 1);
	}
	if (!ok) {
		l->len = mark;
		l->truncated = true;
		return;
	}
	l->first = false;
	log_put_string(l, value, l->json || log_needs_quotes(value));
}

static void log_field_ts(struct log_line *l)
{
	int64_t ms = log_now_ms();
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	char ts[96]; /* room for any int fields, to please -Wformat-truncation */

	if (!gmtime_r(&sec, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	log_field(l, "ts", ts);
}

static void log_finish(struct log_line *l)
{
	if (l->truncated)
		log_put_reserved(l, l->json ? ",\"truncated\":true" : " truncated=true");
	if (l->json)
		log_put_reserved(l, "}");
	log_put_reserved(l, "\n");
}

/* One write(2) for the line; the loop only continues a partial write. */
static void log_write(const struct log_line *l)
{
	int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
	size_t off = 0;
	ssize_t n;

	pthread_mutex_lock(&log_write_lock);
	while (off < l->len) {
		n = write(fd, l->buf + off, l->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	pthread_mutex_unlock(&log_write_lock);
}

void log_kvv(enum log_level level, const char *msg, va_list ap)
{
	struct log_line l;
	const char *key, *value;

	if (!log_enabled(level) || (unsigned)level > LOG_LEVEL_ERROR)
		return;
	l.len = 0;
	l.first = true;
	l.truncated = false;
	l.json = atomic_load_explicit(&log_fmt, memory_order_relaxed) == LOG_FORMAT_JSON;
	if (l.json)
		log_put(&l, "{", 1);
	log_field_ts(&l);
	log_field(&l, "level", log_level_names[level]);
	log_field(&l, "msg", msg ? msg : "");
	while ((key = va_arg(ap, const char *))) {
		value = va_arg(ap, const char *);
		log_field(&l, key, value ? value : "");
		if (!value)
			break;
	}
	log_finish(&l);
	log_write(&l);
}

void log_kv(enum log_level level, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_kvv(level, msg, ap);
	va_end(ap);
}

void log_kvf(enum log_level level, const char *msg, const char *key, const char *fmt, ...)
{
	char value[LOG_LINE_MAX];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	log_kv(level, msg, key, value, NULL);
}
