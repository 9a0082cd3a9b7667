/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-snapshot: rendering (parsed back with jansson, escapes, each group's
 * byte range on its own), the hashmod hash against MD5 values computed with
 * md5sum, the index (names, services, skips), reference counting, the store
 * under concurrent readers, the render time of 10k targets, and the size
 * and cost of the gzip forms of 10k targets (answer.h has the round trips
 * of filtered answers).
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

static struct target_service services[] = {
	{ &ns_a, &svc_a1, 2, 0 },
	{ &ns_a, &svc_a2, 0, 1 },
	{ &ns_b, &svc_b1, 1, 1 },
};

static struct target_skip skips[] = {
	{ &ns_a, &svc_a2, "i-2", TARGET_SKIP_BAD_PORT, "tag METRICS_PORT=\"x\"" },
	{ &ns_b, &svc_b1, "i-4", TARGET_SKIP_NO_ADDRESS, NULL },
};

static struct target_set fixture(void)
{
	struct target_set ts = {
		.targets = targets,
		.n_targets = 3,
		.skips = skips,
		.n_skips = 2,
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

/* ---- cases ---- */

static void test_render_parses_back(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);
	json_error_t err;
	json_t *root;
	size_t i;

	CHECK_INT(strlen(s->json), s->json_len);
	root = json_loadb(s->json, s->json_len, 0, &err);
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

	CHECK(strstr(s->json, "\"q\\\"b\\\\s\\nt\\tc\\u0001\\u001fd\x7f\""));
	/* valid UTF-8 passes through as is */
	CHECK(strstr(s->json, "\"\xe6\x97\xa5\xe6\x9c\xac \xe2\x80\xa8 </script>\""));
	CHECK(strncmp(s->json, start, strlen(start)) == 0);
	CHECK(s->json[s->json_len - 1] == ']');
	snapshot_unref(s);
}

static void test_group_ranges_parse_alone(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);
	const struct snapshot_group *g;
	json_t *root, *one;
	size_t i;

	root = json_loadb(s->json, s->json_len, 0, NULL);
	CHECK(root);
	CHECK_INT(s->n_groups, 3);
	CHECK_INT(s->groups[0].offset, 1);
	for (i = 0; i < s->n_groups; i++) {
		g = &s->groups[i];
		CHECK(s->json[g->offset] == '{' && s->json[g->offset + g->len - 1] == '}');
		CHECK(s->json[g->offset + g->len] == (i + 1 < s->n_groups ? ',' : ']'));
		one = json_loadb(s->json + g->offset, g->len, 0, NULL);
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
	const char *key, *prev;
	json_t *root, *labels, *v;

	root = json_loadb(s->json, s->json_len, JSON_PRESERVE_ORDER, NULL);
	CHECK(root);
	labels = json_object_get(json_array_get(root, 0), "labels");
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
	snapshot_unref(s);
}

static void test_index(void)
{
	struct target_set ts = fixture();
	struct snapshot *s = render(&ts);

	CHECK_INT(s->refreshed_at_unix, 1700000000);
	CHECK(!s->warm_start);
	CHECK_INT(s->n_names, 5); /* alpha api web beta api */
	CHECK_STR(s->names[s->groups[0].namespace_idx], "alpha");
	CHECK_STR(s->names[s->groups[0].service_idx], "api");
	CHECK_INT(s->groups[1].service_idx, s->groups[0].service_idx);
	CHECK_STR(s->names[s->groups[2].namespace_idx], "beta");
	CHECK_STR(s->names[s->groups[2].service_idx], "api");
	CHECK(s->groups[2].service_idx != s->groups[0].service_idx);
	CHECK_INT(s->n_services, 3);
	CHECK_STR(s->names[s->services[1].service_idx], "web");
	CHECK_INT(s->services[0].targets, 2);
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
	char id[] = "i-77", detail[] = "why", name[] = "web";
	struct cm_service svc = svc_a2;
	struct target_service one = { &ns_a, &svc, 0, 1 };
	struct snapshot *s;

	svc.name = name;
	skip.svc = &svc;
	skip.instance_id = id;
	skip.detail = detail;
	ts.targets = NULL;
	ts.n_targets = 0;
	ts.services = &one;
	ts.n_services = 1;
	ts.skips = &skip;
	ts.n_skips = 1;
	s = render(&ts);
	memset(id, 'x', sizeof(id) - 1);
	memset(detail, 'x', sizeof(detail) - 1);
	memset(name, 'x', sizeof(name) - 1);
	CHECK_STR(s->skips[0].instance_id, "i-77");
	CHECK_STR(s->skips[0].detail, "why");
	CHECK_STR(s->names[s->skips[0].service_idx], "web");
	CHECK_STR(s->json, "[]");
	CHECK_INT(s->n_groups, 0);
	snapshot_unref(s);
}

static void test_empty(void)
{
	struct target_set ts = { 0 };
	struct snapshot *s = render(&ts);

	CHECK_STR(s->json, "[]");
	CHECK_INT(s->json_len, 2);
	CHECK_INT(s->n_groups + s->n_services + s->n_skips + s->n_names, 0);
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
}

/* ---- the store under concurrent readers ---- */

#define STORE_READERS	4
#define STORE_PUBLISHES 300

struct reader {
	pthread_t thread;
	struct snapshot_store *st;
	atomic_bool *done;
	unsigned gets;
	bool ok;
};

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
		if (s->refreshed_at_unix < last || s->json[0] != '[' ||
		    s->json[s->json_len - 1] != ']' || s->n_groups != 3)
			rd->ok = false;
		last = s->refreshed_at_unix;
		snapshot_unref(s);
	}
	return NULL;
}

