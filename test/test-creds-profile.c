/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the shared-files provider over the fixtures in
 * test/creds/profile/ and a fake environment: profile selection, the
 * credentials file winning over the config file, "[profile NAME]" only in
 * the config file, repeated profiles, the sources that are not supported,
 * file locations ($HOME, "~/", variables), missing, malformed and oversized
 * files, CRLF, and web identity named from a profile.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "creds_providers.h"
#include "test.h"

#include "creds/fake.h"

#define WEBID_OK                                                                            \
	"<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>" \
	"<AccessKeyId>AKID_STS</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"           \
	"<SessionToken>T</SessionToken><Expiration>2023-11-14T23:13:20Z</Expiration>"       \
	"</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"

struct fixture {
	struct fake_world w;
	char credentials[512], config[512];
};

/* A world whose files are the fixtures, for profile (NULL: default). */
static int setup(struct fixture *f, const char *profile)
{
	int r = fake_world_init(&f->w);

	if (r < 0)
		return r;
	snprintf(f->credentials, sizeof(f->credentials), "%s",
		 test_path("creds/profile/credentials"));
	snprintf(f->config, sizeof(f->config), "%s", test_path("creds/profile/config"));
	fake_setenv(&f->w, "AWS_SHARED_CREDENTIALS_FILE", f->credentials);
	fake_setenv(&f->w, "AWS_CONFIG_FILE", f->config);
	fake_setenv(&f->w, "AWS_PROFILE", profile);
	return 0;
}

static int fetch(struct fake_world *w, struct creds **ret)
{
	struct creds_provider *p = creds_profile_new(&w->ctx);
	int r;

	if (!p)
		return -ENOMEM;
	r = creds_provider_fetch(p, ret);
	creds_provider_free(p);
	return r;
}

/* Fetches profile from the fixtures; returns "KEY/SECRET/TOKEN" or the
 * error, in a static buffer. */
static const char *fetch_profile(const char *profile)
{
	static char out[256];
	struct creds *c = NULL;
	struct fixture f;
	int r;

	r = setup(&f, profile);
	if (r == 0)
		r = fetch(&f.w, &c);
	if (r < 0)
		snprintf(out, sizeof(out), "error %d", r);
	else
		snprintf(out, sizeof(out), "%s/%s/%s", c->access_key_id, c->secret_access_key,
			 c->session_token ? c->session_token : "-");
	if (c && strcmp(c->provider, "profile") != 0)
		snprintf(out, sizeof(out), "provider %s", c->provider);
	creds_unref(c);
	fake_world_done(&f.w);
	return out;
}

static void test_default_profile(void)
{
	/* [default] is in both files: the credentials file wins. */
	CHECK_STR(fetch_profile(NULL), "AKID_CRED_DEFAULT/SECRET_CRED_DEFAULT/-");
	CHECK_STR(fetch_profile("default"), "AKID_CRED_DEFAULT/SECRET_CRED_DEFAULT/-");
}

static void test_credentials_file_wins_whole(void)
{
	/* The three keys come from one file: no stale config token mixed in,
	 * and "[profile both]" of the credentials file is another profile. */
	CHECK_STR(fetch_profile("both"), "AKID_CRED_BOTH/SECRET_CRED_BOTH/-");
}

static void test_session_tokens(void)
{
	CHECK_STR(fetch_profile("token"), "AKID_TOKEN/SECRET_TOKEN/TOKEN_TOKEN");
	CHECK_STR(fetch_profile("legacy"), "AKID_LEGACY/SECRET_LEGACY/LEGACY_TOKEN");
}

static void test_config_file_profiles(void)
{
	CHECK_STR(fetch_profile("config-only"), "AKID_CONFIG_ONLY/SECRET_CONFIG_ONLY/-");
	CHECK_STR(fetch_profile("tabbed"), "AKID_TABBED/SECRET_TABBED/-");
	CHECK_STR(fetch_profile("config-bare"), "error -2"); /* no "profile " prefix */
}

static void test_repeated_profile_merges(void)
{
	CHECK_STR(fetch_profile("repeated"), "NEW/SECRET_REPEATED/-");
}

static void test_not_configured(void)
{
	CHECK_STR(fetch_profile("region-only"), "error -2");
	CHECK_STR(fetch_profile("nowhere"), "error -2"); /* named, but in neither file */
}

static void test_broken_and_unsupported(void)
{
	CHECK_STR(fetch_profile("half"), "error -22");
	CHECK_STR(fetch_profile("sso"), "error -95");
	CHECK_STR(fetch_profile("process"), "error -95");
	CHECK_STR(fetch_profile("assume"), "error -95");
	CHECK_STR(fetch_profile("ec2-source"), "error -95");
	CHECK_STR(fetch_profile("role-alone"), "error -22");
	/* botocore's order: the credentials file's keys before the process. */
	CHECK_STR(fetch_profile("static-and-process"), "AKID_STATIC/SECRET_STATIC/-");
}

