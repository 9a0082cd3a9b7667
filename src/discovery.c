/* SPDX-License-Identifier: Apache-2.0 */
/*
 * discovery: one refresh of the inventory from Cloud Map. See
 * include/discovery.h.
 *
 * DESIGN: a refresh is a tree of work items, one per namespace (ns_work)
 * and one per service (svc_work), whose AWS calls all run in one
 * aws_client_run(). Each call's callback fills its work item and may queue
 * the next calls (a namespace's services are fetched as soon as its last
 * page of services arrives). When the run ends, the new inventory is
 * assembled from the work items, taking from the previous inventory what
 * did not change or could not be fetched: a service fetched again but equal
 * to its previous object (cm_service_same()) is that object, so pointer
 * equality across inventories means "unchanged". Refresher thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsclient.h"
#include "buf.h"
#include "cloudmap.h"
#include "discovery.h"

struct refresh;
struct ns_work;

struct svc_work {
	struct ns_work *nw;
	struct cm_service *listed; /* full: as ListServices gave it (owned) */
	struct cm_service *prev;   /* borrowed from the previous inventory, or NULL */
	struct aws_call tags_call;
	struct aws_call inst_call;
	struct aws_call rev_call;
	struct kv *tags;
	size_t n_tags;
	struct cm_instance *instances;
	size_t n_instances;
	int64_t revision;
	bool fetched; /* instances fetched anew */
	int r;	      /* the first failure, or 0 */
	char *error_text;
};

struct ns_work {
	struct refresh *rf;
	struct cm_namespace *ns;   /* full: as ListNamespaces gave it (owned); light: prev */
	struct cm_namespace *prev; /* borrowed, or NULL */
	struct cm_service **listed;
	size_t n_listed;
	int list_r;
	char *error_text;
	struct svc_work *svcs;
	size_t n_svcs;
};

struct refresh {
	struct aws_client *client;
	const struct discovery_options *opts;
	const struct inventory *prev;
	struct discovery_stats *stats;
	struct cm_namespace **listed; /* full: every namespace ListNamespaces gave */
	size_t n_listed;
	struct ns_work *nws;
	size_t n_nws;
	struct inventory *inv; /* being assembled */
	int oom;
};

/* "Operation: Code: message" or "Operation: strerror" for an error list. */
static char *describe(const char *operation, int result, const struct aws_error *e)
{
	struct buf b;

	buf_init(&b, 512);
	if (e && e->code[0])
		buf_printf(&b, "%s: %s%s%s", operation, e->code, e->message[0] ? ": " : "",
			   e->message);
	else
		buf_printf(&b, "%s: %s", operation, strerror(result < 0 ? -result : result));
	return buf_steal(&b, NULL);
}

static int add_error(struct refresh *rf, const char *ns, const char *svc, char *text)
{
	struct inventory *inv = rf->inv;
	struct inventory_error *e;

	e = realloc(inv->errors, (inv->n_errors + 1) * sizeof(*e));
	if (!e) {
		free(text);
		return -ENOMEM;
	}
	inv->errors = e;
	e = &e[inv->n_errors++];
	e->namespace_name = ns ? strdup(ns) : NULL;
	e->service_name = svc ? strdup(svc) : NULL;
	e->text = text;
	if ((ns && !e->namespace_name) || (svc && !e->service_name) || !text)
		return -ENOMEM;
	return 0;
}

/* ---- the calls of one service ---- */

static void svc_fail(struct svc_work *sw, const char *operation, int r, const struct aws_error *e)
{
	if (sw->r < 0)
		return; /* the first failure says what went wrong */
	sw->r = r;
	sw->error_text = describe(operation, r, e);
}

static void submit(struct svc_work *sw, struct aws_call *call, enum aws_service service,
		   const char *operation, json_t *input, aws_call_done_fn done)
{
	int r;

	*call = (struct aws_call){ .service = service,
				   .operation = operation,
				   .input = input,
				   .done = done,
				   .userdata = sw };
	r = input ? aws_client_submit(sw->nw->rf->client, call) : -ENOMEM;
	if (r < 0) {
		json_decref(input);
		svc_fail(sw, operation, r, NULL);
	}
}

