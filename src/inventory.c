/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inventory: discovered Cloud Map data, its reference counting, compact
 * instances (one allocation each) and the comparison that lets a refresh
 * keep an unchanged service. See include/inventory.h. Refresher thread
 * only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"

void kv_array_free(struct kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

void kv_array_sort(struct kv *kv, size_t n)
{
	if (n > 1)
		qsort(kv, n, sizeof(*kv), kv_cmp);
}

const char *kv_array_get(const struct kv *kv, size_t n, const char *key)
{
	struct kv k = { .key = (char *)key };
	const struct kv *hit;

	if (n == 0)
		return NULL;
	hit = bsearch(&k, kv, n, sizeof(*kv), kv_cmp);
	return hit ? hit->value : NULL;
}

/* The bytes of an instance's block: the attrs array, then the strings. */
static size_t instance_block_size(const char *id, const char *health, const char *const *keys,
				  const char *const *values, size_t n)
{
	size_t size = n * sizeof(struct kv) + strlen(id) + 1 + strlen(health) + 1, i;

	for (i = 0; i < n; i++)
		size += strlen(keys[i]) + 1 + strlen(values[i]) + 1;
	return size;
}

/* Copies s with its NUL to *p, moves *p past it and returns the copy. */
static char *block_put(char **p, const char *s)
{
	size_t len = strlen(s) + 1;
	char *copy = *p;

	memcpy(copy, s, len);
	*p += len;
	return copy;
}

int cm_instance_init(struct cm_instance *in, const char *id, const char *health,
		     const char *const *keys, const char *const *values, size_t n)
{
	struct kv *attrs = malloc(instance_block_size(id, health, keys, values, n));
	char *p, *id_copy, *health_copy;
	size_t i;

	if (!attrs)
		return -ENOMEM;
	p = (char *)(attrs + n);
	id_copy = block_put(&p, id);
	health_copy = block_put(&p, health);
	for (i = 0; i < n; i++) {
		attrs[i].key = block_put(&p, keys[i]);
		attrs[i].value = block_put(&p, values[i]);
	}
	kv_array_sort(attrs, n);
	*in = (struct cm_instance){
		.id = id_copy,
		.health = health_copy,
		.attrs = attrs,
		.n_attrs = n,
		.block = attrs,
	};
	return 0;
}

void cm_instance_done(struct cm_instance *in)
{
	free(in->block);
	memset(in, 0, sizeof(*in));
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool kv_same(const struct kv *a, size_t n_a, const struct kv *b, size_t n_b)
{
	size_t i;

	if (n_a != n_b)
		return false;
	for (i = 0; i < n_a; i++)
		if (!str_same(a[i].key, b[i].key) || !str_same(a[i].value, b[i].value))
			return false;
	return true;
}

static bool instance_same(const struct cm_instance *a, const struct cm_instance *b)
{
	return str_same(a->id, b->id) && str_same(a->health, b->health) &&
	       kv_same(a->attrs, a->n_attrs, b->attrs, b->n_attrs);
}

bool cm_service_same(const struct cm_service *a, const struct cm_service *b)
{
	size_t i;

	if (a == b)
		return true;
	if (!str_same(a->id, b->id) || !str_same(a->name, b->name) || !str_same(a->arn, b->arn) ||
	    a->revision != b->revision || !kv_same(a->tags, a->n_tags, b->tags, b->n_tags) ||
	    a->n_instances != b->n_instances)
		return false;
	for (i = 0; i < a->n_instances; i++)
		if (!instance_same(&a->instances[i], &b->instances[i]))
			return false;
	return true;
}

struct cm_service *cm_service_ref(struct cm_service *s)
{
	if (s)
		s->refcount++;
	return s;
}

struct cm_service *cm_service_unref(struct cm_service *s)
{
	size_t i;

	if (!s || --s->refcount > 0)
		return NULL;
	for (i = 0; i < s->n_instances; i++)
		cm_instance_done(&s->instances[i]);
	free(s->instances);
	kv_array_free(s->tags, s->n_tags);
	free(s->id);
	free(s->name);
	free(s->arn);
	free(s);
	return NULL;
}

struct cm_namespace *cm_namespace_ref(struct cm_namespace *ns)
{
	if (ns)
		ns->refcount++;
	return ns;
}

struct cm_namespace *cm_namespace_unref(struct cm_namespace *ns)
{
	size_t i;

	if (!ns || --ns->refcount > 0)
		return NULL;
	for (i = 0; i < ns->n_services; i++)
		cm_service_unref(ns->services[i]);
	free(ns->services);
	free(ns->id);
	free(ns->name);
	free(ns->http_name);
	free(ns->type);
	free(ns->arn);
	free(ns->owner);
	free(ns);
	return NULL;
}

struct inventory *inventory_free(struct inventory *inv)
{
	size_t i;

	if (!inv)
		return NULL;
	for (i = 0; i < inv->n_namespaces; i++)
		cm_namespace_unref(inv->namespaces[i]);
	free(inv->namespaces);
	for (i = 0; i < inv->n_errors; i++) {
		free(inv->errors[i].namespace_name);
		free(inv->errors[i].service_name);
		free(inv->errors[i].text);
	}
	free(inv->errors);
	free(inv);
	return NULL;
}

struct cm_namespace *inventory_find_namespace(const struct inventory *inv, const char *id)
{
	size_t i;

	for (i = 0; i < inv->n_namespaces; i++)
		if (strcmp(inv->namespaces[i]->id, id) == 0)
			return inv->namespaces[i];
	return NULL;
}

struct cm_service *cm_namespace_find_service(const struct cm_namespace *ns, const char *id)
{
	size_t i;

	for (i = 0; i < ns->n_services; i++)
		if (strcmp(ns->services[i]->id, id) == 0)
			return ns->services[i];
	return NULL;
}
