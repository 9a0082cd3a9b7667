/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture: small builders for inventories written by hand in tests
 * (test-targets, test-partcache). They abort on ENOMEM: a test has no
 * better answer.
 */
#ifndef CLOUDMAP_TEST_FIXTURE_H
#define CLOUDMAP_TEST_FIXTURE_H

#include <stddef.h>

#include "inventory.h"

/* NULL-terminated lists: KV("key", "value", ...) and the empty one. */
#define KV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE	((const char *const[]){ NULL })

/* strdup() and realloc() that abort on ENOMEM. */
char *fixture_strdup(const char *s);
void *fixture_realloc(void *p, size_t n);

/* A new array of the pairs "key", "value", ..., NULL, sorted by key
 * (kv_array_sort()), and its length in *ret_n. */
struct kv *fixture_kvs(const char *const *pairs, size_t *ret_n);

#endif
