/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth: loads the token and basic auth files and checks Authorization
 * headers against them. See include/auth.h.
 *
 * main's thread builds the auth (through server_start()) before the HTTP
 * threads start; they only read it. Every secret comparison is between two
 * SHA-256 digests with CRYPTO_memcmp(); bcrypt runs through libxcrypt's
 * crypt_rn() with a crypt_data of its own per call, so calls may overlap.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"

#define AUTH_DIGEST_BYTES 32
#define AUTH_BCRYPT_LEN	  60
#define AUTH_HEX_LEN	  (2 * AUTH_DIGEST_BYTES)

#define AUTH_CHALLENGE_BEARER "Bearer realm=\"" AUTH_REALM "\""
#define AUTH_CHALLENGE_BASIC  "Basic realm=\"" AUTH_REALM "\", charset=\"UTF-8\""

enum auth_kind {
	AUTH_SHA256, /* digest: SHA-256 of the password */
	AUTH_BCRYPT, /* digest: SHA-256 of the bcrypt hash string */
};

struct auth_user {
	unsigned char name_digest[AUTH_DIGEST_BYTES];
	enum auth_kind kind;
	unsigned char digest[AUTH_DIGEST_BYTES];
	char *bcrypt; /* the bcrypt hash (crypt's setting), or NULL */
};

struct auth {
	bool bearer;
	unsigned char token_digest[AUTH_DIGEST_BYTES];
	struct auth_user *users;
	size_t n_users;
};

static int auth_sha256(const void *p, size_t n, unsigned char out[AUTH_DIGEST_BYTES])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != AUTH_DIGEST_BYTES)
		return -ENOMEM;
	return 0;
}

/* Whether the digest of p equals want; the comparison takes the same time
 * whatever p holds. */
static bool auth_digest_equals(const void *p, size_t n, const unsigned char *want)
{
	unsigned char got[AUTH_DIGEST_BYTES];

	if (auth_sha256(p, n, got) < 0)
		return false;
	return CRYPTO_memcmp(got, want, AUTH_DIGEST_BYTES) == 0;
}

/* ---- files ---- */

static int auth_read_fd(int fd, size_t max, char *p, size_t *ret_len)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		r = read(fd, p + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max)
			return -EFBIG;
	}
	p[n] = '\0';
	*ret_len = n;
	return 0;
}

/* Reads a regular file of at most max bytes into a new NUL-terminated
 * string. Returns 0, -EFBIG, -EINVAL (not a regular file), or an errno of
 * open/read. */
static int auth_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *p;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out_close;
	}
	p = malloc(max + 2);
	r = p ? auth_read_fd(fd, max, p, ret_len) : -ENOMEM;
	if (r == 0)
		*ret = p;
	else if (p) {
		OPENSSL_cleanse(p, max + 2);
		free(p);
	}
out_close:
	close(fd);
	return r;
}

static void auth_why_file(char *why, const char *flag, const char *path, int r)
{
	if (r == -EFBIG)
		snprintf(why, AUTH_WHY_MAX, "%s %s: larger than allowed", flag, path);
	else if (r == -EINVAL)
		snprintf(why, AUTH_WHY_MAX, "%s %s: not a regular file", flag, path);
	else
		snprintf(why, AUTH_WHY_MAX, "%s %s: %s", flag, path, strerror(-r));
}

/* ---- the bearer token ---- */

/* Strips one trailing "\n" or "\r\n" and checks what is left. */
static int auth_check_token(char *t, size_t *len, const char *path, char *why)
{
	size_t i;

	if (*len && t[*len - 1] == '\n')
		t[--*len] = '\0';
	if (*len && t[*len - 1] == '\r')
		t[--*len] = '\0';
	if (*len == 0) {
		snprintf(why, AUTH_WHY_MAX, "--web.auth-token-file %s: empty token", path);
		return -EINVAL;
	}
	for (i = 0; i < *len; i++)
		if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
			break;
	if (i < *len || *len > AUTH_MAX_TOKEN_BYTES) {
		snprintf(why, AUTH_WHY_MAX,
			 "--web.auth-token-file %s: the token must be up to %d printable ASCII "
			 "characters without spaces, on one line",
			 path, AUTH_MAX_TOKEN_BYTES);
		return -EINVAL;
	}
	return 0;
}

static int auth_load_token(struct auth *a, const char *path, char *why)
{
	char *t = NULL;
	size_t len = 0;
	int r;

	r = auth_read_file(path, AUTH_MAX_TOKEN_BYTES + 2, &t, &len);
	if (r < 0) {
		auth_why_file(why, "--web.auth-token-file", path, r);
		return r;
	}
	r = auth_check_token(t, &len, path, why);
	if (r == 0)
		r = auth_sha256(t, len, a->token_digest);
	a->bearer = r == 0;
	OPENSSL_cleanse(t, len);
	free(t);
	return r;
}

/* ---- the basic auth file ---- */

static bool auth_is_hex(const char *s, size_t n)
{
	return strspn(s, "0123456789abcdefABCDEF") == n && s[n] == '\0';
}

