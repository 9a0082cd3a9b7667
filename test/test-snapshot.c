/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-snapshot: rendering (parsed back with jansson, escapes, each group's
 * byte range on its own), the hashmod hash against MD5 values computed with
 * md5sum, the index (names, services, skips), the whole answer as pieces,
 * parts (one per service: what each takes from a target set, shared between
 * snapshots, without groups, uncompressed, adopted), reference counting,
 * the store under concurrent readers, the render time of 10k targets, and
 * the size and cost of the gzip answer of 10k targets (test-answer has the
 * round trips of filtered answers).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zlib.h>

#include "snapshot.h"
#include "snapshot_gzip.h"
#include "test.h"

/* Generous bounds for the timed cases, to catch a change of complexity, not
 * noise: optimised, both take tens of milliseconds. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TIME_BOUND_MS 30000.0
#else
#define TIME_BOUND_MS 500.0
#endif

/* ---- a hand-made target set: two namespaces, three services ---- */

static struct cm_namespace ns_a = { .id = "ns-1", .name = "alpha", .type = "HTTP" };
static struct cm_namespace ns_b = { .id = "ns-2", .name = "beta", .type = "DNS_PRIVATE" };
static struct cm_service svc_a1 = { .id = "srv-1", .name = "api" };
static struct cm_service svc_a2 = { .id = "srv-2", .name = "web" };
static struct cm_service svc_b1 = { .id = "srv-3", .name = "api" };

static const struct target_label labels0[] = {
	{ "__meta_cloudmap_endpoint", "app" },
	{ "__meta_cloudmap_service_tag_note", "q\"b\\s\nt\tc\x01\x1f"
					      "d\x7f" },
	{ "__metrics_path__", "/metrics" },
};
static const struct target_label labels1[] = {
	{ "__meta_cloudmap_endpoint", "ecs" },
	{ "__meta_cloudmap_instance_attribute_name",
	  "\xe6\x97\xa5\xe6\x9c\xac \xe2\x80\xa8 </script>" },
	{ "__metrics_path__", "/ecs" },
};
static const struct target_label labels2[] = {
	{ "__metrics_path__", "/m" },
};

static struct target targets[] = {
	{ "10.0.0.1:8080", labels0, 3, &ns_a, &svc_a1, "i-1", "app" },
	{ "10.0.0.1:9779", labels1, 3, &ns_a, &svc_a1, "i-1", "ecs" },
	{ "[fd00::1]:9100", labels2, 1, &ns_b, &svc_b1, "i-3", "app" },
};

/* The counts per service sum to the set's: 4, 5 and 6. */
static struct target_service services[] = {
	{ &ns_a, &svc_a1, 2, 0, 1, 2, 3 },
	{ &ns_a, &svc_a2, 0, 1, 0, 0, 0 },
	{ &ns_b, &svc_b1, 1, 1, 3, 3, 3 },
};

static struct target_skip skips[] = {
	{ &ns_a, &svc_a2, "i-2", TARGET_SKIP_BAD_PORT, "tag METRICS_PORT=\"x\"" },
	{ &ns_b, &svc_b1, "i-4", TARGET_SKIP_NO_ADDRESS, NULL },
};

static struct target_note notes[] = {
	{ &ns_a, &svc_a1, "SCRAPE_INTERVAL=\"15\": not a duration" },
	{ &ns_a, &svc_a1, "METRICS_PORT_x: no METRICS_PATH_x" },
	{ &ns_b, &svc_b1, "SCRAPE_TIMEOUT=\"0s\": not a duration" },
};

static struct target_set fixture(void)
{
	struct target_set ts = {
		.targets = targets,
		.n_targets = 3,
		.skips = skips,
		.n_skips = 2,
		.notes = notes,
		.n_notes = 3,
		.services = services,
		.n_services = 3,
		.skipped = { [TARGET_SKIP_BAD_PORT] = 1, [TARGET_SKIP_NO_ADDRESS] = 1 },
		.invalid_knobs = 4,
		.label_collisions = 5,
		.invalid_utf8 = 6,
	};

	return ts;
}

static struct snapshot *render(const struct target_set *ts)
{
	struct snapshot *s = NULL;

	if (snapshot_new(ts, 1700000000, &s) < 0 || !s)
		abort();
	return s;
}

/* The whole JSON answer of s, NUL-terminated (snapshot_json_copy()). */
static char *json_of(const struct snapshot *s, size_t *ret_len)
{
	char *json = NULL;
	size_t len = 0;

	if (snapshot_json_copy(s, &json, &len) < 0 || !json || len != s->json_len ||
	    strlen(json) != len)
		abort();
	if (ret_len)
		*ret_len = len;
	return json;
}

/* The pieces concatenated, in a new buffer. */
static unsigned char *pieces_concat(const struct snapshot_piece *pieces, size_t n, size_t *ret_len)
{
	unsigned char *out;
	size_t i, len = 0;

	for (i = 0; i < n; i++)
		len += pieces[i].len;
	out = malloc(len + 1);
	if (!out)
		abort();
	len = 0;
	for (i = 0; i < n; i++) {
		memcpy(out + len, pieces[i].p, pieces[i].len);
		len += pieces[i].len;
	}
	*ret_len = len;
	return out;
}

/* Inflates in, one whole gzip member (window_bits 15 + 16: zlib checks
 * the header, the CRC-32 and the length) or raw deflate (-15), and
 * compares it with want; trailing bytes fail. */
