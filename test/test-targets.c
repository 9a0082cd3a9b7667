/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-targets: the target rules (docs/TARGETS.md) on small hand-built
 * inventories: opt-in and default path, overrides, addresses, ports, paths,
 * extra endpoints, knobs, sanitization and collisions, legacy labels, UTF-8
 * repair, ordering, and that targets borrow from the inventory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "targets.h"
#include "test.h"

/* Generous bounds for the timed cases, to catch a change of complexity, not
 * noise: optimised, both take tens of milliseconds. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TIME_BOUND_MS 30000.0
#else
#define TIME_BOUND_MS 500.0
#endif

/* ---- building inventories ---- */

static struct inventory *inv_new(void)
{
	struct inventory *inv = calloc(1, sizeof(*inv));

	if (!inv)
		abort();
	return inv;
}

/* Namespaces, services and instances must be added in sorted order. */
static struct cm_namespace *ns_add(struct inventory *inv, const char *id, const char *name)
{
	struct cm_namespace *ns = calloc(1, sizeof(*ns));

	if (!ns)
		abort();
	ns->refcount = 1;
	ns->id = fixture_strdup(id);
	ns->name = fixture_strdup(name);
	ns->type = fixture_strdup("HTTP");
	inv->namespaces = fixture_realloc(inv->namespaces, (inv->n_namespaces + 1) * sizeof(ns));
	inv->namespaces[inv->n_namespaces++] = ns;
	return ns;
}

static struct cm_service *svc_add(struct cm_namespace *ns, const char *id, const char *name,
				  const char *const *tags)
{
	struct cm_service *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->refcount = 1;
	s->id = fixture_strdup(id);
	s->name = fixture_strdup(name);
	s->tags = fixture_kvs(tags, &s->n_tags);
	ns->services = fixture_realloc(ns->services, (ns->n_services + 1) * sizeof(s));
	ns->services[ns->n_services++] = s;
	return s;
}

/* An instance built as the parser builds it: one block (cm_instance_init()). */
static struct cm_instance *inst_add(struct cm_service *s, const char *id, const char *const *attrs)
{
	const char *keys[64], *values[64];
	struct cm_instance *in;
	size_t n = 0;

	for (; attrs[0]; attrs += 2, n++) {
		if (n == 64)
			abort();
		keys[n] = attrs[0];
		values[n] = attrs[1];
	}
	s->instances = fixture_realloc(s->instances, (s->n_instances + 1) * sizeof(*in));
	in = &s->instances[s->n_instances];
	if (cm_instance_init(in, id, "HEALTHY", keys, values, n) < 0)
		abort();
	s->n_instances++;
	return in;
}

/* One namespace "ns" (id ns-1) with one service "web" (id srv-1). */
static struct inventory *one_service(const char *const *tags, struct cm_service **ret_svc)
{
	struct inventory *inv = inv_new();

	*ret_svc = svc_add(ns_add(inv, "ns-1", "ns"), "srv-1", "web", tags);
	return inv;
}

static struct target_set *build(const struct inventory *inv, const char *default_path, bool legacy)
{
	struct target_options opts = { .default_metrics_path = default_path,
				       .legacy_labels = legacy };
	struct target_set *ts = NULL;

	if (targets_build(inv, &opts, &ts) < 0 || !ts)
		abort();
	return ts;
}

/* ---- looking at targets ---- */

static const char *label(const struct target *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->n_labels; i++)
		if (strcmp(t->labels[i].key, key) == 0)
			return t->labels[i].value;
	return NULL;
}

static bool labels_sorted_unique(const struct target_set *ts)
{
	size_t i, j;

	for (i = 0; i < ts->n_targets; i++)
		for (j = 1; j < ts->targets[i].n_labels; j++)
			if (strcmp(ts->targets[i].labels[j - 1].key,
				   ts->targets[i].labels[j].key) >= 0)
				return false;
	return true;
}

static bool note_has(const struct target_set *ts, const char *needle)
{
	size_t i;

	for (i = 0; i < ts->n_notes; i++)
		if (strstr(ts->notes[i].text, needle))
			return true;
	return false;
}

/* ---- cases ---- */

