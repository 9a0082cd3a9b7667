/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigv4: AWS Signature Version 4, signed in the Authorization header.
 *
 * A pipeline of small pure steps: canonical request -> string to sign ->
 * signing key -> signature -> Authorization header. The time is a parameter
 * (the caller passes the unix time), so every function here is a pure
 * function of its arguments: no clock, no environment, no global state, no
 * logging. All functions are reentrant and may be called from any thread.
 *
 * What the caller hands in is borrowed for the duration of the call. What
 * comes out is either appended to a capped struct buf (and the buffer is left
 * as it was on failure) or written to a struct sigv4_result that the caller
 * releases with sigv4_result_done().
 *
 * Canonical form, as AWS specifies it and as the official test suite
 * (test/sigv4/v4) checks it:
 *  - headers: names lowercased and sorted; values trimmed, inner runs of
 *    white space (including the line breaks of a multi-line value) collapsed
 *    to one space; repeated names merged in their order, joined by commas.
 *    Connection, Expect, Upgrade, User-Agent and X-Amzn-Trace-Id are not
 *    signed (they may change on the way, as the AWS SDKs assume);
 *  - query: split on '&', each name and value percent-decoded and encoded
 *    again (unreserved characters kept, everything else %XX uppercase, so a
 *    space is %20 and '+' is %2B), sorted by encoded name, then value;
 *  - path: with normalize_path, dot segments removed and duplicate slashes
 *    collapsed; with double_encode_path, each segment URI-encoded (the path
 *    as it is on the request line, already encoded once, is encoded again).
 *    Every service but S3 wants both; S3 wants neither.
 */
#ifndef CLOUDMAP_SIGV4_H
#define CLOUDMAP_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

/* Caps on what a request may carry; past them signing fails (see below). */
#define SIGV4_MAX_HEADERS	  64	      /* caller's headers: -E2BIG */
#define SIGV4_MAX_QUERY_PARAMS	  128	      /* -E2BIG */
#define SIGV4_MAX_CANONICAL_BYTES (64u << 10) /* canonical request: -EMSGSIZE */
#define SIGV4_MAX_KEY_BYTES	  128	      /* access key id, secret: -EMSGSIZE */
#define SIGV4_MAX_TOKEN_BYTES	  (16u << 10) /* session token: -EMSGSIZE */
#define SIGV4_MAX_SCOPE_BYTES	  64	      /* region, service: -EMSGSIZE */

#define SIGV4_HEX_SIZE	    65 /* 64 hex digits of a SHA-256 and a NUL */
#define SIGV4_AMZ_DATE_SIZE 17 /* "20150830T123600Z" and a NUL */

/* How to sign. Borrowed. */
struct sigv4_params {
	const char *region;  /* "us-east-1" */
	const char *service; /* signing name: "servicediscovery", "sts" */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL (or "") when there is none */
	int64_t now_unix;	   /* the signing time, seconds since the epoch */
	bool normalize_path;	   /* true for every service but S3 */
	bool double_encode_path;   /* true for every service but S3 */
	bool sign_body;		   /* add and sign x-amz-content-sha256 */
	bool omit_session_token;   /* add X-Amz-Security-Token unsigned */
};

/* The request to sign. Borrowed. */
struct sigv4_request {
	const char *method;		   /* "POST" */
	const char *path;		   /* as on the request line: "/", "/a%20b" */
	const char *query;		   /* without the '?'; NULL or "" for none */
	const struct http_header *headers; /* must include Host */
	size_t n_headers;
	const void *payload; /* may be NULL when payload_len is 0 */
	size_t payload_len;
};

/* What signing produced: the headers to add to the request. */
struct sigv4_result {
	char amz_date[SIGV4_AMZ_DATE_SIZE];  /* X-Amz-Date */
	char content_sha256[SIGV4_HEX_SIZE]; /* hex SHA-256 of the payload */
	char signature[SIGV4_HEX_SIZE];	     /* hex HMAC of the string to sign */
	char *authorization;		     /* owned: the Authorization value */
	char *security_token;		     /* owned copy, NULL without a token */
	bool add_content_sha256;	     /* sign_body was set */
};

/* The most headers sigv4_result_headers() returns. */
#define SIGV4_RESULT_MAX_HEADERS 4

/*
 * Errors shared by the functions below:
 *  -EINVAL    a missing or malformed input: empty method, path not starting
 *             with '/', bad header name, no Host header, a header the signer
 *             adds itself (Authorization, X-Amz-Date, X-Amz-Security-Token,
 *             X-Amz-Content-SHA256), a bad %-escape in the query, an empty
 *             or malformed credential, region or service, a time before 1970
 *             or after 9999;
 *  -E2BIG     more than SIGV4_MAX_HEADERS headers or SIGV4_MAX_QUERY_PARAMS
 *             query parameters;
 *  -EMSGSIZE  a canonical request over SIGV4_MAX_CANONICAL_BYTES, an input
 *             over its cap above, or an output over the cap of out;
 *  -ENOMEM;
 *  -EIO       OpenSSL failed.
 */

/* Appends the canonical request of req (no trailing newline) to out.
 * Returns 0 or a negative errno as above; on failure out is unchanged. */
int sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_params *p,
			    struct buf *out);

/* Appends the string to sign for the canonical request canon (canon_len
 * bytes) to out. Returns 0 or a negative errno as above; on failure out is
 * unchanged. */
int sigv4_string_to_sign(const struct sigv4_params *p, const char *canon, size_t canon_len,
			 struct buf *out);

/* Signs req. On success returns 0 and fills *ret, which the caller releases
 * with sigv4_result_done(); on failure returns a negative errno as above and
 * leaves *ret untouched. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *p,
	       struct sigv4_result *ret);

/* Writes to out (room for SIGV4_RESULT_MAX_HEADERS) the headers to add to
 * the signed request, in this order: X-Amz-Security-Token (when a token),
 * X-Amz-Date, x-amz-content-sha256 (when sign_body), Authorization. Returns
 * their number. The values are borrowed from r: valid until it is done. */
size_t sigv4_result_headers(const struct sigv4_result *r, struct http_header *out);

/* Frees what r owns (wiping the token copy); r may then be reused. Accepts
 * a zeroed result. */
void sigv4_result_done(struct sigv4_result *r);

/* Appends the AWS URI encoding of the n bytes at s to out: A-Z a-z 0-9
 * '-' '.' '_' '~' kept, '/' kept when keep_slash, every other byte %XX with
 * uppercase hex. Useful for form bodies too. Returns 0 or -EMSGSIZE / -ENOMEM
 * (out's cap); on failure out is unchanged. */
int sigv4_uri_encode(const char *s, size_t n, bool keep_slash, struct buf *out);

#endif