static bool inflate_equals(const unsigned char *in, size_t len, int window_bits, const char *want,
			   size_t want_len)
{
	z_stream zs = { 0 };
	char *out = malloc(want_len + 1);
	bool ok;
	int zr;

	if (!out || inflateInit2(&zs, window_bits) != Z_OK) {
		free(out);
		return false;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (unsigned char *)out;
	zs.avail_out = (uInt)want_len + 1;
	zr = inflate(&zs, Z_FINISH);
	ok = zr == Z_STREAM_END && zs.avail_in == 0 && zs.total_out == want_len &&
	     memcmp(out, want, want_len) == 0;
	if (!ok)
		printf("# inflate: %d (%s), %lu bytes out, %u in left\n", zr, zs.msg ? zs.msg : "",
		       zs.total_out, zs.avail_in);
	inflateEnd(&zs);
	free(out);
	return ok;
}

/* Whether s's gzip pieces, as one member, inflate to its JSON answer. */
static bool gzip_is_json(const struct snapshot *s)
{
	size_t len = 0, json_len = 0;
	unsigned char *gz;
	char *json;
	bool ok;

	if (!s->gzip_pieces)
		return false;
	gz = pieces_concat(s->gzip_pieces, s->n_gzip_pieces, &len);
	json = json_of(s, &json_len);
	ok = len == s->gzip_len && inflate_equals(gz, len, 15 + 16, json, json_len);
	free(gz);
	free(json);
	return ok;
}

/* Whether a part's deflate segment, closed by the empty final block,
 * inflates to its JSON. */
static bool segment_is_json(const struct snapshot_part *p)
{
	const struct snapshot_segment *z = snapshot_part_segment(p);
	unsigned char *seg = z ? malloc(z->len + SNAPSHOT_DEFLATE_END_LEN) : NULL;
	bool ok;

	if (!seg)
		return false;
	memcpy(seg, z->bytes, z->len);
	memcpy(seg + z->len, SNAPSHOT_DEFLATE_END, SNAPSHOT_DEFLATE_END_LEN);
	ok = inflate_equals(seg, z->len + SNAPSHOT_DEFLATE_END_LEN, -15, p->json, p->json_len);
	free(seg);
	return ok;
}

/* Whether obj is {"targets":[t->address],"labels":{t's labels}} exactly. */
static bool group_matches(json_t *obj, const struct target *t)
{
	json_t *addrs = json_object_get(obj, "targets"), *labels = json_object_get(obj, "labels");
	size_t i;

	if (json_object_size(obj) != 2 || json_array_size(addrs) != 1 ||
	    json_object_size(labels) != t->n_labels)
		return false;
	if (strcmp(json_string_value(json_array_get(addrs, 0)), t->address) != 0)
		return false;
	for (i = 0; i < t->n_labels; i++) {
		const char *v = json_string_value(json_object_get(labels, t->labels[i].key));

		if (!v || strcmp(v, t->labels[i].value) != 0)
			return false;
	}
	return true;
}

/* Whether the range [offset, offset + len) of a part is the group of t. */
static bool part_group_matches(const struct snapshot_part *p, size_t g, const struct target *t)
{
	json_t *one = json_loadb(p->json + p->groups[g].offset, p->groups[g].len, 0, NULL);
	bool ok = one && group_matches(one, t);

	json_decref(one);
	return ok;
}

/* ---- cases: rendering ---- */

static void test_render_parses_back(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);
	char *json = json_of(s, NULL);
	json_error_t err;
	json_t *root;
	size_t i;

	root = json_loads(json, 0, &err);
	free(json);
	if (!root)
		TEST_FAIL("does not parse: %s at %d", err.text, err.position);
	CHECK(root);
	CHECK_INT(json_array_size(root), 3);
	for (i = 0; i < 3; i++)
		if (!group_matches(json_array_get(root, i), &targets[i]))
			TEST_FAIL("group %zu differs", i);
	json_decref(root);
	snapshot_unref(s);
}

static void test_escapes(void)
{
	static const char start[] = "[{\"targets\":[\"10.0.0.1:8080\"],\"labels\":{"
				    "\"__meta_cloudmap_endpoint\":\"app\",";
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);
	size_t len;
	char *json = json_of(s, &len);
	bool ok;

	ok = strstr(json, "\"q\\\"b\\\\s\\nt\\tc\\u0001\\u001fd\x7f\"") &&
	     /* valid UTF-8 passes through as is */
	     strstr(json, "\"\xe6\x97\xa5\xe6\x9c\xac \xe2\x80\xa8 </script>\"") &&
	     strncmp(json, start, strlen(start)) == 0 && json[len - 1] == ']';
	if (!ok)
		printf("# %s\n", json);
	free(json);
	snapshot_unref(s);
	CHECK(ok);
}

/* Each group's range in its part is one object, separated from the next
 * of the part by the part's ','; the last one ends its part. */
static void test_group_ranges_parse_alone(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);
	char *json = json_of(s, NULL);
	const struct snapshot_group *g;
	const struct snapshot_part *p;
	const char *bytes;
	json_t *root, *one;
	size_t i;

	root = json_loads(json, 0, NULL);
	free(json);
	CHECK(root);
	CHECK_INT(s->n_groups, 3);
	CHECK_INT(s->groups[0].part, 0);
	CHECK_INT(s->groups[1].part, 0);
	CHECK_INT(s->groups[2].part, 2);
	CHECK_INT(s->groups[0].offset, 0);
	CHECK_INT(s->groups[2].offset, 0);
	for (i = 0; i < s->n_groups; i++) {
		g = &s->groups[i];
		p = s->parts[g->part];
		bytes = snapshot_group_json(s, g);
		CHECK(bytes == p->json + g->offset);
		CHECK(bytes[0] == '{' && bytes[g->len - 1] == '}');
		if (i + 1 < s->n_groups && s->groups[i + 1].part == g->part)
			CHECK(bytes[g->len] == ',' &&
			      s->groups[i + 1].offset == g->offset + g->len + 1);
		else
			CHECK_INT(g->offset + g->len, p->json_len);
		one = json_loadb(bytes, g->len, 0, NULL);
		CHECK(one);
		CHECK(json_equal(one, json_array_get(root, i)));
		json_decref(one);
	}
	json_decref(root);
	snapshot_unref(s);
}

static void test_labels_rendered_in_order(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);
	char *json = json_of(s, NULL);
	const char *key, *prev;
	json_t *root, *labels, *v;

	root = json_loads(json, JSON_PRESERVE_ORDER, NULL);
	free(json);
	CHECK(root);
	labels = json_object_get(json_array_get(root, 0), "labels");
	CHECK_INT(json_object_size(labels), 3);
	prev = "";
	json_object_foreach (labels, key, v) {
		CHECK(strcmp(prev, key) < 0);
		prev = key;
	}
	json_decref(root);
	snapshot_unref(s);
}

