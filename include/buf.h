/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf: a growable byte buffer with a hard size cap.
 *
 * Every buffer filled from the network or from a peer is a struct buf with a
 * cap: an append that would pass it fails with -EMSGSIZE and leaves the
 * buffer as it was. The data is always NUL-terminated (when not NULL), so
 * text can be used as a C string. Not thread-safe: one owner at a time.
 */
#ifndef CLOUDMAP_BUF_H
#define CLOUDMAP_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes used, not counting the terminating NUL */
	size_t alloc; /* bytes allocated */
	size_t max;   /* cap on len */
};

/* Initialises an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);

/* Frees the bytes; the buffer is empty again and may be reused. */
void buf_done(struct buf *b);

/* Empties the buffer but keeps its allocation. */
void buf_reset(struct buf *b);

/* Appends n bytes. Returns 0, -EMSGSIZE past the cap or -ENOMEM; on failure
 * the buffer is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. Same returns as buf_append(). */
int buf_puts(struct buf *b, const char *s);

/* Appends one byte. Same returns as buf_append(). */
int buf_putc(struct buf *b, char c);

/* Appends printf-formatted text. Same returns as buf_append(). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Hands the bytes over: returns them (NUL-terminated; the caller frees them
 * with free()) and leaves the buffer empty. Returns an empty string rather
 * than NULL for an empty buffer, or NULL on ENOMEM. If ret_len is not NULL
 * it receives the length. */
char *buf_steal(struct buf *b, size_t *ret_len);

#endif