static void test_store_concurrent_readers(void)
{
	struct target_set ts = fixture();
	struct reader readers[STORE_READERS];
	struct snapshot_store st;
	atomic_bool done = false;
	struct snapshot *s;
	int i;

	snapshot_store_init(&st);
	CHECK(snapshot_store_get(&st) == NULL);
	for (i = 0; i < STORE_READERS; i++) {
		readers[i] = (struct reader){ .st = &st, .done = &done };
		CHECK_INT(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]), 0);
	}
	for (i = 1; i <= STORE_PUBLISHES; i++) {
		CHECK_INT(snapshot_new(&ts, i, &s), 0);
		snapshot_store_publish(&st, s);
	}
	atomic_store(&done, true);
	for (i = 0; i < STORE_READERS; i++) {
		pthread_join(readers[i].thread, NULL);
		CHECK(readers[i].ok);
		CHECK(readers[i].gets > 0);
	}
	s = snapshot_store_get(&st);
	CHECK(s && s->refreshed_at_unix == STORE_PUBLISHES);
	snapshot_unref(s);
	snapshot_store_done(&st);
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
 * makes them. */
static void test_render_10k_targets(void)
{
	static char keys[BIG_LABELS][48];
	struct target_label *labels = calloc((size_t)BIG_TARGETS * BIG_LABELS, sizeof(*labels));
	char *values = malloc((size_t)BIG_TARGETS * BIG_LABELS * 32);
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
	printf("# rendered %d targets x %d labels (%zu bytes) in %.1f ms (%.1f ms CPU)\n",
	       BIG_TARGETS, BIG_LABELS, s->json_len, wall_ms, cpu_ms);
	CHECK_INT(s->n_groups, BIG_TARGETS);
	root = json_loadb(s->json, s->json_len, 0, NULL);
	CHECK(json_array_size(root) == BIG_TARGETS);
	json_decref(root);
	snapshot_unref(s);
	free(labels);
	free(values);
	free(big);
	CHECK(cpu_ms < TIME_BOUND_MS);
}

/* ---- gzip of 10k targets ---- */

#define GZ_TARGETS 10000
#define GZ_LABELS  12

/* Inflates a gzip member (CRC and length checked by zlib) and compares it
 * with want. */