/* Constants from `printf %s ADDRESS | md5sum`: the last 16 hex digits. */
static void test_address_hash(void)
{
	static const struct {
		const char *address;
		uint64_t hash;
	} cases[] = {
		{ "10.0.0.1:8080", 0x76612ddbd5f89a4cull },   /* 05ef642f508b1e5b76612ddbd5f89a4c */
		{ "[fd00::1]:9100", 0xf3649b929a916461ull },  /* df9ac6f759e8a9e4f3649b929a916461 */
		{ "192.168.1.10:80", 0xe099c0893fc35396ull }, /* 3c5ed22c8616c1e0e099c0893fc35396 */
	};
	struct target_set ts = fixture();
	struct snapshot *s;
	uint64_t h = 0;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(snapshot_address_hash(cases[i].address, strlen(cases[i].address), &h), 0);
		if (h != cases[i].hash)
			TEST_FAIL("%s: %016llx", cases[i].address, (unsigned long long)h);
	}
	s = render(&ts);
	CHECK(s->groups[0].address_hash == cases[0].hash);
	CHECK(s->groups[2].address_hash == cases[1].hash);
	CHECK(s->parts[2]->groups[0].address_hash == cases[1].hash);
	snapshot_unref(s);
}

static void test_index(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);

	CHECK_INT(s->refreshed_at_unix, 1700000000);
	CHECK(!s->warm_start);
	CHECK_INT(s->n_parts, 3);
	CHECK_INT(s->n_names, 5); /* alpha api web beta api */
	CHECK_STR(s->names[s->groups[0].namespace_idx], "alpha");
	CHECK_STR(s->names[s->groups[0].service_idx], "api");
	CHECK_INT(s->groups[1].service_idx, s->groups[0].service_idx);
	CHECK_STR(s->names[s->groups[2].namespace_idx], "beta");
	CHECK_STR(s->names[s->groups[2].service_idx], "api");
	CHECK(s->groups[2].service_idx != s->groups[0].service_idx);
	CHECK_INT(s->n_services, 3);
	CHECK_STR(s->names[s->services[1].service_idx], "web");
	/* the second service of a namespace points at the namespace's name */
	CHECK_STR(s->names[s->services[1].namespace_idx], "alpha");
	CHECK_STR(s->names[s->skips[0].namespace_idx], "alpha");
	CHECK_INT(s->services[0].namespace_idx, s->services[1].namespace_idx);
	CHECK_INT(s->services[0].targets, 2);
	CHECK_INT(s->services[1].targets, 0);
	CHECK_INT(s->services[1].skipped, 1);
	CHECK_INT(s->services[2].namespace_idx, s->groups[2].namespace_idx);
	CHECK_INT(s->n_skips, 2);
	CHECK_STR(s->names[s->skips[0].service_idx], "web");
	CHECK_STR(s->skips[0].instance_id, "i-2");
	CHECK_STR(s->skips[0].detail, "tag METRICS_PORT=\"x\"");
	CHECK_INT(s->skips[0].reason, TARGET_SKIP_BAD_PORT);
	CHECK(s->skips[1].detail == NULL);
	CHECK_STR(s->names[s->skips[1].namespace_idx], "beta");
	CHECK_INT(s->skipped[TARGET_SKIP_NO_ADDRESS], 1);
	CHECK_INT(s->skipped[TARGET_SKIP_BAD_PORT], 1);
	CHECK_INT(s->skipped[TARGET_SKIP_NO_METRICS_PATH], 0);
	CHECK_INT(s->invalid_knobs, 4);
	CHECK_INT(s->label_collisions, 5);
	CHECK_INT(s->invalid_utf8, 6);
	snapshot_unref(s);
}

/* The snapshot keeps copies: the set's strings may go. */
static void test_snapshot_keeps_copies(void)
{
	struct target_set ts = fixture();
	struct target_skip skip = { &ns_a, &svc_a2, NULL, TARGET_SKIP_BAD_PATH, NULL };
	char id[] = "i-77", detail[] = "why", name[] = "web", ns_name[] = "alpha";
	struct cm_service svc = svc_a2;
	struct cm_namespace ns = ns_a;
	struct target_service one = { &ns, &svc, 0, 1, 0, 0, 0 };
	struct snapshot *s;
	char *json;

	svc.name = name;
	ns.name = ns_name;
	skip.ns = &ns;
	skip.svc = &svc;
	skip.instance_id = id;
	skip.detail = detail;
	ts.targets = NULL;
	ts.n_targets = 0;
	ts.notes = NULL;
	ts.n_notes = 0;
	ts.services = &one;
	ts.n_services = 1;
	ts.skips = &skip;
	ts.n_skips = 1;
	s = render(&ts);
	memset(id, 'x', sizeof(id) - 1);
	memset(detail, 'x', sizeof(detail) - 1);
	memset(name, 'x', sizeof(name) - 1);
	memset(ns_name, 'x', sizeof(ns_name) - 1);
	CHECK_STR(s->skips[0].instance_id, "i-77");
	CHECK_STR(s->skips[0].detail, "why");
	CHECK_STR(s->names[s->skips[0].service_idx], "web");
	CHECK_STR(s->names[s->skips[0].namespace_idx], "alpha");
	json = json_of(s, NULL);
	CHECK_STR(json, "[]");
	free(json);
	CHECK_INT(s->n_groups, 0);
	snapshot_unref(s);
}

static void test_empty(void)
{
	struct target_set ts = { 0 };
	struct snapshot *s = render(&ts);
	char *json = json_of(s, NULL);

	CHECK_STR(json, "[]");
	free(json);
	CHECK_INT(s->json_len, 2);
	CHECK_INT(s->n_json_pieces, 2);
	CHECK_INT(s->n_groups + s->n_services + s->n_skips + s->n_names + s->n_parts, 0);
	CHECK(gzip_is_json(s));
	snapshot_unref(s);
}

static void test_refcount(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);

	CHECK(snapshot_ref(s) == s);
	CHECK_INT(atomic_load(&s->refcount), 2);
	CHECK(snapshot_unref(s) == NULL);
	CHECK_INT(atomic_load(&s->refcount), 1);
	CHECK_STR(s->names[0], "alpha"); /* still alive */
	snapshot_unref(s);		 /* freed: ASan reports a leak or a double free */
	CHECK(snapshot_ref(NULL) == NULL);
	CHECK(snapshot_unref(NULL) == NULL);
	CHECK(snapshot_part_ref(NULL) == NULL);
	CHECK(snapshot_part_unref(NULL) == NULL);
}

/* The whole answer as pieces: "[", part 0, ",", part 2, "]" (part 1 has no
 * groups), lent by the parts; gzip: the same answer. */
