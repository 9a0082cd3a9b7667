/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the credential core: struct creds, the ISO-8601 and JSON
 * helpers, the environment provider, the chain's order and policy, the
 * cache (expiry window, keeping valid credentials when a refresh fails,
 * back-off with and without valid credentials, failures answered from
 * memory, expired fresh credentials refused), creds_failure (which provider
 * failed, in what words), and creds_chain_new() end to end over a fake
 * environment, clock and transport.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "creds.h"
#include "creds_providers.h"
#include "test.h"

#include "creds/fake.h"

/*
 * A scripted provider: answers err, or credentials with key_id and
 * expires; counts its calls and its frees.
 */
struct script {
	struct creds_provider base;
	int err;
	const char *key_id;
	int64_t expires;
	int calls;
	int *freed;
};

static int script_fetch(struct creds_provider *p, struct creds **ret, struct creds_failure *why)
{
	struct script *s = (struct script *)p;

	s->calls++;
	if (s->err) {
		snprintf(why->detail, sizeof(why->detail), "failure %d", s->calls);
		return s->err;
	}
	return creds_new(s->key_id, "secret", NULL, s->expires, "script", ret);
}

static void script_free(struct creds_provider *p)
{
	struct script *s = (struct script *)p;

	if (s->freed)
		(*s->freed)++;
	free(s);
}

static struct script *script_new(int err, const char *key_id, int64_t expires, int *freed)
{
	struct script *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	*s = (struct script){ .base = { "script", script_fetch, script_free },
			      .err = err,
			      .key_id = key_id,
			      .expires = expires,
			      .freed = freed };
	return s;
}

static void test_creds_new_and_refcount(void)
{
	struct creds *c = NULL, *d;

	CHECK_INT(creds_new("", "s", NULL, 0, "t", &c), -EINVAL);
	CHECK_INT(creds_new("a", "", NULL, 0, "t", &c), -EINVAL);
	CHECK_INT(creds_new(NULL, "s", NULL, 0, "t", &c), -EINVAL);
	CHECK(c == NULL);
	CHECK_INT(creds_new("AKID", "SECRET", "", 42, "t", &c), 0);
	CHECK_STR(c->access_key_id, "AKID");
	CHECK_STR(c->secret_access_key, "SECRET");
	CHECK(c->session_token == NULL); /* an empty token is no token */
	CHECK_INT(c->expires_at_unix, 42);
	CHECK_STR(c->provider, "t");
	d = creds_ref(c);
	CHECK(d == c);
	CHECK_INT(atomic_load(&c->refcount), 2);
	CHECK(creds_unref(d) == NULL);
	CHECK_INT(atomic_load(&c->refcount), 1);
	CHECK(creds_unref(c) == NULL);
	CHECK(creds_unref(NULL) == NULL);
	CHECK(creds_ref(NULL) == NULL);
	CHECK_INT(creds_new("AKID", "SECRET", "TOKEN", 0, "t", &c), 0);
	CHECK_STR(c->session_token, "TOKEN");
	creds_unref(c);
}

static int64_t iso(const char *s)
{
	int64_t t = -1;

	return creds_parse_iso8601(s, strlen(s), &t) < 0 ? -1 : t;
}

static void test_iso8601(void)
{
	CHECK_INT(iso("1970-01-01T00:00:00Z"), 0);
	CHECK_INT(iso("2023-11-14T22:13:20Z"), 1700000000);
	CHECK_INT(iso("2023-11-14T22:13:20.123Z"), 1700000000);
	CHECK_INT(iso("2023-11-14t22:13:20z"), 1700000000);
	CHECK_INT(iso("2023-11-14T23:13:20+01:00"), 1700000000);
	CHECK_INT(iso("2023-11-14T21:13:20-0100"), 1700000000);
	CHECK_INT(iso("2024-02-29T00:00:00Z"), 1709164800);
	CHECK_INT(iso("2000-03-01T00:00:00Z"), 951868800);
	CHECK_INT(iso("2023-11-14 22:13:20Z"), -1);
	CHECK_INT(iso("2023-11-14T22:13:20"), -1);
	CHECK_INT(iso("2023-11-14T22:13:20Zjunk"), -1);
	CHECK_INT(iso("2023-13-14T22:13:20Z"), -1);
	CHECK_INT(iso("2023-11-14T24:00:00Z"), -1);
	CHECK_INT(iso("2023-1-14T22:13:20Z"), -1);
	CHECK_INT(iso(""), -1);
	CHECK_INT(iso("2023-11-14T22:13:2"), -1);
}

