/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inventory: discovered Cloud Map data and its reference counting. See
 * include/inventory.h. Refresher thread only.
 */
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

void cm_instance_done(struct cm_instance *in)
{
	free(in->id);
	free(in->health);
	kv_array_free(in->attrs, in->n_attrs);
	memset(in, 0, sizeof(*in));
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
