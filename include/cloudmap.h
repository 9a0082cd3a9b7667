/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloudmap: the Cloud Map (and SSM) requests discovery makes, and the
 * parsers of their answers into inventory objects.
 *
 * Pure functions: request inputs are new JSON objects shaped as botocore's
 * servicediscovery model wants them; parsers read a borrowed answer and
 * either fill their outputs completely or leave them untouched. Every count
 * and string a peer controls is capped (CLOUDMAP_MAX_*): past a cap a parser
 * fails with -E2BIG rather than grow without bound. Fuzzed (fuzz/).
 */
#ifndef CLOUDMAP_CLOUDMAP_H
#define CLOUDMAP_CLOUDMAP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "inventory.h"

#define CLOUDMAP_LIST_PAGE_SIZE	     100  /* ListNamespaces, ListServices: the API's max */
#define CLOUDMAP_DISCOVER_MAX	     1000 /* DiscoverInstances: the API's max */
#define CLOUDMAP_MAX_NAMESPACES	     10000
#define CLOUDMAP_MAX_SERVICES	     10000 /* per namespace */
#define CLOUDMAP_MAX_KV		     256   /* tags per service, attributes per instance */
#define CLOUDMAP_MAX_STRING	     4096  /* any one name, id, key or value */
#define CLOUDMAP_MAX_NAMESPACE_NAMES 256   /* names in --cloudmap.namespaces or its parameter */
#define SSM_MAX_VALUE		     8192  /* an advanced parameter's limit */

/* Request inputs: new references, or NULL on ENOMEM. */
json_t *cloudmap_list_namespaces_input(void);
/* ns_ref: the namespace's ARN (needed for shared namespaces) or id. */
json_t *cloudmap_list_services_input(const char *ns_ref);
json_t *cloudmap_list_tags_input(const char *arn);
/* health: HEALTHY, UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL; owner may be NULL. */
json_t *cloudmap_discover_input(const char *http_name, const char *service, const char *health,
				const char *owner);
json_t *cloudmap_revision_input(const char *http_name, const char *service, const char *owner);
json_t *ssm_get_parameter_input(const char *name);

/* Appends the namespaces of one ListNamespaces page to *arr (n entries,
 * grown with realloc), each new with one reference and no services.
 * Returns 0, -EBADMSG for a malformed page, -E2BIG past the caps, -ENOMEM;
 * on failure *arr and *n are as they were. */
int cloudmap_parse_namespaces(json_t *page, struct cm_namespace ***arr, size_t *n);

/* The same for one ListServices page: services with no tags or instances. */
int cloudmap_parse_services(json_t *page, struct cm_service ***arr, size_t *n);

/* Parses a ListTagsForResource answer into a new sorted array (each string
 * its own allocation: kv_array_free()). */
int cloudmap_parse_tags(json_t *answer, struct kv **ret, size_t *ret_n);

/* Parses a DiscoverInstances answer into a new array sorted by id, and its
 * InstancesRevision. Each instance is one block (cm_instance_init()): free
 * each with cm_instance_done(), then the array with free(). */
int cloudmap_parse_instances(json_t *answer, struct cm_instance **ret, size_t *ret_n,
			     int64_t *ret_revision);

/* Parses a DiscoverInstancesRevision answer. */
int cloudmap_parse_revision(json_t *answer, int64_t *ret_revision);

/* Parses a GetParameter answer: *ret is a new copy of Parameter.Value. */
int ssm_parse_parameter(json_t *answer, char **ret);

/* Splits a comma-separated list of namespace names (white space around
 * names trimmed; empty items, or more than CLOUDMAP_MAX_NAMESPACE_NAMES,
 * refused with -EINVAL) into a new NULL-terminated array of new strings.
 * An empty or blank list is -EINVAL too: "watch everything" is said by
 * giving no list, never by an empty parameter. */
int cloudmap_parse_name_list(const char *list, char ***ret, size_t *ret_n);

/* Frees a NULL-terminated array of strings; accepts NULL. */
void cloudmap_name_list_free(char **names);

#endif