static bool auth_is_bcrypt(const char *h)
{
	static const char alphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789";

	int cost;

	if (strlen(h) != AUTH_BCRYPT_LEN || strncmp(h, "$2", 2) != 0 || !strchr("aby", h[2]) ||
	    h[3] != '$' || h[6] != '$' || strspn(h + 7, alphabet) != AUTH_BCRYPT_LEN - 7)
		return false;
	if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9')
		return false;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	return cost >= 4 && cost <= 31;
}

static unsigned auth_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	return (unsigned)((c | 0x20) - 'a' + 10);
}

/* hex: exactly AUTH_HEX_LEN hex digits (auth_is_hex). */
static void auth_unhex(const char *hex, unsigned char *out)
{
	size_t i;

	for (i = 0; i < AUTH_DIGEST_BYTES; i++)
		out[i] =
		    (unsigned char)(auth_nibble(hex[2 * i]) << 4 | auth_nibble(hex[2 * i + 1]));
}

/* Fills u's password check from hash. Returns 0, -EINVAL for an unknown
 * format, or -ENOMEM. */
static int auth_parse_hash(struct auth_user *u, const char *hash)
{
	if (strncmp(hash, "sha256:", 7) == 0)
		hash += 7;
	if (auth_is_hex(hash, AUTH_HEX_LEN)) {
		u->kind = AUTH_SHA256;
		auth_unhex(hash, u->digest);
		return 0;
	}
	if (!auth_is_bcrypt(hash))
		return -EINVAL;
	u->kind = AUTH_BCRYPT;
	u->bcrypt = strdup(hash);
	if (!u->bcrypt)
		return -ENOMEM;
	return auth_sha256(hash, AUTH_BCRYPT_LEN, u->digest);
}

static bool auth_user_name_ok(const char *name, size_t n)
{
	size_t i;

	if (n == 0 || n > AUTH_MAX_USER_BYTES)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < ' ' || name[i] == 0x7f)
			return false;
	return true;
}

static bool auth_user_known(const struct auth *a, const unsigned char *name_digest)
{
	size_t i;

	for (i = 0; i < a->n_users; i++)
		if (memcmp(a->users[i].name_digest, name_digest, AUTH_DIGEST_BYTES) == 0)
			return true;
	return false;
}

/* One "user:hash" line (trimmed, not empty, no comment). Returns 0, or
 * -EINVAL / -ENOMEM with the reason in why. */
static int auth_add_line(struct auth *a, char *line, unsigned line_no, const char *path, char *why)
{
	struct auth_user *u = &a->users[a->n_users];
	const char *reason = NULL;
	char *colon = strchr(line, ':');
	int r;

	if (!colon || !auth_user_name_ok(line, (size_t)(colon - line)))
		reason = "want user:hash with a user of 1 to 256 printable characters";
	else if (a->n_users >= AUTH_MAX_USERS)
		reason = "too many users";
	else if (auth_sha256(line, (size_t)(colon - line), u->name_digest) < 0)
		return -ENOMEM;
	else if (auth_user_known(a, u->name_digest))
		reason = "the user is listed twice";
	else if ((r = auth_parse_hash(u, colon + 1)) == -ENOMEM)
		return r;
	else if (r < 0)
		reason = "unknown hash: want bcrypt ($2a$, $2b$, $2y$), sha256:<64 hex digits> "
			 "or 64 hex digits";
	if (reason) {
		snprintf(why, AUTH_WHY_MAX, "--web.basic-auth-file %s line %u: %s", path, line_no,
			 reason);
		return -EINVAL;
	}
	a->n_users++;
	return 0;
}

/* Cuts the next line off *p: returns it without its end of line and
 * trailing white space, and moves *p past it. */
static char *auth_next_line(char **p)
{
	char *line = *p, *end = strchr(line, '\n');
	size_t n;

	*p = end ? end + 1 : line + strlen(line);
	n = end ? (size_t)(end - line) : strlen(line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	line[n] = '\0';
	return line;
}

static int auth_parse_users(struct auth *a, char *text, size_t len, const char *path, char *why)
{
	unsigned line_no = 0;
	char *p = text, *line;
	int r;

	if (strlen(text) != len) {
		snprintf(why, AUTH_WHY_MAX, "--web.basic-auth-file %s: holds a NUL byte", path);
		return -EINVAL;
	}
	a->users = calloc(AUTH_MAX_USERS, sizeof(*a->users));
	if (!a->users)
		return -ENOMEM;
	while (*p) {
		line = auth_next_line(&p);
		line_no++;
		if (!*line || *line == '#')
			continue;
		r = auth_add_line(a, line, line_no, path, why);
		if (r < 0)
			return r;
	}
	if (a->n_users == 0) {
		snprintf(why, AUTH_WHY_MAX, "--web.basic-auth-file %s: no user", path);
		return -EINVAL;
	}
	return 0;
}

static int auth_load_users(struct auth *a, const char *path, char *why)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = auth_read_file(path, AUTH_MAX_FILE_BYTES, &text, &len);
	if (r < 0) {
		auth_why_file(why, "--web.basic-auth-file", path, r);
		return r;
	}
	r = auth_parse_users(a, text, len, path, why);
	OPENSSL_cleanse(text, len);
	free(text);
	return r;
}

