/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_providers: the credential sources of the default chain, one file
 * each, and the pieces the chain is built from. Most callers need only
 * creds_chain_new() from creds.h; tests and special setups use these.
 *
 * Every constructor returns a new provider (free it with
 * creds_provider_free()) or NULL on ENOMEM. ctx is borrowed and must
 * outlive the provider. An environment variable set to the empty string
 * counts as unset. Fetch follows the contract of creds_provider.fetch in
 * creds.h: -ENOENT means "not configured"; once configured, a provider
 * never answers -ENOENT, so the chain never falls through to a different
 * identity because of a broken configuration. Like every provider, these
 * are used by one thread at a time.
 */
#ifndef CLOUDMAP_CREDS_PROVIDERS_H
#define CLOUDMAP_CREDS_PROVIDERS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "creds.h"

/* Caps on what the providers read from files a peer may control. */
#define CREDS_SHARED_FILE_MAX_BYTES (1u << 20)
#define CREDS_TOKEN_FILE_MAX_BYTES  (64u << 10)
#define CREDS_RESPONSE_MAX_BYTES    (64u << 10)

/* The cache's back-off: after a failed fetch the next attempt waits this
 * long, doubling after each further failure up to the maximum (5, 10, 20,
 * 40, 60, 60 ... seconds); a success resets it. Meanwhile still-valid
 * cached credentials are served, and without them the last failure is
 * answered from memory. After a successful refresh the next one waits at
 * least the minimum, so credentials handed out already inside the refresh
 * window do not cause a call per fetch. Expired credentials are never
 * served, back-off or not. */
#define CREDS_RETRY_BACKOFF_MIN_SEC 5
#define CREDS_RETRY_BACKOFF_MAX_SEC 60

/*
 * Environment ("environment"): AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
 * with AWS_SESSION_TOKEN (or the legacy AWS_SECURITY_TOKEN) and
 * AWS_CREDENTIAL_EXPIRATION (ISO-8601) when set. Not configured when both
 * keys are unset; -EINVAL when only one is set or the expiration does not
 * parse.
 */
struct creds_provider *creds_env_new(const struct creds_context *ctx);

/*
 * Shared files ("profile", or "profile-web-identity"). The profile is
 * AWS_PROFILE, else "default". The files are AWS_SHARED_CREDENTIALS_FILE
 * (else $HOME/.aws/credentials; sections are profile names) and
 * AWS_CONFIG_FILE (else $HOME/.aws/config; "[default]" or "[profile NAME]",
 * other sections ignored); a leading "~/" expands to $HOME. Both are read
 * and parsed (include/ini.h) on every fetch, capped at
 * CREDS_SHARED_FILE_MAX_BYTES (-EFBIG over it, -EBADMSG when malformed).
 * A file that is missing or unreadable counts as absent, as in botocore.
 * A profile repeated in one file is merged, later keys winning.
 *
 * Decided in botocore's order, keys looked up in the credentials file
 * first, then in the config file:
 *  1. role_arn with web_identity_token_file (and optional
 *     role_session_name): STS AssumeRoleWithWebIdentity, as the web
 *     identity provider. role_arn with source_profile or credential_source
 *     (AssumeRole, which must be signed) is not supported: -EOPNOTSUPP;
 *     role_arn alone: -EINVAL.
 *  2. sso_session or sso_start_url (IAM Identity Center): -EOPNOTSUPP.
 *  3. aws_access_key_id and aws_secret_access_key (+ aws_session_token or
 *     aws_security_token) from the credentials file, the three taken
 *     together from that file; only one of the pair: -EINVAL.
 *  4. credential_process: -EOPNOTSUPP.
 *  5. the same static keys from the config file.
 * "Not supported" stops the chain rather than silently using another
 * identity than the one the profile names.
 *
 * Not configured (-ENOENT): neither file has the profile, or the profile
 * has none of the keys above (for instance only a region). Note that a
 * profile named explicitly by AWS_PROFILE but found in neither file is also
 * -ENOENT here, so the chain goes on to the other sources (botocore would
 * raise ProfileNotFound instead); the daemon should warn when AWS_PROFILE
 * is set and the credentials came from another provider.
 */
struct creds_provider *creds_profile_new(const struct creds_context *ctx);

/*
 * Web identity ("web-identity"): AWS_WEB_IDENTITY_TOKEN_FILE and
 * AWS_ROLE_ARN, with AWS_ROLE_SESSION_NAME (else "cloudmap-sd-<unix
 * time>"). Not configured without the token file; -EINVAL when the role is
 * missing. See creds_webid_assume().
 */
struct creds_provider *creds_webid_new(const struct creds_context *ctx);

/*
 * Calls STS AssumeRoleWithWebIdentity, unsigned, with the token read from
 * token_file now (it rotates; trailing white space is dropped; capped at
 * CREDS_TOKEN_FILE_MAX_BYTES). session_name NULL means the default above.
 * The endpoint is ctx->sts_endpoint, else https://sts.<ctx->region>
 * .amazonaws.com, else https://sts.amazonaws.com. Returns 0 and new
 * credentials named provider in *ret; -EINVAL when the token file is
 * missing or empty (-EFBIG over the cap, -EACCES unreadable); for an STS
 * error answer -EACCES (AccessDenied, InvalidIdentityToken, ExpiredToken,
 * IDPRejectedClaim, RegionDisabled), -EAGAIN (IDPCommunicationError,
 * throttling, service unavailable), -EINVAL (validation errors), -EPROTO
 * (another code); -EBADMSG when the answer does not parse; or a transport
 * error.
 */
