/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloudmap: Cloud Map and SSM request inputs and answer parsers. See
 * include/cloudmap.h. Pure; called by the refresher thread and the fuzzers.
 *
 * Parsers check an answer's strings where jansson holds them (borrowed)
 * and copy them once checked: a tag list as one kv array of strings, each
 * instance as one block (cm_instance_init()), so a large inventory costs
 * about one allocation per instance.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cloudmap.h"

/* ---- request inputs ---- */

json_t *cloudmap_list_namespaces_input(void)
{
	return json_pack("{s:i}", "MaxResults", CLOUDMAP_LIST_PAGE_SIZE);
}

json_t *cloudmap_list_services_input(const char *ns_ref)
{
	return json_pack("{s:[{s:s, s:[s], s:s}], s:i}", "Filters", "Name", "NAMESPACE_ID",
			 "Values", ns_ref, "Condition", "EQ", "MaxResults",
			 CLOUDMAP_LIST_PAGE_SIZE);
}

json_t *cloudmap_list_tags_input(const char *arn)
{
	return json_pack("{s:s}", "ResourceARN", arn);
}

json_t *cloudmap_discover_input(const char *http_name, const char *service, const char *health,
				const char *owner)
{
	json_t *in =
	    json_pack("{s:s, s:s, s:i, s:s}", "NamespaceName", http_name, "ServiceName", service,
		      "MaxResults", CLOUDMAP_DISCOVER_MAX, "HealthStatus", health);

	if (in && owner && json_object_set_new(in, "OwnerAccount", json_string(owner)) < 0)
		in = (json_decref(in), NULL);
	return in;
}

json_t *cloudmap_revision_input(const char *http_name, const char *service, const char *owner)
{
	json_t *in = json_pack("{s:s, s:s}", "NamespaceName", http_name, "ServiceName", service);

	if (in && owner && json_object_set_new(in, "OwnerAccount", json_string(owner)) < 0)
		in = (json_decref(in), NULL);
	return in;
}

json_t *ssm_get_parameter_input(const char *name)
{
	return json_pack("{s:s, s:b}", "Name", name, "WithDecryption", 1);
}

/* ---- helpers ---- */

/* Borrows the string member key of obj. Returns 0 (with *ret NULL when the
 * member is absent and optional), -EBADMSG when it is missing but required,
 * or not a string, -E2BIG when too long. */
static int borrow_string(json_t *obj, const char *key, int required, size_t cap, const char **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return required ? -EBADMSG : 0;
	if (!json_is_string(v))
		return -EBADMSG;
	if (json_string_length(v) > cap)
		return -E2BIG;
	if (required && json_string_length(v) == 0)
		return -EBADMSG;
	*ret = json_string_value(v);
	return 0;
}

/* A new copy of the string member key of obj: borrow_string()'s returns,
 * or -ENOMEM. */
