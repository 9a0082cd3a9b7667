/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-query: the /targets query string parser. Tables of valid queries
 * with what they decode to, of refused ones with the exact reason, and the
 * matching rules (AND across keys, OR within one, hashmod shards).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "query.h"
#include "test.h"

static struct query *parse_ok(const char *raw)
{
	char why[QUERY_WHY_MAX] = "";
	struct query *q = NULL;
	int r;

	r = query_parse(raw, &q, why);
	if (r != 0)
		printf("# query_parse(\"%s\") = %d: %s\n", raw ? raw : "(null)", r, why);
	return q;
}

static void test_no_query(void)
{
	static const char *const empty[] = { NULL, "", "&", "&&&" };
	struct query *q;
	size_t i;

	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		q = parse_ok(empty[i]);
		CHECK(q != NULL);
		CHECK(!query_filters(q));
		CHECK(query_match(q, "any", "thing", 12345));
		query_free(q);
	}
	CHECK(query_free(NULL) == NULL);
}

static void test_repeated_keys_all_seen(void)
{
	struct query *q = parse_ok("namespace=a&service=x&namespace=b&namespace=c&service=y");

	CHECK(q != NULL);
	CHECK(query_filters(q));
	CHECK_INT(q->n_namespaces, 3);
	CHECK_STR(q->namespaces[0], "a");
	CHECK_STR(q->namespaces[1], "b");
	CHECK_STR(q->namespaces[2], "c");
	CHECK_INT(q->n_services, 2);
	CHECK_STR(q->services[0], "x");
	CHECK_STR(q->services[1], "y");
	CHECK(!q->sharded);
	query_free(q);
}

/* application/x-www-form-urlencoded: '+' is a space, %XX a byte, in keys
 * and values; empty pairs are skipped. */
static void test_decoding(void)
{
	struct query *q = parse_ok("&%6Eamespace=a+b%2Fc%2b&&service=%E6%97%A5%e6%9c%ac&");

	CHECK(q != NULL);
	CHECK_INT(q->n_namespaces, 1);
	CHECK_STR(q->namespaces[0], "a b/c+");
	CHECK_INT(q->n_services, 1);
	CHECK_STR(q->services[0], "\xe6\x97\xa5\xe6\x9c\xac");
	query_free(q);
	q = parse_ok("service=a=b"); /* only the first '=' splits */
	CHECK(q != NULL);
	CHECK_STR(q->services[0], "a=b");
	query_free(q);
}

static void test_shards(void)
{
	struct query *q = parse_ok("shards=4&shard=3");

	CHECK(q != NULL);
	CHECK(q->sharded && q->shard == 3 && q->shards == 4);
	CHECK(query_filters(q));
	CHECK(query_match(q, "n", "s", 7));
	CHECK(!query_match(q, "n", "s", 8));
	query_free(q);
	q = parse_ok("shard=0&shards=1"); /* one shard holds everything */
	CHECK(q != NULL);
	CHECK(query_match(q, "n", "s", 0) && query_match(q, "n", "s", UINT64_MAX));
	query_free(q);
	q = parse_ok("shard=18446744073709551614&shards=18446744073709551615&shard=");
	CHECK(q == NULL); /* given twice */
	q = parse_ok("shard=0018446744073709551614&shards=18446744073709551615");
	CHECK(q != NULL);
	CHECK(q->shard == UINT64_MAX - 1 && q->shards == UINT64_MAX);
	CHECK(query_match(q, "n", "s", UINT64_MAX - 1));
	CHECK(!query_match(q, "n", "s", UINT64_MAX)); /* UINT64_MAX % UINT64_MAX == 0 */
	query_free(q);
}

/* AND across keys, OR within a key. */
static void test_matching(void)
{
	struct query *q = parse_ok("namespace=a&namespace=b&service=web&shard=1&shards=2");

	CHECK(q != NULL);
	CHECK(query_match(q, "a", "web", 1));
	CHECK(query_match(q, "b", "web", 3));
	CHECK(!query_match(q, "c", "web", 1));	/* namespace */
	CHECK(!query_match(q, "a", "api", 1));	/* service */
	CHECK(!query_match(q, "a", "web", 2));	/* shard */
	CHECK(!query_match(q, "A", "web", 1));	/* exact bytes */
	CHECK(!query_match(q, "a", "web ", 1)); /* exact bytes */
	query_free(q);
}

struct refusal {
	const char *raw;
	const char *why;
};