static void test_pieces(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);

	CHECK_INT(s->n_json_pieces, 5);
	CHECK(s->json_pieces[1].p == s->parts[0]->json);
	CHECK_INT(s->json_pieces[1].len, s->parts[0]->json_len);
	CHECK(s->json_pieces[3].p == s->parts[2]->json);
	CHECK_INT(s->json_pieces[3].len, s->parts[2]->json_len);
	CHECK(s->json_pieces[0].len == 1 && memcmp(s->json_pieces[0].p, "[", 1) == 0);
	CHECK(s->json_pieces[2].len == 1 && memcmp(s->json_pieces[2].p, ",", 1) == 0);
	CHECK(s->json_pieces[4].len == 1 && memcmp(s->json_pieces[4].p, "]", 1) == 0);
	CHECK_INT(s->json_len, 3 + s->parts[0]->json_len + s->parts[2]->json_len);
	CHECK(s->parts[1]->json == NULL && snapshot_part_segment(s->parts[1]) == NULL);
	CHECK(segment_is_json(s->parts[0]));
	CHECK(segment_is_json(s->parts[2]));
	CHECK(s->parts[0]->crc == snapshot_gzip_crc32(s->parts[0]->json, s->parts[0]->json_len));
	CHECK(gzip_is_json(s));
	snapshot_unref(s);
}

/* ---- cases: parts ---- */

/* One part per service of ts, one reference each. */
static void parts_of(const struct target_set *ts, unsigned flags, struct snapshot_part **parts)
{
	size_t i;

	for (i = 0; i < ts->n_services; i++)
		if (snapshot_part_new(ts, i, flags, &parts[i]) < 0)
			abort();
}

static void parts_unref(struct snapshot_part **parts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		parts[i] = snapshot_part_unref(parts[i]);
}

/* snapshot_part_new() on service i takes exactly that service's targets,
 * skips, notes and counts, wherever they lie in the set. */
static void test_part_picks_its_service(void)
{
	struct target_set ts = fixture();
	struct snapshot_part *p[3] = { NULL }, *bad = NULL;

	parts_of(&ts, 0, p);
	CHECK_STR(p[0]->namespace_name, "alpha");
	CHECK_STR(p[0]->service_name, "api");
	CHECK_INT(p[0]->n_groups, 2);
	CHECK(part_group_matches(p[0], 0, &targets[0]));
	CHECK(part_group_matches(p[0], 1, &targets[1]));
	CHECK_INT(p[0]->n_skips, 0);
	CHECK_INT(p[0]->n_notes, 2);
	CHECK_STR(p[0]->notes, "alpha/api: SCRAPE_INTERVAL=\"15\": not a duration; "
			       "alpha/api: METRICS_PORT_x: no METRICS_PATH_x");
	CHECK(p[0]->invalid_knobs == 1 && p[0]->label_collisions == 2 && p[0]->invalid_utf8 == 3);

	CHECK_STR(p[1]->service_name, "web");
	CHECK(p[1]->json == NULL && p[1]->json_len == 0 && p[1]->n_groups == 0);
	CHECK(snapshot_part_segment(p[1]) == NULL && p[1]->notes == NULL && p[1]->n_notes == 0);
	CHECK_INT(p[1]->n_skips, 1);
	CHECK_STR(p[1]->skips[0].instance_id, "i-2");
	CHECK_STR(p[1]->skips[0].detail, "tag METRICS_PORT=\"x\"");
	CHECK_INT(p[1]->skips[0].reason, TARGET_SKIP_BAD_PORT);
	CHECK_INT(p[1]->skipped[TARGET_SKIP_BAD_PORT], 1);
	CHECK_INT(p[1]->skipped[TARGET_SKIP_NO_ADDRESS], 0);
	CHECK(p[1]->invalid_knobs == 0 && p[1]->label_collisions == 0 && p[1]->invalid_utf8 == 0);

	CHECK_STR(p[2]->namespace_name, "beta");
	CHECK_STR(p[2]->service_name, "api");
	CHECK_INT(p[2]->n_groups, 1);
	CHECK(part_group_matches(p[2], 0, &targets[2]));
	CHECK_INT(p[2]->groups[0].len, p[2]->json_len);
	CHECK_INT(p[2]->n_skips, 1);
	CHECK_STR(p[2]->skips[0].instance_id, "i-4");
	CHECK(p[2]->skips[0].detail == NULL);
	CHECK_INT(p[2]->skipped[TARGET_SKIP_NO_ADDRESS], 1);
	CHECK_INT(p[2]->skipped[TARGET_SKIP_BAD_PORT], 0);
	CHECK_INT(p[2]->n_notes, 1);
	CHECK_STR(p[2]->notes, "beta/api: SCRAPE_TIMEOUT=\"0s\": not a duration");
	CHECK(p[2]->invalid_knobs == 3 && p[2]->label_collisions == 3 && p[2]->invalid_utf8 == 3);
	CHECK_INT(atomic_load(&p[2]->refcount), 1);

	CHECK_INT(snapshot_part_new(&ts, 3, 0, &bad), -EINVAL);
	CHECK(bad == NULL);
	parts_unref(p, 3);
}

/* Two snapshots of the same parts share them; either may go first. */
static void test_parts_shared(void)
{
	struct target_set ts = fixture();
	struct snapshot_part *p[3] = { NULL };
	struct snapshot *s1 = NULL, *s2 = NULL, *whole = render(&ts);
	char *want = json_of(whole, NULL), *got;
	size_t i;

	parts_of(&ts, 0, p);
	CHECK_INT(snapshot_assemble(p, 3, 1, &s1), 0);
	CHECK_INT(snapshot_assemble(p, 3, 2, &s2), 0);
	for (i = 0; i < 3; i++) {
		CHECK(s1->parts[i] == p[i] && s2->parts[i] == p[i]);
		CHECK_INT(atomic_load(&p[i]->refcount), 3);
	}
	CHECK(s1->json_pieces[1].p == s2->json_pieces[1].p); /* the same bytes */
	parts_unref(p, 3);				     /* the snapshots hold them */
	CHECK_INT(atomic_load(&s2->parts[0]->refcount), 2);
	s1 = snapshot_unref(s1);
	for (i = 0; i < 3; i++)
		CHECK_INT(atomic_load(&s2->parts[i]->refcount), 1);
	/* s2 is intact: its bytes, names and skips live in the parts */
	got = json_of(s2, NULL);
	CHECK_STR(got, want);
	free(got);
	CHECK(gzip_is_json(s2));
	CHECK_INT(s2->refreshed_at_unix, 2);
	CHECK_STR(s2->names[s2->skips[0].service_idx], "web");
	CHECK_STR(s2->skips[1].instance_id, "i-4");
	CHECK_INT(s2->invalid_knobs, 4);
	for (i = 0; i < s2->n_groups; i++)
		CHECK(s2->groups[i].address_hash == whole->groups[i].address_hash);
	s2 = snapshot_unref(s2); /* frees the parts: ASan sees a leak or a double free */
	free(want);
	snapshot_unref(whole);
}

