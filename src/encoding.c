/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encoding: chooses between gzip and identity from Accept-Encoding. See
 * include/encoding.h.
 *
 * Weights are kept in thousandths (0..1000) and -1 for "not listed"; the
 * header is walked in place, without copies. The first occurrence of a
 * coding counts.
 */
#include <stddef.h>
#include <strings.h>

#include "encoding.h"

#define ENCODING_UNLISTED -1
#define ENCODING_Q_MAX	  1000

struct encoding_weights {
	int gzip;
	int identity;
	int star;
};

/* A run of bytes in the header. */
struct encoding_span {
	const char *p;
	size_t n;
};

static bool encoding_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static struct encoding_span encoding_trim(const char *p, size_t n)
{
	while (n && encoding_is_ows(*p)) {
		p++;
		n--;
	}
	while (n && encoding_is_ows(p[n - 1]))
		n--;
	return (struct encoding_span){ p, n };
}

static bool encoding_is(struct encoding_span s, const char *word)
{
	size_t n = 0;

	while (word[n])
		n++;
	return s.n == n && strncasecmp(s.p, word, n) == 0;
}

/* qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3"0" ]; returns thousandths,
 * or -1 when malformed. */
static int encoding_parse_q(struct encoding_span v)
{
	int q, scale = 100;
	size_t i;

	if (v.n == 0 || (v.p[0] != '0' && v.p[0] != '1'))
		return -1;
	q = (v.p[0] - '0') * ENCODING_Q_MAX;
	if (v.n == 1)
		return q;
	if (v.p[1] != '.' || v.n > 5)
		return -1;
	for (i = 2; i < v.n; i++, scale /= 10) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		q += (v.p[i] - '0') * scale;
	}
	return q <= ENCODING_Q_MAX ? q : -1;
}

/* The weight of one element's parameters ("; a=b; q=0.5"): 1000 when no q
 * is given, -1 when one is malformed. */
static int encoding_params_q(const char *p, size_t n)
{
	struct encoding_span param, name;
	size_t len, eq;

	while (n) {
		for (len = 1; len < n && p[len] != ';'; len++)
			;
		param = encoding_trim(p + 1, len - 1); /* p[0] is ';' */
		for (eq = 0; eq < param.n && param.p[eq] != '='; eq++)
			;
		name = encoding_trim(param.p, eq);
		if (encoding_is(name, "q"))
			return eq < param.n ? encoding_parse_q(
						  encoding_trim(param.p + eq + 1, param.n - eq - 1))
					    : -1;
		p += len;
		n -= len;
	}
	return ENCODING_Q_MAX;
}

static void encoding_note(struct encoding_weights *w, struct encoding_span name, int q)
{
	int *slot = NULL;

	if (encoding_is(name, "gzip") || encoding_is(name, "x-gzip"))
		slot = &w->gzip;
	else if (encoding_is(name, "identity"))
		slot = &w->identity;
	else if (encoding_is(name, "*"))
		slot = &w->star;
	if (slot && *slot == ENCODING_UNLISTED)
		*slot = q;
}

/* One list element: coding *( OWS ";" OWS parameter ). */
static void encoding_element(struct encoding_weights *w, const char *p, size_t n)
{
	struct encoding_span e = encoding_trim(p, n);
	size_t name_len;
	int q;

	for (name_len = 0; name_len < e.n && e.p[name_len] != ';'; name_len++)
		;
	if (name_len == 0)
		return;
	q = encoding_params_q(e.p + name_len, e.n - name_len);
	if (q >= 0)
		encoding_note(w, encoding_trim(e.p, name_len), q);
}

bool encoding_accepts_gzip(const char *accept_encoding)
{
	struct encoding_weights w = { ENCODING_UNLISTED, ENCODING_UNLISTED, ENCODING_UNLISTED };
	const char *p = accept_encoding;
	int gzip, identity;
	size_t n;

	if (!p)
		return false;
	while (*p) {
		for (n = 0; p[n] && p[n] != ','; n++)
			;
		encoding_element(&w, p, n);
		p += p[n] ? n + 1 : n;
	}
	gzip = w.gzip != ENCODING_UNLISTED ? w.gzip : w.star != ENCODING_UNLISTED ? w.star : 0;
	identity = w.identity != ENCODING_UNLISTED ? w.identity : 0;
	return gzip > 0 && gzip >= identity;
}
