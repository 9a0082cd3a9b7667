/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_profile: credentials from the shared config and credentials files
 * (~/.aws/config, ~/.aws/credentials), decided in botocore's order. See
 * include/creds_providers.h for the rules and include/ini.h for the syntax.
 *
 * Both files are read on every fetch (the cache keeps fetches rare) and
 * wiped when done. One thread at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "creds.h"
#include "creds_providers.h"
#include "ini.h"

#define CREDS_PROFILE_MAX_PATH 4096

struct creds_profile {
	struct creds_provider base;
	const struct creds_context *ctx;
};

/* What one fetch reads. */
struct creds_profile_files {
	const char *profile;
	struct ini *credentials; /* NULL when absent */
	struct ini *config;	 /* NULL when absent */
};

/* The path in variable env, else $HOME/default_rel; "~/" expands to $HOME.
 * -ENOENT when it needs $HOME and there is none. */
static int creds_profile_path(const struct creds_context *ctx, const char *env,
			      const char *default_rel, char **ret)
{
	const char *v = creds_getenv(ctx, env), *home = creds_getenv(ctx, "HOME");
	struct buf b;
	char *p;
	int r;

	if (v && strncmp(v, "~/", 2) != 0)
		home = NULL;
	else if (!home)
		return -ENOENT;
	buf_init(&b, CREDS_PROFILE_MAX_PATH);
	r = home ? buf_printf(&b, "%s/%s", home, v ? v + 2 : default_rel) : buf_puts(&b, v);
	p = r < 0 ? NULL : buf_steal(&b, NULL);
	buf_done(&b);
	if (!p)
		return r < 0 ? r : -ENOMEM;
	*ret = p;
	return 0;
}

/* Parses the file at path; *ret is NULL when it is absent. A file that is
 * missing, unreadable or not a regular file (say /dev/null) is absent, as
 * botocore ignores it. */