/* ---- lifetime ---- */

int auth_new(const char *token_file, const char *basic_file, struct auth **ret, char *why)
{
	struct auth *a;
	int r = 0;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (token_file && *token_file)
		r = auth_load_token(a, token_file, why);
	if (r == 0 && basic_file && *basic_file)
		r = auth_load_users(a, basic_file, why);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(why, AUTH_WHY_MAX, "out of memory");
		auth_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

struct auth *auth_free(struct auth *a)
{
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; a->users && i < AUTH_MAX_USERS; i++)
		free(a->users[i].bcrypt);
	if (a->users)
		OPENSSL_cleanse(a->users, AUTH_MAX_USERS * sizeof(*a->users));
	free(a->users);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	return NULL;
}

bool auth_required(const struct auth *a)
{
	return a->bearer || a->n_users > 0;
}

size_t auth_challenges(const struct auth *a, const char *out[2])
{
	size_t n = 0;

	if (a->bearer)
		out[n++] = AUTH_CHALLENGE_BEARER;
	if (a->n_users > 0)
		out[n++] = AUTH_CHALLENGE_BASIC;
	return n;
}

/* ---- checking a request ---- */

static bool auth_bcrypt_ok(const struct auth_user *u, const char *password)
{
	struct crypt_data *data = calloc(1, sizeof(*data));
	const char *out;
	bool ok = false;

	if (!data)
		return false;
	out = crypt_rn(password, u->bcrypt, data, (int)sizeof(*data));
	if (out && out[0] != '*')
		ok = auth_digest_equals(out, strlen(out), u->digest);
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return ok;
}

static bool auth_password_ok(const struct auth_user *u, const char *password)
{
	if (u->kind == AUTH_BCRYPT)
		return auth_bcrypt_ok(u, password);
	return auth_digest_equals(password, strlen(password), u->digest);
}

/* The user whose name has this digest, compared with every user's without
 * stopping at a match; NULL when none. */
static const struct auth_user *auth_find_user(const struct auth *a, const char *name, size_t n)
{
	const struct auth_user *found = NULL;
	unsigned char d[AUTH_DIGEST_BYTES];
	size_t i;

	if (auth_sha256(name, n, d) < 0)
		return NULL;
	for (i = 0; i < a->n_users; i++)
		if (CRYPTO_memcmp(a->users[i].name_digest, d, AUTH_DIGEST_BYTES) == 0)
			found = &a->users[i];
	return found;
}

/* Decodes standard base64 with padding into out (NUL-terminated). Returns
 * the length, or -1 when malformed. */
static int auth_base64_decode(const char *in, size_t n, unsigned char *out)
{
	int len;

	if (n == 0 || n % 4 != 0 || n > AUTH_MAX_CREDENTIALS_BYTES)
		return -1;
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	len -= (in[n - 1] == '=') + (in[n - 2] == '=');
	out[len] = '\0';
	return len;
}

static bool auth_basic_ok(const struct auth *a, const char *b64, size_t n)
{
	unsigned char creds[AUTH_MAX_CREDENTIALS_BYTES];
	const struct auth_user *u;
	char *colon;
	int len;
	bool ok;

	len = auth_base64_decode(b64, n, creds);
	if (len < 0 || memchr(creds, '\0', (size_t)len))
		return false;
	colon = strchr((char *)creds, ':');
	if (!colon) {
		OPENSSL_cleanse(creds, (size_t)len);
		return false;
	}
	u = auth_find_user(a, (char *)creds, (size_t)(colon - (char *)creds));
	/* An unknown user costs a password check too: the time does not
	 * tell which users exist. */
	ok = auth_password_ok(u ? u : &a->users[0], colon + 1) && u;
	OPENSSL_cleanse(creds, (size_t)len);
	return ok;
}

bool auth_allows(const struct auth *a, const char *authorization)
{
	size_t scheme_len, n;
	const char *cred;

	if (!auth_required(a))
		return true;
	if (!authorization)
		return false;
	scheme_len = strcspn(authorization, " ");
	cred = authorization + scheme_len + strspn(authorization + scheme_len, " ");
	n = strlen(cred);
	while (n && (cred[n - 1] == ' ' || cred[n - 1] == '\t'))
		n--;
	if (n == 0 || n > AUTH_MAX_CREDENTIALS_BYTES)
		return false;
	if (a->bearer && scheme_len == 6 && strncasecmp(authorization, "Bearer", 6) == 0)
		return auth_digest_equals(cred, n, a->token_digest);
	if (a->n_users > 0 && scheme_len == 5 && strncasecmp(authorization, "Basic", 5) == 0)
		return auth_basic_ok(a, cred, n);
	return false;
}
