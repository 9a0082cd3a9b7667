/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cloudmap: the parsers of Cloud Map and SSM answers (cloudmap.h).
 *
 * Input: one selector byte, then the answer. The selector's low three bits
 * choose the parser, so seeds can start with an ASCII digit:
 *   0 ListNamespaces   1 ListServices   2 ListTagsForResource
 *   3 DiscoverInstances   4 DiscoverInstancesRevision   5 SSM GetParameter
 *   6, 7 cloudmap_parse_name_list() (the answer taken as a C string)
 * The answer goes through json_loadb() with the flags the AWS client uses.
 * Checked beyond "no crash": the documented returns, outputs untouched on
 * failure, and what every success promises (caps, sorted arrays, names,
 * each instance in one block).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cloudmap.h"
#include "fuzz.h"
#include "inventory.h"

#define FUZZ_SENTINEL ((void *)0x5a5a)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static void fuzz_check_kv(const struct kv *kv, size_t n)
{
	size_t i;

	FUZZ_CHECK(n <= CLOUDMAP_MAX_KV);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(kv[i].key && kv[i].value && kv[i].key[0]);
		FUZZ_CHECK(strlen(kv[i].key) <= CLOUDMAP_MAX_STRING);
		FUZZ_CHECK(i == 0 || strcmp(kv[i - 1].key, kv[i].key) <= 0);
	}
}

/* A page appended to an array that already holds one entry (a NULL slot
 * here): the entry must stay, and on failure so must the count. */
static void fuzz_namespaces(json_t *root)
{
	struct cm_namespace **arr = calloc(1, sizeof(*arr));
	size_t n = 1, i;
	int r;

	if (!arr)
		return;
	r = cloudmap_parse_namespaces(root, &arr, &n);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
	FUZZ_CHECK(r == 0 || n == 1);
	FUZZ_CHECK(arr[0] == NULL);
	for (i = 1; i < n; i++) {
		FUZZ_CHECK(arr[i]->id[0] && arr[i]->name[0] && arr[i]->type[0]);
		FUZZ_CHECK(arr[i]->http_name && arr[i]->refcount == 1);
		cm_namespace_unref(arr[i]);
	}
	free(arr);
}

static void fuzz_services(json_t *root)
{
	struct cm_service **arr = calloc(1, sizeof(*arr));
	size_t n = 1, i;
	int r;

	if (!arr)
		return;
	r = cloudmap_parse_services(root, &arr, &n);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
	FUZZ_CHECK(r == 0 || n == 1);
	FUZZ_CHECK(arr[0] == NULL);
	for (i = 1; i < n; i++) {
		FUZZ_CHECK(arr[i]->id[0] && arr[i]->name[0] && arr[i]->refcount == 1);
		cm_service_unref(arr[i]);
	}
	free(arr);
}

static void fuzz_tags(json_t *root)
{
	struct kv *kv = FUZZ_SENTINEL;
	size_t n = 7;
	int r;

	r = cloudmap_parse_tags(root, &kv, &n);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(kv == FUZZ_SENTINEL && n == 7);
		return;
	}
	fuzz_check_kv(kv, n);
	kv_array_free(kv, n);
}

/* Whether [p, p + len] lies inside the block of size bytes at start. */
static int fuzz_within(const void *start, size_t size, const void *p, size_t len)
{
	const char *s = start, *q = p;

	return q >= s && q + len < s + size;
}

/* An instance is one block: its attrs array, then every string. */
static void fuzz_check_block(const struct cm_instance *in)
{
	size_t size = in->n_attrs * sizeof(struct kv) + strlen(in->id) + strlen(in->health) + 2;
	size_t i;

	for (i = 0; i < in->n_attrs; i++)
		size += strlen(in->attrs[i].key) + strlen(in->attrs[i].value) + 2;
	FUZZ_CHECK(in->block != NULL);
	FUZZ_CHECK(!in->n_attrs ||
		   fuzz_within(in->block, size, in->attrs, in->n_attrs * sizeof(struct kv) - 1));
	FUZZ_CHECK(fuzz_within(in->block, size, in->id, strlen(in->id)));
	FUZZ_CHECK(fuzz_within(in->block, size, in->health, strlen(in->health)));
	for (i = 0; i < in->n_attrs; i++) {
		FUZZ_CHECK(
		    fuzz_within(in->block, size, in->attrs[i].key, strlen(in->attrs[i].key)));
		FUZZ_CHECK(
		    fuzz_within(in->block, size, in->attrs[i].value, strlen(in->attrs[i].value)));
	}
}

static void fuzz_instances(json_t *root)
{
	struct cm_instance *in = FUZZ_SENTINEL;
	int64_t revision = -7;
	size_t n = 7, i;
	int r;

	r = cloudmap_parse_instances(root, &in, &n, &revision);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(in == FUZZ_SENTINEL && n == 7 && revision == -7);
		return;
	}
	FUZZ_CHECK(n <= CLOUDMAP_DISCOVER_MAX);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(in[i].id[0] && in[i].health);
		FUZZ_CHECK(i == 0 || strcmp(in[i - 1].id, in[i].id) <= 0);
		fuzz_check_kv(in[i].attrs, in[i].n_attrs);
		fuzz_check_block(&in[i]);
	}
	for (i = 0; i < n; i++)
		cm_instance_done(&in[i]);
	free(in);
}

static void fuzz_revision(json_t *root)
{
	int64_t revision = -7;
	int r;

	r = cloudmap_parse_revision(root, &revision);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK(r == 0 || revision == -7);
}

static void fuzz_parameter(json_t *root)
{
	char *value = FUZZ_SENTINEL;
	int r;

	r = ssm_parse_parameter(root, &value);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(value == FUZZ_SENTINEL);
		return;
	}
	FUZZ_CHECK(value[0] && strlen(value) <= SSM_MAX_VALUE);
	free(value);
}

static int fuzz_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void fuzz_name_list(const uint8_t *data, size_t size)
{
	char *list = strndup((const char *)data, size), **names = FUZZ_SENTINEL;
	size_t n = 7, i, len;
	int r;

	if (!list)
		return;
	r = cloudmap_parse_name_list(list, &names, &n);
	free(list);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(names == FUZZ_SENTINEL && n == 7);
		return;
	}
	FUZZ_CHECK(n >= 1 && n <= CLOUDMAP_MAX_NAMESPACE_NAMES && names[n] == NULL);
	for (i = 0; i < n; i++) {
		len = strlen(names[i]);
		FUZZ_CHECK(len > 0 && len <= CLOUDMAP_MAX_STRING && !strchr(names[i], ','));
		FUZZ_CHECK(!fuzz_is_blank(names[i][0]) && !fuzz_is_blank(names[i][len - 1]));
	}
	cloudmap_name_list_free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const parsers[])(json_t *) = {
		fuzz_namespaces, fuzz_services, fuzz_tags,
		fuzz_instances,	 fuzz_revision, fuzz_parameter,
	};
	unsigned which;
	json_t *root;

	if (size < 1)
		return 0;
	which = data[0] & 7;
	if (which >= sizeof(parsers) / sizeof(parsers[0])) {
		fuzz_name_list(data + 1, size - 1);
		return 0;
	}
	root = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	if (root)
		parsers[which](root);
	json_decref(root);
	return 0;
}