static void test_tagged_service_labels(void)
{
	static const char *const want[][2] = {
		{ "__meta_cloudmap_endpoint", "app" },
		{ "__meta_cloudmap_instance_attribute_AWS_INSTANCE_IPV4", "10.0.0.1" },
		{ "__meta_cloudmap_instance_attribute_AWS_INSTANCE_PORT", "8080" },
		{ "__meta_cloudmap_instance_attribute_ECS_CLUSTER_NAME", "prod" },
		{ "__meta_cloudmap_instance_health_status", "HEALTHY" },
		{ "__meta_cloudmap_instance_id", "i-1" },
		{ "__meta_cloudmap_namespace_id", "ns-1" },
		{ "__meta_cloudmap_namespace_name", "ns" },
		{ "__meta_cloudmap_namespace_type", "HTTP" },
		{ "__meta_cloudmap_service_id", "srv-1" },
		{ "__meta_cloudmap_service_name", "web" },
		{ "__meta_cloudmap_service_tag_METRICS_PATH", "/metrics" },
		{ "__meta_cloudmap_service_tag_METRICS_PORT", "9100" },
		{ "__meta_cloudmap_service_tag_team", "a" },
		{ "__metrics_path__", "/metrics" },
	};
	struct cm_service *svc;
	struct inventory *inv =
	    one_service(KV("METRICS_PATH", "/metrics", "METRICS_PORT", "9100", "team", "a"), &svc);
	struct target_set *ts;
	const struct target *t;
	size_t i, n = sizeof(want) / sizeof(want[0]);

	inst_add(svc, "i-1",
		 KV("AWS_INSTANCE_IPV4", "10.0.0.1", "AWS_INSTANCE_PORT", "8080",
		    "ECS_CLUSTER_NAME", "prod"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 1);
	t = &ts->targets[0];
	CHECK_STR(t->address, "10.0.0.1:9100");
	CHECK_STR(t->endpoint, "app");
	CHECK_STR(t->instance_id, "i-1");
	CHECK(t->svc == svc && t->ns == inv->namespaces[0]);
	CHECK_INT(t->n_labels, n);
	for (i = 0; i < n; i++) {
		CHECK_STR(t->labels[i].key, want[i][0]);
		CHECK_STR(t->labels[i].value, want[i][1]);
	}
	CHECK_INT(ts->n_skips + ts->n_notes + ts->invalid_knobs + ts->label_collisions, 0);
	target_set_free(ts);
	inventory_free(inv);
}

static void test_untagged_service_skipped_per_instance(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(KV("SCRAPE_INTERVAL", "bad"), &svc);
	struct target_set *ts;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 0);
	CHECK_INT(ts->n_skips, 2);
	CHECK_STR(ts->skips[0].instance_id, "i-1");
	CHECK_STR(ts->skips[1].instance_id, "i-2");
	CHECK_INT(ts->skips[1].reason, TARGET_SKIP_NO_METRICS_PATH);
	CHECK(ts->skips[1].svc == svc);
	CHECK_INT(ts->skipped[TARGET_SKIP_NO_METRICS_PATH], 2);
	CHECK_INT(ts->n_services, 1);
	CHECK_INT(ts->services[0].skipped, 2);
	CHECK_INT(ts->services[0].targets, 0);
	CHECK_INT(ts->invalid_knobs, 0); /* knobs of unscraped services are not looked at */
	target_set_free(ts);

	ts = build(inv, "", false); /* an empty default is no default */
	CHECK_INT(ts->n_targets, 0);
	target_set_free(ts);
	inventory_free(inv);
}