static void on_tags(struct aws_call *call, void *userdata)
{
	struct svc_work *sw = userdata;
	int r = call->result;

	if (r == 0)
		r = cloudmap_parse_tags(call->output, &sw->tags, &sw->n_tags);
	json_decref(call->output);
	if (r < 0)
		svc_fail(sw, call->operation, r, &call->error);
}

static void on_instances(struct aws_call *call, void *userdata)
{
	struct svc_work *sw = userdata;
	int r = call->result;

	if (r == 0)
		r = cloudmap_parse_instances(call->output, &sw->instances, &sw->n_instances,
					     &sw->revision);
	json_decref(call->output);
	if (r < 0) {
		svc_fail(sw, call->operation, r, &call->error);
		return;
	}
	sw->fetched = true;
	sw->nw->rf->stats->services_fetched++;
	sw->nw->rf->stats->confirmed++;
	if (sw->n_instances >= CLOUDMAP_DISCOVER_MAX)
		sw->nw->rf->stats->services_truncated++;
}

static void fetch_instances(struct svc_work *sw)
{
	const struct discovery_options *o = sw->nw->rf->opts;
	const struct cm_namespace *ns = sw->nw->ns;
	const char *name = sw->listed ? sw->listed->name : sw->prev->name;

	submit(sw, &sw->inst_call, AWS_SERVICE_SERVICEDISCOVERY_DATA, "DiscoverInstances",
	       cloudmap_discover_input(ns->http_name, name, o->health_status, ns->owner),
	       on_instances);
}

static void on_revision(struct aws_call *call, void *userdata)
{
	struct svc_work *sw = userdata;
	int64_t revision;
	int r = call->result;

	if (r == 0)
		r = cloudmap_parse_revision(call->output, &revision);
	json_decref(call->output);
	if (r < 0) {
		svc_fail(sw, call->operation, r, &call->error);
		return;
	}
	if (revision == sw->prev->revision) {
		sw->nw->rf->stats->services_unchanged++;
		sw->nw->rf->stats->confirmed++;
		return;
	}
	fetch_instances(sw);
}

/* Full refresh: the tags and instances of a service just listed. */
static void start_service_full(struct svc_work *sw)
{
	if (sw->listed->arn)
		submit(sw, &sw->tags_call, AWS_SERVICE_SERVICEDISCOVERY, "ListTagsForResource",
		       cloudmap_list_tags_input(sw->listed->arn), on_tags);
	fetch_instances(sw);
}

/* Light refresh: has the service's revision moved? */
static void start_service_light(struct svc_work *sw)
{
	const struct cm_namespace *ns = sw->nw->ns;

	submit(sw, &sw->rev_call, AWS_SERVICE_SERVICEDISCOVERY_DATA, "DiscoverInstancesRevision",
	       cloudmap_revision_input(ns->http_name, sw->prev->name, ns->owner), on_revision);
}

/* ---- the services of one namespace ---- */

static int on_services_page(void *userdata, json_t *page)
{
	struct ns_work *nw = userdata;

	return cloudmap_parse_services(page, &nw->listed, &nw->n_listed);
}

static void on_services_done(void *userdata, int result, const struct aws_error *error)
{
	struct ns_work *nw = userdata;
	size_t i;

	if (result < 0) {
		nw->list_r = result;
		nw->error_text = describe("ListServices", result, error);
		return;
	}
	nw->svcs = calloc(nw->n_listed ? nw->n_listed : 1, sizeof(*nw->svcs));
	if (!nw->svcs) {
		nw->rf->oom = -ENOMEM;
		return;
	}
	if (nw->n_listed == 0)
		nw->rf->stats->confirmed++; /* an empty namespace, confirmed empty */
	nw->n_svcs = nw->n_listed;
	for (i = 0; i < nw->n_svcs; i++) {
		struct svc_work *sw = &nw->svcs[i];

		sw->nw = nw;
		sw->listed = nw->listed[i];
		nw->listed[i] = NULL;
		sw->prev = nw->prev ? cm_namespace_find_service(nw->prev, sw->listed->id) : NULL;
		start_service_full(sw);
	}
}

