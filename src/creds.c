/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds: credentials, the provider table, the chain and the caching
 * wrapper, and the helpers the providers share. See include/creds.h and
 * include/creds_providers.h.
 *
 * A struct creds is immutable after creds_new() and reference-counted with
 * C11 atomics, so the refresher may hand references to other threads. The
 * chain and the cache are used by one thread at a time (the refresher).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "creds.h"
#include "creds_providers.h"
#include "http.h"

struct creds_chain {
	struct creds_provider base;
	size_t n;
	struct creds_provider *providers[];
};

struct creds_cache {
	struct creds_provider base;
	const struct creds_context *ctx;
	struct creds_provider *inner;
	struct creds *cached;	      /* NULL until the first success */
	int64_t retry_at_unix;	      /* inner is not asked before, see wants_refresh */
	int64_t backoff_sec;	      /* 0 after a success */
	int failure_r;		      /* the last fetch's error, 0 after a success */
	struct creds_failure failure; /* and why, answered again from memory */
};

char *creds_secret_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
	return NULL;
}

void creds_buf_wipe(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->alloc);
	buf_done(b);
}

static int creds_dup(const char *s, char **ret)
{
	char *p = NULL;

	if (s && *s) {
		p = strdup(s);
		if (!p)
			return -ENOMEM;
	}
	*ret = p;
	return 0;
}

int creds_new(const char *access_key_id, const char *secret_access_key, const char *session_token,
	      int64_t expires_at_unix, const char *provider, struct creds **ret)
{
	struct creds *c;

	if (!access_key_id || !*access_key_id || !secret_access_key || !*secret_access_key)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	atomic_init(&c->refcount, 1);
	c->expires_at_unix = expires_at_unix;
	c->provider = provider;
	if (creds_dup(access_key_id, &c->access_key_id) < 0 ||
	    creds_dup(secret_access_key, &c->secret_access_key) < 0 ||
	    creds_dup(session_token, &c->session_token) < 0) {
		creds_unref(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

struct creds *creds_ref(struct creds *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refcount, 1, memory_order_relaxed);
	return c;
}

struct creds *creds_unref(struct creds *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->refcount, 1, memory_order_acq_rel) != 1)
		return NULL;
	free(c->access_key_id);
	creds_secret_free(c->secret_access_key);
	creds_secret_free(c->session_token);
	free(c);
	return NULL;
}

int creds_provider_fetch_why(struct creds_provider *p, struct creds **ret,
			     struct creds_failure *why)
{
	struct creds_failure ignored;
	int r;

	if (!why)
		why = &ignored;
	*why = (struct creds_failure){ .provider = NULL };
	r = p->fetch(p, ret, why);
	if (r < 0 && !why->provider)
		why->provider = p->name;
	return r;
}

int creds_provider_fetch(struct creds_provider *p, struct creds **ret)
{
	return creds_provider_fetch_why(p, ret, NULL);
}

struct creds_provider *creds_provider_free(struct creds_provider *p)
{
	if (p)
		p->free(p);
	return NULL;
}

/*
 * The chain.
 */

static int creds_chain_fetch(struct creds_provider *p, struct creds **ret,
			     struct creds_failure *why)
{
	struct creds_chain *chain = (struct creds_chain *)p;
	size_t i;
	int r;

	for (i = 0; i < chain->n; i++) {
		r = creds_provider_fetch_why(chain->providers[i], ret, why);
		if (r != -ENOENT)
			return r; /* configured: it decides, success or not */
	}
	*why = (struct creds_failure){ .provider = NULL }; /* none: the chain's failure */
	return -ENOENT;
}

static void creds_chain_free(struct creds_provider *p)
{
	struct creds_chain *chain = (struct creds_chain *)p;
	size_t i;

	for (i = 0; i < chain->n; i++)
		creds_provider_free(chain->providers[i]);
	free(chain);
}

struct creds_provider *creds_chain_of(struct creds_provider *const *providers, size_t n)
{
	struct creds_chain *chain;
	size_t i, missing = 0;

	for (i = 0; i < n; i++)
		missing += !providers[i];
	chain = missing ? NULL : calloc(1, sizeof(*chain) + n * sizeof(chain->providers[0]));
	if (!chain) {
		for (i = 0; i < n; i++)
			creds_provider_free(providers[i]);
		return NULL;
	}
	chain->base.name = "chain";
	chain->base.fetch = creds_chain_fetch;
	chain->base.free = creds_chain_free;
	chain->n = n;
	memcpy(chain->providers, providers, n * sizeof(chain->providers[0]));
	return &chain->base;
}

/*
 * The cache.
 */