/* Parts are assembled in the order given; a subset is a snapshot too. */
static void test_assemble_order(void)
{
	struct target_set ts = fixture();
	struct snapshot_part *p[3] = { NULL };
	struct snapshot *s = NULL;
	char *json, *want;

	parts_of(&ts, 0, p);
	CHECK_INT(snapshot_assemble((struct snapshot_part *[]){ p[2], p[0] }, 2, 7, &s), 0);
	CHECK_INT(s->n_names, 4); /* beta api alpha api */
	CHECK_STR(s->names[s->services[0].namespace_idx], "beta");
	CHECK_STR(s->names[s->services[1].namespace_idx], "alpha");
	CHECK_INT(s->n_groups, 3);
	CHECK_INT(s->groups[0].part, 0);
	CHECK_INT(s->groups[1].part, 1);
	CHECK(s->groups[0].address_hash == p[2]->groups[0].address_hash);
	CHECK_INT(s->n_skips, 1);
	CHECK_INT(s->invalid_knobs, 4); /* 3 + 1 */
	want = malloc(p[0]->json_len + p[2]->json_len + 4);
	CHECK(want);
	sprintf(want, "[%s,%s]", p[2]->json, p[0]->json);
	json = json_of(s, NULL);
	CHECK_STR(json, want);
	free(json);
	free(want);
	CHECK(gzip_is_json(s));
	snapshot_unref(s);
	parts_unref(p, 3);
}

/* A part of one group of json, adopted. */
static struct snapshot_part *part_one_group(const char *service_name, const char *json)
{
	struct snapshot_part_group *g = calloc(1, sizeof(*g));
	struct snapshot_part *p = NULL;
	char *copy = strdup(json);

	if (!g || !copy)
		abort();
	*g = (struct snapshot_part_group){ 0, strlen(json), 42 };
	if (snapshot_part_adopt("ns", service_name, copy, strlen(json), g, 1, 0, &p) < 0)
		abort();
	return p;
}

/* Whether the snapshot of parts[idx[0..n)] answers want, as JSON pieces
 * (n_pieces of them) and as gzip. */
static bool assembled_answers(struct snapshot_part *const *parts, const int *idx, size_t n,
			      const char *want, size_t n_pieces)
{
	struct snapshot_part *pick[8];
	struct snapshot *s = NULL;
	char *json;
	bool ok;
	size_t i;

	for (i = 0; i < n; i++)
		pick[i] = parts[idx[i]];
	if (snapshot_assemble(pick, n, 1, &s) < 0)
		return false;
	json = json_of(s, NULL);
	ok = strcmp(json, want) == 0 && s->n_json_pieces == n_pieces && gzip_is_json(s);
	if (!ok)
		printf("# got %s in %zu pieces, want %s in %zu\n", json, s->n_json_pieces, want,
		       n_pieces);
	free(json);
	snapshot_unref(s);
	return ok;
}

/* A part without groups (only skips) adds no piece and no comma. */
static void test_parts_without_groups(void)
{
	static const struct {
		int idx[6];
		size_t n;
		const char *want;
		size_t n_pieces;
	} cases[] = {
		{ { 0 }, 1, "[]", 2 },
		{ { 0, 0, 0 }, 3, "[]", 2 },
		{ { 1 }, 1, "[{\"a\":1}]", 3 },
		{ { 0, 1 }, 2, "[{\"a\":1}]", 3 },
		{ { 1, 0 }, 2, "[{\"a\":1}]", 3 },
		{ { 1, 0, 0, 2 }, 4, "[{\"a\":1},{\"b\":2}]", 5 },
		{ { 0, 1, 0, 2, 0 }, 5, "[{\"a\":1},{\"b\":2}]", 5 },
		{ { 1, 2, 0, 1 }, 4, "[{\"a\":1},{\"b\":2},{\"a\":1}]", 7 },
	};
	struct target_set ts = fixture();
	struct snapshot_part *p[3] = { NULL };
	size_t i;

	CHECK_INT(snapshot_part_new(&ts, 1, 0, &p[0]), 0); /* alpha/web: a skip */
	CHECK(p[0]->json == NULL && p[0]->n_skips == 1);
	p[1] = part_one_group("a", "{\"a\":1}");
	p[2] = part_one_group("b", "{\"b\":2}");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!assembled_answers(p, cases[i].idx, cases[i].n, cases[i].want,
				       cases[i].n_pieces))
			TEST_FAIL("case %zu", i);
	parts_unref(p, 3);
}

/* snapshot_new() refuses a target, skip or note of a service it does not
 * list, and leaves *ret alone. */
static void test_new_refuses_unlisted_service(void)
{
	static struct snapshot untouched;
	struct target_service listed[2] = { services[0], services[2] };
	struct target_set ts = fixture();
	struct snapshot *s = &untouched;

	ts.services = listed; /* not alpha/web, which has a skip */
	ts.n_services = 2;
	CHECK_INT(snapshot_new(&ts, 1, &s), -EINVAL);
	ts = fixture(); /* not beta/api, which has a target, a skip and a note */
	ts.n_services = 2;
	CHECK_INT(snapshot_new(&ts, 1, &s), -EINVAL);
	ts.n_targets = 2; /* beta/api's note alone */
	ts.n_skips = 1;
	CHECK_INT(snapshot_new(&ts, 1, &s), -EINVAL);
	ts = fixture(); /* no service at all */
	ts.n_services = 0;
	CHECK_INT(snapshot_new(&ts, 1, &s), -EINVAL);
	CHECK(s == &untouched);
	/* what is listed is accepted: alpha/api and beta/api without the skip
	 * of alpha/web */
	ts = fixture();
	ts.services = listed;
	ts.n_services = 2;
	ts.skips = &skips[1];
	ts.n_skips = 1;
	CHECK_INT(snapshot_new(&ts, 1, &s), 0);
	CHECK(s != &untouched && s->n_groups == 3 && s->n_skips == 1);
	snapshot_unref(s);
}

/* Plain parts have no segment; one with groups makes the snapshot JSON
 * only, one without groups changes nothing. */
