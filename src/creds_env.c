/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_env: credentials from the environment (AWS_ACCESS_KEY_ID and
 * friends). See include/creds_providers.h. One thread at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "creds_providers.h"

struct creds_env {
	struct creds_provider base;
	const struct creds_context *ctx;
};

static int creds_env_fetch(struct creds_provider *p, struct creds **ret, struct creds_failure *why)
{
	const struct creds_context *ctx = ((struct creds_env *)p)->ctx;
	const char *id = creds_getenv(ctx, "AWS_ACCESS_KEY_ID");
	const char *secret = creds_getenv(ctx, "AWS_SECRET_ACCESS_KEY");
	const char *token = creds_getenv(ctx, "AWS_SESSION_TOKEN");
	const char *expiration = creds_getenv(ctx, "AWS_CREDENTIAL_EXPIRATION");
	int64_t expires = 0;

	if (!id && !secret)
		return -ENOENT;
	if (!id || !secret)
		return -EINVAL;
	if (!token)
		token = creds_getenv(ctx, "AWS_SECURITY_TOKEN");
	if (expiration && creds_parse_iso8601(expiration, strlen(expiration), &expires) < 0)
		return -EINVAL;
	return creds_new(id, secret, token, expires, "environment", ret);
}

static void creds_env_free(struct creds_provider *p)
{
	free(p);
}

struct creds_provider *creds_env_new(const struct creds_context *ctx)
{
	struct creds_env *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->base.name = "environment";
	e->base.fetch = creds_env_fetch;
	e->base.free = creds_env_free;
	e->ctx = ctx;
	return &e->base;
}
