/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_imds: credentials of the EC2 instance profile, from the instance
 * metadata service through include/imds.h. See include/creds_providers.h.
 *
 * The IMDS client is created on the first fetch and kept, so that its
 * session token is reused. One thread at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "creds.h"
#include "creds_providers.h"
#include "imds.h"

#define CREDS_IMDS_PATH		 "/latest/meta-data/iam/security-credentials/"
#define CREDS_IMDS_MAX_ROLE_LIST 4096
#define CREDS_IMDS_MAX_ROLE_NAME 128

struct creds_imds {
	struct creds_provider base;
	const struct creds_context *ctx;
	struct imds *imds; /* NULL until the first fetch */
};

/* Copies the first line of list, trimmed, into role; -EBADMSG when it is
 * empty, too long, or not a plausible role name (it becomes part of a
 * path). */
static int creds_imds_role_name(const char *list, char *role, size_t size)
{
	size_t n = strcspn(list, "\r\n"), i;

	while (n && (list[n - 1] == ' ' || list[n - 1] == '\t'))
		n--;
	if (!n || n >= size)
		return -EBADMSG;
	for (i = 0; i < n; i++)
		if (!strchr("+=,.@-_", list[i]) && !(list[i] >= 'a' && list[i] <= 'z') &&
		    !(list[i] >= 'A' && list[i] <= 'Z') && !(list[i] >= '0' && list[i] <= '9'))
			return -EBADMSG;
	memcpy(role, list, n);
	role[n] = '\0';
	return 0;
}

static int creds_imds_role(struct imds *m, char *role, size_t size)
{
	struct buf list;
	int r;

	buf_init(&list, CREDS_IMDS_MAX_ROLE_LIST);
	r = imds_get(m, CREDS_IMDS_PATH, &list);
	if (r == 0)
		r = creds_imds_role_name(list.data ? list.data : "", role, size);
	buf_done(&list);
	return r; /* -ENOENT (404): no instance profile, not configured */
}

static int creds_imds_get_creds(struct imds *m, const char *role, struct creds **ret)
{
	char path[sizeof(CREDS_IMDS_PATH) + CREDS_IMDS_MAX_ROLE_NAME];
	struct buf body;
	int r;

	snprintf(path, sizeof(path), "%s%s", CREDS_IMDS_PATH, role);
	buf_init(&body, CREDS_RESPONSE_MAX_BYTES);
	r = imds_get(m, path, &body);
	if (r == -ENOENT)
		r = -EPROTO; /* the role was listed: configured, so never -ENOENT */
	if (r == 0)
		r = creds_from_json(body.data ? body.data : "", body.len, "imds", ret);
	creds_buf_wipe(&body);
	return r;
}

static int creds_imds_fetch(struct creds_provider *p, struct creds **ret, struct creds_failure *why)
{
	struct creds_imds *ci = (struct creds_imds *)p;
	char role[CREDS_IMDS_MAX_ROLE_NAME];
	int r;

	if (!ci->imds) {
		r = imds_new(ci->ctx, &ci->imds);
		if (r < 0)
			return r; /* -ENOENT: disabled */
	}
	r = creds_imds_role(ci->imds, role, sizeof(role));
	if (r < 0)
		return r;
	return creds_imds_get_creds(ci->imds, role, ret);
}

static void creds_imds_free(struct creds_provider *p)
{
	struct creds_imds *ci = (struct creds_imds *)p;

	imds_free(ci->imds);
	free(ci);
}

struct creds_provider *creds_imds_new(const struct creds_context *ctx)
{
	struct creds_imds *ci = calloc(1, sizeof(*ci));

	if (!ci)
		return NULL;
	ci->base.name = "imds";
	ci->base.fetch = creds_imds_fetch;
	ci->base.free = creds_imds_free;
	ci->ctx = ctx;
	return &ci->base;
}