static void test_plain_parts(void)
{
	struct target_set ts = fixture();
	struct snapshot_part *plain[3] = { NULL }, *packed[3] = { NULL };
	struct snapshot *s = NULL, *whole = render(&ts);
	char *want = json_of(whole, NULL), *got;
	size_t i;

	parts_of(&ts, SNAPSHOT_PART_PLAIN, plain);
	parts_of(&ts, 0, packed);
	for (i = 0; i < 3; i++)
		CHECK(snapshot_part_segment(plain[i]) == NULL);
	CHECK(plain[0]->crc == packed[0]->crc && plain[0]->crc != 0);
	CHECK(snapshot_part_segment(packed[0]) && snapshot_part_segment(packed[2]));
	CHECK_INT(snapshot_assemble(plain, 3, 1, &s), 0);
	CHECK(s->gzip_pieces == NULL && s->n_gzip_pieces == 0 && s->gzip_len == 0);
	got = json_of(s, NULL);
	CHECK_STR(got, want);
	free(got);
	s = snapshot_unref(s);
	CHECK_INT(snapshot_assemble((struct snapshot_part *[]){ packed[0], packed[1], plain[2] }, 3,
				    1, &s),
		  0);
	CHECK(s->gzip_pieces == NULL);
	s = snapshot_unref(s);
	CHECK_INT(snapshot_assemble((struct snapshot_part *[]){ packed[0], plain[1], packed[2] }, 3,
				    1, &s),
		  0);
	CHECK(gzip_is_json(s));
	s = snapshot_unref(s);
	/* Compressed later, once (the same segment after a second call), the
	 * plain parts make a snapshot that offers gzip. */
	for (i = 0; i < 3; i++)
		CHECK_INT(snapshot_part_compress(plain[i]), 0);
	CHECK(segment_is_json(plain[0]) && segment_is_json(plain[2]));
	CHECK(snapshot_part_segment(plain[1]) == NULL); /* no JSON, no segment */
	{
		const struct snapshot_segment *first = snapshot_part_segment(plain[0]);

		CHECK_INT(snapshot_part_compress(plain[0]), 0);
		CHECK(snapshot_part_segment(plain[0]) == first);
	}
	CHECK_INT(snapshot_assemble(plain, 3, 1, &s), 0);
	CHECK(gzip_is_json(s));
	s = snapshot_unref(s);
	parts_unref(plain, 3);
	parts_unref(packed, 3);
	free(want);
	snapshot_unref(whole);
}

/* snapshot_part_adopt() takes the bytes and the index as they are, copies
 * the names, and compresses unless plain. */
static void test_part_adopt(void)
{
	static const char groups_json[] = "{\"targets\":[\"a:1\"],\"labels\":{}},"
					  "{\"targets\":[\"b:2\"],\"labels\":{}}";
	char ns_name[] = "alpha", svc_name[] = "api", *json = strdup(groups_json), *got;
	struct snapshot_part_group *g = calloc(2, sizeof(*g));
	size_t len = strlen(groups_json),
	       cut = (size_t)(strstr(groups_json, "},{") - groups_json) + 1;
	struct snapshot_part *p = NULL, *e = NULL, *plain = NULL;
	struct snapshot *s = NULL;

	CHECK(json && g);
	g[0] = (struct snapshot_part_group){ 0, cut, 11 };
	g[1] = (struct snapshot_part_group){ cut + 1, len - cut - 1, 22 };
	CHECK_INT(snapshot_part_adopt(ns_name, svc_name, json, len, g, 2, 0, &p), 0);
	memset(ns_name, 'x', sizeof(ns_name) - 1);
	memset(svc_name, 'x', sizeof(svc_name) - 1);
	CHECK_STR(p->namespace_name, "alpha");
	CHECK_STR(p->service_name, "api");
	CHECK(p->json == json && p->json_len == len && p->groups == g && p->n_groups == 2);
	CHECK(p->crc == snapshot_gzip_crc32(groups_json, len));
	CHECK(segment_is_json(p));
	CHECK(p->n_skips == 0 && p->notes == NULL && atomic_load(&p->refcount) == 1);
	CHECK_INT(snapshot_assemble(&p, 1, 1, &s), 0);
	got = json_of(s, NULL);
	CHECK(got[0] == '[' && strncmp(got + 1, groups_json, len) == 0 && got[len + 1] == ']');
	free(got);
	CHECK(s->n_groups == 2 && s->groups[1].offset == cut + 1 &&
	      s->groups[1].address_hash == 22);
	CHECK_STR(snapshot_group_json(s, &s->groups[1]), "{\"targets\":[\"b:2\"],\"labels\":{}}");
	CHECK(gzip_is_json(s));
	snapshot_unref(s);
	CHECK_INT(snapshot_part_adopt("alpha", "none", NULL, 0, NULL, 0, 0, &e), 0);
	CHECK(e->json == NULL && e->json_len == 0 && !snapshot_part_segment(e) && e->n_groups == 0);
	CHECK_INT(snapshot_part_adopt("alpha", "plain", strdup("{}"), 2,
				      calloc(1, sizeof(struct snapshot_part_group)), 1,
				      SNAPSHOT_PART_PLAIN, &plain),
		  0);
	CHECK(!snapshot_part_segment(plain) && plain->json_len == 2);
	snapshot_part_unref(plain);
	/* an empty buffer (buf_steal() gives "" rather than NULL) is no group:
	 * no piece, no comma */
	e = snapshot_part_unref(e);
	CHECK_INT(snapshot_part_adopt("alpha", "empty", strdup(""), 0, NULL, 0, 0, &e), 0);
	CHECK_INT(snapshot_assemble((struct snapshot_part *[]){ p, e, p }, 3, 1, &s), 0);
	CHECK_INT(s->json_len, 2 * len + 3);
	CHECK_INT(s->n_json_pieces, 5);
	CHECK(gzip_is_json(s));
	s = snapshot_unref(s);
	snapshot_part_unref(e);
	snapshot_part_unref(p);
}

/* ---- the store under concurrent readers ---- */

#define STORE_READERS	4
#define STORE_PUBLISHES 300

struct reader {
	pthread_t thread;
	struct snapshot_store *st;
	atomic_bool *done;
	const char *want; /* the JSON answer of every snapshot published */
	unsigned gets;
	bool ok;
};