static void start_namespace_full(struct ns_work *nw)
{
	const char *ref = nw->ns->arn ? nw->ns->arn : nw->ns->id;
	int r;

	r = aws_paginate(nw->rf->client, AWS_SERVICE_SERVICEDISCOVERY, "ListServices",
			 cloudmap_list_services_input(ref), on_services_page, on_services_done, nw);
	if (r < 0) {
		nw->list_r = r;
		nw->error_text = describe("ListServices", r, NULL);
	}
}

static void start_namespace_light(struct ns_work *nw)
{
	size_t i;

	nw->svcs = calloc(nw->prev->n_services ? nw->prev->n_services : 1, sizeof(*nw->svcs));
	if (!nw->svcs) {
		nw->rf->oom = -ENOMEM;
		return;
	}
	nw->n_svcs = nw->prev->n_services;
	for (i = 0; i < nw->n_svcs; i++) {
		nw->svcs[i].nw = nw;
		nw->svcs[i].prev = nw->prev->services[i];
		start_service_light(&nw->svcs[i]);
	}
}

/* ---- which namespaces ---- */

/* The names in the SSM parameter; on failure the error is recorded. */
static int read_names_parameter(struct refresh *rf, char ***ret_names, size_t *ret_n)
{
	const char *param = rf->opts->namespaces_parameter;
	struct aws_error e = { .code = "" };
	json_t *out = NULL;
	char *value = NULL, *text;
	int r;

	r = aws_client_call(rf->client, AWS_SERVICE_SSM, "GetParameter",
			    ssm_get_parameter_input(param), &out, &e);
	if (r < 0) {
		text = describe("GetParameter", r, &e);
		return add_error(rf, NULL, NULL, text) < 0 ? -ENOMEM : r;
	}
	r = ssm_parse_parameter(out, &value);
	json_decref(out);
	if (r == 0)
		r = cloudmap_parse_name_list(value, ret_names, ret_n);
	free(value);
	if (r == -EINVAL || r == -EBADMSG || r == -E2BIG) {
		struct buf b;

		buf_init(&b, 512);
		buf_printf(&b,
			   "GetParameter: parameter %s does not hold a comma-separated list of "
			   "namespace names",
			   param);
		return add_error(rf, NULL, NULL, buf_steal(&b, NULL)) < 0 ? -ENOMEM : r;
	}
	return r;
}

struct listing {
	struct refresh *rf;
	int r;
	struct aws_error error;
};

static int on_namespaces_page(void *userdata, json_t *page)
{
	struct refresh *rf = ((struct listing *)userdata)->rf;

	return cloudmap_parse_namespaces(page, &rf->listed, &rf->n_listed);
}

static void on_namespaces_done(void *userdata, int result, const struct aws_error *error)
{
	struct listing *l = userdata;

	l->r = result;
	l->error = *error;
}

/* Lists every namespace into rf->listed; on failure records the error. */
static int list_namespaces(struct refresh *rf)
{
	struct listing l = { .rf = rf, .r = -ECANCELED };
	int r;

	r = aws_paginate(rf->client, AWS_SERVICE_SERVICEDISCOVERY, "ListNamespaces",
			 cloudmap_list_namespaces_input(), on_namespaces_page, on_namespaces_done,
			 &l);
	if (r == 0) {
		aws_client_run(rf->client);
		r = l.r;
	}
	if (r < 0 && add_error(rf, NULL, NULL, describe("ListNamespaces", r, &l.error)) < 0)
		return -ENOMEM;
	return r;
}

