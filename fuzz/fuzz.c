/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.c: the helpers behind fuzz.h, shared by every target.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: contract broken: %s\n", file, line, what);
	abort();
}

void fuzz_init(void)
{
	json_object_seed(1);
}

static char *fuzz_take_n(struct fuzz_input *in, size_t n, size_t skip)
{
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	if (n)
		memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n + skip;
	in->n -= n + skip;
	return s;
}

char *fuzz_take_until(struct fuzz_input *in, uint8_t sep, size_t *ret_len)
{
	const uint8_t *end = in->n ? memchr(in->p, sep, in->n) : NULL;
	size_t n = end ? (size_t)(end - in->p) : in->n;
	char *s = fuzz_take_n(in, n, end ? 1 : 0);

	if (s && ret_len)
		*ret_len = n;
	return s;
}

char *fuzz_take_line(struct fuzz_input *in)
{
	size_t n;

	for (n = 0; n < in->n; n++)
		if (in->p[n] == '\n' || in->p[n] == '\0')
			return fuzz_take_n(in, n, 1);
	return fuzz_take_n(in, n, 0);
}

uint8_t fuzz_take_byte(struct fuzz_input *in)
{
	uint8_t b;

	if (!in->n)
		return 0;
	b = in->p[0];
	in->p++;
	in->n--;
	return b;
}

uint8_t *fuzz_take_rest(struct fuzz_input *in, size_t *ret_len)
{
	uint8_t *p;

	if (!in->n)
		return NULL;
	p = malloc(in->n);
	if (!p)
		return NULL;
	memcpy(p, in->p, in->n);
	*ret_len = in->n;
	in->p += in->n;
	in->n = 0;
	return p;
}