static int creds_profile_load(const char *path, struct ini **ret)
{
	char *data;
	size_t len;
	int r;

	r = creds_read_file(path, CREDS_SHARED_FILE_MAX_BYTES, &data, &len);
	if (r == -ENOENT || r == -EACCES || r == -EPERM || r == -ENOTDIR || r == -EINVAL) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	r = ini_parse(data, len, ret);
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

static int creds_profile_load_one(const struct creds_context *ctx, const char *env,
				  const char *default_rel, struct ini **ret)
{
	char *path;
	int r;

	r = creds_profile_path(ctx, env, default_rel, &path);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	r = creds_profile_load(path, ret);
	free(path);
	return r;
}

static int creds_profile_load_files(const struct creds_context *ctx, struct creds_profile_files *f)
{
	int r;

	r = creds_profile_load_one(ctx, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials",
				   &f->credentials);
	if (r < 0)
		return r;
	return creds_profile_load_one(ctx, "AWS_CONFIG_FILE", ".aws/config", &f->config);
}

/* Whether section i names the profile: by its name in the credentials file;
 * as "[default]" or "[profile NAME]" in the config file. */
static int creds_profile_section_is(const struct ini *ini, int is_config, size_t i,
				    const char *profile)
{
	const char *s = ini_section_name(ini, i);

	if (!is_config)
		return strcmp(s, profile) == 0;
	if (strcmp(s, "default") == 0)
		return strcmp(profile, "default") == 0;
	if (strncmp(s, "profile", 7) != 0 || (s[7] != ' ' && s[7] != '\t'))
		return 0;
	for (s += 7; *s == ' ' || *s == '\t'; s++)
		;
	return strcmp(s, profile) == 0;
}

static int creds_profile_in(const struct ini *ini, int is_config, const char *profile)
{
	size_t i;

	for (i = 0; ini && i < ini_section_count(ini); i++)
		if (creds_profile_section_is(ini, is_config, i, profile))
			return 1;
	return 0;
}

/* The profile's value of key in one file (the last one when the profile
 * repeats), or NULL when absent or empty. Borrowed from ini. */
static const char *creds_profile_get_in(const struct ini *ini, int is_config, const char *profile,
					const char *key)
{
	const char *v, *last = NULL;
	size_t i;

	for (i = 0; ini && i < ini_section_count(ini); i++) {
		if (!creds_profile_section_is(ini, is_config, i, profile))
			continue;
		v = ini_section_get(ini, i, key);
		if (v && *v)
			last = v;
	}
	return last;
}

/* The profile's value of key, the credentials file first. */
static const char *creds_profile_get(const struct creds_profile_files *f, const char *key)
{
	const char *v = creds_profile_get_in(f->credentials, 0, f->profile, key);

	return v ? v : creds_profile_get_in(f->config, 1, f->profile, key);
}

/* Static keys, all three from the one file. */
static int creds_profile_static(const struct ini *ini, int is_config, const char *profile,
				struct creds **ret)
{
	const char *id = creds_profile_get_in(ini, is_config, profile, "aws_access_key_id");
	const char *secret = creds_profile_get_in(ini, is_config, profile, "aws_secret_access_key");
	const char *token = creds_profile_get_in(ini, is_config, profile, "aws_session_token");

	if (!id && !secret)
		return -ENOENT;
	if (!id || !secret)
		return -EINVAL;
	if (!token)
		token = creds_profile_get_in(ini, is_config, profile, "aws_security_token");
	return creds_new(id, secret, token, 0, "profile", ret);
}

static int creds_profile_assume_role(const struct creds_context *ctx,
				     const struct creds_profile_files *f, struct creds **ret,
				     struct creds_failure *why)
{
	const char *token_file = creds_profile_get(f, "web_identity_token_file");

	if (token_file)
		return creds_webid_assume_why(ctx, token_file, creds_profile_get(f, "role_arn"),
					      creds_profile_get(f, "role_session_name"),
					      "profile-web-identity", ret, why);
	if (creds_profile_get(f, "source_profile") || creds_profile_get(f, "credential_source"))
		return -EOPNOTSUPP; /* AssumeRole must be signed: not supported */
	return -EINVAL;
}

/* The sources a profile may name, in botocore's order. */
static int creds_profile_resolve(const struct creds_context *ctx,
				 const struct creds_profile_files *f, struct creds **ret,
				 struct creds_failure *why)
{
	int r;

	if (creds_profile_get(f, "role_arn"))
		return creds_profile_assume_role(ctx, f, ret, why);
	if (creds_profile_get(f, "sso_session") || creds_profile_get(f, "sso_start_url"))
		return -EOPNOTSUPP;
	r = creds_profile_static(f->credentials, 0, f->profile, ret);
	if (r != -ENOENT)
		return r;
	if (creds_profile_get(f, "credential_process"))
		return -EOPNOTSUPP;
	return creds_profile_static(f->config, 1, f->profile, ret);
}

static int creds_profile_fetch(struct creds_provider *p, struct creds **ret,
			       struct creds_failure *why)
{
	const struct creds_context *ctx = ((struct creds_profile *)p)->ctx;
	struct creds_profile_files f = { .profile = creds_getenv(ctx, "AWS_PROFILE") };
	int r;

	if (!f.profile)
		f.profile = "default";
	r = creds_profile_load_files(ctx, &f);
	if (r == 0 && !creds_profile_in(f.credentials, 0, f.profile) &&
	    !creds_profile_in(f.config, 1, f.profile))
		r = -ENOENT;
	if (r == 0)
		r = creds_profile_resolve(ctx, &f, ret, why);
	ini_free(f.credentials);
	ini_free(f.config);
	return r;
}

static void creds_profile_free(struct creds_provider *p)
{
	free(p);
}

struct creds_provider *creds_profile_new(const struct creds_context *ctx)
{
	struct creds_profile *cp = calloc(1, sizeof(*cp));

	if (!cp)
		return NULL;
	cp->base.name = "profile";
	cp->base.fetch = creds_profile_fetch;
	cp->base.free = creds_profile_free;
	cp->ctx = ctx;
	return &cp->base;
}