static void test_from_json(void)
{
	static const char good[] = "{\"Code\":\"Success\",\"AccessKeyId\":\"AKID\","
				   "\"SecretAccessKey\":\"SECRET\",\"Token\":\"TOKEN\","
				   "\"Expiration\":\"2023-11-14T23:13:20Z\"}";
	static const char no_token[] = "{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\","
				       "\"Expiration\":\"2023-11-14T23:13:20Z\"}";
	static const char failed[] = "{\"Code\":\"AssumeRoleUnauthorizedAccess\"}";
	static const char no_expiry[] = "{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\"}";
	static const char bad_expiry[] = "{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\","
					 "\"Expiration\":\"soon\"}";
	static const char empty_key[] = "{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\","
					"\"Expiration\":\"2023-11-14T23:13:20Z\"}";
	struct creds *c = NULL;

	CHECK_INT(creds_from_json(good, strlen(good), "x", &c), 0);
	CHECK_STR(c->access_key_id, "AKID");
	CHECK_STR(c->secret_access_key, "SECRET");
	CHECK_STR(c->session_token, "TOKEN");
	CHECK_INT(c->expires_at_unix, 1700003600);
	CHECK_STR(c->provider, "x");
	c = creds_unref(c);
	CHECK_INT(creds_from_json(no_token, strlen(no_token), "x", &c), 0);
	CHECK(c->session_token == NULL);
	c = creds_unref(c);
	CHECK_INT(creds_from_json(failed, strlen(failed), "x", &c), -EACCES);
	CHECK_INT(creds_from_json(no_expiry, strlen(no_expiry), "x", &c), -EBADMSG);
	CHECK_INT(creds_from_json(bad_expiry, strlen(bad_expiry), "x", &c), -EBADMSG);
	CHECK_INT(creds_from_json(empty_key, strlen(empty_key), "x", &c), -EBADMSG);
	CHECK_INT(creds_from_json("[1]", 3, "x", &c), -EBADMSG);
	CHECK_INT(creds_from_json("{\"AccessKeyId\":", 15, "x", &c), -EBADMSG);
	CHECK_INT(creds_from_json("", 0, "x", &c), -EBADMSG);
	CHECK(c == NULL);
}