static int creds_valid_at(const struct creds *c, int64_t now)
{
	return c && (c->expires_at_unix == 0 || now < c->expires_at_unix);
}

/* Whether to ask inner now. Not while backing off, unless that would leave
 * nothing to answer (no valid credentials and no failure to repeat). */
static int creds_cache_wants_refresh(const struct creds_cache *cache, int64_t now)
{
	const struct creds *c = cache->cached;

	if (now < cache->retry_at_unix && (cache->failure_r < 0 || creds_valid_at(c, now)))
		return 0;
	if (!creds_valid_at(c, now))
		return 1;
	return c->expires_at_unix != 0 &&
	       now >= c->expires_at_unix - CREDS_REFRESH_BEFORE_EXPIRY_SEC;
}

/* Refuses credentials that are expired already: -EKEYEXPIRED, said why. */
static int creds_cache_check_fresh(const struct creds *fresh, int64_t now,
				   struct creds_failure *why)
{
	time_t t = (time_t)fresh->expires_at_unix;
	struct tm tm;
	char when[32] = "";

	if (creds_valid_at(fresh, now))
		return 0;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	why->provider = fresh->provider;
	snprintf(why->detail, sizeof(why->detail),
		 "it returned credentials that had already expired (at %s)", when);
	return -EKEYEXPIRED;
}

/* Remembers a failure and schedules the next attempt after the back-off. */
static void creds_cache_failed(struct creds_cache *cache, int r, int64_t now)
{
	cache->failure_r = r;
	cache->backoff_sec =
	    cache->backoff_sec ? cache->backoff_sec * 2 : CREDS_RETRY_BACKOFF_MIN_SEC;
	if (cache->backoff_sec > CREDS_RETRY_BACKOFF_MAX_SEC)
		cache->backoff_sec = CREDS_RETRY_BACKOFF_MAX_SEC;
	cache->retry_at_unix = now + cache->backoff_sec;
}

static void creds_cache_refresh(struct creds_cache *cache, int64_t now)
{
	struct creds *fresh = NULL;
	int r;

	r = creds_provider_fetch_why(cache->inner, &fresh, &cache->failure);
	if (r == 0) {
		r = creds_cache_check_fresh(fresh, now, &cache->failure);
		if (r < 0)
			fresh = creds_unref(fresh);
	}
	if (r < 0) {
		creds_cache_failed(cache, r, now);
		return;
	}
	creds_unref(cache->cached);
	cache->cached = fresh;
	cache->failure_r = 0;
	cache->backoff_sec = 0;
	cache->retry_at_unix = now + CREDS_RETRY_BACKOFF_MIN_SEC;
}

static int creds_cache_fetch(struct creds_provider *p, struct creds **ret,
			     struct creds_failure *why)
{
	struct creds_cache *cache = (struct creds_cache *)p;
	int64_t now = creds_now(cache->ctx);

	if (creds_cache_wants_refresh(cache, now))
		creds_cache_refresh(cache, now);
	if (creds_valid_at(cache->cached, now)) {
		*ret = creds_ref(cache->cached);
		return 0;
	}
	cache->cached = creds_unref(cache->cached); /* nothing stale is kept */
	*why = cache->failure;
	return cache->failure_r < 0 ? cache->failure_r : -EKEYEXPIRED;
}

static void creds_cache_free(struct creds_provider *p)
{
	struct creds_cache *cache = (struct creds_cache *)p;

	creds_provider_free(cache->inner);
	creds_unref(cache->cached);
	free(cache);
}

struct creds_provider *creds_cache_new(const struct creds_context *ctx,
				       struct creds_provider *inner)
{
	struct creds_cache *cache;

	cache = inner ? calloc(1, sizeof(*cache)) : NULL;
	if (!cache) {
		creds_provider_free(inner);
		return NULL;
	}
	cache->base.name = "cache";
	cache->base.fetch = creds_cache_fetch;
	cache->base.free = creds_cache_free;
	cache->ctx = ctx;
	cache->inner = inner;
	return &cache->base;
}

struct creds_provider *creds_chain_new(const struct creds_context *ctx)
{
	struct creds_provider *providers[] = {
		creds_env_new(ctx), creds_profile_new(ctx), creds_webid_new(ctx),
		creds_ecs_new(ctx), creds_imds_new(ctx),
	};

	return creds_cache_new(ctx,
			       creds_chain_of(providers, sizeof(providers) / sizeof(providers[0])));
}

/*
 * Helpers shared by the providers.
 */

void creds_failure_from_http(struct creds_failure *why, const struct http_response *resp)
{
	if (why)
		snprintf(why->detail, sizeof(why->detail), "%s", resp->error);
}

