/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-partcache: snapshots built from the previous build's parts, on
 * hand-built inventories. A second build of the same inventory reuses
 * every part (the same pointers, the same bytes); a service replaced by a
 * new object of equal content is rendered again, and the answer does not
 * change; a renamed or retyped namespace renders its services again; a
 * service removed goes from the cache with its reference; the cache's
 * answer always equals snapshot_new() of targets_build() of the same
 * inventory; partcache_free() releases the service and part references
 * (ASan's leak check sees the rest).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "partcache.h"
#include "snapshot.h"
#include "targets.h"
#include "test.h"

static const struct target_options opts = { .default_metrics_path = NULL };

/* ---- building inventories ---- */

static struct cm_namespace *ns_new(const char *id, const char *name, const char *type)
{
	struct cm_namespace *ns = calloc(1, sizeof(*ns));

	if (!ns)
		abort();
	ns->refcount = 1;
	ns->id = fixture_strdup(id);
	ns->name = fixture_strdup(name);
	ns->type = fixture_strdup(type);
	return ns;
}

/* Namespaces, services and instances must be added in sorted order. */
static struct cm_namespace *ns_add(struct inventory *inv, const char *id, const char *name)
{
	struct cm_namespace *ns = ns_new(id, name, "HTTP");

	inv->namespaces = fixture_realloc(inv->namespaces, (inv->n_namespaces + 1) * sizeof(ns));
	inv->namespaces[inv->n_namespaces++] = ns;
	return ns;
}

/* Adds svc (the caller's reference) to ns. */
static struct cm_service *svc_put(struct cm_namespace *ns, struct cm_service *svc)
{
	ns->services = fixture_realloc(ns->services, (ns->n_services + 1) * sizeof(svc));
	ns->services[ns->n_services++] = svc;
	return svc;
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
	s->revision = 7;
	return svc_put(ns, s);
}

/* An instance of n attributes, as the parser builds it (cm_instance_init()). */
static void inst_init(struct cm_service *s, const char *id, const char *health,
		      const char *const *keys, const char *const *values, size_t n)
{
	s->instances = fixture_realloc(s->instances, (s->n_instances + 1) * sizeof(*s->instances));
	if (cm_instance_init(&s->instances[s->n_instances], id, health, keys, values, n) < 0)
		abort();
	s->n_instances++;
}

static void inst_add(struct cm_service *s, const char *id, const char *const *attrs)
{
	const char *keys[16], *values[16];
	size_t n = 0;

	for (; attrs[0]; attrs += 2, n++) {
		if (n == 16)
			abort();
		keys[n] = attrs[0];
		values[n] = attrs[1];
	}
	inst_init(s, id, "HEALTHY", keys, values, n);
}

/* A new object holding the same content as s: equal, not the same. */
static struct cm_service *svc_copy(const struct cm_service *s)
{
	struct cm_service *c = calloc(1, sizeof(*c));
	const char *keys[16], *values[16];
	size_t i, j;

	if (!c)
		abort();
	c->refcount = 1;
	c->id = fixture_strdup(s->id);
	c->name = fixture_strdup(s->name);
	c->arn = s->arn ? fixture_strdup(s->arn) : NULL;
	c->tags = fixture_realloc(NULL, (s->n_tags + 1) * sizeof(*c->tags));
	for (i = 0; i < s->n_tags; i++)
		c->tags[i] =
		    (struct kv){ fixture_strdup(s->tags[i].key), fixture_strdup(s->tags[i].value) };
	c->n_tags = s->n_tags;
	c->revision = s->revision;
	for (i = 0; i < s->n_instances; i++) {
		for (j = 0; j < s->instances[i].n_attrs && j < 16; j++) {
			keys[j] = s->instances[i].attrs[j].key;
			values[j] = s->instances[i].attrs[j].value;
		}
		inst_init(c, s->instances[i].id, s->instances[i].health, keys, values, j);
	}
	return c;
}

/* alpha: api (2 targets, a note), web (not scraped: skips only);
 * beta: db (1 target, 1 skip). */
static struct inventory *inv_fixture(void)
{
	struct inventory *inv = calloc(1, sizeof(*inv));
	struct cm_namespace *ns;
	struct cm_service *svc;

	if (!inv)
		abort();
	ns = ns_add(inv, "ns-1", "alpha");
	svc = svc_add(ns, "srv-1", "api",
		      KV("METRICS_PATH", "/metrics", "SCRAPE_INTERVAL", "15", "team", "a"));
	inst_add(svc, "i-1", KV("AWS_INSTANCE_IPV4", "10.0.0.1", "AWS_INSTANCE_PORT", "8080"));
	inst_add(svc, "i-2", KV("AWS_INSTANCE_IPV4", "10.0.0.2", "AWS_INSTANCE_PORT", "8080"));
	svc = svc_add(ns, "srv-2", "web", NONE);
	inst_add(svc, "i-3", KV("AWS_INSTANCE_IPV4", "10.0.0.3"));
	ns = ns_add(inv, "ns-2", "beta");
	svc = svc_add(ns, "srv-3", "db", KV("METRICS_PATH", "/m", "METRICS_PORT", "9100"));
	inst_add(svc, "i-4", KV("AWS_INSTANCE_IPV4", "10.0.1.4"));
	inst_add(svc, "i-5", KV("ECS_CLUSTER_NAME", "prod"));
	return inv;
}

/* ---- helpers ---- */

static char *json_of(const struct snapshot *s)
{
	char *json = NULL;
	size_t len;

	if (snapshot_json_copy(s, &json, &len) < 0)
		abort();
	return json;
}

/* The answer of the whole inventory rendered at once, without a cache. */
static char *json_fresh(const struct inventory *inv)
{
	struct target_set *ts = NULL;
	struct snapshot *s = NULL;
	char *json;

	if (targets_build(inv, &opts, &ts) < 0 || snapshot_new(ts, 1, &s) < 0)
		abort();
	json = json_of(s);
	snapshot_unref(s);
	target_set_free(ts);
	return json;
}

/* Builds inv in c; aborts on failure (the cases check what they built). */
static struct snapshot *build(struct partcache *c, const struct inventory *inv,
			      struct partcache_stats *st)
{
	struct snapshot *s = NULL;

	*st = (struct partcache_stats){ 99, 99 };
	if (partcache_build(c, inv, 1700000000, &s, st) < 0 || !s)
		abort();
	return s;
}

/* Whether s answers exactly what inv rendered at once does. */
static bool answers_fresh(const struct snapshot *s, const struct inventory *inv)
{
	char *got = json_of(s), *want = json_fresh(inv);
	bool ok = strcmp(got, want) == 0;

	if (!ok)
		printf("# got  %s\n# want %s\n", got, want);
	free(got);
	free(want);
	return ok;
}

/* Whether p holds one note that starts with prefix (the words after it
 * are targets.c's). */
static bool note_is(const struct snapshot_part *p, const char *prefix)
{
	return p->n_notes == 1 && p->notes && strncmp(p->notes, prefix, strlen(prefix)) == 0;
}

/* ---- cases ---- */

static void test_first_build_renders_everything(void)
{
	struct inventory *inv = inv_fixture();
	struct partcache *c = partcache_new(&opts);
	struct partcache_stats st;
	struct snapshot *s;

	CHECK(c);
	s = build(c, inv, &st);
	CHECK_INT(st.rendered, 3);
	CHECK_INT(st.reused, 0);
	CHECK_INT(s->n_parts, 3);
	CHECK_INT(s->refreshed_at_unix, 1700000000);
	CHECK_INT(s->n_groups, 3);
	CHECK_INT(s->services[1].skipped, 1); /* web: not scraped */
	CHECK_INT(s->services[2].skipped, 1); /* db: i-5 has no address */
	CHECK(note_is(s->parts[0], "alpha/api: SCRAPE_INTERVAL=\"15\": "));
	CHECK(answers_fresh(s, inv));
	snapshot_unref(s);
	partcache_free(c);
	inventory_free(inv);
	CHECK(partcache_free(NULL) == NULL);
}

/* A build leaves its new parts plain (served at once, without gzip);
 * partcache_compress() compresses each once, and the same parts then make
 * a snapshot whose gzip answer inflates to its JSON. */
static void test_compress_after_build(void)
{
	struct inventory *inv = inv_fixture();
	struct partcache *c = partcache_new(&opts);
	struct partcache_stats st;
	struct snapshot *s, *again = NULL;
	size_t n = 99, i;

	CHECK(c);
	s = build(c, inv, &st);
	CHECK(s->gzip_pieces == NULL);
	for (i = 0; i < s->n_parts; i++)
		CHECK(snapshot_part_segment(s->parts[i]) == NULL);
	CHECK_INT(partcache_compress(c, &n), 0);
	CHECK_INT(n, 2); /* api and db: the parts with groups */
	for (i = 0; i < s->n_parts; i++)
		CHECK((snapshot_part_segment(s->parts[i]) != NULL) == (s->parts[i]->json != NULL));
	CHECK_INT(partcache_compress(c, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(snapshot_assemble(s->parts, s->n_parts, 1, &again), 0);
	CHECK(again->gzip_pieces != NULL && again->gzip_len > 0);
	snapshot_unref(again);
	snapshot_unref(build(c, inv, &st)); /* reused parts stay compressed */
	CHECK_INT(st.reused, 3);
	CHECK_INT(partcache_compress(c, &n), 0);
	CHECK_INT(n, 0);
	snapshot_unref(s);
	partcache_free(c);
	inventory_free(inv);
}

static void test_second_build_reuses_every_part(void)
{
	struct inventory *inv = inv_fixture();
	struct partcache *c = partcache_new(&opts);
	struct partcache_stats st;
	struct snapshot *s1, *s2;
	char *j1, *j2;
	size_t i;

	CHECK(c);
	s1 = build(c, inv, &st);
	s2 = build(c, inv, &st);
	CHECK_INT(st.reused, 3);
	CHECK_INT(st.rendered, 0);
	CHECK_INT(s2->n_parts, 3);
	for (i = 0; i < 3; i++) {
		CHECK(s2->parts[i] == s1->parts[i]);
		/* the cache, s1 and s2 */
		CHECK_INT(atomic_load(&s2->parts[i]->refcount), 3);
	}
	j1 = json_of(s1);
	j2 = json_of(s2);
	CHECK_STR(j2, j1);
	free(j1);
	free(j2);
	s1 = snapshot_unref(s1);
	CHECK_INT(atomic_load(&s2->parts[0]->refcount), 2);
	CHECK(answers_fresh(s2, inv));
	snapshot_unref(s2);
	partcache_free(c);
	inventory_free(inv);
}

/* A new object of equal content is a change as far as the cache knows: it
 * renders it again, to the same bytes; the others are reused. */
static void test_replaced_service_rendered_again(void)
{
	struct inventory *inv = inv_fixture();
	struct partcache *c = partcache_new(&opts);
	struct cm_namespace *alpha = inv->namespaces[0];
	struct cm_service *old = alpha->services[0];
	struct partcache_stats st;
	struct snapshot *s1, *s2;
	char *j1, *j2;

	CHECK(c);
	s1 = build(c, inv, &st);
	alpha->services[0] = svc_copy(old);
	CHECK(cm_service_same(old, alpha->services[0]));
	CHECK_INT(old->refcount, 2); /* the inventory's and the cache's */
	cm_service_unref(old);	     /* the inventory lets it go */
	s2 = build(c, inv, &st);
	CHECK_INT(st.rendered, 1);
	CHECK_INT(st.reused, 2);
	CHECK(s2->parts[0] != s1->parts[0]);
	CHECK(s2->parts[1] == s1->parts[1] && s2->parts[2] == s1->parts[2]);
	j1 = json_of(s1);
	j2 = json_of(s2);
	CHECK_STR(j2, j1);
	free(j1);
	free(j2);
	CHECK_INT(atomic_load(&s1->parts[0]->refcount), 1); /* s1's alone */
	CHECK_INT(alpha->services[0]->refcount, 2);
	snapshot_unref(s1);
	snapshot_unref(s2);
	partcache_free(c);
	inventory_free(inv);
}

/* A namespace of another name (or type) holding the same service objects:
 * its services are rendered again, with the new name; the others are
 * reused. */
static void test_renamed_namespace_rendered_again(void)
{
	struct inventory *inv = inv_fixture();
	struct partcache *c = partcache_new(&opts);
	struct cm_namespace *old = inv->namespaces[0], *renamed;
	struct partcache_stats st;
	struct snapshot *s1, *s2, *s3;
	size_t i;

	CHECK(c);
	s1 = build(c, inv, &st);
	renamed = ns_new(old->id, "aardvark", old->type);
	for (i = 0; i < old->n_services; i++)
		svc_put(renamed, cm_service_ref(old->services[i]));
	inv->namespaces[0] = renamed;
	cm_namespace_unref(old);
	s2 = build(c, inv, &st);
	CHECK_INT(st.rendered, 2);
	CHECK_INT(st.reused, 1);
	CHECK(s2->parts[0] != s1->parts[0] && s2->parts[1] != s1->parts[1]);
	CHECK(s2->parts[2] == s1->parts[2]);
	CHECK_STR(s2->names[s2->services[1].namespace_idx], "aardvark");
	CHECK(note_is(s2->parts[0], "aardvark/api: SCRAPE_INTERVAL=\"15\": "));
	CHECK(answers_fresh(s2, inv));
	free(renamed->type);
	renamed->type = fixture_strdup("DNS_PRIVATE");
	s3 = build(c, inv, &st);
	CHECK_INT(st.rendered, 2);
	CHECK_INT(st.reused, 1);
	CHECK(answers_fresh(s3, inv));
	snapshot_unref(s1);
	snapshot_unref(s2);
	snapshot_unref(s3);
	partcache_free(c);
	inventory_free(inv);
}

/* A service gone from the inventory goes from the cache, reference and
 * all; a new one is rendered. */
static void test_removed_and_added_services(void)
{
	struct inventory *inv = inv_fixture();
	struct partcache *c = partcache_new(&opts);
	struct cm_namespace *alpha = inv->namespaces[0];
	struct cm_service *web = cm_service_ref(alpha->services[1]), *extra;
	struct partcache_stats st;
	struct snapshot *s1, *s2, *s3;

	CHECK(c);
	s1 = build(c, inv, &st);
	CHECK_INT(web->refcount, 3); /* the inventory, the cache, this case */
	alpha->n_services = 1;
	cm_service_unref(web);
	s2 = build(c, inv, &st);
	CHECK_INT(st.reused, 2);
	CHECK_INT(st.rendered, 0);
	CHECK_INT(s2->n_parts, 2);
	CHECK_INT(web->refcount, 1); /* the cache let it go */
	CHECK(answers_fresh(s2, inv));
	extra = svc_add(alpha, "srv-9", "zeta", KV("METRICS_PATH", "/z"));
	inst_add(extra, "i-9", KV("AWS_INSTANCE_IPV4", "10.0.0.9"));
	s3 = build(c, inv, &st);
	CHECK_INT(st.reused, 2);
	CHECK_INT(st.rendered, 1);
	CHECK_INT(s3->n_parts, 3);
	CHECK_STR(s3->parts[1]->service_name, "zeta");
	CHECK(answers_fresh(s3, inv));
	cm_service_unref(web);
	snapshot_unref(s1);
	snapshot_unref(s2);
	snapshot_unref(s3);
	partcache_free(c);
	inventory_free(inv);
}

/* partcache_free() drops the cache's references: the services go back to
 * the inventory's alone, the parts to the snapshot's. */
static void test_free_releases_references(void)
{
	struct inventory *inv = inv_fixture();
	struct partcache *c = partcache_new(&opts);
	struct cm_service *api = inv->namespaces[0]->services[0];
	struct cm_service *db = inv->namespaces[1]->services[0];
	struct partcache_stats st;
	struct snapshot *s;
	size_t i;

	CHECK(c);
	CHECK_INT(api->refcount, 1);
	s = build(c, inv, &st);
	CHECK_INT(api->refcount, 2);
	CHECK_INT(db->refcount, 2);
	CHECK_INT(atomic_load(&s->parts[0]->refcount), 2);
	CHECK(partcache_free(c) == NULL);
	CHECK_INT(api->refcount, 1);
	CHECK_INT(db->refcount, 1);
	for (i = 0; i < s->n_parts; i++)
		CHECK_INT(atomic_load(&s->parts[i]->refcount), 1);
	inventory_free(inv); /* the snapshot copied what it keeps */
	CHECK_INT(s->n_groups, 3);
	CHECK_STR(s->names[s->groups[2].service_idx], "db");
	snapshot_unref(s);
}

/* An empty inventory, and stats not asked for. */
static void test_empty_inventory(void)
{
	struct inventory *inv = calloc(1, sizeof(*inv));
	struct partcache *c = partcache_new(&opts);
	struct snapshot *s = NULL;
	char *json;

	CHECK(inv && c);
	CHECK_INT(partcache_build(c, inv, 5, &s, NULL), 0);
	CHECK(s && s->n_parts == 0 && s->refreshed_at_unix == 5);
	json = json_of(s);
	CHECK_STR(json, "[]");
	free(json);
	snapshot_unref(s);
	partcache_free(c);
	inventory_free(inv);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_first_build_renders_everything),
			 TEST_CASE(test_compress_after_build),
			 TEST_CASE(test_second_build_reuses_every_part),
			 TEST_CASE(test_replaced_service_rendered_again),
			 TEST_CASE(test_renamed_namespace_rendered_again),
			 TEST_CASE(test_removed_and_added_services),
			 TEST_CASE(test_free_releases_references), TEST_CASE(test_empty_inventory));
}