static void test_creds_read_file(void)
{
	struct fake_world w;
	const char *path;
	char fifo[128], *text = NULL;
	size_t len = 0;

	CHECK_INT(fake_world_init(&w), 0);
	path = fake_file(&w, "f", "12345");
	CHECK(path != NULL);
	CHECK_INT(creds_read_file(path, 5, &text, &len), 0);
	CHECK_STR(text, "12345");
	CHECK_INT(len, 5);
	text = creds_secret_free(text);
	CHECK_INT(creds_read_file(path, 4, &text, &len), -EFBIG);
	CHECK_INT(creds_read_file("/nonexistent/f", 4, &text, &len), -ENOENT);
	CHECK_INT(creds_read_file(w.dir, 4096, &text, &len), -EINVAL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", w.dir);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	snprintf(w.files[w.n_files++], sizeof(w.files[0]), "%s", fifo);
	CHECK_INT(creds_read_file(fifo, 4096, &text, &len), -EINVAL); /* and no hang */
	CHECK(text == NULL);
	fake_world_done(&w);
}

/* Fetches from a fresh environment provider. */
static int env_fetch(struct fake_world *w, struct creds **ret)
{
	struct creds_provider *p = creds_env_new(&w->ctx);
	int r;

	if (!p)
		return -ENOMEM;
	r = creds_provider_fetch(p, ret);
	creds_provider_free(p);
	return r;
}

static void test_env(void)
{
	struct fake_world w;
	struct creds *c = NULL;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	CHECK_INT(env_fetch(&w, &c), -ENOENT);
	fake_setenv(&w, "AWS_ACCESS_KEY_ID", "AKID");
	CHECK_INT(env_fetch(&w, &c), -EINVAL); /* half a pair */
	fake_setenv(&w, "AWS_SECRET_ACCESS_KEY", "SECRET");
	CHECK_INT(env_fetch(&w, &c), 0);
	CHECK_STR(c->access_key_id, "AKID");
	CHECK_STR(c->secret_access_key, "SECRET");
	CHECK(c->session_token == NULL);
	CHECK_INT(c->expires_at_unix, 0);
	CHECK_STR(c->provider, "environment");
	c = creds_unref(c);
	fake_setenv(&w, "AWS_SECURITY_TOKEN", "LEGACY");
	CHECK_INT(env_fetch(&w, &c), 0);
	CHECK_STR(c->session_token, "LEGACY");
	c = creds_unref(c);
	fake_setenv(&w, "AWS_SESSION_TOKEN", "TOKEN");
	fake_setenv(&w, "AWS_CREDENTIAL_EXPIRATION", "2023-11-14T23:13:20Z");
	CHECK_INT(env_fetch(&w, &c), 0);
	CHECK_STR(c->session_token, "TOKEN"); /* wins over the legacy name */
	CHECK_INT(c->expires_at_unix, 1700003600);
	c = creds_unref(c);
	fake_setenv(&w, "AWS_CREDENTIAL_EXPIRATION", "tomorrow");
	CHECK_INT(env_fetch(&w, &c), -EINVAL);
}

static void test_env_empty_is_unset(void)
{
	struct fake_world w;
	struct creds *c = NULL;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	fake_setenv(&w, "AWS_ACCESS_KEY_ID", "");
	fake_setenv(&w, "AWS_SECRET_ACCESS_KEY", "");
	CHECK_INT(env_fetch(&w, &c), -ENOENT);
	fake_setenv(&w, "AWS_SECRET_ACCESS_KEY", "SECRET");
	CHECK_INT(env_fetch(&w, &c), -EINVAL);
	CHECK(c == NULL);
}

/*
 * The chain.
 */

static void test_chain_first_configured_decides(void)
{
	struct script *a = script_new(-ENOENT, NULL, 0, NULL);
	struct script *b = script_new(0, "B", 0, NULL);
	struct script *c = script_new(0, "C", 0, NULL);
	struct creds_provider *list[] = { &a->base, &b->base, &c->base };
	struct creds_provider *chain = creds_chain_of(list, 3);
	struct creds *got = NULL;

	CHECK(chain != NULL);
	CHECK_INT(creds_provider_fetch(chain, &got), 0);
	CHECK_STR(got->access_key_id, "B");
	CHECK_INT(a->calls, 1);
	CHECK_INT(b->calls, 1);
	CHECK_INT(c->calls, 0);
	creds_unref(got);
	creds_provider_free(chain);
}

static void test_chain_failure_stops(void)
{
	struct script *a = script_new(-ENOENT, NULL, 0, NULL);
	struct script *b = script_new(-EACCES, NULL, 0, NULL);
	struct script *c = script_new(0, "C", 0, NULL);
	struct creds_provider *list[] = { &a->base, &b->base, &c->base };
	struct creds_provider *chain = creds_chain_of(list, 3);
	struct creds *got = NULL;

	CHECK(chain != NULL);
	CHECK_INT(creds_provider_fetch(chain, &got), -EACCES);
	CHECK(got == NULL);
	CHECK_INT(c->calls, 0); /* no fall-through to another identity */
	creds_provider_free(chain);
}

static void test_chain_none_configured(void)
{
	int freed = 0;
	struct script *a = script_new(-ENOENT, NULL, 0, &freed);
	struct script *b = script_new(-ENOENT, NULL, 0, &freed);
	struct creds_provider *list[] = { &a->base, &b->base };
	struct creds_provider *chain = creds_chain_of(list, 2);
	struct creds *got = NULL;

	CHECK(chain != NULL);
	CHECK_INT(creds_provider_fetch(chain, &got), -ENOENT);
	CHECK_INT(a->calls + b->calls, 2);
	CHECK(creds_provider_free(chain) == NULL);
	CHECK_INT(freed, 2);
	CHECK(creds_provider_free(NULL) == NULL);
}

static void test_chain_of_steals_on_failure(void)
{
	int freed = 0;
	struct creds_provider *list[] = { &script_new(0, "A", 0, &freed)->base, NULL,
					  &script_new(0, "C", 0, &freed)->base };

	CHECK(creds_chain_of(list, 3) == NULL);
	CHECK_INT(freed, 2);
	CHECK(creds_cache_new(NULL, NULL) == NULL);
}

/*
 * The cache.
 */

struct cache_fixture {
	struct fake_world w;
	struct script *inner;
	struct creds_provider *cache;
	struct creds_failure why; /* of the last cache_fetch() */
};

static int cache_setup(struct cache_fixture *f, int64_t expires_in)
{
	int r = fake_world_init(&f->w);

	if (r < 0)
		return r;
	fake_world_done(&f->w);
	f->inner = script_new(0, "FIRST", expires_in ? f->w.now + expires_in : 0, NULL);
	f->cache = creds_cache_new(&f->w.ctx, f->inner ? &f->inner->base : NULL);
	return f->cache ? 0 : -ENOMEM;
}

/* Fetches and returns the key id served (in a static buffer), or the
 * error as text. */
static const char *cache_fetch(struct cache_fixture *f)
{
	static char out[64];
	struct creds *c = NULL;
	int r;

	r = creds_provider_fetch_why(f->cache, &c, &f->why);
	if (r < 0)
		snprintf(out, sizeof(out), "error %d", r);
	else
		snprintf(out, sizeof(out), "%s", c->access_key_id);
	creds_unref(c);
	return out;
}

static void test_cache_without_expiry_is_kept(void)
{
	struct cache_fixture f;

	CHECK_INT(cache_setup(&f, 0), 0);
	CHECK_STR(cache_fetch(&f), "FIRST");
	f.w.now += 100 * 86400;
	f.inner->key_id = "SECOND";
	CHECK_STR(cache_fetch(&f), "FIRST");
	CHECK_INT(f.inner->calls, 1);
	creds_provider_free(f.cache);
}

static void test_cache_refreshes_inside_window(void)
{
	struct cache_fixture f;
	int64_t expires;

	CHECK_INT(cache_setup(&f, 3600), 0);
	expires = f.inner->expires;
	CHECK_STR(cache_fetch(&f), "FIRST");
	f.inner->key_id = "SECOND";
	f.inner->expires = expires + 3600;
	f.w.now = expires - CREDS_REFRESH_BEFORE_EXPIRY_SEC - 1;
	CHECK_STR(cache_fetch(&f), "FIRST"); /* before the window: cached */
	CHECK_INT(f.inner->calls, 1);
	f.w.now = expires - CREDS_REFRESH_BEFORE_EXPIRY_SEC;
	CHECK_STR(cache_fetch(&f), "SECOND"); /* inside it: refreshed */
	CHECK_INT(f.inner->calls, 2);
	CHECK_STR(cache_fetch(&f), "SECOND");
	CHECK_INT(f.inner->calls, 2);
	creds_provider_free(f.cache);
}

static void test_cache_keeps_valid_on_failure(void)
{
	struct cache_fixture f;
	int64_t expires;

	CHECK_INT(cache_setup(&f, 3600), 0);
	expires = f.inner->expires;
	CHECK_STR(cache_fetch(&f), "FIRST");
	f.inner->err = -ETIMEDOUT;
	f.w.now = expires - 200;
	CHECK_STR(cache_fetch(&f), "FIRST"); /* refresh failed: old ones served */
	CHECK_INT(f.inner->calls, 2);
	CHECK_STR(cache_fetch(&f), "FIRST"); /* back-off: no call */
	CHECK_INT(f.inner->calls, 2);
	f.w.now += CREDS_RETRY_BACKOFF_MIN_SEC;
	CHECK_STR(cache_fetch(&f), "FIRST"); /* retried, failed again */
	CHECK_INT(f.inner->calls, 3);
	f.w.now += CREDS_RETRY_BACKOFF_MIN_SEC; /* the back-off doubled */
	CHECK_STR(cache_fetch(&f), "FIRST");
	CHECK_INT(f.inner->calls, 3);
	f.w.now += CREDS_RETRY_BACKOFF_MIN_SEC;
	f.inner->err = 0;
	f.inner->key_id = "SECOND";
	f.inner->expires = expires + 3600;
	CHECK_STR(cache_fetch(&f), "SECOND");
	CHECK_INT(f.inner->calls, 4);
	creds_provider_free(f.cache);
}

/* Seconds after the first failed refresh, and the inner calls made by then
 * (one before it): retries after 5, 10, 20, 40, then 60 (capped) and 60
 * seconds. */
static const struct {
	int at;
	int calls;
} cache_backoff_steps[] = {
	{ 0, 2 },  { 4, 2 },  { 5, 3 },	  { 14, 3 },  { 15, 4 },  { 34, 4 },  { 35, 5 },
	{ 74, 5 }, { 75, 6 }, { 134, 6 }, { 135, 7 }, { 194, 7 }, { 195, 8 },
};

/* Walks cache_backoff_steps from start with inner failing: every fetch must
 * answer want, after the calls of its step; a failure must be the last one
 * inner gave, told again. Returns 0, or -1 after TEST_FAIL. */
static int cache_walk_backoff(struct cache_fixture *f, int64_t start, const char *want)
{
	int failing = strncmp(want, "error", 5) == 0;
	char detail[32];
	const char *got;
	size_t i;

	for (i = 0; i < sizeof(cache_backoff_steps) / sizeof(cache_backoff_steps[0]); i++) {
		f->w.now = start + cache_backoff_steps[i].at;
		got = cache_fetch(f);
		snprintf(detail, sizeof(detail), "failure %d", f->inner->calls);
		if (strcmp(got, want) != 0 || f->inner->calls != cache_backoff_steps[i].calls ||
		    (failing && (!f->why.provider || strcmp(f->why.provider, "script") != 0 ||
				 strcmp(f->why.detail, detail) != 0))) {
			TEST_FAIL("at +%d s: %s after %d calls (\"%s\"), want %s after %d",
				  cache_backoff_steps[i].at, got, f->inner->calls, f->why.detail,
				  want, cache_backoff_steps[i].calls);
			return -1;
		}
	}
	return 0;
}

static void test_cache_backoff_doubles_and_is_capped(void)
{
	struct cache_fixture f;
	int64_t window;

	CHECK_INT(CREDS_RETRY_BACKOFF_MIN_SEC, 5);
	CHECK_INT(CREDS_RETRY_BACKOFF_MAX_SEC, 60);
	CHECK_INT(cache_setup(&f, 3600), 0);
	window = f.inner->expires - CREDS_REFRESH_BEFORE_EXPIRY_SEC;
	CHECK_STR(cache_fetch(&f), "FIRST");
	f.inner->err = -ECONNREFUSED;
	cache_walk_backoff(&f, window, "FIRST");
	creds_provider_free(f.cache);
}

static void test_cache_error_once_expired(void)
{
	struct cache_fixture f;
	int64_t expires;

	CHECK_INT(cache_setup(&f, 3600), 0);
	expires = f.inner->expires;
	CHECK_STR(cache_fetch(&f), "FIRST");
	f.inner->err = -EACCES;
	f.w.now = expires - 2;
	CHECK_STR(cache_fetch(&f), "FIRST"); /* back-off until expires + 3 */
	f.w.now = expires;
	CHECK_STR(cache_fetch(&f), "error -13"); /* expired: the failure, from memory */
	CHECK_INT(f.inner->calls, 2);
	f.w.now = expires + 3;
	CHECK_STR(cache_fetch(&f), "error -13"); /* the back-off is over: asked again */
	CHECK_INT(f.inner->calls, 3);
	f.inner->err = 0;
	f.inner->key_id = "SECOND";
	f.inner->expires = expires + 3600;
	CHECK_STR(cache_fetch(&f), "error -13"); /* and nothing stale meanwhile */
	CHECK_INT(f.inner->calls, 3);
	f.w.now = expires + 3 + 2 * CREDS_RETRY_BACKOFF_MIN_SEC;
	CHECK_STR(cache_fetch(&f), "SECOND");
	CHECK_INT(f.inner->calls, 4);
	creds_provider_free(f.cache);
}

static void test_cache_first_fetch_error(void)
{
	struct cache_fixture f;

	CHECK_INT(cache_setup(&f, 3600), 0);
	f.inner->err = -EHOSTUNREACH;
	CHECK_STR(cache_fetch(&f), "error -113");
	CHECK_STR(cache_fetch(&f), "error -113"); /* from memory: backing off */
	CHECK_INT(f.inner->calls, 1);
	f.w.now += CREDS_RETRY_BACKOFF_MIN_SEC;
	CHECK_STR(cache_fetch(&f), "error -113");
	CHECK_INT(f.inner->calls, 2);
	creds_provider_free(f.cache);
}

static void test_cache_short_lived_not_hammered(void)
{
	struct cache_fixture f;

	CHECK_INT(cache_setup(&f, 60), 0); /* already inside the window */
	CHECK_STR(cache_fetch(&f), "FIRST");
	CHECK_STR(cache_fetch(&f), "FIRST");
	CHECK_INT(f.inner->calls, 1);
	f.w.now += CREDS_RETRY_BACKOFF_MIN_SEC;
	CHECK_STR(cache_fetch(&f), "FIRST");
	CHECK_INT(f.inner->calls, 2);
	creds_provider_free(f.cache);
}

/* Expired credentials and an endpoint that keeps failing: retries after 5,
 * 10, 20, 40, 60 and 60 s, each failure answered from memory meanwhile; a
 * success resets the back-off. */
static void test_cache_backoff_once_expired(void)
{
	struct cache_fixture f;
	int64_t expires;

	CHECK_INT(cache_setup(&f, 3600), 0);
	expires = f.inner->expires;
	CHECK_STR(cache_fetch(&f), "FIRST");
	f.inner->err = -ECONNREFUSED;
	CHECK_INT(cache_walk_backoff(&f, expires, "error -111"), 0);
	f.inner->err = 0;
	f.inner->key_id = "SECOND";
	f.inner->expires = expires + 3600;
	f.w.now = expires + 195 + CREDS_RETRY_BACKOFF_MAX_SEC;
	CHECK_STR(cache_fetch(&f), "SECOND");
	CHECK_INT(f.inner->calls, 9);
	f.inner->err = -ECONNREFUSED;
	f.w.now = expires + 3600; /* SECOND expired: the back-off starts again */
	CHECK_STR(cache_fetch(&f), "error -111");
	CHECK_INT(f.inner->calls, 10);
	f.w.now += CREDS_RETRY_BACKOFF_MIN_SEC - 1;
	CHECK_STR(cache_fetch(&f), "error -111");
	CHECK_INT(f.inner->calls, 10);
	f.w.now += 1;
	CHECK_STR(cache_fetch(&f), "error -111");
	CHECK_INT(f.inner->calls, 11);
	creds_provider_free(f.cache);
}

static void test_cache_refuses_expired_fresh(void)
{
	struct cache_fixture f;

	CHECK_INT(cache_setup(&f, 3600), 0);
	f.inner->expires = f.w.now - 1; /* 2023-11-14T22:13:19Z */
	CHECK_STR(cache_fetch(&f), "error -127");
	CHECK_INT(-EKEYEXPIRED, -127);
	CHECK_STR(f.why.provider, "script");
	CHECK(strstr(f.why.detail, "already expired") != NULL);
	CHECK(strstr(f.why.detail, "2023-11-14T22:13:19Z") != NULL);
	CHECK_STR(cache_fetch(&f), "error -127"); /* backed off like any failure */
	CHECK_INT(f.inner->calls, 1);
	f.w.now += CREDS_RETRY_BACKOFF_MIN_SEC;
	f.inner->expires = f.w.now; /* expiring this very second: expired too */
	CHECK_STR(cache_fetch(&f), "error -127");
	CHECK_INT(f.inner->calls, 2);
	creds_provider_free(f.cache);
}

/* Valid cached credentials are not replaced by expired ones. */
static void test_cache_keeps_valid_over_expired_fresh(void)
{
	struct cache_fixture f;
	int64_t expires;

	CHECK_INT(cache_setup(&f, 3600), 0);
	expires = f.inner->expires;
	CHECK_STR(cache_fetch(&f), "FIRST");
	f.inner->key_id = "STALE";
	f.inner->expires = expires - 3600;
	f.w.now = expires - 100;
	CHECK_STR(cache_fetch(&f), "FIRST");
	CHECK_INT(f.inner->calls, 2);
	CHECK(f.why.provider == NULL); /* served: no failure to tell */
	f.w.now = expires;	       /* FIRST expired, the back-off over: asked again */
	CHECK_STR(cache_fetch(&f), "error -127");
	CHECK_INT(f.inner->calls, 3);
	creds_provider_free(f.cache);
}

static void test_fetch_why(void)
{
	struct script *s = script_new(-EACCES, NULL, 0, NULL);
	struct creds_failure why;
	struct creds *c = NULL;

	CHECK(s != NULL);
	CHECK_INT(creds_provider_fetch_why(&s->base, &c, &why), -EACCES);
	CHECK_STR(why.provider, "script"); /* named for the provider that left it NULL */
	CHECK_STR(why.detail, "failure 1");
	CHECK_INT(creds_provider_fetch_why(&s->base, &c, NULL), -EACCES);
	s->err = 0;
	s->key_id = "A";
	CHECK_INT(creds_provider_fetch_why(&s->base, &c, &why), 0);
	CHECK(why.provider == NULL && why.detail[0] == '\0');
	creds_unref(c);
	creds_provider_free(&s->base);
}

/*
 * The default chain with the real providers.
 */

static void test_default_chain_env_first(void)
{
	struct creds_provider *chain;
	struct fake_world w;
	struct creds *c = NULL;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	fake_setenv(&w, "AWS_ACCESS_KEY_ID", "AKID");
	fake_setenv(&w, "AWS_SECRET_ACCESS_KEY", "SECRET");
	fake_setenv(&w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds");
	chain = creds_chain_new(&w.ctx);
	CHECK(chain != NULL);
	CHECK_INT(creds_provider_fetch(chain, &c), 0);
	CHECK_STR(c->provider, "environment");
	CHECK_INT(w.http.n_requests, 0);
	creds_unref(c);
	creds_provider_free(chain);
}

static void test_default_chain_nothing_configured(void)
{
	struct creds_provider *chain;
	struct fake_world w;
	struct creds *c = NULL;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	fake_setenv(&w, "AWS_EC2_METADATA_DISABLED", "true");
	chain = creds_chain_new(&w.ctx);
	CHECK(chain != NULL);
	CHECK_INT(creds_provider_fetch(chain, &c), -ENOENT);
	CHECK_INT(w.http.n_requests, 0);
	creds_provider_free(chain);
}

static void test_default_chain_broken_config_stops(void)
{
	struct creds_provider *chain;
	struct fake_world w;
	struct creds *c = NULL;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	fake_setenv(&w, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token");
	fake_setenv(&w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds");
	fake_route(&w, "GET", "http://169.254.170.2/creds", 200,
		   "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
		   "\"Expiration\":\"2023-11-14T23:13:20Z\"}");
	chain = creds_chain_new(&w.ctx);
	CHECK(chain != NULL);
	CHECK_INT(creds_provider_fetch(chain, &c), -EINVAL); /* web identity: no role */
	CHECK_INT(w.http.n_requests, 0);		     /* ECS never asked */
	creds_provider_free(chain);
}

/* A configured provider's failure through the default chain and its cache:
 * the provider that failed is named, with the transport's words. */
static int chain_failure(struct fake_world *w, struct creds_failure *why)
{
	struct creds_provider *chain = creds_chain_new(&w->ctx);
	struct creds *c = NULL;
	int r;

	if (!chain)
		return -ENOMEM;
	r = creds_provider_fetch_why(chain, &c, why);
	creds_unref(c);
	creds_provider_free(chain);
	return r;
}

static void test_default_chain_names_ecs(void)
{
	struct creds_failure why;
	struct fake_world w;
	struct fake_route *route;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	fake_setenv(&w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds");
	fake_setenv(&w, "AWS_EC2_METADATA_DISABLED", "true");
	route = fake_route(&w, "GET", "http://169.254.170.2/creds", 0, NULL);
	route->err = -ECONNREFUSED;
	route->err_text = "Failed to connect to 169.254.170.2 port 80: Connection refused";
	CHECK_INT(chain_failure(&w, &why), -ECONNREFUSED);
	CHECK_STR(why.provider, "ecs");
	CHECK_STR(why.detail, route->err_text);
	fake_route(&w, "GET", "http://169.254.170.2/creds", 500, "{}");
	CHECK_INT(chain_failure(&w, &why), -EPROTO);
	CHECK_STR(why.provider, "ecs");
	CHECK_STR(why.detail, "the endpoint answered HTTP 500");
}

static void test_default_chain_names_web_identity(void)
{
	struct creds_failure why;
	struct fake_world w;
	struct fake_route *route;
	const char *token;

	CHECK_INT(fake_world_init(&w), 0);
	token = fake_file(&w, "token", "eyJ-token");
	CHECK(token != NULL);
	fake_setenv(&w, "AWS_WEB_IDENTITY_TOKEN_FILE", token);
	fake_setenv(&w, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r");
	fake_setenv(&w, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds");
	route = fake_route(&w, "POST", "https://sts.test/", 0, NULL);
	route->err = -EPERM;
	route->err_text = "SSL certificate problem: self-signed certificate";
	CHECK_INT(chain_failure(&w, &why), -EPERM);
	fake_world_done(&w);
	CHECK_STR(why.provider, "web-identity");
	CHECK_STR(why.detail, "SSL certificate problem: self-signed certificate");
	CHECK_INT(w.http.n_requests, 1); /* STS only: ECS never asked */
}

static void test_default_chain_names_imds(void)
{
	struct creds_failure why;
	struct fake_world w;

	CHECK_INT(fake_world_init(&w), 0);
	fake_world_done(&w);
	fake_route(&w, "PUT", "http://169.254.169.254/latest/api/token", 200, "T");
	fake_route(&w, "GET", "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		   200, "my-role");
	fake_route(&w, "GET",
		   "http://169.254.169.254/latest/meta-data/iam/security-credentials/my-role", 200,
		   "{\"Code\":\"AssumeRoleUnauthorizedAccess\"}");
	CHECK_INT(chain_failure(&w, &why), -EACCES);
	CHECK_STR(why.provider, "imds");
}

int main(void)
{
	return TEST_MAIN(
	    TEST_CASE(test_creds_new_and_refcount), TEST_CASE(test_iso8601),
	    TEST_CASE(test_from_json), TEST_CASE(test_creds_read_file), TEST_CASE(test_env),
	    TEST_CASE(test_env_empty_is_unset), TEST_CASE(test_chain_first_configured_decides),
	    TEST_CASE(test_chain_failure_stops), TEST_CASE(test_chain_none_configured),
	    TEST_CASE(test_chain_of_steals_on_failure),
	    TEST_CASE(test_cache_without_expiry_is_kept),
	    TEST_CASE(test_cache_refreshes_inside_window),
	    TEST_CASE(test_cache_keeps_valid_on_failure),
	    TEST_CASE(test_cache_backoff_doubles_and_is_capped),
	    TEST_CASE(test_cache_error_once_expired), TEST_CASE(test_cache_first_fetch_error),
	    TEST_CASE(test_cache_short_lived_not_hammered),
	    TEST_CASE(test_cache_backoff_once_expired), TEST_CASE(test_cache_refuses_expired_fresh),
	    TEST_CASE(test_cache_keeps_valid_over_expired_fresh), TEST_CASE(test_fetch_why),
	    TEST_CASE(test_default_chain_names_ecs),
	    TEST_CASE(test_default_chain_names_web_identity),
	    TEST_CASE(test_default_chain_names_imds), TEST_CASE(test_default_chain_env_first),
	    TEST_CASE(test_default_chain_nothing_configured),
	    TEST_CASE(test_default_chain_broken_config_stops));
}