static const struct refusal refusals[] = {
	{ "foo=1", "unknown query parameter: foo" },
	{ "namespace=a&Namespace=b", "unknown query parameter: Namespace" },
	{ "targets", "unknown query parameter: targets" },
	{ "a%22b=1", "unknown query parameter" }, /* a key with a quote is not repeated */
	{ "a%5Cb=1", "unknown query parameter" },
	{ "x%20y=1", "unknown query parameter" },
	{ "namespace=%zz", "bad percent-escape in the query" },
	{ "namespace=%2", "bad percent-escape in the query" },
	{ "namespace=a%", "bad percent-escape in the query" },
	{ "namespace=%%41", "bad percent-escape in the query" },
	{ "namespace=%00", "bad percent-escape in the query" },
	{ "name%g1space=a", "bad percent-escape in the query" },
	{ "namespace=", "empty value for query parameter: namespace" },
	{ "service", "empty value for query parameter: service" },
	{ "shard=1", "shard and shards go together" },
	{ "shards=2", "shard and shards go together" },
	{ "shard=0&shards=0", "shards must be at least 1" },
	{ "shard=2&shards=2", "shard must be less than shards" },
	{ "shard=5&shards=2", "shard must be less than shards" },
	{ "shard=1&shard=1&shards=2", "query parameter given twice: shard" },
	{ "shard=1&shards=2&shards=2", "query parameter given twice: shards" },
	{ "shard=-1&shards=2", "not a decimal number: shard" },
	{ "shard=%2B1&shards=2", "not a decimal number: shard" },
	{ "shard=+1&shards=2", "not a decimal number: shard" }, /* '+' is a space */
	{ "shard=1x&shards=2", "not a decimal number: shard" },
	{ "shard=0x1&shards=2", "not a decimal number: shard" },
	{ "shard=1&shards=2.0", "not a decimal number: shards" },
	{ "shard=1&shards=18446744073709551616", "not a decimal number: shards" },
	{ "shard=1&shards=99999999999999999999999", "not a decimal number: shards" },
	{ "shard=&shards=2", "empty value for query parameter: shard" },
};

static void test_refusals(void)
{
	char why[QUERY_WHY_MAX];
	struct query *sentinel = (struct query *)&why, *q;
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		q = sentinel;
		strcpy(why, "untouched");
		if (query_parse(refusals[i].raw, &q, why) != -EINVAL || q != sentinel ||
		    strcmp(why, refusals[i].why) != 0)
			TEST_FAIL("\"%s\": got \"%s\", want \"%s\"", refusals[i].raw, why,
				  refusals[i].why);
	}
}

/* A refusal is safe in a JSON string: no quotes, backslashes or control
 * characters, whatever the key. */
static void test_reason_safe_for_json(void)
{
	static const char *const raws[] = {
		"%22%5C%0A%01=1", "\"\\=1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1"
	};
	char why[QUERY_WHY_MAX];
	struct query *q = NULL;
	size_t i, j;

	for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		CHECK_INT(query_parse(raws[i], &q, why), -EINVAL);
		for (j = 0; why[j]; j++)
			CHECK(why[j] >= ' ' && why[j] < 0x7f && why[j] != '"' && why[j] != '\\');
		CHECK_STR(why, "unknown query parameter");
	}
}

static void test_too_many_values(void)
{
	char raw[QUERY_MAX_VALUES * 16], why[QUERY_WHY_MAX];
	struct query *q = NULL;
	size_t n = 0, i;

	for (i = 0; i < QUERY_MAX_VALUES; i++)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%sservice=s%zu", i ? "&" : "", i);
	q = parse_ok(raw);
	CHECK(q != NULL);
	CHECK_INT(q->n_services, QUERY_MAX_VALUES);
	CHECK_STR(q->services[QUERY_MAX_VALUES - 1], "s255");
	query_free(q);
	snprintf(raw + n, sizeof(raw) - n, "&namespace=one-more");
	q = NULL;
	CHECK_INT(query_parse(raw, &q, why), -EINVAL);
	CHECK_STR(why, "too many query parameters");
	CHECK(q == NULL);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_no_query), TEST_CASE(test_repeated_keys_all_seen),
			 TEST_CASE(test_decoding), TEST_CASE(test_shards), TEST_CASE(test_matching),
			 TEST_CASE(test_refusals), TEST_CASE(test_reason_safe_for_json),
			 TEST_CASE(test_too_many_values));
}
