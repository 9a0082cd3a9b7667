/* SPDX-License-Identifier: Apache-2.0 */
/*
 * targets: the rules that turn an inventory (what Cloud Map holds) into
 * Prometheus scrape targets with their labels.
 *
 * Rules (docs/TARGETS.md has the full table):
 *  - a service is scraped when it has the tag METRICS_PATH, or, when
 *    default_metrics_path is set, at that path; the instance attributes
 *    METRICS_PATH and METRICS_PORT override the tags for that instance;
 *  - address: AWS_INSTANCE_IPV4, else [AWS_INSTANCE_IPV6], and a port: the
 *    tag METRICS_PORT, else the attribute AWS_INSTANCE_PORT, else 80;
 *  - more endpoints per instance: "ecs" from the tags ECS_METRICS_PORT +
 *    ECS_METRICS_PATH, and "<name>" from METRICS_PORT_<name> +
 *    METRICS_PATH_<name>; the main one is "app";
 *  - optional __scheme__, __scrape_interval__, __scrape_timeout__ from the
 *    tags METRICS_SCHEME, SCRAPE_INTERVAL, SCRAPE_TIMEOUT (a bad value is
 *    left out, counted and noted);
 *  - the __meta_cloudmap_* labels, one per attribute and per tag with the key
 *    sanitized to [a-zA-Z0-9_]; of keys that sanitize alike, the original key
 *    first in byte order wins;
 *  - label values are valid UTF-8: each invalid byte becomes U+FFFD;
 *  - with legacy_labels, the Go side-car's cluster, service, taskdefinition,
 *    namespace and taskid.
 * Instances that cannot become a target are skipped, counted, and listed
 * with the reason (the status page answers "why is my task not scraped?").
 *
 * Memory: a target borrows every string it can from the inventory; only
 * strings built from pieces (addresses, prefixed label keys, repaired
 * values, details) are made, once, in storage the set owns. Identical label
 * keys are shared by all targets.
 *
 * Pure: a function of the inventory and the options. Refresher thread.
 */
#ifndef CLOUDMAP_TARGETS_H
#define CLOUDMAP_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inventory.h"

enum target_skip_reason {
	TARGET_SKIP_NO_METRICS_PATH, /* service not tagged METRICS_PATH, no default path */
	TARGET_SKIP_NO_ADDRESS,	     /* no usable AWS_INSTANCE_IPV4 / AWS_INSTANCE_IPV6 */
	TARGET_SKIP_BAD_PORT,	     /* the port is not a number in 1..65535 */
	TARGET_SKIP_BAD_PATH,	     /* the metrics path does not start with '/' */
	TARGET_SKIP_COUNT
};

/* "no_metrics_path", "no_address", "bad_port", "bad_path": metric label
 * values and status page keys. NULL for a value out of range. */
const char *target_skip_reason_name(enum target_skip_reason reason);

struct target_options {
	const char *default_metrics_path; /* NULL or "": scrape tagged services only */
	bool legacy_labels;
};

/* One label. Both strings are borrowed: from the inventory, from static
 * text, or from the set's own storage (freed with the set). */
struct target_label {
	const char *key;
	const char *value;
};

struct target {
	const char *address;		   /* "10.0.0.1:8080", "[fd00::1]:9100" */
	const struct target_label *labels; /* sorted by key (byte order); keys unique */
	size_t n_labels;
	const struct cm_namespace *ns; /* borrowed from the inventory */
	const struct cm_service *svc;  /* borrowed from the inventory */
	const char *instance_id;       /* borrowed from the inventory */
	const char *endpoint;	       /* "app", "ecs" or a name */
};

/* An instance that did not become a target; one per instance. */
struct target_skip {
	const struct cm_namespace *ns; /* borrowed */
	const struct cm_service *svc;  /* borrowed */
	const char *instance_id;       /* borrowed; always set */
	enum target_skip_reason reason;
	const char *detail; /* e.g. "attribute METRICS_PORT=\"abc\"", or NULL */
};

/* A problem in a scraped service's tags that skipped nothing: a bad knob, a
 * bad or half-declared extra endpoint, a tag key dropped in a collision.
 * For the refresher to log (library code does not). */
struct target_note {
	const struct cm_namespace *ns; /* borrowed */
	const struct cm_service *svc;  /* borrowed */
	const char *text;	       /* e.g. "SCRAPE_INTERVAL=\"15\": not a duration" */
};

/* Every service of the inventory, in order, with what became of it. */
struct target_service {
	const struct cm_namespace *ns; /* borrowed */
	const struct cm_service *svc;  /* borrowed */
	unsigned targets;	       /* targets (endpoints) built */
	unsigned skipped;	       /* instances skipped */
	unsigned invalid_knobs;	       /* the service's share of the set's counts */
	unsigned label_collisions;
	unsigned invalid_utf8;
};

struct target_arena;

/* What one build produced. Borrows from the inventory it was built from:
 * free it before the inventory. */
struct target_set {
	struct target *targets; /* in order: namespace, service, instance id, endpoint */
	size_t n_targets;
	struct target_skip *skips; /* in the same order */
	size_t n_skips;
	struct target_note *notes;
	size_t n_notes;
	struct target_service *services;
	size_t n_services;
	unsigned skipped[TARGET_SKIP_COUNT]; /* instances skipped, by reason */
	unsigned invalid_knobs;	    /* bad knob or extra-endpoint tags, once per service and tag */
	unsigned label_collisions;  /* keys dropped: tags once per service, attributes once
				      per instance */
	unsigned invalid_utf8;	    /* label values with invalid UTF-8 repaired: service values
				      once per service, instance values once per instance */
	struct target_arena *arena; /* private: the strings the set made */
};

/* Builds the targets of inv, which must keep the sort order inventory.h
 * promises (the output order follows it). Returns 0 and a new set in *ret,
 * or -ENOMEM. */
int targets_build(const struct inventory *inv, const struct target_options *opts,
		  struct target_set **ret);

/* The same for one service of a namespace: a set with one service. The
 * rules depend only on the namespace, the service and opts, so a service
 * that did not change builds the same targets again. */
int targets_build_service(const struct cm_namespace *ns, const struct cm_service *svc,
			  const struct target_options *opts, struct target_set **ret);

/* Frees a set; accepts NULL; returns NULL. */
struct target_set *target_set_free(struct target_set *ts);

/* Writes into out (size at least strlen(key) + 1) key with every character
 * outside [a-zA-Z0-9_] replaced by one '_', as Prometheus's own discoveries
 * do: a multi-byte UTF-8 character becomes one '_', and so does each byte
 * that is not valid UTF-8. */
void targets_sanitize_label(const char *key, char *out);

/* Parses a Prometheus duration as the tags SCRAPE_INTERVAL and SCRAPE_TIMEOUT
 * need it: one or more <digits><unit> with units from y, w, d, h, m, s, ms,
 * each at most once and in that order (1m30s, 500ms, 1h); not zero.
 * Returns 0 and *ret_ms, -EINVAL for anything else, -ERANGE when it does not
 * fit in Prometheus's duration (int64 nanoseconds). */
int targets_parse_duration(const char *s, uint64_t *ret_ms);

#endif