static bool name_in(char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* The previous inventory's namespace names: what to watch when the SSM
 * parameter cannot be read. */
static int names_of(const struct inventory *inv, char ***ret, size_t *ret_n)
{
	char **names = calloc(inv->n_namespaces + 1, sizeof(*names));
	size_t i;

	if (!names)
		return -ENOMEM;
	for (i = 0; i < inv->n_namespaces; i++) {
		names[i] = strdup(inv->namespaces[i]->name);
		if (!names[i]) {
			cloudmap_name_list_free(names);
			return -ENOMEM;
		}
	}
	*ret = names;
	*ret_n = inv->n_namespaces;
	return 0;
}

/* Makes one ns_work per listed namespace that is watched (all when
 * n_names is 0). */
static int select_namespaces(struct refresh *rf, char *const *names, size_t n_names)
{
	size_t i, j;

	rf->nws = calloc(rf->n_listed ? rf->n_listed : 1, sizeof(*rf->nws));
	if (!rf->nws)
		return -ENOMEM;
	for (i = 0; i < rf->n_listed; i++) {
		struct ns_work *nw = &rf->nws[rf->n_nws];

		if (n_names && !name_in(names, n_names, rf->listed[i]->name))
			continue;
		nw->rf = rf;
		nw->ns = cm_namespace_ref(rf->listed[i]);
		if (rf->prev)
			nw->prev = inventory_find_namespace(rf->prev, nw->ns->id);
		rf->n_nws++;
	}
	for (j = 0; j < n_names; j++) {
		for (i = 0; i < rf->n_nws && strcmp(rf->nws[i].ns->name, names[j]) != 0; i++)
			;
		if (i == rf->n_nws)
			rf->stats->namespaces_missing++;
	}
	return 0;
}

/* Works out which namespaces to watch. Returns 0, or a negative errno when
 * they cannot be determined (the error is recorded). */
static int find_namespaces(struct refresh *rf)
{
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if (rf->opts->namespaces_parameter) {
		r = read_names_parameter(rf, &names, &n);
		if (r == -ENOMEM)
			return r;
		/* Keep watching what we watched: the parameter's failure is
		 * recorded, and the refresh goes on with the last names. */
		if (r < 0 && rf->prev)
			r = names_of(rf->prev, &names, &n);
		if (r == 0 && n == 0)
			r = -ENOENT; /* no names is not "every namespace" */
		if (r < 0) {
			cloudmap_name_list_free(names);
			return r;
		}
	}
	r = list_namespaces(rf);
	if (r == 0)
		r = names ? select_namespaces(rf, names, n)
			  : select_namespaces(rf, rf->opts->namespaces, rf->opts->n_namespaces);
	cloudmap_name_list_free(names);
	return r;
}

/* ---- assembling the new inventory ---- */

static int kv_copy(const struct kv *src, size_t n, struct kv **ret)
{
	struct kv *kv = calloc(n ? n : 1, sizeof(*kv));
	size_t i;

	if (!kv)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		kv[i].key = strdup(src[i].key);
		kv[i].value = strdup(src[i].value);
		if (!kv[i].key || !kv[i].value) {
			kv_array_free(kv, n);
			return -ENOMEM;
		}
	}
	*ret = kv;
	return 0;
}

/* A new service: prev's identity and tags with the instances just fetched. */
static int service_renewed(struct svc_work *sw, struct cm_service **ret)
{
	struct cm_service *s = calloc(1, sizeof(*s)), *prev = sw->prev;

	if (!s)
		return -ENOMEM;
	s->refcount = 1;
	s->id = strdup(prev->id);
	s->name = strdup(prev->name);
	s->arn = prev->arn ? strdup(prev->arn) : NULL;
	if (!s->id || !s->name || (prev->arn && !s->arn) ||
	    kv_copy(prev->tags, prev->n_tags, &s->tags) < 0) {
		cm_service_unref(s);
		return -ENOMEM;
	}
	s->n_tags = prev->n_tags;
	*ret = s;
	return 0;
}

/* The service the new inventory holds for sw (NULL: none), taking what the
 * work fetched. What equals the previous service is the previous object, so
 * that an unchanged service keeps its pointer from one inventory to the
 * next. */
static int service_from(struct svc_work *sw, struct cm_service **ret)
{
	struct cm_service *s;
	int r;

	if (sw->r < 0 || !sw->fetched) {
		*ret = cm_service_ref(sw->prev); /* failed, or unchanged */
		return 0;
	}
	if (sw->listed) {
		s = sw->listed;
		sw->listed = NULL;
		s->tags = sw->tags;
		s->n_tags = sw->n_tags;
		sw->tags = NULL;
		sw->n_tags = 0;
	} else {
		r = service_renewed(sw, &s);
		if (r < 0)
			return r;
	}
	s->instances = sw->instances;
	s->n_instances = sw->n_instances;
	sw->instances = NULL;
	sw->n_instances = 0;
	s->revision = sw->revision;
	if (sw->prev && cm_service_same(s, sw->prev)) {
		cm_service_unref(s);
		s = cm_service_ref(sw->prev);
	}
	*ret = s;
	return 0;
}

