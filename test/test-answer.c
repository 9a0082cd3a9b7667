/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-answer: filtered answers assembled from a snapshot of parts. For
 * many selections of groups, the JSON answer must equal "[" + the kept
 * groups joined by "," + "]" and parse; when the selection keeps every
 * part whole or not at all (namespace and service filters), the gzip
 * answer must inflate (zlib, which checks the gzip trailer's CRC-32 and
 * length) to exactly that, and when it cuts through a part (a shard) the
 * answer must be that JSON instead. Pieces must point into the snapshot's
 * parts (no copy), runs of groups within a part must be one piece, and
 * parts must be joined by exactly one comma.
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

#define N_TARGETS  60
#define N_SERVICES 6
#define PER_SVC	   (N_TARGETS / N_SERVICES)

/* ---- a snapshot of N_TARGETS targets in 3 namespaces, 6 services ---- */

static struct cm_namespace namespaces[3] = {
	{ .id = "ns-1", .name = "alpha" },
	{ .id = "ns-2", .name = "beta" },
	{ .id = "ns-3", .name = "gamma" },
};
static struct cm_service svcs[N_SERVICES] = {
	{ .id = "srv-1", .name = "api" }, { .id = "srv-2", .name = "web" },
	{ .id = "srv-3", .name = "api" }, { .id = "srv-4", .name = "db" },
	{ .id = "srv-5", .name = "web" }, { .id = "srv-6", .name = "cache" },
};
static struct target_service services[N_SERVICES];
static struct target targets[N_TARGETS];
static struct target_label labels[N_TARGETS][3];
static char addresses[N_TARGETS][32], values[N_TARGETS][64];

/* The target set of the first n targets (services in order, PER_SVC
 * targets each). */
static struct target_set make_set(size_t n)
{
	struct target_set ts = { .targets = targets, .n_targets = n, .services = services };
	size_t i, svc;

	for (i = 0; i < N_SERVICES; i++)
		services[i] =
		    (struct target_service){ &namespaces[i / 2], &svcs[i], 0, 0, 0, 0, 0 };
	ts.n_services = N_SERVICES;
	for (i = 0; i < n; i++) {
		svc = i / PER_SVC;
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
	return ts;
}

static struct snapshot *make_snapshot(size_t n)
{
	struct target_set ts = make_set(n);
	struct snapshot *s = NULL;

