/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds: AWS credentials and the providers that fetch them.
 *
 * A struct creds is immutable and reference-counted (C11 atomics): the
 * refresher takes a reference for the duration of one signed call, and a
 * provider may replace its cached copy meanwhile without a lock.
 *
 * A struct creds_provider is a function table, one per source, in the
 * order of the AWS SDKs' default chain: environment, shared files, web
 * identity (STS), ECS container endpoint, EC2 IMDS. creds_chain_new() builds
 * that chain wrapped in a cache that refreshes the credentials at least five
 * minutes before they expire and keeps using still-valid ones when a
 * refresh fails.
 *
 * The cache backs off after a failed fetch: it does not ask its source
 * again for CREDS_RETRY_BACKOFF_MIN_SEC, doubling after each further
 * failure up to CREDS_RETRY_BACKOFF_MAX_SEC (creds_providers.h), and
 * resetting on success. Meanwhile it serves the cached credentials while
 * they are valid, and once they have expired (or when there never were
 * any) it answers the last failure from memory, the same errno and the same
 * creds_failure, without calling the endpoint. Credentials that a source
 * returns already expired (expires_at_unix at or before now) are refused:
 * the fetch fails with -EKEYEXPIRED, and backs off like any failure.
 *
 * Chain policy (as botocore): the first provider that is *configured* (its
 * environment variables or profile keys are present) decides; if it then
 * fails, the chain stops with its error rather than falling through to a
 * different identity. A provider that is not configured answers -ENOENT and
 * the chain moves on. See docs/ARCHITECTURE.md.
 *
 * Why a fetch failed, beyond its errno, comes back in a struct
 * creds_failure: the name of the provider that failed (not the chain's or
 * the cache's) and, when known, a detail such as curl's "SSL certificate
 * problem: ...", for the caller's log line.
 *
 * Providers and the chain are used by one thread at a time (the refresher;
 * main while it starts up). Secrets never appear in error strings or logs.
 */
#ifndef CLOUDMAP_CREDS_H
#define CLOUDMAP_CREDS_H

#include <stdatomic.h>
#include <stdint.h>

struct http_transport;

/* How long before expiry cached credentials are refreshed. */
#define CREDS_REFRESH_BEFORE_EXPIRY_SEC (5 * 60)

struct creds {
	atomic_uint refcount;
	char *access_key_id;
	char *secret_access_key;
	char *session_token;	 /* NULL when there is none */
	int64_t expires_at_unix; /* 0: does not expire */
	const char *provider;	 /* static name of the source, e.g. "environment" */
};

/* Returns 0 and in *ret a new reference to new credentials (the strings are
 * copied; token may be NULL), -EINVAL when a key is empty, or -ENOMEM. */
int creds_new(const char *access_key_id, const char *secret_access_key, const char *session_token,
	      int64_t expires_at_unix, const char *provider, struct creds **ret);

/* Takes a reference; accepts NULL. Thread-safe. */
struct creds *creds_ref(struct creds *c);

/* Drops a reference, freeing (and wiping the secrets of) the last; accepts
 * NULL; returns NULL. Thread-safe. */
struct creds *creds_unref(struct creds *c);

/* Wall clock, injectable for tests: seconds since the epoch. */
typedef int64_t (*creds_clock_fn)(void *userdata);

/* Environment lookup, injectable for tests; getenv() semantics. */
typedef const char *(*creds_getenv_fn)(const char *name, void *userdata);

/* What the providers need from the outside world. Borrowed: must outlive
 * every provider built from it. */
struct creds_context {
	creds_getenv_fn getenv; /* NULL: getenv() */
	void *getenv_userdata;
	creds_clock_fn now; /* NULL: time() */
	void *now_userdata;
	struct http_transport *http; /* for STS, the ECS endpoint and IMDS */
	const char *region;	     /* for STS; may be NULL before it is known */
	const char *sts_endpoint;    /* e.g. "https://sts.us-east-1.amazonaws.com" */
};

/* Why a fetch failed, for a log line; holds no secret. */
struct creds_failure {
	/* Static name of the provider that failed, e.g. "ecs", "imds",
	 * "web-identity"; a chain or cache passes on the name of the one
	 * behind it that decided. */
	const char *provider;
	/* What went wrong beyond the errno, e.g. "SSL certificate problem:
	 * unable to get local issuer certificate"; "" when nothing more is
	 * known. */
	char detail[256];
};

struct creds_provider {
	const char *name;
	/* Returns 0 and a new reference in *ret; -ENOENT when this source is
	 * not configured; another negative errno when it is configured but
	 * failed (-EACCES refused, -EINVAL bad configuration, -EBADMSG bad
	 * answer, -EKEYEXPIRED answered already expired credentials (the
	 * cache), or a transport error from http.h). why is never NULL and
	 * arrives zeroed; on failure the provider may fill it (a provider that
	 * leaves why->provider NULL is named by creds_provider_fetch_why()). */
	int (*fetch)(struct creds_provider *p, struct creds **ret, struct creds_failure *why);
	/* Frees the provider. */
	void (*free)(struct creds_provider *p);
};

/* Fetches from p; see creds_provider.fetch. */
int creds_provider_fetch(struct creds_provider *p, struct creds **ret);

/* The same, and when it fails, *why (if why is not NULL) says which
 * provider failed (never NULL then) and, when known, in what words; on
 * success *why is zeroed. */
int creds_provider_fetch_why(struct creds_provider *p, struct creds **ret,
			     struct creds_failure *why);

/* Frees p; accepts NULL; returns NULL. */
struct creds_provider *creds_provider_free(struct creds_provider *p);

/* The SDKs' default chain, cached. Returns NULL on ENOMEM. */
struct creds_provider *creds_chain_new(const struct creds_context *ctx);

#endif