static int service_cmp(const void *a, const void *b)
{
	const struct cm_service *x = *(struct cm_service *const *)a;
	const struct cm_service *y = *(struct cm_service *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

static int namespace_cmp(const void *a, const void *b)
{
	const struct cm_namespace *x = *(struct cm_namespace *const *)a;
	const struct cm_namespace *y = *(struct cm_namespace *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

/* A new namespace object with prev's identity and no services. */
static struct cm_namespace *namespace_renewed(const struct cm_namespace *prev)
{
	struct cm_namespace *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	ns->refcount = 1;
	ns->id = strdup(prev->id);
	ns->name = strdup(prev->name);
	ns->http_name = strdup(prev->http_name);
	ns->type = strdup(prev->type);
	ns->arn = prev->arn ? strdup(prev->arn) : NULL;
	ns->owner = prev->owner ? strdup(prev->owner) : NULL;
	if (!ns->id || !ns->name || !ns->http_name || !ns->type || (prev->arn && !ns->arn) ||
	    (prev->owner && !ns->owner))
		return cm_namespace_unref(ns);
	return ns;
}

static bool namespace_unchanged(const struct ns_work *nw)
{
	size_t i;

	if (nw->ns != nw->prev)
		return false; /* a full refresh builds every namespace anew */
	for (i = 0; i < nw->n_svcs; i++)
		if (nw->svcs[i].r < 0 || nw->svcs[i].fetched)
			return false;
	return true;
}

/* Fills ns->services from the work; records the services that failed. */
static int fill_services(struct ns_work *nw, struct cm_namespace *ns)
{
	struct refresh *rf = nw->rf;
	size_t i;
	int r;

	ns->services = calloc(nw->n_svcs ? nw->n_svcs : 1, sizeof(*ns->services));
	if (!ns->services)
		return -ENOMEM;
	for (i = 0; i < nw->n_svcs; i++) {
		struct svc_work *sw = &nw->svcs[i];
		struct cm_service *s = NULL;

		if (sw->r < 0) {
			r = add_error(rf, ns->name, sw->listed ? sw->listed->name : sw->prev->name,
				      sw->error_text);
			sw->error_text = NULL;
			if (r < 0)
				return r;
		}
		r = service_from(sw, &s);
		if (r < 0)
			return r;
		if (s)
			ns->services[ns->n_services++] = s;
	}
	qsort(ns->services, ns->n_services, sizeof(*ns->services), service_cmp);
	return 0;
}

static int namespace_from(struct ns_work *nw, struct cm_namespace **ret)
{
	struct cm_namespace *ns;
	int r;

	if (nw->list_r < 0) {
		r = add_error(nw->rf, nw->ns->name, NULL, nw->error_text);
		nw->error_text = NULL;
		*ret = cm_namespace_ref(nw->prev ? nw->prev : nw->ns);
		return r;
	}
	if (namespace_unchanged(nw)) {
		*ret = cm_namespace_ref(nw->prev);
		return 0;
	}
	/* A full refresh's namespace is fresh from ListNamespaces and not yet
	 * shared with any published inventory: it can take its services. */
	ns = nw->ns != nw->prev ? cm_namespace_ref(nw->ns) : namespace_renewed(nw->prev);
	if (!ns)
		return -ENOMEM;
	r = fill_services(nw, ns);
	if (r < 0) {
		cm_namespace_unref(ns);
		return r;
	}
	*ret = ns;
	return 0;
}

static int assemble(struct refresh *rf)
{
	struct inventory *inv = rf->inv;
	size_t i;
	int r;

	inv->namespaces = calloc(rf->n_nws ? rf->n_nws : 1, sizeof(*inv->namespaces));
	if (!inv->namespaces)
		return -ENOMEM;
	for (i = 0; i < rf->n_nws; i++) {
		r = namespace_from(&rf->nws[i], &inv->namespaces[inv->n_namespaces]);
		if (inv->namespaces[inv->n_namespaces])
			inv->n_namespaces++;
		if (r < 0)
			return r;
	}
	qsort(inv->namespaces, inv->n_namespaces, sizeof(*inv->namespaces), namespace_cmp);
	return 0;
}

/* On failure: the previous namespaces, as they were. */
static int keep_previous(struct refresh *rf)
{
	struct inventory *inv = rf->inv;
	size_t i, n = rf->prev ? rf->prev->n_namespaces : 0;

	inv->namespaces = calloc(n ? n : 1, sizeof(*inv->namespaces));
	if (!inv->namespaces)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		inv->namespaces[i] = cm_namespace_ref(rf->prev->namespaces[i]);
	inv->n_namespaces = n;
	return 0;
}

/* ---- one refresh ---- */

static void svc_work_done(struct svc_work *sw)
{
	size_t i;

	cm_service_unref(sw->listed);
	kv_array_free(sw->tags, sw->n_tags);
	for (i = 0; i < sw->n_instances; i++)
		cm_instance_done(&sw->instances[i]);
	free(sw->instances);
	free(sw->error_text);
}

static void refresh_done(struct refresh *rf)
{
	size_t i, j;

	for (i = 0; i < rf->n_nws; i++) {
		struct ns_work *nw = &rf->nws[i];

		for (j = 0; j < nw->n_svcs; j++)
			svc_work_done(&nw->svcs[j]);
		free(nw->svcs);
		for (j = 0; j < nw->n_listed; j++)
			cm_service_unref(nw->listed[j]);
		free(nw->listed);
		free(nw->error_text);
		cm_namespace_unref(nw->ns);
	}
	free(rf->nws);
	for (i = 0; i < rf->n_listed; i++)
		cm_namespace_unref(rf->listed[i]);
	free(rf->listed);
}

/* Light refresh: the previous inventory's namespaces, revisions checked. */
static int start_light(struct refresh *rf)
{
	const struct inventory *prev = rf->prev;
	size_t i;

	rf->nws = calloc(prev->n_namespaces ? prev->n_namespaces : 1, sizeof(*rf->nws));
	if (!rf->nws)
		return -ENOMEM;
	for (i = 0; i < prev->n_namespaces; i++) {
		struct ns_work *nw = &rf->nws[rf->n_nws++];

		nw->rf = rf;
		nw->ns = cm_namespace_ref(prev->namespaces[i]);
		nw->prev = prev->namespaces[i];
		start_namespace_light(nw);
	}
	return 0;
}

static int start_full(struct refresh *rf)
{
	size_t i;
	int r;

	r = find_namespaces(rf);
	if (r < 0)
		return r;
	for (i = 0; i < rf->n_nws; i++)
		start_namespace_full(&rf->nws[i]);
	return 0;
}

int discovery_refresh(struct aws_client *client, const struct discovery_options *opts,
		      const struct inventory *prev, bool full, int64_t now_unix,
		      struct inventory **ret, struct discovery_stats *stats)
{
	struct refresh rf = {
		.client = client,
		.opts = opts,
		.prev = prev,
		.stats = stats,
	};
	int r, result;

	memset(stats, 0, sizeof(*stats));
	rf.inv = calloc(1, sizeof(*rf.inv));
	if (!rf.inv)
		return -ENOMEM;
	rf.inv->built_at_unix = now_unix;
	r = full || !prev ? start_full(&rf) : start_light(&rf);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		result = DISCOVERY_FAILED;
		r = keep_previous(&rf);
		goto out;
	}
	aws_client_run(client);
	r = rf.oom < 0 ? rf.oom : assemble(&rf);
	if (!rf.inv->n_errors)
		result = DISCOVERY_OK;
	else if (stats->confirmed)
		result = DISCOVERY_PARTIAL;
	else
		result = DISCOVERY_FAILED; /* nothing confirmed: nothing is fresh */
out:
	refresh_done(&rf);
	if (r < 0) {
		inventory_free(rf.inv);
		return r;
	}
	*ret = rf.inv;
	return result;
}