static void test_default_metrics_path(void)
{
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "ns");
	struct cm_service *tagged = svc_add(ns, "srv-1", "a", KV("METRICS_PATH", "/own"));
	struct cm_service *untagged = svc_add(ns, "srv-2", "b", NONE);
	struct target_set *ts;

	inst_add(tagged, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(untagged, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2"));
	ts = build(inv, "/metrics", false);
	CHECK_INT(ts->n_targets, 2);
	CHECK_STR(label(&ts->targets[0], "__metrics_path__"), "/own");
	CHECK_STR(label(&ts->targets[1], "__metrics_path__"), "/metrics");
	CHECK_STR(ts->targets[1].address, "10.0.0.2:80");
	CHECK_INT(ts->n_skips, 0);
	target_set_free(ts);
	inventory_free(inv);
}

static void test_attribute_overrides(void)
{
	struct cm_service *svc;
	struct inventory *inv =
	    one_service(KV("METRICS_PATH", "/metrics", "METRICS_PORT", "9100"), &svc);
	struct target_set *ts;

	inst_add(
	    svc, "i-1",
	    KV("AWS_INSTANCE_IPV4", "10.0.0.1", "METRICS_PATH", "/custom", "METRICS_PORT", "9200"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "METRICS_PORT", "9300"));
	inst_add(svc, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3", "AWS_INSTANCE_PORT", "8080"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 3);
	CHECK_STR(ts->targets[0].address, "10.0.0.1:9200");
	CHECK_STR(label(&ts->targets[0], "__metrics_path__"), "/custom");
	CHECK_STR(ts->targets[1].address, "10.0.0.2:9300");
	CHECK_STR(label(&ts->targets[1], "__metrics_path__"), "/metrics");
	CHECK_STR(ts->targets[2].address, "10.0.0.3:9100");
	target_set_free(ts);
	inventory_free(inv);
}

static void test_addresses(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(KV("METRICS_PATH", "/m"), &svc);
	struct target_set *ts;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV6", "fd00::1"));
	inst_add(svc, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3", "AWS_INSTANCE_IPV6", "fd00::3"));
	inst_add(svc, "i-4", KV("AWS_INSTANCE_IPV4", "10.0.0.256", "AWS_INSTANCE_IPV6", "fd00::4"));
	inst_add(svc, "i-5", KV("AWS_INSTANCE_IPV4", "010.0.0.5"));
	inst_add(svc, "i-6", KV("AWS_INSTANCE_IPV6", "fd00::zz"));
	inst_add(svc, "i-7", KV("AWS_INSTANCE_PORT", "80"));
	inst_add(svc, "i-8",
		 KV("AWS_INSTANCE_IPV4", " 10.0.0.8", "AWS_INSTANCE_IPV6", "[fd00::8]"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 4);
	CHECK_STR(ts->targets[0].address, "10.0.0.1:80");
	CHECK_STR(ts->targets[1].address, "[fd00::1]:80");
	CHECK_STR(ts->targets[2].address, "10.0.0.3:80");
	CHECK_STR(ts->targets[3].address, "[fd00::4]:80");
	CHECK_INT(ts->n_skips, 4);
	CHECK_INT(ts->skipped[TARGET_SKIP_NO_ADDRESS], 4);
	CHECK_STR(ts->skips[0].instance_id, "i-5");
	CHECK_INT(ts->skips[0].reason, TARGET_SKIP_NO_ADDRESS);
	CHECK_STR(ts->skips[0].detail, "AWS_INSTANCE_IPV4=\"010.0.0.5\": not an IPv4 address");
	CHECK_STR(ts->skips[1].detail, "AWS_INSTANCE_IPV6=\"fd00::zz\": not an IPv6 address");
	CHECK(ts->skips[2].detail == NULL);
	CHECK_STR(ts->skips[3].instance_id, "i-8");
	CHECK_INT(ts->services[0].targets, 4);
	CHECK_INT(ts->services[0].skipped, 4);
	target_set_free(ts);
	inventory_free(inv);
}

static void test_port_sources(void)
{
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "ns");
	struct cm_service *a =
	    svc_add(ns, "srv-1", "a", KV("METRICS_PATH", "/m", "METRICS_PORT", "9100"));
	struct cm_service *b = svc_add(ns, "srv-2", "b", KV("METRICS_PATH", "/m"));
	struct target_set *ts;

	inst_add(a, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1", "AWS_INSTANCE_PORT", "8080"));
	inst_add(a, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "METRICS_PORT", "9200"));
	inst_add(b, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3", "AWS_INSTANCE_PORT", "8080"));
	inst_add(b, "i-4", KV("AWS_INSTANCE_IPV4", "10.0.0.4"));
	inst_add(b, "i-5", KV("AWS_INSTANCE_IPV4", "10.0.0.5", "METRICS_PORT", "0080"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 5);
	CHECK_STR(ts->targets[0].address, "10.0.0.1:9100"); /* tag over AWS_INSTANCE_PORT */
	CHECK_STR(ts->targets[1].address, "10.0.0.2:9200"); /* attribute over tag */
	CHECK_STR(ts->targets[2].address, "10.0.0.3:8080");
	CHECK_STR(ts->targets[3].address, "10.0.0.4:80");
	CHECK_STR(ts->targets[4].address, "10.0.0.5:80"); /* canonical number */
	target_set_free(ts);
	inventory_free(inv);
}

static void test_bad_ports(void)
{
	static const char *const bad[] = { "0",	 "65536", "abc", "+80",
					   "-1", " 80",	  "80 ", "",
					   "8O", "0x50",  "1e3", "99999999999999999999" };
	static const char *const good[] = { "1", "65535", "00001" };
	struct cm_service *svc;
	struct inventory *inv = one_service(KV("METRICS_PATH", "/m"), &svc);
	struct target_set *ts;
	char id[16], want[128];
	size_t i, nb = sizeof(bad) / sizeof(bad[0]), ng = sizeof(good) / sizeof(good[0]);

	for (i = 0; i < nb + ng; i++) {
		snprintf(id, sizeof(id), "i-%02zu", i);
		inst_add(svc, id,
			 KV("AWS_INSTANCE_IPV4", "10.0.0.1", "METRICS_PORT",
			    i < nb ? bad[i] : good[i - nb]));
	}
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, ng);
	CHECK_INT(ts->n_skips, nb);
	CHECK_INT(ts->skipped[TARGET_SKIP_BAD_PORT], nb);
	for (i = 0; i < nb; i++) {
		snprintf(want, sizeof(want),
			 "attribute METRICS_PORT=\"%s\": not a port in 1..65535", bad[i]);
		CHECK_INT(ts->skips[i].reason, TARGET_SKIP_BAD_PORT);
		CHECK_STR(ts->skips[i].detail, want);
	}
	CHECK_STR(ts->targets[0].address, "10.0.0.1:1");
	CHECK_STR(ts->targets[1].address, "10.0.0.1:65535");
	CHECK_STR(ts->targets[2].address, "10.0.0.1:1");
	target_set_free(ts);
	inventory_free(inv);
}

static void test_bad_tag_port_and_instance_port(void)
{
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "ns");
	struct cm_service *a =
	    svc_add(ns, "srv-1", "a", KV("METRICS_PATH", "/m", "METRICS_PORT", "x"));
	struct cm_service *b = svc_add(ns, "srv-2", "b", KV("METRICS_PATH", "/m"));
	struct target_set *ts;

	inst_add(a, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(a, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "METRICS_PORT", "9200"));
	inst_add(b, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3", "AWS_INSTANCE_PORT", "70000"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 1);
	CHECK_STR(ts->targets[0].address, "10.0.0.2:9200");
	CHECK_INT(ts->n_skips, 2);
	CHECK_STR(ts->skips[0].detail, "tag METRICS_PORT=\"x\": not a port in 1..65535");
	CHECK_STR(ts->skips[1].detail,
		  "attribute AWS_INSTANCE_PORT=\"70000\": not a port in 1..65535");
	target_set_free(ts);
	inventory_free(inv);
}

static void test_bad_paths(void)
{
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "ns");
	struct cm_service *a = svc_add(ns, "srv-1", "a", KV("METRICS_PATH", "metrics"));
	struct cm_service *b = svc_add(ns, "srv-2", "b", NONE);
	struct target_set *ts;

	inst_add(a, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(a, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "METRICS_PATH", "/fixed"));
	inst_add(a, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3", "METRICS_PATH", ""));
	inst_add(b, "i-4", KV("AWS_INSTANCE_IPV4", "10.0.0.4"));
	ts = build(inv, "nope", false);
	CHECK_INT(ts->n_targets, 1);
	CHECK_STR(label(&ts->targets[0], "__metrics_path__"), "/fixed");
	CHECK_INT(ts->n_skips, 3);
	CHECK_INT(ts->skipped[TARGET_SKIP_BAD_PATH], 3);
	CHECK_STR(ts->skips[0].detail, "tag METRICS_PATH=\"metrics\": does not start with '/'");
	CHECK_STR(ts->skips[1].detail, "attribute METRICS_PATH=\"\": does not start with '/'");
	CHECK_STR(ts->skips[2].detail, "default metrics path=\"nope\": does not start with '/'");
	target_set_free(ts);
	inventory_free(inv);
}

static void test_skip_order_address_port_path(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(KV("METRICS_PATH", "bad", "METRICS_PORT", "bad"), &svc);
	struct target_set *ts;

	inst_add(svc, "i-1", NONE);
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2"));
	inst_add(svc, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3", "METRICS_PORT", "1"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_skips, 3);
	CHECK_INT(ts->skips[0].reason, TARGET_SKIP_NO_ADDRESS);
	CHECK_INT(ts->skips[1].reason, TARGET_SKIP_BAD_PORT);
	CHECK_INT(ts->skips[2].reason, TARGET_SKIP_BAD_PATH);
	target_set_free(ts);
	inventory_free(inv);
}

static void test_ecs_endpoint(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(
	    KV("METRICS_PATH", "/m", "ECS_METRICS_PORT", "9779", "ECS_METRICS_PATH", "/ecs"), &svc);
	struct target_set *ts;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV6", "fd00::1", "METRICS_PORT", "9100"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 2);
	CHECK_STR(ts->targets[0].endpoint, "app");
	CHECK_STR(ts->targets[0].address, "[fd00::1]:9100");
	CHECK_STR(ts->targets[1].endpoint, "ecs");
	CHECK_STR(ts->targets[1].address, "[fd00::1]:9779");
	CHECK_STR(label(&ts->targets[1], "__metrics_path__"), "/ecs");
	CHECK_STR(label(&ts->targets[1], "__meta_cloudmap_endpoint"), "ecs");
	CHECK_STR(label(&ts->targets[1], "__meta_cloudmap_instance_id"), "i-1");
	CHECK_INT(ts->services[0].targets, 2);
	CHECK_INT(ts->invalid_knobs, 0);
	target_set_free(ts);
	inventory_free(inv);
}

static void test_ecs_endpoint_half_or_bad(void)
{
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "ns");
	struct cm_service *a =
	    svc_add(ns, "srv-1", "a", KV("METRICS_PATH", "/m", "ECS_METRICS_PORT", "9779"));
	struct cm_service *b =
	    svc_add(ns, "srv-2", "b",
		    KV("METRICS_PATH", "/m", "ECS_METRICS_PORT", "0", "ECS_METRICS_PATH", "/e"));
	struct cm_service *c =
	    svc_add(ns, "srv-3", "c",
		    KV("METRICS_PATH", "/m", "ECS_METRICS_PORT", "1", "ECS_METRICS_PATH", "e"));
	struct target_set *ts;

	inst_add(a, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(b, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2"));
	inst_add(c, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 3); /* the app endpoints still scrape */
	CHECK_INT(ts->n_skips, 0);
	CHECK_INT(ts->invalid_knobs, 3);
	CHECK_INT(ts->n_notes, 3);
	CHECK(ts->notes[0].svc == a);
	CHECK_STR(ts->notes[0].text, "ECS_METRICS_PORT is set without ECS_METRICS_PATH");
	CHECK_STR(ts->notes[1].text, "ECS_METRICS_PORT=\"0\": not a port in 1..65535");
	CHECK_STR(ts->notes[2].text, "ECS_METRICS_PATH=\"e\": does not start with '/'");
	target_set_free(ts);
	inventory_free(inv);
}

static void test_named_endpoints(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(
	    KV("METRICS_PATH", "/m", "METRICS_PORT_b", "9002", "METRICS_PATH_b", "/b",
	       "METRICS_PORT_a", "9001", "METRICS_PATH_a", "/a", "ECS_METRICS_PORT", "9779",
	       "ECS_METRICS_PATH", "/ecs", "METRICS_PATH_c", "/c", "METRICS_PORT_d", "9004",
	       "METRICS_PORT_app", "9005", "METRICS_PATH_app", "/x", "METRICS_PORT_", "9006",
	       "METRICS_PATH_", "/y", "METRICS_PORT_e", "bad", "METRICS_PATH_e", "/e",
	       "METRICS_PORT_f", "1", "METRICS_PATH_f", "nope"),
	    &svc);
	struct target_set *ts;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 4);
	CHECK_STR(ts->targets[0].endpoint, "app");
	CHECK_STR(ts->targets[1].endpoint, "ecs");
	CHECK_STR(ts->targets[2].endpoint, "a");
	CHECK_STR(ts->targets[2].address, "10.0.0.1:9001");
	CHECK_STR(label(&ts->targets[2], "__metrics_path__"), "/a");
	CHECK_STR(label(&ts->targets[2], "__meta_cloudmap_endpoint"), "a");
	CHECK_STR(ts->targets[3].endpoint, "b");
	CHECK_STR(ts->targets[3].address, "10.0.0.1:9002");
	/* c and d are halves; "app" and "" are reserved or empty; e's port and f's path
	 * are bad */
	CHECK_INT(ts->invalid_knobs, 6);
	CHECK(note_has(ts, "METRICS_PATH_c is set without METRICS_PORT_c"));
	CHECK(note_has(ts, "METRICS_PORT_d is set without METRICS_PATH_d"));
	CHECK(note_has(ts, "METRICS_PORT_app: endpoint name \"app\" is empty or reserved"));
	CHECK(note_has(ts, "METRICS_PORT_: endpoint name \"\" is empty or reserved"));
	CHECK(note_has(ts, "METRICS_PORT_e=\"bad\": not a port"));
	CHECK(note_has(ts, "METRICS_PATH_f=\"nope\": does not start with '/'"));
	CHECK(labels_sorted_unique(ts));
	target_set_free(ts);
	inventory_free(inv);
}

static void test_knobs_valid(void)
{
	struct cm_service *svc;
	struct inventory *inv =
	    one_service(KV("METRICS_PATH", "/m", "METRICS_SCHEME", "https", "SCRAPE_INTERVAL",
			   "1m30s", "SCRAPE_TIMEOUT", "500ms"),
			&svc);
	struct target_set *ts;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 1);
	CHECK_STR(label(&ts->targets[0], "__scheme__"), "https");
	CHECK_STR(label(&ts->targets[0], "__scrape_interval__"), "1m30s");
	CHECK_STR(label(&ts->targets[0], "__scrape_timeout__"), "500ms");
	CHECK_INT(ts->invalid_knobs, 0);
	CHECK(labels_sorted_unique(ts));
	target_set_free(ts);
	inventory_free(inv);
}

static void test_knobs_invalid(void)
{
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "ns");
	struct cm_service *a = svc_add(ns, "srv-1", "a",
				       KV("METRICS_PATH", "/m", "METRICS_SCHEME", "HTTP",
					  "SCRAPE_INTERVAL", "15", "SCRAPE_TIMEOUT", "0s"));
	struct cm_service *b =
	    svc_add(ns, "srv-2", "b",
		    KV("METRICS_PATH", "/m", "SCRAPE_INTERVAL", "10s", "SCRAPE_TIMEOUT", "1m"));
	struct target_set *ts;

	inst_add(a, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(a, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2"));
	inst_add(b, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 3); /* bad knobs never skip */
	CHECK(!label(&ts->targets[0], "__scheme__"));
	CHECK(!label(&ts->targets[1], "__scrape_interval__"));
	CHECK(!label(&ts->targets[1], "__scrape_timeout__"));
	CHECK_STR(label(&ts->targets[2], "__scrape_interval__"), "10s");
	CHECK(!label(&ts->targets[2], "__scrape_timeout__"));
	CHECK_INT(ts->invalid_knobs, 4); /* once per service, not per instance */
	CHECK_INT(ts->n_notes, 4);
	CHECK_STR(ts->notes[0].text, "METRICS_SCHEME=\"HTTP\": not http or https");
	CHECK_STR(ts->notes[1].text, "SCRAPE_INTERVAL=\"15\": not a Prometheus duration");
	CHECK_STR(ts->notes[2].text, "SCRAPE_TIMEOUT=\"0s\": not a Prometheus duration");
	CHECK_STR(ts->notes[3].text,
		  "SCRAPE_TIMEOUT=\"1m\" is longer than SCRAPE_INTERVAL=\"10s\"");
	CHECK(ts->notes[3].svc == b);
	target_set_free(ts);
	inventory_free(inv);
}

static void test_parse_duration(void)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{ "15s", 15000 },
		{ "1m", 60000 },
		{ "1m30s", 90000 },
		{ "500ms", 500 },
		{ "1h", 3600000 },
		{ "2d", 172800000 },
		{ "1w", 604800000 },
		{ "1y", 31536000000 },
		{ "1y1w1d1h1m1s1ms", 32230861001 },
		{ "01m", 60000 },
		{ "0m5s", 5000 },
		{ "90s", 90000 },
		{ "292y", 292ull * 31536000000 },
	};
	static const char *const bad[] = { "",	   "0",	   "0s",   "0m0s", "1",	  "s",	 "ms",
					   "1h1h", "1s1m", "1.5s", "-1s",  " 1s", "1s ", "1S",
					   "1mss", "1sm",  "1m1",  "1M",   "1µs", "1ns", "5us" };
	static const char *const range[] = { "300y", "99999999999999999999s", "9223372036855s",
					     "292y52w" };
	uint64_t ms;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 0;
		CHECK_INT(targets_parse_duration(good[i].s, &ms), 0);
		CHECK_INT(ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 7;
		if (targets_parse_duration(bad[i], &ms) != -EINVAL) {
			TEST_FAIL("\"%s\" was accepted", bad[i]);
			return;
		}
		CHECK_INT(ms, 7);
	}
	for (i = 0; i < sizeof(range) / sizeof(range[0]); i++)
		CHECK_INT(targets_parse_duration(range[i], &ms), -ERANGE);
	CHECK_INT(targets_parse_duration("9223372036854ms", &ms), 0);
}

static void test_sanitize(void)
{
	static const char *const cases[][2] = {
		{ "ok_Key9", "ok_Key9" },
		{ "a.b-c/d", "a_b_c_d" },
		{ "app:version", "app_version" },
		{ "\xc3\xbc"
		  "ber",
		  "_ber" }, /* ü: one character, one '_' */
		{ "\xe6\x97\xa5\xe6\x9c\xac", "__" },
		{ "\xf0\x9f\x98\x80x", "_x" },
		{ "\xff\xfe", "__" },	   /* invalid bytes: one '_' each */
		{ "\xc0\xaf", "__" },	   /* overlong */
		{ "\xed\xa0\x80", "___" }, /* surrogate */
		{ "a\xc3", "a_" },	   /* cut short */
		{ "", "" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		targets_sanitize_label(cases[i][0], out);
		CHECK_STR(out, cases[i][1]);
		/* In place, as the label builder calls it. */
		snprintf(out, sizeof(out), "%s", cases[i][0]);
		targets_sanitize_label(out, out);
		CHECK_STR(out, cases[i][1]);
	}
}

static void test_collisions(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(
	    KV("METRICS_PATH", "/m", "a_b", "3", "a.b", "2", "a-b", "1", "x", "y"), &svc);
	struct target_set *ts;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1", "k/v", "2", "k.v", "1"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "k/v", "2", "k.v", "1"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 2);
	/* "a-b" < "a.b" < "a_b" in byte order: "a-b" wins */
	CHECK_STR(label(&ts->targets[0], "__meta_cloudmap_service_tag_a_b"), "1");
	/* "k.v" < "k/v" */
	CHECK_STR(label(&ts->targets[0], "__meta_cloudmap_instance_attribute_k_v"), "1");
	CHECK_STR(label(&ts->targets[1], "__meta_cloudmap_instance_attribute_k_v"), "1");
	CHECK_INT(ts->label_collisions, 2 + 2); /* tags once per service, attributes per instance */
	CHECK_INT(ts->invalid_knobs, 0);
	CHECK_INT(ts->n_notes, 2);
	CHECK(note_has(ts, "tag \"a.b\" dropped: its label name is taken by tag \"a-b\""));
	CHECK(note_has(ts, "tag \"a_b\" dropped: its label name is taken by tag \"a-b\""));
	CHECK(labels_sorted_unique(ts));
	target_set_free(ts);
	inventory_free(inv);
}

static void test_legacy_labels(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(KV("METRICS_PATH", "/m"), &svc);
	struct target_set *ts;
	const struct target *t;

	inst_add(svc, "i-1",
		 KV("AWS_INSTANCE_IPV4", "10.0.0.1", "ECS_CLUSTER_NAME", "prod", "ECS_SERVICE_NAME",
		    "api", "ECS_TASK_DEFINITION_FAMILY", "api-td"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2"));
	ts = build(inv, NULL, true);
	CHECK_INT(ts->n_targets, 2);
	t = &ts->targets[0];
	CHECK_STR(label(t, "cluster"), "prod");
	CHECK_STR(label(t, "service"), "api");
	CHECK_STR(label(t, "taskdefinition"), "api-td");
	CHECK_STR(label(t, "namespace"), "ns");
	CHECK_STR(label(t, "taskid"), "i-1");
	t = &ts->targets[1];
	CHECK(!label(t, "cluster") && !label(t, "service") && !label(t, "taskdefinition"));
	CHECK_STR(label(t, "namespace"), "ns");
	CHECK_STR(label(t, "taskid"), "i-2");
	CHECK(!label(t, "instance"));
	CHECK(labels_sorted_unique(ts));
	target_set_free(ts);

	ts = build(inv, NULL, false);
	t = &ts->targets[0];
	CHECK(!label(t, "cluster") && !label(t, "namespace") && !label(t, "taskid"));
	CHECK(!label(t, "instance"));
	target_set_free(ts);
	inventory_free(inv);
}

static void test_invalid_utf8_values(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(KV("METRICS_PATH", "/m", "bad",
					       "a\xff"
					       "b",
					       "good", "\xe6\x97\xa5"),
					    &svc);
	struct target_set *ts;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1", "cut", "x\xc3"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "cut", "x\xc3"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 2);
	CHECK_STR(label(&ts->targets[0], "__meta_cloudmap_service_tag_bad"), "a\xef\xbf\xbd"
									     "b");
	CHECK_STR(label(&ts->targets[1], "__meta_cloudmap_service_tag_bad"), "a\xef\xbf\xbd"
									     "b");
	CHECK_STR(label(&ts->targets[0], "__meta_cloudmap_service_tag_good"), "\xe6\x97\xa5");
	CHECK_STR(label(&ts->targets[0], "__meta_cloudmap_instance_attribute_cut"),
		  "x\xef\xbf\xbd");
	CHECK_INT(ts->invalid_utf8, 1 + 2); /* the tag once, the attribute per instance */
	target_set_free(ts);
	inventory_free(inv);
}

static void test_order(void)
{
	static const char *const want[][4] = {
		{ "a", "s1", "i-1", "app" }, { "a", "s1", "i-1", "x" },
		{ "a", "s1", "i-2", "app" }, { "a", "s1", "i-2", "x" },
		{ "a", "s2", "i-0", "app" }, { "b", "s1", "i-9", "app" },
	};
	static const char *const tags[] = {
		"METRICS_PATH", "/m", "METRICS_PORT_x", "1", "METRICS_PATH_x", "/x", NULL
	};
	struct inventory *inv = inv_new();
	struct cm_namespace *a = ns_add(inv, "ns-2", "a"), *b = ns_add(inv, "ns-1", "b");
	struct cm_service *a1 = svc_add(a, "srv-9", "s1", tags);
	struct cm_service *a2 = svc_add(a, "srv-1", "s2", KV("METRICS_PATH", "/m"));
	struct cm_service *b1 = svc_add(b, "srv-5", "s1", KV("METRICS_PATH", "/m"));
	struct target_set *ts;
	const struct target *t;
	size_t i;

	inst_add(a1, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1"));
	inst_add(a1, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2"));
	inst_add(a2, "i-0", KV("AWS_INSTANCE_IPV4", "10.0.0.3"));
	inst_add(b1, "i-9", KV("AWS_INSTANCE_IPV4", "10.0.0.4"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < ts->n_targets; i++) {
		t = &ts->targets[i];
		CHECK_STR(label(t, "__meta_cloudmap_namespace_name"), want[i][0]);
		CHECK_STR(label(t, "__meta_cloudmap_service_name"), want[i][1]);
		CHECK_STR(t->instance_id, want[i][2]);
		CHECK_STR(t->endpoint, want[i][3]);
	}
	CHECK_INT(ts->n_services, 3);
	CHECK(ts->services[0].svc == a1 && ts->services[0].targets == 4);
	CHECK(ts->services[1].svc == a2 && ts->services[1].targets == 1);
	CHECK(ts->services[2].svc == b1 && ts->services[2].ns == b);
	CHECK(labels_sorted_unique(ts));
	target_set_free(ts);
	inventory_free(inv);
}

static void test_services_listed_even_when_empty(void)
{
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "ns");
	struct target_set *ts;

	svc_add(ns, "srv-1", "empty", KV("METRICS_PATH", "/m"));
	svc_add(ns, "srv-2", "untagged", NONE);
	ns_add(inv, "ns-2", "nothing");
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_services, 2);
	CHECK_INT(ts->services[0].targets + ts->services[0].skipped, 0);
	CHECK_INT(ts->services[1].targets + ts->services[1].skipped, 0);
	CHECK_INT(ts->n_targets + ts->n_skips, 0);
	target_set_free(ts);
	inventory_free(inv);
}

/* Values are the inventory's own strings; keys are shared between targets. */
static void test_borrows_from_inventory(void)
{
	struct cm_service *svc;
	struct inventory *inv = one_service(KV("METRICS_PATH", "/m", "team", "a"), &svc);
	struct target_set *ts;
	const struct target *t0, *t1;
	size_t i;

	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1", "zone", "z1"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "zone", "z2"));
	ts = build(inv, NULL, false);
	CHECK_INT(ts->n_targets, 2);
	t0 = &ts->targets[0];
	t1 = &ts->targets[1];
	CHECK(label(t0, "__meta_cloudmap_service_tag_team") == svc->tags[1].value);
	CHECK(label(t0, "__meta_cloudmap_instance_attribute_zone") ==
	      svc->instances[0].attrs[1].value);
	CHECK(label(t1, "__meta_cloudmap_instance_id") == svc->instances[1].id);
	CHECK(label(t0, "__meta_cloudmap_namespace_name") == inv->namespaces[0]->name);
	CHECK(t0->instance_id == svc->instances[0].id);
	CHECK_INT(t0->n_labels, t1->n_labels);
	for (i = 0; i < t0->n_labels; i++)
		CHECK(t0->labels[i].key == t1->labels[i].key);
	target_set_free(ts);
	inventory_free(inv);
}

/* Milliseconds on a clock: CPU time bounds the work whatever else runs on
 * the machine; wall time is printed beside it. */
static double now_ms(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* 50 services x 200 instances, about 30 labels each. */
static void test_build_10k_targets(void)
{
	static const char *const tags[] = { "METRICS_PATH", "/metrics", "METRICS_PORT",
					    "9100",	    "team",	"payments",
					    "env",	    "prod",	"app.version",
					    "1.2.3",	    "owner",	"someone@example.com",
					    "cost-center",  "42",	"SCRAPE_INTERVAL",
					    "30s",	    NULL };
	struct inventory *inv = inv_new();
	struct cm_namespace *ns = ns_add(inv, "ns-1", "prod");
	struct cm_service *svc;
	struct target_set *ts;
	char name[32], id[32], ip[32], port[16];
	double wall_ms, cpu_ms;
	int i, j;

	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "service-%02d", i);
		svc = svc_add(ns, name, name, tags);
		for (j = 0; j < 200; j++) {
			snprintf(id, sizeof(id), "task-%02d-%03d", i, j);
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", i, j / 250, j % 250 + 1);
			snprintf(port, sizeof(port), "%d", 8000 + j);
			inst_add(svc, id,
				 KV("AWS_INSTANCE_IPV4", ip, "AWS_INSTANCE_PORT", port,
				    "AVAILABILITY_ZONE", "eu-west-1a", "ECS_CLUSTER_NAME", "prod",
				    "ECS_SERVICE_NAME", name, "ECS_TASK_DEFINITION_FAMILY", name,
				    "REGION", "eu-west-1", "AWS_INIT_HEALTH_STATUS", "HEALTHY",
				    "EC2_INSTANCE_ID", "i-0123456789abcdef0", "ECS_TASK_ID", id,
				    "container.name", "app", "stage", "blue"));
		}
	}
	wall_ms = now_ms(CLOCK_MONOTONIC);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	ts = build(inv, NULL, true);
	cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu_ms;
	wall_ms = now_ms(CLOCK_MONOTONIC) - wall_ms;
	printf("# built %zu targets of %zu labels in %.1f ms (%.1f ms CPU)\n", ts->n_targets,
	       ts->targets[0].n_labels, wall_ms, cpu_ms);
	CHECK_INT(ts->n_targets, 10000);
	CHECK(ts->targets[0].n_labels >= 30);
	CHECK(labels_sorted_unique(ts));
	target_set_free(ts);
	inventory_free(inv);
	CHECK(cpu_ms < TIME_BOUND_MS);
}

static void test_skip_reason_names(void)
{
	CHECK_STR(target_skip_reason_name(TARGET_SKIP_NO_METRICS_PATH), "no_metrics_path");
	CHECK_STR(target_skip_reason_name(TARGET_SKIP_NO_ADDRESS), "no_address");
	CHECK_STR(target_skip_reason_name(TARGET_SKIP_BAD_PORT), "bad_port");
	CHECK_STR(target_skip_reason_name(TARGET_SKIP_BAD_PATH), "bad_path");
	CHECK(target_skip_reason_name(TARGET_SKIP_COUNT) == NULL);
	CHECK(target_set_free(NULL) == NULL);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_tagged_service_labels),
			 TEST_CASE(test_untagged_service_skipped_per_instance),
			 TEST_CASE(test_default_metrics_path), TEST_CASE(test_attribute_overrides),
			 TEST_CASE(test_addresses), TEST_CASE(test_port_sources),
			 TEST_CASE(test_bad_ports), TEST_CASE(test_bad_tag_port_and_instance_port),
			 TEST_CASE(test_bad_paths), TEST_CASE(test_skip_order_address_port_path),
			 TEST_CASE(test_ecs_endpoint), TEST_CASE(test_ecs_endpoint_half_or_bad),
			 TEST_CASE(test_named_endpoints), TEST_CASE(test_knobs_valid),
			 TEST_CASE(test_knobs_invalid), TEST_CASE(test_parse_duration),
			 TEST_CASE(test_sanitize), TEST_CASE(test_collisions),
			 TEST_CASE(test_legacy_labels), TEST_CASE(test_invalid_utf8_values),
			 TEST_CASE(test_order), TEST_CASE(test_services_listed_even_when_empty),
			 TEST_CASE(test_borrows_from_inventory), TEST_CASE(test_build_10k_targets),
			 TEST_CASE(test_skip_reason_names));
}