static void test_home_locations(void)
{
	struct creds *c = NULL;
	struct fake_world w;
	char home[512];

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	CHECK_INT(fetch(&w, &c), -ENOENT); /* no HOME, no variables */
	snprintf(home, sizeof(home), "%s", test_path("creds/profile/home"));
	fake_setenv(&w, "HOME", home);
	CHECK_INT(fetch(&w, &c), 0);
	CHECK_STR(c->access_key_id, "AKID_HOME");
	c = creds_unref(c);
	fake_setenv(&w, "AWS_PROFILE", "home-config");
	CHECK_INT(fetch(&w, &c), 0);
	CHECK_STR(c->access_key_id, "AKID_HOME_CONFIG");
	c = creds_unref(c);
	fake_setenv(&w, "AWS_PROFILE", NULL);
	fake_setenv(&w, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/missing");
	CHECK_INT(fetch(&w, &c), -ENOENT); /* "~/" is HOME: the file is missing */
	fake_setenv(&w, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials");
	CHECK_INT(fetch(&w, &c), 0);
	CHECK_STR(c->access_key_id, "AKID_HOME");
	creds_unref(c);
}

static void test_missing_and_special_files(void)
{
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, NULL), 0);
	fake_world_done(&f.w);
	fake_setenv(&f.w, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
	CHECK_INT(fetch(&f.w, &c), 0); /* the config file's [default] */
	CHECK_STR(c->access_key_id, "AKID_CONFIG_DEFAULT");
	c = creds_unref(c);
	fake_setenv(&f.w, "AWS_CONFIG_FILE", "/dev/null");
	CHECK_INT(fetch(&f.w, &c), -ENOENT);
	fake_setenv(&f.w, "AWS_CONFIG_FILE", "/");
	CHECK_INT(fetch(&f.w, &c), -ENOENT);
}

static void test_malformed_file(void)
{
	struct creds *c = NULL;
	struct fixture f;
	char path[512];

	CHECK_INT(setup(&f, NULL), 0);
	fake_world_done(&f.w);
	snprintf(path, sizeof(path), "%s", test_path("creds/profile/malformed"));
	fake_setenv(&f.w, "AWS_CONFIG_FILE", path);
	CHECK_INT(fetch(&f.w, &c), -EBADMSG);
}

static void test_oversized_file(void)
{
	size_t n = CREDS_SHARED_FILE_MAX_BYTES + 1;
	struct creds *c = NULL;
	const char *path;
	struct fixture f;
	char *text;

	CHECK_INT(setup(&f, NULL), 0);
	text = malloc(n + 1);
	CHECK(text != NULL);
	memset(text, '#', n);
	text[n] = '\0';
	path = fake_file(&f.w, "big", text);
	free(text);
	CHECK(path != NULL);
	fake_setenv(&f.w, "AWS_CONFIG_FILE", path);
	CHECK_INT(fetch(&f.w, &c), -EFBIG);
	fake_world_done(&f.w);
}

static void test_crlf_file(void)
{
	struct creds *c = NULL;
	const char *path;
	struct fixture f;

	CHECK_INT(setup(&f, "crlf"), 0);
	path = fake_file(&f.w, "credentials",
			 "[crlf]\r\naws_access_key_id = AKID_CRLF\r\n"
			 "aws_secret_access_key = SECRET_CRLF\r\n");
	CHECK(path != NULL);
	fake_setenv(&f.w, "AWS_SHARED_CREDENTIALS_FILE", path);
	CHECK_INT(fetch(&f.w, &c), 0);
	fake_world_done(&f.w);
	CHECK_STR(c->access_key_id, "AKID_CRLF");
	CHECK_STR(c->secret_access_key, "SECRET_CRLF");
	creds_unref(c);
}

static void test_web_identity_profile(void)
{
	char config[1024], want[512];
	const char *token, *path;
	struct creds *c = NULL;
	struct fixture f;

	CHECK_INT(setup(&f, "web"), 0);
	token = fake_file(&f.w, "token", "TOKEN-1");
	CHECK(token != NULL);
	snprintf(config, sizeof(config),
		 "[profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\n"
		 "web_identity_token_file = %s\nrole_session_name = sess\n"
		 "aws_access_key_id = IGNORED\naws_secret_access_key = IGNORED\n",
		 token);
	path = fake_file(&f.w, "config", config);
	CHECK(path != NULL);
	fake_setenv(&f.w, "AWS_CONFIG_FILE", path);
	fake_route(&f.w, "POST", "https://sts.test/", 200, WEBID_OK);
	CHECK_INT(fetch(&f.w, &c), 0);
	fake_world_done(&f.w);
	CHECK_STR(c->access_key_id, "AKID_STS");
	CHECK_STR(c->provider, "profile-web-identity");
	CHECK_INT(f.w.http.n_requests, 1);
	snprintf(want, sizeof(want),
		 "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
		 "&RoleArn=arn%%3Aaws%%3Aiam%%3A%%3A123456789012%%3Arole%%2Fweb"
		 "&RoleSessionName=sess&WebIdentityToken=TOKEN-1");
	CHECK_STR(f.w.http.requests[0].body, want);
	creds_unref(c);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_default_profile),
			 TEST_CASE(test_credentials_file_wins_whole),
			 TEST_CASE(test_session_tokens), TEST_CASE(test_config_file_profiles),
			 TEST_CASE(test_repeated_profile_merges), TEST_CASE(test_not_configured),
			 TEST_CASE(test_broken_and_unsupported), TEST_CASE(test_home_locations),
			 TEST_CASE(test_missing_and_special_files), TEST_CASE(test_malformed_file),
			 TEST_CASE(test_oversized_file), TEST_CASE(test_crlf_file),
			 TEST_CASE(test_web_identity_profile));
}
