/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth: the credentials HTTP clients must present, read once at start.
 *
 * Two kinds, either or both; when both are configured either is accepted:
 *  - a bearer token (--web.auth-token-file): the whole file, one trailing
 *    newline ("\n" or "\r\n") stripped; it must be 1..AUTH_MAX_TOKEN_BYTES
 *    printable ASCII characters without spaces. Clients send
 *    "Authorization: Bearer <token>" (Prometheus: authorization.credentials
 *    or credentials_file).
 *  - basic authentication (--web.basic-auth-file): one "user:hash" per
 *    line, at most AUTH_MAX_USERS users, AUTH_MAX_FILE_BYTES in all. Blank
 *    lines and lines starting with '#' are skipped; white space at the end
 *    of a line is dropped. The user is 1..AUTH_MAX_USER_BYTES bytes without
 *    ':' or control characters, once per file. The hash is one of:
 *      $2a$NN$..., $2b$NN$..., $2y$NN$...  bcrypt (htpasswd -B, Python's
 *                                          bcrypt), checked with crypt(3)
 *      sha256:<64 hex digits>              SHA-256 of the password
 *      <64 hex digits>                     the same
 *    Clients send "Authorization: Basic base64(user:password)" (Prometheus:
 *    basic_auth). Each such request with a bcrypt user costs one bcrypt
 *    run, so keep the cost moderate (10 takes about 60 ms).
 *
 * Secrets are compared in constant time: both sides are hashed with SHA-256
 * first and the digests compared with CRYPTO_memcmp(), so neither content
 * nor length shows in the timing; a user is looked up by comparing the
 * digest of the name with every user's, and an unknown user still costs
 * one password check. Only digests of the token and passwords are kept.
 *
 * An auth is immutable once made: auth_allows() is thread-safe.
 */
#ifndef CLOUDMAP_AUTH_H
#define CLOUDMAP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_MAX_TOKEN_BYTES	   4096
#define AUTH_MAX_FILE_BYTES	   (256u << 10) /* the basic auth file */
#define AUTH_MAX_USERS		   1000
#define AUTH_MAX_USER_BYTES	   256
#define AUTH_MAX_CREDENTIALS_BYTES 4096 /* an Authorization header value */
#define AUTH_WHY_MAX		   320	/* room for the reason of a failure */

#define AUTH_REALM "cloudmap-sd"

struct auth;

/* Reads the token file and the basic auth file (each NULL or "" when not
 * configured). Returns 0 and a new auth in *ret (free it with auth_free();
 * with neither file it allows every request); on failure the reason, which
 * names the file and line, in why (at least AUTH_WHY_MAX bytes), and
 * -ENOENT, -EACCES (or another errno of open/read) when a file cannot be
 * read, -EFBIG when one is over its cap, -EINVAL for bad content (an empty
 * token, a bad line, a duplicate user, too many users), or -ENOMEM. */
int auth_new(const char *token_file, const char *basic_file, struct auth **ret, char *why);

/* Frees a (wiping its digests); accepts NULL; returns NULL. */
struct auth *auth_free(struct auth *a);

/* Whether a asks for credentials at all. */
bool auth_required(const struct auth *a);

/* Whether the Authorization header value (NULL: none) is a credential a
 * accepts; always true when nothing is required. Thread-safe. */
bool auth_allows(const struct auth *a, const char *authorization);

/* The WWW-Authenticate challenges of a 401 answer: fills out with one per
 * configured kind, Bearer first, and returns how many (0..2):
 *   Bearer realm="cloudmap-sd"
 *   Basic realm="cloudmap-sd", charset="UTF-8" */
size_t auth_challenges(const struct auth *a, const char *out[2]);

#endif
