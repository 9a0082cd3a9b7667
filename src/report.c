/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report: the last refresh's report and its store. See include/report.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "report.h"

static char *dup_or_null(const char *s, int *r)
{
	char *p = s ? strdup(s) : NULL;

	if (s && !p)
		*r = -ENOMEM;
	return p;
}

static int copy_errors(struct refresh_report *rep, const struct inventory *inv)
{
	size_t i;
	int r = 0;

	rep->errors = calloc(inv->n_errors ? inv->n_errors : 1, sizeof(*rep->errors));
	if (!rep->errors)
		return -ENOMEM;
	rep->n_errors = inv->n_errors;
	for (i = 0; i < inv->n_errors; i++) {
		rep->errors[i].namespace_name = dup_or_null(inv->errors[i].namespace_name, &r);
		rep->errors[i].service_name = dup_or_null(inv->errors[i].service_name, &r);
		rep->errors[i].text = dup_or_null(inv->errors[i].text, &r);
	}
	return r;
}

static void count(struct refresh_report *rep, const struct inventory *inv)
{
	size_t i, j;

	rep->namespaces = (unsigned)inv->n_namespaces;
	for (i = 0; i < inv->n_namespaces; i++) {
		rep->services += (unsigned)inv->namespaces[i]->n_services;
		for (j = 0; j < inv->namespaces[i]->n_services; j++)
			rep->instances += (unsigned)inv->namespaces[i]->services[j]->n_instances;
	}
}

int report_new(const struct inventory *inv, struct refresh_report **ret)
{
	struct refresh_report *rep = calloc(1, sizeof(*rep));
	int r = 0;

	if (!rep)
		return -ENOMEM;
	atomic_init(&rep->refcount, 1);
	rep->kind = "full";
	rep->result = "failure";
	if (inv) {
		count(rep, inv);
		r = copy_errors(rep, inv);
	}
	if (r < 0) {
		report_unref(rep);
		return r;
	}
	*ret = rep;
	return 0;
}

struct refresh_report *report_ref(struct refresh_report *r)
{
	if (r)
		atomic_fetch_add_explicit(&r->refcount, 1, memory_order_relaxed);
	return r;
}

struct refresh_report *report_unref(struct refresh_report *r)
{
	size_t i;

	if (!r || atomic_fetch_sub_explicit(&r->refcount, 1, memory_order_acq_rel) != 1)
		return NULL;
	for (i = 0; i < r->n_errors; i++) {
		free(r->errors[i].namespace_name);
		free(r->errors[i].service_name);
		free(r->errors[i].text);
	}
	free(r->errors);
	free(r);
	return NULL;
}

void report_store_init(struct report_store *st)
{
	pthread_mutex_init(&st->lock, NULL);
	st->current = NULL;
}

void report_store_done(struct report_store *st)
{
	st->current = report_unref(st->current);
	pthread_mutex_destroy(&st->lock);
}

struct refresh_report *report_store_get(struct report_store *st)
{
	struct refresh_report *r;

	pthread_mutex_lock(&st->lock);
	r = report_ref(st->current);
	pthread_mutex_unlock(&st->lock);
	return r;
}

void report_store_publish(struct report_store *st, struct refresh_report *next)
{
	struct refresh_report *old;

	pthread_mutex_lock(&st->lock);
	old = st->current;
	st->current = next;
	pthread_mutex_unlock(&st->lock);
	report_unref(old); /* may free: outside the lock */
}
