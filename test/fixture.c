/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture: builders for hand-written inventories in tests. See fixture.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

char *fixture_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

void *fixture_realloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		abort();
	return p;
}

struct kv *fixture_kvs(const char *const *pairs, size_t *ret_n)
{
	struct kv *kv = NULL;
	size_t n = 0;

	for (; pairs[0]; pairs += 2) {
		kv = fixture_realloc(kv, (n + 1) * sizeof(*kv));
		kv[n].key = fixture_strdup(pairs[0]);
		kv[n].value = fixture_strdup(pairs[1]);
		n++;
	}
	kv_array_sort(kv, n);
	*ret_n = n;
	return kv;
}
