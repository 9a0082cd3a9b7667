/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_filesd: filesd_parse() (filesd.h), the warm-start loader that reads
 * the file_sd targets file left by an earlier run (or put there by anyone
 * who can write that directory). The whole input is the file.
 *
 * Checked: only the documented returns; *ret untouched on failure and err
 * terminated; on success a warm-start snapshot whose JSON is an array with
 * one entry per group, each group's byte range a '{'...'}' inside it with
 * one target, names in range and the address hash hashmod would compute;
 * and a fixed point: parsing the snapshot's own JSON gives the same bytes.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "filesd.h"
#include "fuzz.h"
#include "snapshot.h"

#define FUZZ_SENTINEL	((struct snapshot *)0x5a5a)
#define FUZZ_FILESD_NOW 1700000000

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

/* One group: {"targets": [address], "labels": {...}}. */
static void fuzz_filesd_group(const struct snapshot *s, const struct snapshot_group *g)
{
	json_t *group, *targets;
	const char *address;
	uint64_t hash;

	const struct snapshot_part *p;
	const char *json;

	FUZZ_CHECK(g->part < s->n_parts);
	p = s->parts[g->part];
	FUZZ_CHECK(g->offset < p->json_len && g->len >= 2 && g->len <= p->json_len - g->offset);
	json = snapshot_group_json(s, g);
	FUZZ_CHECK(json[0] == '{' && json[g->len - 1] == '}');
	FUZZ_CHECK(g->namespace_idx < s->n_names && g->service_idx < s->n_names);
	group = json_loadb(json, g->len, 0, NULL);
	FUZZ_CHECK(group != NULL);
	targets = json_object_get(group, "targets");
	FUZZ_CHECK(json_array_size(targets) == 1);
	address = json_string_value(json_array_get(targets, 0));
	FUZZ_CHECK(address != NULL);
	if (snapshot_address_hash(address, strlen(address), &hash) == 0)
		FUZZ_CHECK(hash == g->address_hash);
	json_decref(group);
}

static void fuzz_filesd_check(const struct snapshot *s)
{
	struct snapshot *again = FUZZ_SENTINEL;
	char *json = NULL, *json_again = NULL;
	size_t i, len, len_again;
	json_t *all;

	FUZZ_CHECK(s->warm_start && s->refreshed_at_unix == FUZZ_FILESD_NOW);
	FUZZ_CHECK(snapshot_json_copy(s, &json, &len) == 0);
	FUZZ_CHECK(strlen(json) == len && len == s->json_len);
	all = json_loadb(json, len, 0, NULL);
	FUZZ_CHECK(json_is_array(all) && json_array_size(all) == s->n_groups);
	json_decref(all);
	for (i = 0; i < s->n_groups; i++)
		fuzz_filesd_group(s, &s->groups[i]);
	/* What it serves reads back to the same bytes (services now grouped). */
	FUZZ_CHECK(filesd_parse(json, len, FUZZ_FILESD_NOW, &again, NULL) == 0);
	FUZZ_CHECK(snapshot_json_copy(again, &json_again, &len_again) == 0);
	FUZZ_CHECK(len_again == len && memcmp(json_again, json, len) == 0);
	snapshot_unref(again);
	free(json_again);
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot *s = FUZZ_SENTINEL;
	struct filesd_error err;
	int r;

	memset(&err, 0x5a, sizeof(err));
	r = filesd_parse((const char *)data, size, FUZZ_FILESD_NOW, &s, &err);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EFBIG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(s == FUZZ_SENTINEL);
		FUZZ_CHECK(r == -ENOMEM || memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		return 0;
	}
	fuzz_filesd_check(s);
	FUZZ_CHECK(snapshot_unref(s) == NULL);
	return 0;
}