static bool gunzip_equals(const unsigned char *in, size_t len, const char *want, size_t want_len)
{
	z_stream zs = { 0 };
	char *out = malloc(want_len + 1);
	bool ok;
	int zr;

	if (!out || inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(out);
		return false;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (unsigned char *)out;
	zs.avail_out = (uInt)want_len + 1;
	zr = inflate(&zs, Z_FINISH);
	ok = zr == Z_STREAM_END && zs.total_out == want_len && memcmp(out, want, want_len) == 0;
	inflateEnd(&zs);
	free(out);
	return ok;
}

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
	snprintf(v[2], 48, "svc-%zu", i / 50);
	snprintf(v[3], 48, "%08zx%08zx%016zx", i * 2654435761u, i * 40503u,
		 i * 0x9e3779b97f4a7c15u);
	snprintf(v[4], 48, "srv-%016zx", (i / 50) * 0x9e3779b97f4a7c15u);
	for (j = 0; j < GZ_LABELS; j++)
		l[j] = (struct target_label){ keys[j], values[j] };
}

/* Both gzip forms of 10k realistic targets: they inflate back, and how
 * much they save and cost is printed (docs cite it). */
static void test_gzip_10k_targets(void)
{
	struct target_label *labels = calloc((size_t)GZ_TARGETS * GZ_LABELS, sizeof(*labels));
	char(*values)[5][48] = calloc(GZ_TARGETS, sizeof(*values));
	char(*addresses)[32] = calloc(GZ_TARGETS, sizeof(*addresses));
	struct target *big = calloc(GZ_TARGETS, sizeof(*big));
	struct target_set ts = {
		.targets = big, .n_targets = GZ_TARGETS, .services = services, .n_services = 1
	};
	struct snapshot_gzip *g = NULL;
	struct snapshot *s;
	double cpu_ms;
	size_t i;

	CHECK(labels && values && addresses && big);
	for (i = 0; i < GZ_TARGETS; i++) {
		gz_labels(&labels[i * GZ_LABELS], values[i], i);
		snprintf(addresses[i], sizeof(addresses[i]), "%s:8080", values[i][1]);
		big[i] = (struct target){ addresses[i], &labels[i * GZ_LABELS],
					  GZ_LABELS,	&ns_a,
					  &svc_a1,	"i-1",
					  "app" };
	}
	CHECK_INT(snapshot_new(&ts, 1, &s), 0);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	CHECK_INT(snapshot_gzip_new(s, &g), 0);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu_ms;
	printf("# %d targets: JSON %zu bytes; gzip whole %zu bytes (%.1fx), segments %zu bytes "
	       "(%.1fx); both made in %.1f ms CPU\n",
	       GZ_TARGETS, s->json_len, g->whole_len, (double)s->json_len / (double)g->whole_len,
	       g->segments_len, (double)s->json_len / (double)g->segments_len, cpu_ms);
	CHECK(gunzip_equals(g->whole, g->whole_len, s->json, s->json_len));
	CHECK(g->whole_len * 8 < s->json_len);			    /* measured: about 23x */
	CHECK(g->segments_len * 3 < s->json_len * 2);		    /* measured: about 2.1x */
	CHECK(memcmp(g->whole, s->gzip->whole, g->whole_len) == 0); /* deterministic */
	snapshot_gzip_free(g);
	snapshot_unref(s);
	free(labels);
	free(values);
	free(addresses);
	free(big);
	CHECK(cpu_ms < TIME_BOUND_MS);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_render_parses_back), TEST_CASE(test_escapes),
			 TEST_CASE(test_group_ranges_parse_alone),
			 TEST_CASE(test_labels_rendered_in_order), TEST_CASE(test_address_hash),
			 TEST_CASE(test_index), TEST_CASE(test_snapshot_keeps_copies),
			 TEST_CASE(test_empty), TEST_CASE(test_refcount),
			 TEST_CASE(test_store_concurrent_readers),
			 TEST_CASE(test_render_10k_targets), TEST_CASE(test_gzip_10k_targets));
}