const char *creds_getenv(const struct creds_context *ctx, const char *name)
{
	const char *v = ctx->getenv ? ctx->getenv(name, ctx->getenv_userdata) : getenv(name);

	return v && *v ? v : NULL;
}

int64_t creds_now(const struct creds_context *ctx)
{
	return ctx->now ? ctx->now(ctx->now_userdata) : (int64_t)time(NULL);
}

static int creds_read_fd(int fd, size_t size, char **ret, size_t *ret_len)
{
	size_t n = 0;
	ssize_t r;
	char *p;

	p = malloc(size + 1);
	if (!p)
		return -ENOMEM;
	while (n < size) {
		r = read(fd, p + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			OPENSSL_cleanse(p, n);
			free(p);
			return (int)r;
		}
		if (r == 0)
			break; /* it shrank meanwhile: what was there is the file */
		n += (size_t)r;
	}
	p[n] = '\0';
	*ret = p;
	*ret_len = n;
	return 0;
}

int creds_read_file(const char *path, size_t max_bytes, char **ret, size_t *ret_len)
{
	struct stat st;
	int fd, r;

	/* O_NONBLOCK: a FIFO must not hang the caller before fstat() refuses
	 * it; reads of a regular file ignore the flag. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else if ((uintmax_t)st.st_size > max_bytes)
		r = -EFBIG;
	else
		r = creds_read_fd(fd, (size_t)st.st_size, ret, ret_len);
	close(fd);
	return r;
}

/* Parses exactly n decimal digits. */
static int creds_digits(const char **p, const char *end, int n, int *ret)
{
	int v = 0;

	if (end - *p < n)
		return -EINVAL;
	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return 0;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t creds_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Parses "Z" or "+HH:MM"/"-HH:MM" (or without the colon) to seconds east. */
static int creds_parse_zone(const char *p, const char *end, int64_t *ret_sec)
{
	int sign, hh, mm;

	if (end - p == 1 && (*p == 'Z' || *p == 'z')) {
		*ret_sec = 0;
		return 0;
	}
	if (p == end || (*p != '+' && *p != '-'))
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if (creds_digits(&p, end, 2, &hh) < 0)
		return -EINVAL;
	if (p < end && *p == ':')
		p++;
	if (creds_digits(&p, end, 2, &mm) < 0 || p != end || hh > 23 || mm > 59)
		return -EINVAL;
	*ret_sec = sign * (hh * 3600 + mm * 60);
	return 0;
}

/* Parses exactly n digits, then the separator sep unless it is '\0'. */
static int creds_field(const char **p, const char *end, int n, char sep, int *ret)
{
	if (creds_digits(p, end, n, ret) < 0)
		return -EINVAL;
	if (!sep)
		return 0;
	if (*p == end || (**p != sep && **p != (sep | 0x20)))
		return -EINVAL; /* (sep | 0x20): 'T' may be written 't' */
	(*p)++;
	return 0;
}

int creds_parse_iso8601(const char *s, size_t n, int64_t *ret_unix)
{
	const char *p = s, *end = s + n;
	int y, mo, d, h, mi, sec;
	int64_t zone;

	if (creds_field(&p, end, 4, '-', &y) < 0 || creds_field(&p, end, 2, '-', &mo) < 0 ||
	    creds_field(&p, end, 2, 'T', &d) < 0 || creds_field(&p, end, 2, ':', &h) < 0 ||
	    creds_field(&p, end, 2, ':', &mi) < 0 || creds_field(&p, end, 2, '\0', &sec) < 0)
		return -EINVAL;
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			;
	if (creds_parse_zone(p, end, &zone) < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	*ret_unix = creds_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
	return 0;
}

/* A string member of obj, or NULL when absent, not a string or empty. */
static const char *creds_json_str(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v && *v ? v : NULL;
}

int creds_from_json(const char *body, size_t len, const char *provider, struct creds **ret)
{
	const char *id, *secret, *expiration, *code;
	int64_t expires;
	json_t *root;
	int r;

	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		r = -EBADMSG;
		goto out_root;
	}
	code = json_string_value(json_object_get(root, "Code"));
	id = creds_json_str(root, "AccessKeyId");
	secret = creds_json_str(root, "SecretAccessKey");
	expiration = creds_json_str(root, "Expiration");
	if (code && strcmp(code, "Success") != 0)
		r = -EACCES;
	else if (!id || !secret || !expiration ||
		 creds_parse_iso8601(expiration, strlen(expiration), &expires) < 0)
		r = -EBADMSG;
	else
		r = creds_new(id, secret, creds_json_str(root, "Token"), expires, provider, ret);
out_root:
	json_decref(root);
	return r;
}
