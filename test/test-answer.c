/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-answer: filtered answers assembled from a snapshot. For many
 * selections of groups, the JSON answer must equal "[" + the groups joined
 * by "," + "]" and parse, and the gzip answer must inflate (zlib, which
 * checks the gzip trailer's CRC-32 and length) to exactly that. Pieces
 * must point into the snapshot (no copy), and runs of groups must be one
 * piece.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "answer.h"
#include "buf.h"
#include "snapshot.h"
#include "snapshot_gzip.h"
#include "test.h"

#define N_TARGETS 60

/* ---- a snapshot of N_TARGETS targets in 3 namespaces, 6 services ---- */

static struct cm_namespace namespaces[3] = {
	{ .id = "ns-1", .name = "alpha" },
	{ .id = "ns-2", .name = "beta" },
	{ .id = "ns-3", .name = "gamma" },
};
static struct cm_service svcs[6] = {
	{ .id = "srv-1", .name = "api" }, { .id = "srv-2", .name = "web" },
	{ .id = "srv-3", .name = "api" }, { .id = "srv-4", .name = "db" },
	{ .id = "srv-5", .name = "web" }, { .id = "srv-6", .name = "cache" },
};
static struct target_service services[6];
static struct target targets[N_TARGETS];
static struct target_label labels[N_TARGETS][3];
static char addresses[N_TARGETS][32], values[N_TARGETS][64];

static struct snapshot *make_snapshot(size_t n)
{
	struct target_set ts = { .targets = targets, .n_targets = n, .services = services };
	struct snapshot *s = NULL;
	size_t i, svc;

	for (i = 0; i < 6; i++)
		services[i] = (struct target_service){ &namespaces[i / 2], &svcs[i], 0, 0 };
	ts.n_services = 6;
	for (i = 0; i < n; i++) {
		svc = i * 6 / n; /* services in order, 10 targets each */
		snprintf(addresses[i], sizeof(addresses[i]), "10.0.%zu.%zu:%zu", svc, i, 9000 + i);
		snprintf(values[i], sizeof(values[i]), "value \"%zu\" \xe2\x9c\x93 %.*s", i,
			 (int)(i % 20), "abcdefghijklmnopqrstuvwxyz");
		labels[i][0] = (struct target_label){ "__meta_cloudmap_endpoint", "app" };
		labels[i][1] = (struct target_label){ "__meta_cloudmap_service_tag_x", values[i] };
		labels[i][2] = (struct target_label){ "__metrics_path__", "/metrics" };
		targets[i] = (struct target){ addresses[i], labels[i], 3,    &namespaces[svc / 2],
					      &svcs[svc],   "i-1",     "app" };
		services[svc].targets++;
	}
	if (snapshot_new(&ts, 1700000000, &s) < 0)
		return NULL;
	return s;
}

/* ---- selections ---- */

struct selection {
	const char *name;
	bool (*keep)(size_t i);
};

static bool keep_none(size_t i)
{
	return false;
}
static bool keep_all(size_t i)
{
	return true;
}
static bool keep_first(size_t i)
{
	return i == 0;
}
static bool keep_last(size_t i)
{
	return i == N_TARGETS - 1;
}
static bool keep_middle(size_t i)
{
	return i == 29;
}
static bool keep_odd(size_t i)
{
	return i % 2 == 1;
}
static bool keep_every_third(size_t i)
{
	return i % 3 == 0;
}
static bool keep_runs(size_t i)
{
	return (i >= 3 && i < 9) || (i >= 20 && i < 21) || i >= 55;
}
static bool keep_scattered(size_t i)
{
	return (i * 2654435761u) % 7 < 3;
}

static const struct selection selections[] = {
	{ "none", keep_none },
	{ "all", keep_all },
	{ "first", keep_first },
	{ "last", keep_last },
	{ "middle", keep_middle },
	{ "odd", keep_odd },
	{ "every third", keep_every_third },
	{ "runs", keep_runs },
	{ "scattered", keep_scattered },
};

static bool keep_group(const struct snapshot *s, const struct snapshot_group *g, void *userdata)
{
	const struct selection *sel = userdata;

	return sel->keep((size_t)(g - s->groups));
}

/* ---- helpers ---- */

/* The expected canonical JSON: "[" + the kept groups joined by "," + "]". */
static char *expected(const struct snapshot *s, const struct selection *sel, size_t *ret_len)
{
	struct buf b;
	bool first = true;
	size_t i;

	buf_init(&b, 1 << 24);
	buf_putc(&b, '[');
	for (i = 0; i < s->n_groups; i++) {
		if (!sel->keep(i))
			continue;
		if (!first)
			buf_putc(&b, ',');
		buf_append(&b, s->json + s->groups[i].offset, s->groups[i].len);
		first = false;
	}
	buf_putc(&b, ']');
	return buf_steal(&b, ret_len);
}

static unsigned char *concat(const struct answer *a)
{
	unsigned char *out = malloc(a->len + 1);
	size_t i, n = 0;

	for (i = 0; out && i < a->n_pieces; i++) {
		memcpy(out + n, a->pieces[i].p, a->pieces[i].len);
		n += a->pieces[i].len;
	}
	return out;
}

/* Inflates one whole gzip member (header, CRC-32 and length checked by
 * zlib) into a new buffer; NULL when it is not valid or has trailing
 * bytes. */
static char *gunzip(const unsigned char *in, size_t len, size_t *ret_len)
{
	z_stream zs = { 0 };
	size_t cap = 1 << 24;
	char *out = malloc(cap);
	int zr;

	if (!out || inflateInit2(&zs, 15 + 16) != Z_OK)
		return NULL;
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (unsigned char *)out;
	zs.avail_out = (uInt)cap;
	zr = inflate(&zs, Z_FINISH);
	*ret_len = zs.total_out;
	inflateEnd(&zs);
	if (zr != Z_STREAM_END || zs.avail_in != 0) {
		printf("# inflate: %d (%s), %u bytes left\n", zr, zs.msg ? zs.msg : "",
		       zs.avail_in);
		free(out);
		return NULL;
	}
	return out;
}

static bool inside(const void *p, size_t len, const void *base, size_t base_len)
{
	const char *c = p, *b = base;

	return c >= b && c + len <= b + base_len;
}

/* ---- cases ---- */

static void test_whole_gzip_inflates_to_json(void)
{
	struct snapshot *s = make_snapshot(N_TARGETS);
	size_t len = 0;
	char *out;

	CHECK(s && s->gzip);
	out = gunzip(s->gzip->whole, s->gzip->whole_len, &len);
	CHECK(out != NULL);
	CHECK_INT(len, s->json_len);
	CHECK(memcmp(out, s->json, len) == 0);
	CHECK(s->gzip->whole_len < s->json_len / 3);
	free(out);
	snapshot_unref(s);
}

static void check_json(const struct snapshot *s, const struct selection *sel)
{
	struct answer *a = NULL;
	unsigned char *got;
	size_t want_len, i;
	char *want = expected(s, sel, &want_len);
	json_t *root;

	CHECK_INT(answer_new(s, keep_group, (void *)sel, false, &a), 0);
	CHECK(!a->gzip);
	CHECK_INT(a->len, want_len);
	got = concat(a);
	CHECK(got && memcmp(got, want, want_len) == 0);
	root = json_loadb((char *)got, a->len, 0, NULL);
	CHECK(root && json_array_size(root) == a->n_groups);
	json_decref(root);
	for (i = 0; i < a->n_pieces; i++)
		CHECK(a->pieces[i].len == 1 ||
		      inside(a->pieces[i].p, a->pieces[i].len, s->json, s->json_len));
	free(got);
	free(want);
	answer_free(a);
}

static void check_gzip(const struct snapshot *s, const struct selection *sel)
{
	struct answer *a = NULL;
	size_t want_len, got_len = 0, i, in_segments = 0;
	char *want = expected(s, sel, &want_len), *got;
	unsigned char *raw;

	CHECK_INT(answer_new(s, keep_group, (void *)sel, true, &a), 0);
	CHECK(a->gzip);
	raw = concat(a);
	CHECK(raw != NULL);
	got = gunzip(raw, a->len, &got_len);
	if (!got)
		TEST_FAIL("selection %s: not a valid gzip member", sel->name);
	CHECK(got != NULL);
	CHECK_INT(got_len, want_len);
	CHECK(memcmp(got, want, want_len) == 0);
	for (i = 0; i < a->n_pieces; i++)
		in_segments += inside(a->pieces[i].p, a->pieces[i].len, s->gzip->segments,
				      s->gzip->segments_len);
	CHECK_INT(in_segments, a->n_pieces - 3); /* all but header, end, trailer */
	free(got);
	free(raw);
	free(want);
	answer_free(a);
}

static void test_selections(void)
{
	struct snapshot *s = make_snapshot(N_TARGETS);
	size_t i;

	CHECK(s && s->gzip && s->n_groups == N_TARGETS);
	for (i = 0; i < sizeof(selections) / sizeof(selections[0]); i++) {
		check_json(s, &selections[i]);
		check_gzip(s, &selections[i]);
		if (test_failed) {
			printf("# selection %s\n", selections[i].name);
			break;
		}
	}
	snapshot_unref(s);
}

/* Consecutive groups are one piece: a service's targets cost 3 pieces. */
static void test_runs_are_one_piece(void)
{
	const struct selection sel = { "runs", keep_runs };
	struct snapshot *s = make_snapshot(N_TARGETS);
	struct answer *a = NULL;

	CHECK(s != NULL);
	CHECK_INT(answer_new(s, keep_group, (void *)&sel, false, &a), 0);
	/* "[", 3..8, ",", 20, ",", 55..59, "]" */
	CHECK_INT(a->n_pieces, 7);
	CHECK_INT(a->n_groups, 12);
	answer_free(a);
	CHECK_INT(answer_new(s, keep_group, (void *)&sel, true, &a), 0);
	/* header, "[", 3..8 + ",", 20 + ",", 55..59 + "]", end, trailer */
	CHECK_INT(a->n_pieces, 7);
	answer_free(a);
	snapshot_unref(s);
}

/* Without gzip forms (a snapshot built by hand), gzip is not offered. */
static void test_no_gzip_forms(void)
{
	const struct selection sel = { "odd", keep_odd };
	struct snapshot *s = make_snapshot(N_TARGETS);
	struct snapshot_gzip *g;
	struct answer *a = NULL;

	CHECK(s != NULL);
	g = s->gzip;
	s->gzip = NULL;
	CHECK_INT(answer_new(s, keep_group, (void *)&sel, true, &a), 0);
	CHECK(!a->gzip);
	CHECK_INT(a->n_groups, N_TARGETS / 2);
	answer_free(a);
	s->gzip = g;
	snapshot_unref(s);
}

static void test_empty_snapshot(void)
{
	const struct selection sel = { "all", keep_all };
	struct snapshot *s = make_snapshot(0);
	struct answer *a = NULL;
	unsigned char *raw;
	size_t len = 0;
	char *got;

	CHECK(s && s->gzip);
	CHECK_INT(answer_new(s, keep_group, (void *)&sel, false, &a), 0);
	raw = concat(a);
	CHECK(a->len == 2 && memcmp(raw, "[]", 2) == 0);
	free(raw);
	answer_free(a);
	CHECK_INT(answer_new(s, keep_group, (void *)&sel, true, &a), 0);
	raw = concat(a);
	got = gunzip(raw, a->len, &len);
	CHECK(got && len == 2 && memcmp(got, "[]", 2) == 0);
	free(got);
	free(raw);
	answer_free(a);
	snapshot_unref(s);
	CHECK(answer_free(NULL) == NULL);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_whole_gzip_inflates_to_json), TEST_CASE(test_selections),
			 TEST_CASE(test_runs_are_one_piece), TEST_CASE(test_no_gzip_forms),
			 TEST_CASE(test_empty_snapshot));
}
