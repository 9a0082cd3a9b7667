/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.h: what the libFuzzer targets in fuzz/ share.
 *
 * Each fuzz_<name>.c defines the two libFuzzer entry points below and feeds
 * the bytes to one of the parsers that read what a peer sends. The same
 * file links either with libFuzzer (clang, -Dfuzzing=true) or with
 * replay.c, a plain driver that runs each file of a seed corpus once, so
 * the normal gcc build replays the corpora too (suite 'fuzz-corpus').
 *
 * A target must be deterministic, leak-free and fast: no clock, no network,
 * no state carried from one input to the next. Beyond "no crash", a target
 * checks the documented contract of what it calls (return values, outputs
 * set only on success) with FUZZ_CHECK, which aborts: libFuzzer reports an
 * abort as a crash and keeps the input.
 */
#ifndef CLOUDMAP_FUZZ_H
#define CLOUDMAP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points, defined by every target. Initialize runs once
 * before the first input; TestOneInput returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints where and which contract was broken, then aborts. */
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#define FUZZ_CHECK(cond)                                      \
	do {                                                  \
		if (!(cond))                                  \
			fuzz_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* The set-up every target needs: a fixed jansson hash seed, so that the
 * same input always takes the same path. */
void fuzz_init(void);

/* A cursor over the input, for targets that cut it into pieces. */
struct fuzz_input {
	const uint8_t *p;
	size_t n;
};

/* Takes the bytes up to the next byte equal to sep (which is consumed) or
 * to the end, as a new NUL-terminated string; its length (which a NUL
 * inside may make longer than strlen()) goes to *ret_len when not NULL.
 * Returns NULL on ENOMEM; at the end of the input an empty string. */
char *fuzz_take_until(struct fuzz_input *in, uint8_t sep, size_t *ret_len);

/* The same, cut at a newline or a NUL, whichever comes first. */
char *fuzz_take_line(struct fuzz_input *in);

/* Takes one byte; 0 at the end of the input. */
uint8_t fuzz_take_byte(struct fuzz_input *in);

/* Takes the rest as a new exactly-sized copy (NOT NUL-terminated, so that
 * ASan catches a read past the end); NULL when the rest is empty or on
 * ENOMEM. */
uint8_t *fuzz_take_rest(struct fuzz_input *in, size_t *ret_len);

#endif
