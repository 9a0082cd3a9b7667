/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_query: query_parse() (query.h), the parser of the /targets query
 * string, which any HTTP client controls. The input is the raw query (the
 * bytes after '?'), cut at a NUL byte as the server hands it over.
 *
 * Checked: only the documented returns; *ret and why untouched unless
 * they should be set; a refusal's reason printable ASCII without quotes or
 * backslashes inside QUERY_WHY_MAX; on success the caps and the shard
 * bounds, query_filters() agreeing with the keys, and query_match()
 * accepting the query's own first namespace, service and shard while
 * refusing an empty name when there is a list to match.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "query.h"

#define FUZZ_SENTINEL ((struct query *)0x5a5a)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static void fuzz_query_why(const char *why)
{
	size_t i, n = strnlen(why, QUERY_WHY_MAX);

	FUZZ_CHECK(n > 0 && n < QUERY_WHY_MAX);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(why[i] >= 0x20 && why[i] < 0x7f && why[i] != '"' && why[i] != '\\');
}

static void fuzz_query_values(const char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		FUZZ_CHECK(v[i] && v[i][0]);
}

static void fuzz_query_check(const struct query *q)
{
	const char *ns = q->n_namespaces ? q->namespaces[0] : "any";
	const char *svc = q->n_services ? q->services[0] : "any";
	uint64_t hash = q->sharded ? q->shard : 12345;

	FUZZ_CHECK(q->n_namespaces + q->n_services <= QUERY_MAX_VALUES);
	fuzz_query_values(q->namespaces, q->n_namespaces);
	fuzz_query_values(q->services, q->n_services);
	FUZZ_CHECK(!q->sharded || (q->shards >= 1 && q->shard < q->shards));
	FUZZ_CHECK(query_filters(q) == (q->n_namespaces || q->n_services || q->sharded));
	FUZZ_CHECK(query_match(q, ns, svc, hash));
	FUZZ_CHECK(!q->n_namespaces || !query_match(q, "", svc, hash));
	FUZZ_CHECK(!q->n_services || !query_match(q, ns, "", hash));
	FUZZ_CHECK(!q->sharded || q->shards == 1 || !query_match(q, ns, svc, hash + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = strndup((const char *)data, size), why[QUERY_WHY_MAX];
	struct query *q = FUZZ_SENTINEL;
	int r;

	if (!raw)
		return 0;
	memset(why, 0x5a, sizeof(why));
	r = query_parse(raw, &q, why);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		fuzz_query_why(why);
	else
		FUZZ_CHECK(why[0] == 0x5a && why[QUERY_WHY_MAX - 1] == 0x5a);
	if (r < 0)
		FUZZ_CHECK(q == FUZZ_SENTINEL);
	else
		fuzz_query_check(q);
	if (r == 0)
		FUZZ_CHECK(query_free(q) == NULL);
	free(raw);
	return 0;
}