/* Whether the pieces spell want, read in place. */
static bool pieces_spell(const struct snapshot *s, const char *want)
{
	size_t i, at = 0;

	if (s->json_len != strlen(want))
		return false;
	for (i = 0; i < s->n_json_pieces; i++) {
		if (memcmp(s->json_pieces[i].p, want + at, s->json_pieces[i].len) != 0)
			return false;
		at += s->json_pieces[i].len;
	}
	return at == s->json_len;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	int64_t last = 0;
	struct snapshot *s;

	rd->ok = true;
	while (!atomic_load(rd->done) || rd->gets == 0) {
		s = snapshot_store_get(rd->st);
		if (!s)
			continue;
		rd->gets++;
		/* published in increasing order; the bytes are intact */
		if (s->refreshed_at_unix < last || s->n_groups != 3 || !pieces_spell(s, rd->want))
			rd->ok = false;
		last = s->refreshed_at_unix;
		snapshot_unref(s);
	}
	return NULL;
}

/* Snapshots made whole and of shared parts, published while readers read
 * them: the parts' counts are atomic, and the last snapshot frees nothing
 * another still reads. */
static void test_store_concurrent_readers(void)
{
	struct target_set ts = fixture();
	struct reader readers[STORE_READERS];
	struct snapshot_part *p[3] = { NULL };
	struct snapshot_store st;
	atomic_bool done = false;
	struct snapshot *s = render(&ts);
	char *want = json_of(s, NULL);
	int i;

	snapshot_unref(s);
	parts_of(&ts, 0, p);
	snapshot_store_init(&st);
	CHECK(snapshot_store_get(&st) == NULL);
	for (i = 0; i < STORE_READERS; i++) {
		readers[i] = (struct reader){ .st = &st, .done = &done, .want = want };
		CHECK_INT(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]), 0);
	}
	for (i = 1; i <= STORE_PUBLISHES; i++) {
		if (i % 2)
			CHECK_INT(snapshot_new(&ts, i, &s), 0);
		else
			CHECK_INT(snapshot_assemble(p, 3, i, &s), 0);
		snapshot_store_publish(&st, s);
	}
	parts_unref(p, 3); /* the last snapshot holds them */
	atomic_store(&done, true);
	for (i = 0; i < STORE_READERS; i++) {
		pthread_join(readers[i].thread, NULL);
		CHECK(readers[i].ok);
		CHECK(readers[i].gets > 0);
	}
	s = snapshot_store_get(&st);
	CHECK(s && s->refreshed_at_unix == STORE_PUBLISHES && pieces_spell(s, want));
	CHECK_INT(atomic_load(&s->parts[0]->refcount), 1);
	snapshot_unref(s);
	snapshot_store_done(&st);
	free(want);
}

/* ---- render time ---- */

#define BIG_TARGETS 10000
#define BIG_LABELS  30

/* Milliseconds on a clock: CPU time bounds the work whatever else runs on
 * the machine; wall time is printed beside it. */