	if (snapshot_new(&ts, 1700000000, &s) < 0)
		return NULL;
	return s;
}

/* ---- selections, by group index (group i is target i) ---- */

struct selection {
	const char *name;
	bool (*keep)(size_t i);
	bool whole_parts; /* keeps every part whole or not at all */
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
static bool keep_across(size_t i)
{
	return i >= 7 && i < 13; /* the end of part 0, the start of part 1 */
}
static bool keep_part_3(size_t i)
{
	return i / PER_SVC == 3;
}
static bool keep_parts_0_2_5(size_t i)
{
	return i / PER_SVC == 0 || i / PER_SVC == 2 || i / PER_SVC == 5;
}
static bool keep_parts_1_2(size_t i)
{
	return i / PER_SVC == 1 || i / PER_SVC == 2;
}
static bool keep_all_but_last(size_t i)
{
	return i != N_TARGETS - 1;
}

static const struct selection selections[] = {
	{ "none", keep_none, true },
	{ "all", keep_all, true },
	{ "first", keep_first, false },
	{ "last", keep_last, false },
	{ "middle", keep_middle, false },
	{ "odd", keep_odd, false },
	{ "every third", keep_every_third, false },
	{ "runs", keep_runs, false },
	{ "scattered", keep_scattered, false },
	{ "across parts", keep_across, false },
	{ "part 3", keep_part_3, true },
	{ "parts 0, 2, 5", keep_parts_0_2_5, true },
	{ "parts 1, 2", keep_parts_1_2, true },
	{ "all but the last", keep_all_but_last, false },
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
		buf_append(&b, snapshot_group_json(s, &s->groups[i]), s->groups[i].len);
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
	if (out && n != a->len) {
		free(out);
		return NULL;
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

	if (!out || inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(out);
		return NULL;
	}
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

	return base && c >= b && c + len <= b + base_len;
}

/* Whether a piece lies in one part's JSON (which), or in its segment. */
static bool in_part_json(const struct snapshot *s, const struct snapshot_piece *piece)
{
	size_t i;

	for (i = 0; i < s->n_parts; i++)
		if (inside(piece->p, piece->len, s->parts[i]->json, s->parts[i]->json_len))
			return true;
	return false;
}

static bool is_segment(const struct snapshot *s, const struct snapshot_piece *piece)
{
	size_t i;

	const struct snapshot_segment *seg;

	for (i = 0; i < s->n_parts; i++) {
		seg = snapshot_part_segment(s->parts[i]);
		if (seg && piece->p == seg->bytes && piece->len == seg->len)
			return true;
	}
	return false;
}

/* ---- cases ---- */

static void test_whole_gzip_inflates_to_json(void)
{
	struct snapshot *s = make_snapshot(N_TARGETS);
	size_t len = 0, gz_len = 0, i;
	unsigned char *gz;
	char *out, *json = NULL;

	CHECK(s && s->gzip_pieces);
	gz = malloc(s->gzip_len);
	CHECK(gz);
	for (i = 0; i < s->n_gzip_pieces; i++) {
		memcpy(gz + gz_len, s->gzip_pieces[i].p, s->gzip_pieces[i].len);
		gz_len += s->gzip_pieces[i].len;
	}
	CHECK_INT(gz_len, s->gzip_len);
	out = gunzip(gz, gz_len, &len);
	CHECK(out != NULL);
	CHECK_INT(snapshot_json_copy(s, &json, &i), 0);
	CHECK_INT(len, s->json_len);
	CHECK(memcmp(out, json, len) == 0);
	CHECK(s->gzip_len < s->json_len / 3);
	free(json);
	free(out);
	free(gz);
	snapshot_unref(s);
}

static void check_json(struct snapshot *s, const struct selection *sel)
{
	struct answer *a = NULL;
	unsigned char *got;
	size_t want_len, i;
	char *want = expected(s, sel, &want_len);
	json_t *root;

	CHECK_INT(answer_new(s, keep_group, (void *)sel, false, NULL, &a), 0);
	CHECK(!a->gzip);
	CHECK_INT(a->len, want_len);
	got = concat(a);
	CHECK(got && memcmp(got, want, want_len) == 0);
	root = json_loadb((char *)got, a->len, 0, NULL);
	CHECK(root && json_array_size(root) == a->n_groups);
	json_decref(root);
	for (i = 0; i < a->n_pieces; i++)
		CHECK(a->pieces[i].len == 1 || in_part_json(s, &a->pieces[i]));
	free(got);
	free(want);
	answer_free(a);
}

/* Asked for gzip: a gzip member of the kept parts' segments when the
 * selection keeps parts whole, else the same JSON as without gzip. */
static void check_gzip(struct snapshot *s, const struct selection *sel)
{
	struct answer *a = NULL;
	size_t want_len, got_len = 0, i, segments = 0;
	char *want = expected(s, sel, &want_len), *got;
	unsigned char *raw;

	CHECK_INT(answer_new(s, keep_group, (void *)sel, true, NULL, &a), 0);
	CHECK_INT(a->gzip, sel->whole_parts);
	raw = concat(a);
	CHECK(raw != NULL);
	if (a->gzip) {
		got = gunzip(raw, a->len, &got_len);
		free(raw);
	} else {
		got = (char *)raw;
		got_len = a->len;
	}
	if (!got)
		TEST_FAIL("selection %s: not a valid gzip member", sel->name);
	CHECK(got != NULL);
	CHECK_INT(got_len, want_len);
	CHECK(memcmp(got, want, want_len) == 0);
	for (i = 0; a->gzip && i < a->n_pieces; i++)
		segments += is_segment(s, &a->pieces[i]);
	/* header, "[", segments with "," between, "]", end, trailer */
	if (a->gzip)
		CHECK_INT(a->n_pieces, segments ? 2 * segments + 4 : 5);
	free(got);
	free(want);
	answer_free(a);
}

static void test_selections(void)
{
	struct snapshot *s = make_snapshot(N_TARGETS);
	size_t i;

	CHECK(s && s->gzip_pieces && s->n_groups == N_TARGETS && s->n_parts == N_SERVICES);
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

/* ---- filters by name, as the server's ?namespace= and ?service= ---- */

struct name_filter {
	const char *namespace_name;
	const char *service_name; /* or NULL */
};

static bool keep_named(const struct snapshot *s, const struct snapshot_group *g, void *userdata)
{
	const struct name_filter *f = userdata;

	return strcmp(s->names[g->namespace_idx], f->namespace_name) == 0 &&
	       (!f->service_name || strcmp(s->names[g->service_idx], f->service_name) == 0);
}

/* The answer of a filter, inflated: the groups of the targets in
 * [first, first + n), and gzip. */
static void check_named(struct snapshot *s, const struct name_filter *f, size_t first, size_t n)
{
	struct answer *a = NULL;
	unsigned char *raw;
	size_t len = 0, i;
	char *got;
	json_t *root;

	CHECK_INT(answer_new(s, keep_named, (void *)f, true, NULL, &a), 0);
	CHECK(a->gzip);
	CHECK_INT(a->n_groups, n);
	raw = concat(a);
	CHECK(raw);
	got = gunzip(raw, a->len, &len);
	free(raw);
	CHECK(got);
	root = json_loadb(got, len, 0, NULL);
	free(got);
	CHECK(root);
	CHECK_INT(json_array_size(root), n);
	for (i = 0; i < n; i++)
		CHECK_STR(json_string_value(json_array_get(
			      json_object_get(json_array_get(root, i), "targets"), 0)),
			  addresses[first + i]);
	json_decref(root);
	answer_free(a);
}

/* A namespace or a service keeps whole parts: gzip, and it inflates to
 * exactly that namespace's or service's targets. */
static void test_namespace_and_service_gzip(void)
{
	static const struct {
		struct name_filter f;
		size_t first, n;
	} cases[] = {
		{ { "alpha", NULL }, 0, 2 * PER_SVC },		/* api, web */
		{ { "beta", NULL }, 2 * PER_SVC, 2 * PER_SVC }, /* api, db */
		{ { "gamma", "cache" }, 5 * PER_SVC, PER_SVC },
		{ { "alpha", "web" }, PER_SVC, PER_SVC },
		{ { "beta", "api" }, 2 * PER_SVC, PER_SVC },
		{ { "delta", NULL }, 0, 0 },
	};
	struct snapshot *s = make_snapshot(N_TARGETS);
	size_t i;

	CHECK(s && s->gzip_pieces);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_named(s, &cases[i].f, cases[i].first, cases[i].n);
		if (test_failed) {
			printf("# filter %s/%s\n", cases[i].f.namespace_name,
			       cases[i].f.service_name ? cases[i].f.service_name : "*");
			break;
		}
	}
	snapshot_unref(s);
}

/* A shard (hashmod) cuts through parts: JSON, whatever was asked. */
static bool keep_shard(const struct snapshot *s, const struct snapshot_group *g, void *userdata)
{
	return g->address_hash % 3 == *(const uint64_t *)userdata;
}

static void test_shard_is_json(void)
{
	struct snapshot *s = make_snapshot(N_TARGETS);
	size_t total = 0, i, n;
	struct answer *a = NULL;
	uint64_t shard;
	unsigned char *raw;
	json_t *root;

	CHECK(s);
	for (shard = 0; shard < 3; shard++) {
		for (i = 0, n = 0; i < s->n_groups; i++)
			n += s->groups[i].address_hash % 3 == shard;
		CHECK(n > 0 && n < PER_SVC * N_SERVICES);
		CHECK_INT(answer_new(s, keep_shard, &shard, true, NULL, &a), 0);
		CHECK(!a->gzip);
		CHECK_INT(a->n_groups, n);
		raw = concat(a);
		root = raw ? json_loadb((char *)raw, a->len, 0, NULL) : NULL;
		free(raw);
		CHECK(root && json_array_size(root) == n);
		json_decref(root);
		total += n;
		a = answer_free(a);
	}
	CHECK_INT(total, N_TARGETS);
	snapshot_unref(s);
}

/* Asked for gzip with a memo key, a shard is compressed once per snapshot
 * and key: the answer inflates to the shard's JSON, a second request gets
 * the same bytes, and past SNAPSHOT_MEMO_MAX keys it is JSON. */
static void test_shard_gzip_memo(void)
{
	struct snapshot *s = make_snapshot(N_TARGETS);
	struct answer *a = NULL, *json = NULL, *again = NULL;
	char key[32], *got, *plain;
	size_t got_len = 0, i;
	unsigned char *raw;
	uint64_t shard = 1;

	CHECK(s);
	CHECK_INT(answer_new(s, keep_shard, &shard, false, NULL, &json), 0);
	plain = (char *)concat(json);
	CHECK_INT(answer_new(s, keep_shard, &shard, true, "shard=1&shards=3", &a), 0);
	CHECK(a->gzip && a->n_pieces == 1);
	CHECK_INT(a->n_groups, json->n_groups);
	raw = concat(a);
	got = raw ? gunzip(raw, a->len, &got_len) : NULL;
	CHECK(got && got_len == json->len && memcmp(got, plain, got_len) == 0);
	CHECK_INT(answer_new(s, keep_shard, &shard, true, "shard=1&shards=3", &again), 0);
	CHECK(again->gzip && again->pieces[0].p == a->pieces[0].p);
	CHECK_INT(s->n_memos, 1);
	again = answer_free(again);
	for (i = 1; i < SNAPSHOT_MEMO_MAX; i++) {
		snprintf(key, sizeof(key), "shard=1&shards=3&k=%zu", i);
		CHECK_INT(answer_new(s, keep_shard, &shard, true, key, &again), 0);
		CHECK(again->gzip);
		again = answer_free(again);
	}
	CHECK_INT(answer_new(s, keep_shard, &shard, true, "one too many", &again), 0);
	CHECK(!again->gzip && again->len == json->len);
	CHECK_INT(s->n_memos, SNAPSHOT_MEMO_MAX);
	answer_free(again);
	answer_free(a);
	answer_free(json);
	free(raw);
	free(got);
	free(plain);
	snapshot_unref(s);
}

/* Consecutive groups of a part are one piece, with the part's own comma;
 * groups of different parts, or apart in one, are joined by one static
 * comma. */
static void test_runs_are_one_piece(void)
{
	static const struct {
		struct selection sel;
		size_t n_pieces, n_groups;
	} cases[] = {
		/* "[", 3..8, ",", 20, ",", 55..59, "]" */
		{ { "runs", keep_runs, false }, 7, 12 },
		/* "[", 7..9, ",", 10..12, "]" */
		{ { "across parts", keep_across, false }, 5, 6 },
		/* "[", part 0, ",", part 2, ",", part 5, "]" */
		{ { "parts 0, 2, 5", keep_parts_0_2_5, true }, 7, 3 * PER_SVC },
		/* "[", part 1, ",", part 2, "]": neighbours, still two pieces */
		{ { "parts 1, 2", keep_parts_1_2, true }, 5, 2 * PER_SVC },
		/* "[", 1, ",", 3, ..., "]": no run */
		{ { "odd", keep_odd, false }, 2 * (N_TARGETS / 2) + 1, N_TARGETS / 2 },
	};
	struct snapshot *s = make_snapshot(N_TARGETS);
	struct answer *a = NULL;
	size_t i, j;

	CHECK(s != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(answer_new(s, keep_group, (void *)&cases[i].sel, false, NULL, &a), 0);
		if (a->n_pieces != cases[i].n_pieces)
			TEST_FAIL("%s: %zu pieces", cases[i].sel.name, a->n_pieces);
		CHECK_INT(a->n_pieces, cases[i].n_pieces);
		CHECK_INT(a->n_groups, cases[i].n_groups);
		/* every other piece is a separator of one byte */
		for (j = 0; j < a->n_pieces; j += 2)
			CHECK(a->pieces[j].len == 1);
		for (j = 1; j < a->n_pieces; j += 2)
			CHECK(a->pieces[j].len > 1 && in_part_json(s, &a->pieces[j]));
		a = answer_free(a);
	}
	/* a whole part is its JSON, lent as it is */
	CHECK_INT(answer_new(s, keep_group, (void *)&cases[2].sel, false, NULL, &a), 0);
	CHECK(a->pieces[1].p == s->parts[0]->json && a->pieces[1].len == s->parts[0]->json_len);
	CHECK(a->pieces[5].p == s->parts[5]->json);
	a = answer_free(a);
	snapshot_unref(s);
}

/* Parts made plain (SNAPSHOT_PART_PLAIN): gzip is not offered, even for
 * whole parts; one plain part is enough. */
static void test_plain_parts(void)
{
	const struct selection all = { "all", keep_all, true };
	struct target_set ts = make_set(N_TARGETS);
	struct snapshot_part *parts[N_SERVICES] = { NULL };
	struct snapshot *s = NULL;
	struct answer *a = NULL;
	size_t i;

	for (i = 0; i < N_SERVICES; i++)
		CHECK_INT(snapshot_part_new(&ts, i, i == 4 ? SNAPSHOT_PART_PLAIN : 0, &parts[i]),
			  0);
	CHECK_INT(snapshot_assemble(parts, N_SERVICES, 1, &s), 0);
	for (i = 0; i < N_SERVICES; i++)
		parts[i] = snapshot_part_unref(parts[i]);
	CHECK(s->gzip_pieces == NULL);
	check_json(s, &all);
	CHECK_INT(answer_new(s, keep_group, (void *)&all, true, NULL, &a), 0);
	CHECK(!a->gzip);
	CHECK_INT(a->n_groups, N_TARGETS);
	answer_free(a);
	snapshot_unref(s);
}

/* Services without groups (only skips, or nothing) add no comma. */
static void test_empty_parts(void)
{
	const struct selection all = { "all", keep_all, true };
	struct snapshot *s = make_snapshot(3 * PER_SVC); /* services 3, 4, 5 empty */

	CHECK(s && s->n_parts == N_SERVICES && s->n_groups == 3 * PER_SVC);
	check_json(s, &all);
	check_gzip(s, &all);
	snapshot_unref(s);
}

static void test_empty_snapshot(void)
{
	const struct selection sel = { "all", keep_all, true };
	struct snapshot *s = make_snapshot(0);
	struct answer *a = NULL;
	unsigned char *raw;
	size_t len = 0;
	char *got;

	CHECK(s && s->gzip_pieces);
	CHECK_INT(answer_new(s, keep_group, (void *)&sel, false, NULL, &a), 0);
	raw = concat(a);
	CHECK(a->len == 2 && memcmp(raw, "[]", 2) == 0);
	free(raw);
	answer_free(a);
	CHECK_INT(answer_new(s, keep_group, (void *)&sel, true, NULL, &a), 0);
	CHECK(a->gzip);
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
			 TEST_CASE(test_namespace_and_service_gzip), TEST_CASE(test_shard_is_json),
			 TEST_CASE(test_shard_gzip_memo), TEST_CASE(test_runs_are_one_piece),
			 TEST_CASE(test_plain_parts), TEST_CASE(test_empty_parts),
			 TEST_CASE(test_empty_snapshot));
}
