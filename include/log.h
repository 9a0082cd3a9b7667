/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log: structured log lines, logfmt or JSON, one line per write(2).
 *
 *   ts=2026-11-25T09:00:00.123Z level=info msg="refresh done" namespace=ecs-services
 *   {"ts":"2026-11-25T09:00:00.123Z","level":"info","msg":"refresh done","namespace":"ecs-services"}
 *
 * This is the only module that writes logs; library modules return errors
 * and the edges (main, the refresher, the HTTP handlers) log them. Values
 * are strings: logfmt quotes those that are empty or contain a space, '=',
 * '"', a control character or invalid UTF-8; both formats escape '"', '\',
 * and control characters (\n, \r, \t, \u00XX) and replace invalid UTF-8
 * with U+FFFD. A line longer than LOG_LINE_MAX is cut at a character
 * boundary, its last value closed, and marked "truncated=true" (JSON:
 * "truncated":true), so that it still parses.
 *
 * Thread-safety: every logging call may run in any thread at any time.
 * Each line is assembled on the stack and written with one write(2) under
 * a mutex, so lines from several threads never interleave; LOG_LINE_MAX
 * equals PIPE_BUF, so lines written to a pipe stay whole even across
 * processes. log_init() and log_set_clock() are for main, before threads
 * start. Until log_init() runs: level info, logfmt, stderr.
 */
#ifndef CLOUDMAP_LOG_H
#define CLOUDMAP_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* Longest line in bytes, newline included (PIPE_BUF on Linux). */
#define LOG_LINE_MAX 4096

/* Not LOG_DEBUG/LOG_INFO: <syslog.h> defines those as macros. */
enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

enum log_format {
	LOG_FORMAT_LOGFMT,
	LOG_FORMAT_JSON,
};

/* "debug", "info", "warn", "error", indexed by enum log_level; NULL-terminated. */
extern const char *const log_level_names[];
/* "logfmt", "json", indexed by enum log_format; NULL-terminated. */
extern const char *const log_format_names[];

/* Parse a name above (exact match). Return 0 and *ret, or -EINVAL. */
int log_level_parse(const char *s, enum log_level *ret);
int log_format_parse(const char *s, enum log_format *ret);

/* Sets the least level written, the format and the file descriptor (not
 * closed by this module; it must stay open). Returns 0, or -EINVAL for an
 * unknown level or format or a negative fd (the settings are then kept).
 * Call before threads start. */
int log_init(enum log_level level, enum log_format format, int fd);

/* Wall clock in milliseconds since the epoch; tests pin it. NULL restores
 * clock_gettime(CLOCK_REALTIME). Call before threads start. */
typedef int64_t (*log_clock_fn)(void);
void log_set_clock(log_clock_fn now_ms);

/* Whether a line of this level would be written: lets callers skip work
 * spent only on debug values. */
bool log_enabled(enum log_level level);

/* Writes one line: msg, then key/value string pairs ending with a NULL key.
 * A NULL value is written as an empty string and ends the list.
 *	log_kv(LOG_LEVEL_WARN, "cannot refresh namespace", "namespace", ns,
 *	       "err", strerror(-r), NULL);
 * Keys should be plain words; in logfmt a byte that cannot appear in a key
 * becomes '_'. Never fails: a line that cannot be written is dropped. */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));
void log_kvv(enum log_level level, const char *msg, va_list ap);

/* Writes one line with a single key whose value is printf-formatted:
 *	log_kvf(LOG_LEVEL_INFO, "listening", "address", "%s:%u", host, port); */
void log_kvf(enum log_level level, const char *msg, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
