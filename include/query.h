/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query: the query string of /targets, parsed into a filter.
 *
 *   namespace=NAME     repeatable: the targets of any of these namespaces
 *   service=NAME       repeatable: the targets of any of these services
 *   shard=I&shards=N   the targets whose __address__ Prometheus's hashmod
 *                      relabel action (modulus N) puts in shard I
 *
 * Keys combine with AND, the values of one key with OR. The string is
 * decoded as application/x-www-form-urlencoded: '&' separates the pairs
 * (empty ones are skipped), '=' a key from its value, '+' is a space and
 * %XX a byte, in keys and values alike. A query is refused with a one-line
 * reason for: an unknown key, a '%' not followed by two hex digits, an
 * empty value or one holding a NUL byte, shard or shards not decimal
 * digits (or past 2^64-1), either given twice or without the other,
 * shards 0, shard >= shards, or more than QUERY_MAX_VALUES values.
 *
 * Pure: no I/O, no globals. A query is owned by one thread at a time.
 */
#ifndef CLOUDMAP_QUERY_H
#define CLOUDMAP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERY_MAX_VALUES 256 /* namespace and service values together */
#define QUERY_WHY_MAX	 128 /* room for the reason of a refusal */

struct query {
	const char **namespaces; /* decoded, in the order given */
	size_t n_namespaces;
	const char **services; /* decoded, in the order given */
	size_t n_services;
	bool sharded;	 /* shard and shards were given */
	uint64_t shard;	 /* < shards */
	uint64_t shards; /* >= 1 */
	char *storage;	 /* private: the decoded text the values point into */
};

/* Parses raw, the query string as sent (the bytes after '?', not decoded;
 * NULL or "" for none). Returns 0 and a new query in *ret (the caller frees
 * it with query_free()); -EINVAL with the reason in why, or -ENOMEM. why
 * (at least QUERY_WHY_MAX bytes) receives a NUL-terminated line of
 * printable ASCII without quotes or backslashes, which is safe to put in a
 * JSON string as it is; it is left alone on success and on -ENOMEM. */
int query_parse(const char *raw, struct query **ret, char *why);

/* Frees q; accepts NULL; returns NULL. */
struct query *query_free(struct query *q);

/* Whether q leaves any target out (it has a key at all). */
bool query_filters(const struct query *q);

/* Whether the target of namespace ns and service svc (exact, byte for byte)
 * whose address has the hashmod hash address_hash (see
 * snapshot_address_hash()) passes q. */
bool query_match(const struct query *q, const char *ns, const char *svc, uint64_t address_hash);

#endif