static double now_ms(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* 10k targets of 30 labels, keys shared and values distinct, as a build
 * makes them: rendered and compressed. */
static void test_render_10k_targets(void)
{
	static char keys[BIG_LABELS][48];
	struct target_label *labels = calloc((size_t)BIG_TARGETS * BIG_LABELS, sizeof(*labels));
	char *values = malloc((size_t)BIG_TARGETS * BIG_LABELS * 32), *json;
	struct target *big = calloc(BIG_TARGETS, sizeof(*big));
	struct target_set ts = {
		.targets = big, .n_targets = BIG_TARGETS, .services = services, .n_services = 1
	};
	struct snapshot *s;
	double wall_ms, cpu_ms;
	size_t i, j;
	json_t *root;

	CHECK(labels && values && big);
	for (j = 0; j < BIG_LABELS; j++)
		snprintf(keys[j], sizeof(keys[j]), "__meta_cloudmap_instance_attribute_KEY_%02zu",
			 j);
	for (i = 0; i < BIG_TARGETS; i++) {
		for (j = 0; j < BIG_LABELS; j++) {
			char *v = values + (i * BIG_LABELS + j) * 32;

			snprintf(v, 32, "value-%zu-%zu-abcdefghij", i, j);
			labels[i * BIG_LABELS + j] = (struct target_label){ keys[j], v };
		}
		big[i] = (struct target){ "10.0.0.1:8080",
					  &labels[i * BIG_LABELS],
					  BIG_LABELS,
					  &ns_a,
					  &svc_a1,
					  "i-1",
					  "app" };
	}
	wall_ms = now_ms(CLOCK_MONOTONIC);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	CHECK_INT(snapshot_new(&ts, 1, &s), 0);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu_ms;
	wall_ms = now_ms(CLOCK_MONOTONIC) - wall_ms;
	printf("# rendered and compressed %d targets x %d labels (%zu bytes) in %.1f ms "
	       "(%.1f ms CPU)\n",
	       BIG_TARGETS, BIG_LABELS, s->json_len, wall_ms, cpu_ms);
	CHECK_INT(s->n_groups, BIG_TARGETS);
	json = json_of(s, NULL);
	root = json_loads(json, 0, NULL);
	free(json);
	CHECK(json_array_size(root) == BIG_TARGETS);
	json_decref(root);
	snapshot_unref(s);
	free(labels);
	free(values);
	free(big);
	CHECK(cpu_ms < TIME_BOUND_MS);
}

/* ---- gzip of 10k targets in 20 services ---- */

#define GZ_TARGETS  10000
#define GZ_SERVICES 20
#define GZ_PER_SVC  (GZ_TARGETS / GZ_SERVICES)
#define GZ_LABELS   12

/* Labels as Cloud Map gives them: the same keys everywhere, values shared
 * by a service (names, ids, cluster) or per instance (id, address, zone). */
static void gz_labels(struct target_label *l, char (*v)[48], size_t i)
{
	static const char *const keys[GZ_LABELS] = {
		"__meta_cloudmap_endpoint",
		"__meta_cloudmap_instance_attribute_AVAILABILITY_ZONE",
		"__meta_cloudmap_instance_attribute_AWS_INSTANCE_IPV4",
		"__meta_cloudmap_instance_attribute_ECS_CLUSTER_NAME",
		"__meta_cloudmap_instance_attribute_ECS_SERVICE_NAME",
		"__meta_cloudmap_instance_health_status",
		"__meta_cloudmap_instance_id",
		"__meta_cloudmap_namespace_name",
		"__meta_cloudmap_service_id",
		"__meta_cloudmap_service_name",
		"__meta_cloudmap_service_tag_METRICS_PATH",
		"__metrics_path__",
	};
	const char *values[GZ_LABELS] = { "app", v[0],	    v[1],	"prod-cluster",
					  v[2],	 "HEALTHY", v[3],	"ecs-services",
					  v[4],	 v[2],	    "/metrics", "/metrics" };
	size_t j;

	snprintf(v[0], 48, "us-east-1%c", 'a' + (int)(i % 3));
	snprintf(v[1], 48, "10.%zu.%zu.%zu", i >> 16, (i >> 8) & 255, i & 255);
	snprintf(v[2], 48, "svc-%zu", i / GZ_PER_SVC);
	snprintf(v[3], 48, "%08zx%08zx%016zx", i * 2654435761u, i * 40503u,
		 i * 0x9e3779b97f4a7c15u);
	snprintf(v[4], 48, "srv-%016zx", (i / GZ_PER_SVC) * 0x9e3779b97f4a7c15u);
	for (j = 0; j < GZ_LABELS; j++)
		l[j] = (struct target_label){ keys[j], values[j] };
}

/* One gzip stream of the whole answer at the same level: what the parts'
 * segments are measured against. Returns its length, 0 on failure. */
static size_t gzip_whole_len(const char *json, size_t len)
{
	uLong cap = compressBound(len) + 64;
	unsigned char *out = malloc(cap);
	z_stream zs = { 0 };
	size_t n = 0;

	if (out && deflateInit2(&zs, SNAPSHOT_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
				Z_DEFAULT_STRATEGY) == Z_OK) {
		zs.next_in = (unsigned char *)json;
		zs.avail_in = (uInt)len;
		zs.next_out = out;
		zs.avail_out = (uInt)cap;
		if (deflate(&zs, Z_FINISH) == Z_STREAM_END)
			n = zs.total_out;
		deflateEnd(&zs);
	}
	free(out);
	return n;
}

struct gz_fixture {
	struct cm_service svcs[GZ_SERVICES];
	struct target_service services[GZ_SERVICES];
	struct target targets[GZ_TARGETS];
	struct target_label labels[GZ_TARGETS][GZ_LABELS];
	char values[GZ_TARGETS][5][48];
	char addresses[GZ_TARGETS][32];
	char names[GZ_SERVICES][16];
};

static void gz_fixture_fill(struct gz_fixture *f, struct target_set *ts)
{
	size_t i, k;

	for (k = 0; k < GZ_SERVICES; k++) {
		snprintf(f->names[k], sizeof(f->names[k]), "svc-%02zu", k);
		f->svcs[k] = (struct cm_service){ .id = f->names[k], .name = f->names[k] };
		f->services[k] =
		    (struct target_service){ &ns_a, &f->svcs[k], GZ_PER_SVC, 0, 0, 0, 0 };
	}
	for (i = 0; i < GZ_TARGETS; i++) {
		k = i / GZ_PER_SVC;
		gz_labels(f->labels[i], f->values[i], i);
		snprintf(f->addresses[i], sizeof(f->addresses[i]), "%s:8080", f->values[i][1]);
		f->targets[i] = (struct target){ f->addresses[i], f->labels[i], GZ_LABELS, &ns_a,
						 &f->svcs[k],	  "i-1",	"app" };
	}
	*ts = (struct target_set){ .targets = f->targets,
				   .n_targets = GZ_TARGETS,
				   .services = f->services,
				   .n_services = GZ_SERVICES };
}

/* The gzip answer of 10k realistic targets in 20 services, made of the
 * parts' segments: it inflates back, it is deterministic, and what it
 * saves (against one stream of the whole answer) and costs is printed
 * (docs cite it). */
static void test_gzip_10k_targets(void)
{
	struct gz_fixture *f = calloc(1, sizeof(*f));
	struct snapshot *s = NULL, *again = NULL;
	size_t whole_len, len1 = 0, len2 = 0;
	unsigned char *gz1, *gz2;
	struct target_set ts;
	double cpu_ms;
	char *json;

	CHECK(f);
	gz_fixture_fill(f, &ts);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	CHECK_INT(snapshot_new(&ts, 1, &s), 0);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu_ms;
	CHECK_INT(s->n_parts, GZ_SERVICES);
	CHECK(s->gzip_pieces != NULL);
	json = json_of(s, NULL);
	whole_len = gzip_whole_len(json, s->json_len);
	free(json);
	CHECK(whole_len > 0);
	printf("# %d targets in %d services: JSON %zu bytes; gzip of the parts' segments %zu "
	       "bytes (%.1fx), one stream %zu bytes (%.1fx); rendered and compressed in %.1f ms "
	       "CPU\n",
	       GZ_TARGETS, GZ_SERVICES, s->json_len, s->gzip_len,
	       (double)s->json_len / (double)s->gzip_len, whole_len,
	       (double)s->json_len / (double)whole_len, cpu_ms);
	CHECK(gzip_is_json(s));
	CHECK(s->gzip_len * 10 <= s->json_len);	   /* measured: about 23x */
	CHECK(s->gzip_len * 10 <= whole_len * 13); /* within 30% of one stream */
	CHECK_INT(snapshot_new(&ts, 1, &again), 0);
	gz1 = pieces_concat(s->gzip_pieces, s->n_gzip_pieces, &len1);
	gz2 = pieces_concat(again->gzip_pieces, again->n_gzip_pieces, &len2);
	CHECK(len1 == len2 && memcmp(gz1, gz2, len1) == 0); /* deterministic */
	free(gz1);
	free(gz2);
	snapshot_unref(again);
	snapshot_unref(s);
	free(f);
	CHECK(cpu_ms < TIME_BOUND_MS);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_render_parses_back), TEST_CASE(test_escapes),
			 TEST_CASE(test_group_ranges_parse_alone),
			 TEST_CASE(test_labels_rendered_in_order), TEST_CASE(test_address_hash),
			 TEST_CASE(test_index), TEST_CASE(test_snapshot_keeps_copies),
			 TEST_CASE(test_empty), TEST_CASE(test_refcount), TEST_CASE(test_pieces),
			 TEST_CASE(test_part_picks_its_service), TEST_CASE(test_parts_shared),
			 TEST_CASE(test_assemble_order), TEST_CASE(test_parts_without_groups),
			 TEST_CASE(test_new_refuses_unlisted_service), TEST_CASE(test_plain_parts),
			 TEST_CASE(test_part_adopt), TEST_CASE(test_store_concurrent_readers),
			 TEST_CASE(test_render_10k_targets), TEST_CASE(test_gzip_10k_targets));
}