int creds_webid_assume(const struct creds_context *ctx, const char *token_file,
		       const char *role_arn, const char *session_name, const char *provider,
		       struct creds **ret);

/* The same; on failure, when why is not NULL, why->detail may say more
 * (the transport's words, e.g. a TLS certificate problem). */
int creds_webid_assume_why(const struct creds_context *ctx, const char *token_file,
			   const char *role_arn, const char *session_name, const char *provider,
			   struct creds **ret, struct creds_failure *why);

/*
 * ECS container endpoint ("ecs"). AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 * (GET http://169.254.170.2<uri>; it must start with '/') wins over
 * AWS_CONTAINER_CREDENTIALS_FULL_URI. A full URI must be https, or http to
 * a host that is, or resolves only to, loopback (127.0.0.0/8, ::1) or the
 * ECS/EKS agent addresses 169.254.170.2, 169.254.170.23, fd00:ec2::23:
 * anything else is refused with -EACCES before any request, so that a
 * tampered variable cannot send the authorization token elsewhere in clear
 * text. (The name is resolved here and again by the transport; a DNS
 * answer that changes in between is not defended against.) -EINVAL for a
 * URI that does not parse or another scheme, -EHOSTUNREACH for a name that
 * does not resolve.
 *
 * The Authorization header is the content of
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, read on every fetch (missing
 * file: -EINVAL), else AWS_CONTAINER_AUTHORIZATION_TOKEN; a value with CR,
 * LF or NUL is refused with -EINVAL, as botocore does.
 *
 * Answer: 200 with JSON {"AccessKeyId","SecretAccessKey","Token",
 * "Expiration"}; -EACCES on 401/403, -EPROTO on another status, -EBADMSG
 * when the JSON is not that.
 */
struct creds_provider *creds_ecs_new(const struct creds_context *ctx);

/*
 * EC2 instance metadata ("imds"), through include/imds.h (IMDSv2, token
 * cached by the client, which lives as long as the provider). GET
 * /latest/meta-data/iam/security-credentials/ names the role (first line),
 * then .../security-credentials/<role> answers JSON as the ECS endpoint's,
 * with "Code":"Success". Not configured when IMDS is disabled
 * (AWS_EC2_METADATA_DISABLED=true) or when the instance has no role (404).
 * Otherwise: -EACCES for a Code other than Success or a 401/403, -EBADMSG
 * for a bad role name or JSON, or the IMDS client's error (-ETIMEDOUT when
 * there is no IMDS, e.g. off EC2).
 */
struct creds_provider *creds_imds_new(const struct creds_context *ctx);

/* A chain of n providers, asked in order as documented in creds.h (-ENOENT
 * moves on, anything else decides); -ENOENT when none is configured. Steals
 * the n providers, even when it returns NULL (ENOMEM, or one of them is
 * NULL, which lets callers pass constructors' results directly). */
struct creds_provider *creds_chain_of(struct creds_provider *const *providers, size_t n);

/* The caching wrapper documented in creds.h, with the back-off above.
 * Steals inner, even when it returns NULL (ENOMEM, or inner is NULL).
 * Errors of inner (and its creds_failure) pass through unless still-valid
 * credentials are cached; during a back-off they are answered again from
 * memory. Credentials inner returns already expired: -EKEYEXPIRED, the
 * failure naming their provider. */
struct creds_provider *creds_cache_new(const struct creds_context *ctx,
				       struct creds_provider *inner);

/*
 * Helpers shared by the providers.
 */

/* ctx's getenv, or getenv(); NULL for an unset or empty variable. */
const char *creds_getenv(const struct creds_context *ctx, const char *name);

/* ctx's clock, or time(). */
int64_t creds_now(const struct creds_context *ctx);

/* Reads a whole regular file of at most max_bytes. Returns 0, a new
 * NUL-terminated copy in *ret (free it with creds_secret_free()) and its
 * length in *ret_len; -ENOENT when missing, -EFBIG over the cap, -EINVAL
 * when it is not a regular file, another negative errno from open/read, or
 * -ENOMEM. */
int creds_read_file(const char *path, size_t max_bytes, char **ret, size_t *ret_len);

/* Wipes and frees a string that may hold a secret; accepts NULL; returns
 * NULL. */
char *creds_secret_free(char *s);

/* Wipes the bytes of b (a response that held secrets), then buf_done(). */
void creds_buf_wipe(struct buf *b);

struct http_response;

/* Copies the transport's words on a failed transfer (resp->error) into
 * why->detail; accepts a NULL why. */
void creds_failure_from_http(struct creds_failure *why, const struct http_response *resp);

/* Parses an ISO-8601 UTC time as AWS writes it: YYYY-MM-DDTHH:MM:SS, then
 * optional fractional seconds, then Z or +HH:MM/-HH:MM. Exactly n bytes.
 * Returns 0 and seconds since the epoch in *ret_unix, or -EINVAL. */
int creds_parse_iso8601(const char *s, size_t n, int64_t *ret_unix);

/* Parses the JSON of the ECS endpoint and IMDS: AccessKeyId,
 * SecretAccessKey and Expiration required, Token optional, Code (when
 * present) must be "Success" (else -EACCES). Returns 0 and new credentials
 * named provider in *ret, -EBADMSG, or -ENOMEM. */
int creds_from_json(const char *body, size_t len, const char *provider, struct creds **ret);

#endif