static int get_string_capped(json_t *obj, const char *key, int required, size_t cap, char **ret)
{
	const char *v;
	int r = borrow_string(obj, key, required, cap, &v);

	*ret = NULL;
	if (r < 0 || !v)
		return r;
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

static int get_string(json_t *obj, const char *key, int required, char **ret)
{
	return get_string_capped(obj, key, required, CLOUDMAP_MAX_STRING, ret);
}

/* Grows *arr by one pointer slot. */
static int grow(void *arr_ptr, size_t n, size_t max)
{
	void ***arr = arr_ptr;
	void **p;

	if (n >= max)
		return -E2BIG;
	p = realloc(*arr, (n + 1) * sizeof(void *));
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

/* The pairs of a tag list or an attribute map, borrowed from the answer. */
struct pairs {
	const char *keys[CLOUDMAP_MAX_KV];
	const char *values[CLOUDMAP_MAX_KV];
	size_t n;
};

/* Checks one pair (key may be NULL: not a string) and borrows it. */
static int pairs_put(struct pairs *p, size_t i, const char *key, size_t key_len, json_t *v)
{
	if (!key || !json_is_string(v) || key_len == 0)
		return -EBADMSG;
	if (key_len > CLOUDMAP_MAX_STRING || json_string_length(v) > CLOUDMAP_MAX_STRING)
		return -E2BIG;
	p->keys[i] = key;
	p->values[i] = json_string_value(v);
	return 0;
}

static int pairs_from_object(json_t *src, struct pairs *p)
{
	const char *key;
	size_t i = 0;
	json_t *v;
	int r;

	json_object_foreach (src, key, v) {
		r = pairs_put(p, i++, key, strlen(key), v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int pairs_from_array(json_t *src, const char *key_name, const char *value_name,
			    struct pairs *p)
{
	json_t *o, *k;
	size_t i;
	int r;

	json_array_foreach (src, i, o) {
		k = json_object_get(o, key_name);
		r = pairs_put(p, i, json_string_value(k), json_string_length(k),
			      json_object_get(o, value_name));
		if (r < 0)
			return r;
	}
	return 0;
}

/* Borrows the pairs of a JSON object of strings, or of an array of
 * {key_name, value_name} objects (absent: none). Returns 0, -EBADMSG or
 * -E2BIG. */
static int pairs_parse(json_t *src, const char *key_name, const char *value_name, struct pairs *p)
{
	size_t n = json_is_object(src) ? json_object_size(src) : json_array_size(src);
	int r;

	if (src && !json_is_object(src) && !json_is_array(src))
		return -EBADMSG;
	if (n > CLOUDMAP_MAX_KV)
		return -E2BIG;
	r = json_is_object(src) ? pairs_from_object(src, p)
				: pairs_from_array(src, key_name, value_name, p);
	if (r < 0)
		return r;
	p->n = n;
	return 0;
}

/* A new sorted kv array of copies of the pairs. */
static int pairs_to_kv(const struct pairs *p, struct kv **ret)
{
	struct kv *kv = calloc(p->n ? p->n : 1, sizeof(*kv));
	size_t i;

	if (!kv)
		return -ENOMEM;
	for (i = 0; i < p->n; i++) {
		kv[i].key = strdup(p->keys[i]);
		kv[i].value = strdup(p->values[i]);
		if (!kv[i].key || !kv[i].value) {
			kv_array_free(kv, p->n);
			return -ENOMEM;
		}
	}
	kv_array_sort(kv, p->n);
	*ret = kv;
	return 0;
}

/* ---- answers ---- */

static int parse_namespace(json_t *o, struct cm_namespace **ret)
{
	struct cm_namespace *ns = calloc(1, sizeof(*ns));
	json_t *http = json_object_get(
	    json_object_get(json_object_get(o, "Properties"), "HttpProperties"), "HttpName");
	int r;

	if (!ns)
		return -ENOMEM;
	ns->refcount = 1;
	r = json_is_object(o) ? 0 : -EBADMSG;
	if (r == 0)
		r = get_string(o, "Id", 1, &ns->id);
	if (r == 0)
		r = get_string(o, "Name", 1, &ns->name);
	if (r == 0)
		r = get_string(o, "Type", 1, &ns->type);
	if (r == 0)
		r = get_string(o, "Arn", 0, &ns->arn);
	if (r == 0)
		r = get_string(o, "ResourceOwner", 0, &ns->owner);
	/* DiscoverInstances wants the HTTP name; it is the name unless a
	 * reused name made Cloud Map add a hash to it. */
	if (r == 0 && json_is_string(http) && json_string_length(http) > 0)
		r = get_string(json_object_get(json_object_get(o, "Properties"), "HttpProperties"),
			       "HttpName", 1, &ns->http_name);
	else if (r == 0)
		r = (ns->http_name = strdup(ns->name)) ? 0 : -ENOMEM;
	if (r < 0) {
		cm_namespace_unref(ns);
		return r;
	}
	*ret = ns;
	return 0;
}

static int parse_list(json_t *page, const char *member, size_t max, void *arr_ptr, size_t *n,
		      int (*parse_one)(json_t *o, void **ret), void (*unref)(void *))
{
	void ***arr = arr_ptr;
	json_t *list = json_object_get(page, member), *o;
	size_t n0 = *n, i;
	int r = 0;

	if (!json_is_object(page) || (list && !json_is_array(list)))
		return -EBADMSG;
	json_array_foreach (list, i, o) {
		void *item;

		r = grow(arr, *n, max);
		if (r == 0)
			r = parse_one(o, &item);
		if (r < 0)
			break;
		(*arr)[(*n)++] = item;
	}
	if (r < 0) {
		while (*n > n0)
			unref((*arr)[--(*n)]);
	}
	return r;
}

static int parse_namespace_any(json_t *o, void **ret)
{
	return parse_namespace(o, (struct cm_namespace **)ret);
}

static void namespace_unref_any(void *p)
{
	cm_namespace_unref(p);
}

int cloudmap_parse_namespaces(json_t *page, struct cm_namespace ***arr, size_t *n)
{
	return parse_list(page, "Namespaces", CLOUDMAP_MAX_NAMESPACES, arr, n, parse_namespace_any,
			  namespace_unref_any);
}

static int parse_service_any(json_t *o, void **ret)
{
	struct cm_service *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->refcount = 1;
	r = json_is_object(o) ? 0 : -EBADMSG;
	if (r == 0)
		r = get_string(o, "Id", 1, &s->id);
	if (r == 0)
		r = get_string(o, "Name", 1, &s->name);
	if (r == 0)
		r = get_string(o, "Arn", 0, &s->arn);
	if (r < 0) {
		cm_service_unref(s);
		return r;
	}
	*ret = s;
	return 0;
}

static void service_unref_any(void *p)
{
	cm_service_unref(p);
}

int cloudmap_parse_services(json_t *page, struct cm_service ***arr, size_t *n)
{
	return parse_list(page, "Services", CLOUDMAP_MAX_SERVICES, arr, n, parse_service_any,
			  service_unref_any);
}

int cloudmap_parse_tags(json_t *answer, struct kv **ret, size_t *ret_n)
{
	struct pairs p;
	int r;

	if (!json_is_object(answer))
		return -EBADMSG;
	r = pairs_parse(json_object_get(answer, "Tags"), "Key", "Value", &p);
	if (r == 0)
		r = pairs_to_kv(&p, ret);
	if (r == 0)
		*ret_n = p.n;
	return r;
}

/* One instance in one block (inventory.h); p is scratch space. */
static int parse_instance(json_t *o, struct pairs *p, struct cm_instance *in)
{
	const char *id, *health;
	int r = json_is_object(o) ? 0 : -EBADMSG;

	if (r == 0)
		r = borrow_string(o, "InstanceId", 1, CLOUDMAP_MAX_STRING, &id);
	if (r == 0)
		r = borrow_string(o, "HealthStatus", 0, CLOUDMAP_MAX_STRING, &health);
	if (r == 0)
		r = pairs_parse(json_object_get(o, "Attributes"), NULL, NULL, p);
	if (r == 0)
		r = cm_instance_init(in, id, health ? health : "UNKNOWN", p->keys, p->values, p->n);
	return r;
}

static int instance_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cm_instance *)a)->id, ((const struct cm_instance *)b)->id);
}

static int parse_revision(json_t *answer, int64_t *ret)
{
	json_t *rev = json_object_get(answer, "InstancesRevision");

	if (!json_is_integer(rev))
		return -EBADMSG;
	*ret = (int64_t)json_integer_value(rev);
	return 0;
}

int cloudmap_parse_instances(json_t *answer, struct cm_instance **ret, size_t *ret_n,
			     int64_t *ret_revision)
{
	json_t *list = json_object_get(answer, "Instances"), *o;
	struct cm_instance *arr;
	struct pairs p;
	size_t n = json_array_size(list), i;
	int64_t revision = 0;
	int r = 0;

	if (!json_is_object(answer) || (list && !json_is_array(list)))
		return -EBADMSG;
	if (n > CLOUDMAP_DISCOVER_MAX)
		return -E2BIG;
	/* Absent when there are no instances: then any revision will do. */
	if (json_object_get(answer, "InstancesRevision") && parse_revision(answer, &revision) < 0)
		return -EBADMSG;
	arr = calloc(n ? n : 1, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	json_array_foreach (list, i, o) {
		r = parse_instance(o, &p, &arr[i]);
		if (r < 0)
			break;
	}
	if (r < 0) {
		for (i = 0; i < n; i++)
			cm_instance_done(&arr[i]);
		free(arr);
		return r;
	}
	qsort(arr, n, sizeof(*arr), instance_cmp);
	*ret = arr;
	*ret_n = n;
	*ret_revision = revision;
	return 0;
}

int cloudmap_parse_revision(json_t *answer, int64_t *ret_revision)
{
	if (!json_is_object(answer))
		return -EBADMSG;
	return parse_revision(answer, ret_revision);
}

int ssm_parse_parameter(json_t *answer, char **ret)
{
	json_t *param = json_object_get(answer, "Parameter");
	char *value;
	int r;

	if (!json_is_object(param))
		return -EBADMSG;
	r = get_string_capped(param, "Value", 1, SSM_MAX_VALUE, &value);
	if (r < 0)
		return r;
	*ret = value;
	return 0;
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

int cloudmap_parse_name_list(const char *list, char ***ret, size_t *ret_n)
{
	char *copy = strdup(list), *p, **names;
	size_t n = 0;
	int r = 0;

	names = calloc(CLOUDMAP_MAX_NAMESPACE_NAMES + 1, sizeof(*names));
	if (!copy || !names) {
		free(copy);
		free(names);
		return -ENOMEM;
	}
	for (p = copy; r == 0;) {
		char *comma = strchr(p, ',');
		char *end = comma ? comma : p + strlen(p);
		char *name = trim(p, end);

		if (!*name || strlen(name) > CLOUDMAP_MAX_STRING ||
		    n == CLOUDMAP_MAX_NAMESPACE_NAMES)
			r = -EINVAL;
		else if (!(names[n++] = strdup(name)))
			r = -ENOMEM;
		if (!comma)
			break;
		p = comma + 1;
	}
	free(copy);
	if (r < 0) {
		cloudmap_name_list_free(names);
		return r;
	}
	*ret = names;
	*ret_n = n;
	return 0;
}

void cloudmap_name_list_free(char **names)
{
	size_t i;

	for (i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}
