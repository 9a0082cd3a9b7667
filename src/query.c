/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query: parses the query string of /targets into a filter. See
 * include/query.h.
 *
 * The raw string is copied once into the query's storage and decoded there
 * in place (decoding only shortens), so every value is a pointer into that
 * one allocation. Called by the HTTP threads, each on its own query.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

#define QUERY_ECHO_MAX 40 /* longest key repeated in a refusal */

/* What the parser has seen of shard and shards. */
struct query_state {
	bool have_shard;
	bool have_shards;
};

static int query_refuse(char *why, const char *reason)
{
	snprintf(why, QUERY_WHY_MAX, "%s", reason);
	return -EINVAL;
}

/* Whether key may be repeated in a refusal: short, and only characters
 * that need no escaping anywhere. */
static bool query_echo_safe(const char *key)
{
	size_t n = strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789._~-");

	return n > 0 && key[n] == '\0' && n <= QUERY_ECHO_MAX;
}

static int query_refuse_key(char *why, const char *reason, const char *key)
{
	if (!query_echo_safe(key))
		return query_refuse(why, reason);
	snprintf(why, QUERY_WHY_MAX, "%s: %s", reason, key);
	return -EINVAL;
}

static int query_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s in place: '+' to a space, %XX to its byte. Returns 0, or
 * -EINVAL for a bad escape or an escaped NUL. */
static int query_decode(char *s)
{
	char *out = s;
	int hi, lo;

	for (; *s; s++) {
		if (*s == '+') {
			*out++ = ' ';
			continue;
		}
		if (*s != '%') {
			*out++ = *s;
			continue;
		}
		hi = query_hex(s[1]);
		lo = hi < 0 ? -1 : query_hex(s[2]);
		if (lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		*out++ = (char)(hi << 4 | lo);
		s += 2;
	}
	*out = '\0';
	return 0;
}

/* Decimal digits only, no sign, at most 2^64-1. */
static int query_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

static int query_set_number(const char *key, const char *value, bool *seen, uint64_t *dest,
			    char *why)
{
	if (*seen)
		return query_refuse_key(why, "query parameter given twice", key);
	if (query_parse_u64(value, dest) < 0)
		return query_refuse_key(why, "not a decimal number", key);
	*seen = true;
	return 0;
}

static int query_add_name(struct query *q, const char *key, const char *value, char *why)
{
	if (q->n_namespaces + q->n_services >= QUERY_MAX_VALUES)
		return query_refuse(why, "too many query parameters");
	if (strcmp(key, "namespace") == 0)
		q->namespaces[q->n_namespaces++] = value;
	else
		q->services[q->n_services++] = value;
	return 0;
}

/* One pair, already split at its '=' (value "" when there was none). */
static int query_add_pair(struct query *q, struct query_state *st, char *key, char *value,
			  char *why)
{
	if (query_decode(key) < 0 || query_decode(value) < 0)
		return query_refuse(why, "bad percent-escape in the query");
	if (strcmp(key, "namespace") != 0 && strcmp(key, "service") != 0 &&
	    strcmp(key, "shard") != 0 && strcmp(key, "shards") != 0)
		return query_refuse_key(why, "unknown query parameter", key);
	if (!*value)
		return query_refuse_key(why, "empty value for query parameter", key);
	if (strcmp(key, "shard") == 0)
		return query_set_number(key, value, &st->have_shard, &q->shard, why);
	if (strcmp(key, "shards") == 0)
		return query_set_number(key, value, &st->have_shards, &q->shards, why);
	return query_add_name(q, key, value, why);
}

static int query_check_shard(struct query *q, const struct query_state *st, char *why)
{
	if (!st->have_shard && !st->have_shards)
		return 0;
	if (!st->have_shard || !st->have_shards)
		return query_refuse(why, "shard and shards go together");
	if (q->shards == 0)
		return query_refuse(why, "shards must be at least 1");
	if (q->shard >= q->shards)
		return query_refuse(why, "shard must be less than shards");
	q->sharded = true;
	return 0;
}

/* Splits q->storage at '&' and each pair at its first '='. */
static int query_split(struct query *q, char *why)
{
	struct query_state st = { 0 };
	char *pair, *next, *eq;
	int r;

	for (pair = q->storage; pair; pair = next) {
		next = strchr(pair, '&');
		if (next)
			*next++ = '\0';
		if (!*pair)
			continue;
		eq = strchr(pair, '=');
		if (eq)
			*eq++ = '\0';
		r = query_add_pair(q, &st, pair, eq ? eq : pair + strlen(pair), why);
		if (r < 0)
			return r;
	}
	return query_check_shard(q, &st, why);
}

/* An empty query with room for every pair raw may hold. */
static struct query *query_new(const char *raw)
{
	size_t pairs = 1, i;
	struct query *q;

	for (i = 0; raw[i]; i++)
		pairs += raw[i] == '&';
	if (pairs > QUERY_MAX_VALUES + 2)
		pairs = QUERY_MAX_VALUES + 2;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->storage = strdup(raw);
	q->namespaces = calloc(pairs, sizeof(*q->namespaces));
	q->services = calloc(pairs, sizeof(*q->services));
	if (!q->storage || !q->namespaces || !q->services)
		return query_free(q);
	return q;
}

int query_parse(const char *raw, struct query **ret, char *why)
{
	struct query *q;
	int r;

	q = query_new(raw ? raw : "");
	if (!q)
		return -ENOMEM;
	r = query_split(q, why);
	if (r < 0) {
		query_free(q);
		return r;
	}
	*ret = q;
	return 0;
}

struct query *query_free(struct query *q)
{
	if (!q)
		return NULL;
	free(q->namespaces);
	free(q->services);
	free(q->storage);
	free(q);
	return NULL;
}

bool query_filters(const struct query *q)
{
	return q->n_namespaces > 0 || q->n_services > 0 || q->sharded;
}

static bool query_in(const char *const *values, size_t n, const char *name)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (strcmp(values[i], name) == 0)
			return true;
	return false;
}

bool query_match(const struct query *q, const char *ns, const char *svc, uint64_t address_hash)
{
	if (q->sharded && address_hash % q->shards != q->shard)
		return false;
	return query_in(q->namespaces, q->n_namespaces, ns) &&
	       query_in(q->services, q->n_services, svc);
}
