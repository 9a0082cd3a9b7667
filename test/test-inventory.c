/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the inventory's own code: compact instances built by
 * cm_instance_init(), and cm_service_same(), on which a refresh's "keep the
 * previous object when nothing changed" rests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "test.h"

static const char *const keys[] = { "b", "a", "c" };
static const char *const values[] = { "2", "1", "3" };

static void test_instance_init_copies_and_sorts(void)
{
	char id[] = "i-1", health[] = "HEALTHY";
	struct cm_instance in;

	CHECK_INT(cm_instance_init(&in, id, health, keys, values, 3), 0);
	id[0] = 'x'; /* copies, not the caller's strings */
	health[0] = 'x';
	CHECK_STR(in.id, "i-1");
	CHECK_STR(in.health, "HEALTHY");
	CHECK_INT(in.n_attrs, 3);
	CHECK_STR(in.attrs[0].key, "a");
	CHECK_STR(in.attrs[0].value, "1");
	CHECK_STR(in.attrs[2].key, "c");
	CHECK(in.attrs[1].key != keys[0]);
	CHECK_STR(kv_array_get(in.attrs, in.n_attrs, "b"), "2");
	CHECK(in.block != NULL);
	cm_instance_done(&in);
	CHECK(in.block == NULL && in.attrs == NULL);
}

static void test_instance_init_empty_and_duplicates(void)
{
	static const char *const dup_keys[] = { "k", "a", "k" };
	static const char *const dup_values[] = { "2", "", "1" };
	struct cm_instance in;

	CHECK_INT(cm_instance_init(&in, "i-1", "UNKNOWN", NULL, NULL, 0), 0);
	CHECK_INT(in.n_attrs, 0);
	CHECK(kv_array_get(in.attrs, in.n_attrs, "a") == NULL);
	cm_instance_done(&in);

	/* Duplicate keys are kept (the parser never makes any). */
	CHECK_INT(cm_instance_init(&in, "i-2", "HEALTHY", dup_keys, dup_values, 3), 0);
	CHECK_INT(in.n_attrs, 3);
	CHECK_STR(in.attrs[0].key, "a");
	CHECK_STR(in.attrs[1].key, "k");
	CHECK_STR(in.attrs[2].key, "k");
	CHECK(strcmp(in.attrs[1].value, in.attrs[2].value) != 0);
	cm_instance_done(&in);
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

/* A service srv-1 "web" with one tag and two instances of three attributes. */
static struct cm_service *service_new(void)
{
	struct cm_service *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->refcount = 1;
	s->id = xstrdup("srv-1");
	s->name = xstrdup("web");
	s->arn = xstrdup("arn:srv-1");
	s->tags = calloc(1, sizeof(*s->tags));
	s->instances = calloc(2, sizeof(*s->instances));
	if (!s->tags || !s->instances)
		abort();
	s->tags[0] = (struct kv){ xstrdup("METRICS_PATH"), xstrdup("/metrics") };
	s->n_tags = 1;
	if (cm_instance_init(&s->instances[0], "i-1", "HEALTHY", keys, values, 3) < 0 ||
	    cm_instance_init(&s->instances[1], "i-2", "HEALTHY", keys, values, 3) < 0)
		abort();
	s->n_instances = 2;
	s->revision = 7;
	return s;
}

static void replace(char **field, const char *s)
{
	free(*field);
	*field = s ? xstrdup(s) : NULL;
}

static void reinit(struct cm_instance *in, const char *id, const char *health,
		   const char *const *vals, size_t n)
{
	cm_instance_done(in);
	if (cm_instance_init(in, id, health, keys, vals, n) < 0)
		abort();
}

static void test_service_same(void)
{
	struct cm_service *a = service_new(), *b = service_new();

	CHECK(cm_service_same(a, b));
	CHECK(cm_service_same(a, a));
	b->refcount = 3; /* not content */
	CHECK(cm_service_same(a, b));
	b->refcount = 1;
	cm_service_unref(a);
	cm_service_unref(b);
}

#define N_CHANGES 12

/* Changes one thing, number i, in b. */
static void change(struct cm_service *b, int i)
{
	static const char *const other_values[] = { "2", "1", "4" };

	if (i == 0)
		replace(&b->id, "srv-2");
	else if (i == 1)
		replace(&b->name, "api");
	else if (i == 2)
		replace(&b->arn, NULL);
	else if (i == 3)
		replace(&b->tags[0].value, "/m");
	else if (i == 4)
		replace(&b->tags[0].key, "METRICS_PORT");
	else if (i == 5)
		b->revision = 8;
	else if (i == 6)
		reinit(&b->instances[1], "i-3", "HEALTHY", values, 3);
	else if (i == 7)
		reinit(&b->instances[1], "i-2", "UNHEALTHY", values, 3);
	else if (i == 8)
		reinit(&b->instances[1], "i-2", "HEALTHY", values, 2);
	else if (i == 9)
		reinit(&b->instances[1], "i-2", "HEALTHY", other_values, 3);
	else if (i == 10)
		b->n_tags = 0;
	else
		b->n_instances = 1;
}

/* Each difference, alone, makes two services differ. */
static void test_service_differs(void)
{
	struct cm_service *a = service_new(), *b;
	int i, same;

	for (i = 0; i < N_CHANGES; i++) {
		b = service_new();
		change(b, i);
		same = cm_service_same(a, b) || cm_service_same(b, a);
		b->n_tags = 1; /* what changes 10 and 11 hid, freed with b */
		b->n_instances = 2;
		cm_service_unref(b);
		if (same) {
			TEST_FAIL("change %d not seen", i);
			break;
		}
	}
	cm_service_unref(a);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_instance_init_copies_and_sorts),
			 TEST_CASE(test_instance_init_empty_and_duplicates),
			 TEST_CASE(test_service_same), TEST_CASE(test_service_differs));
}
