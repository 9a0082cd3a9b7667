/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-auth: the token and basic auth files and the Authorization checks.
 *
 * bcrypt is checked against the published crypt_blowfish test vector
 * ("U*U" with the salt CCCCCCCCCCCCCCCCCCCCC.) under the $2a$, $2b$ and $2y$
 * prefixes, and SHA-256 against digests computed with sha256sum. The
 * program is linked with -Wl,--wrap=CRYPTO_memcmp, so the test sees every
 * comparison auth makes: each must be CRYPTO_memcmp on 32-byte digests, the
 * same number of them whatever the input (length, user known or not).
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"
#include "test.h"

#define BCRYPT_VECTOR_SALT "$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define BCRYPT_VECTOR_PASS "U*U"
/* printf 'correct horse' | sha256sum */
#define SHA_CORRECT_HORSE "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"
/* printf 'pa55:word' | sha256sum, in capitals */
#define SHA_PASSWORD_WITH_COLON "CB72107E8BF9688D6713CB4E68CC4126F0220BE6778FD4CE0C5F33249DE8D92D"

/* ---- every comparison, seen through the linker ---- */

int __real_CRYPTO_memcmp(const void *a, const void *b, size_t len);
int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len);

static unsigned memcmp_calls, memcmp_not_digest;

int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len)
{
	memcmp_calls++;
	memcmp_not_digest += len != 32;
	return __real_CRYPTO_memcmp(a, b, len);
}

/* ---- fixtures ---- */

static char dir[64];

static const char *write_file(const char *name, const char *content, size_t len)
{
	static char paths[4][128];
	static unsigned next;
	char *path = paths[next++ % 4];
	FILE *f;

	if (!dir[0]) {
		strcpy(dir, "/tmp/test-auth-XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(content, 1, len, f) != len || fclose(f) != 0)
		abort();
	return path;
}

static const char *write_text(const char *name, const char *content)
{
	return write_file(name, content, strlen(content));
}

static struct auth *load(const char *token_path, const char *basic_path)
{
	char why[AUTH_WHY_MAX] = "";
	struct auth *a = NULL;

	if (auth_new(token_path, basic_path, &a, why) < 0)
		printf("# auth_new: %s\n", why);
	return a;
}

/* "Basic base64(user:password)" in a static buffer. */
static const char *basic(const char *user_password)
{
	static char header[256];

	strcpy(header, "Basic ");
	EVP_EncodeBlock((unsigned char *)header + 6, (const unsigned char *)user_password,
			(int)strlen(user_password));
	return header;
}

/* ---- no files ---- */

static void test_nothing_required(void)
{
	const char *challenges[2];
	struct auth *a = load(NULL, "");

	CHECK(a != NULL);
	CHECK(!auth_required(a));
	CHECK(auth_allows(a, NULL));
	CHECK(auth_allows(a, "Bearer whatever"));
	CHECK_INT(auth_challenges(a, challenges), 0);
	CHECK(auth_free(a) == NULL);
	CHECK(auth_free(NULL) == NULL);
}

/* ---- bearer ---- */

static void test_bearer(void)
{
	const char *challenges[2];
	struct auth *a = load(write_text("token", "s3cret-Token.~+/=\n"), NULL);

	CHECK(a != NULL);
	CHECK(auth_required(a));
	CHECK(auth_allows(a, "Bearer s3cret-Token.~+/="));
	CHECK(auth_allows(a, "bearer   s3cret-Token.~+/=  ")); /* scheme in any case */
	CHECK(!auth_allows(a, "Bearer s3cret-Token.~+/"));
	CHECK(!auth_allows(a, "Bearer s3cret-Token.~+/=="));
	CHECK(!auth_allows(a, "Bearer S3cret-Token.~+/="));
	CHECK(!auth_allows(a, "Bearer"));
	CHECK(!auth_allows(a, "Bearer "));
	CHECK(!auth_allows(a, "Bearers3cret-Token.~+/="));
	CHECK(!auth_allows(a, "Token s3cret-Token.~+/="));
	CHECK(!auth_allows(a, "Basic s3cret-Token.~+/="));
	CHECK(!auth_allows(a, basic("s3cret-Token.~+/=:s3cret-Token.~+/=")));
	CHECK(!auth_allows(a, NULL));
	CHECK(!auth_allows(a, ""));
	CHECK_INT(auth_challenges(a, challenges), 1);
	CHECK_STR(challenges[0], "Bearer realm=\"cloudmap-sd\"");
	auth_free(a);
	a = load(write_text("token", "crlf\r\n"), NULL); /* "\r\n" is stripped too */
	CHECK(a != NULL);
	CHECK(auth_allows(a, "Bearer crlf"));
	auth_free(a);
	a = load(write_text("token", "no-newline"), NULL);
	CHECK(a != NULL);
	CHECK(auth_allows(a, "Bearer no-newline"));
	auth_free(a);
}

struct bad_file {
	const char *content;
	size_t len; /* 0: strlen */
	int err;
	const char *why; /* a part of the reason */
};

static void check_bad_file(bool token, const struct bad_file *b)
{
	size_t len = b->len ? b->len : strlen(b->content);
	const char *path = write_file("bad", b->content, len);
	char why[AUTH_WHY_MAX] = "";
	struct auth *sentinel = (struct auth *)&len, *a = sentinel;
	int r;

	r = auth_new(token ? path : NULL, token ? NULL : path, &a, why);
	if (r != b->err || a != sentinel || !strstr(why, b->why) || !strstr(why, path))
		TEST_FAIL("\"%.40s\": %d \"%s\", want %d \"%s\"", b->content, r, why, b->err,
			  b->why);
}

static void test_token_file_errors(void)
{
	static char big[AUTH_MAX_TOKEN_BYTES + 4];
	const struct bad_file bad[] = {
		{ "", 0, -EINVAL, "--web.auth-token-file" },
		{ "\n", 0, -EINVAL, "empty token" },
		{ "\r\n", 0, -EINVAL, "empty token" },
		{ "two words\n", 0, -EINVAL, "printable ASCII characters without spaces" },
		{ "two\nlines\n", 0, -EINVAL, "on one line" },
		{ "tab\there", 0, -EINVAL, "without spaces" },
		{ "caf\xc3\xa9", 0, -EINVAL, "printable ASCII" },
		{ "nul\0byte", 8, -EINVAL, "printable ASCII" },
		{ big, 0, -EFBIG, "larger than allowed" },
	};
	char why[AUTH_WHY_MAX];
	struct auth *a = NULL;
	size_t i;

	memset(big, 'a', sizeof(big) - 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad_file(true, &bad[i]);
	CHECK_INT(auth_new("/nonexistent/token", NULL, &a, why), -ENOENT);
	CHECK(strstr(why, "--web.auth-token-file /nonexistent/token: No such file"));
	CHECK_INT(auth_new("/tmp", NULL, &a, why), -EINVAL);
	CHECK(strstr(why, "not a regular file"));
	CHECK(a == NULL);
	/* the largest token allowed */
	big[AUTH_MAX_TOKEN_BYTES] = '\0';
	a = load(write_text("token", big), NULL);
	CHECK(a != NULL);
	auth_free(a);
}

/* ---- basic ---- */

static const char users_file[] = "# who may read cloudmap-sd\n"
				 "\n"
				 "prom:$2a" BCRYPT_VECTOR_SALT "\n"
				 "b:$2b" BCRYPT_VECTOR_SALT "  \r\n"
				 "y:$2y" BCRYPT_VECTOR_SALT "\t\n"
				 "ops:sha256:" SHA_CORRECT_HORSE "\n"
				 "caps:" SHA_PASSWORD_WITH_COLON "\n"
				 "J\xc3\xb6rg:sha256:" SHA_CORRECT_HORSE; /* no final newline */

static void test_basic_accepts_each_hash(void)
{
	struct auth *a = load(NULL, write_text("users", users_file));
	const char *challenges[2];

	CHECK(a != NULL);
	CHECK(auth_allows(a, basic("prom:" BCRYPT_VECTOR_PASS)));
	CHECK(auth_allows(a, "Basic cHJvbTpVKlU=")); /* printf prom:U*U | base64 */
	CHECK(auth_allows(a, "basic cHJvbTpVKlU="));
	CHECK(auth_allows(a, basic("b:" BCRYPT_VECTOR_PASS)));
	CHECK(auth_allows(a, basic("y:" BCRYPT_VECTOR_PASS)));
	CHECK(auth_allows(a, basic("ops:correct horse")));
	CHECK(auth_allows(a, basic("caps:pa55:word"))); /* the user ends at the first ':' */
	CHECK(auth_allows(a, basic("J\xc3\xb6rg:correct horse")));
	CHECK_INT(auth_challenges(a, challenges), 1);
	CHECK_STR(challenges[0], "Basic realm=\"cloudmap-sd\", charset=\"UTF-8\"");
	auth_free(a);
}

static void test_basic_refuses(void)
{
	static const char *const wrong[] = {
		"prom:U*u",
		"prom:",
		"prom:U*U ",
		"Prom:U*U",
		"b:correct horse",
		"ops:U*U",
		"ops:correct horsE",
		"caps:pa55",
		"nobody:U*U",
		":U*U",
		"prom",
		"",
	};
	struct auth *a = load(NULL, write_text("users", users_file));
	size_t i;

	CHECK(a != NULL);
	for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
		if (auth_allows(a, basic(wrong[i])))
			TEST_FAIL("accepted \"%s\"", wrong[i]);
	CHECK(!auth_allows(a, "Basic cHJvbTpVKlU"));   /* no padding */
	CHECK(!auth_allows(a, "Basic cHJvbTpVKl!="));  /* not base64 */
	CHECK(!auth_allows(a, "Basic cHJvbTpV KlU=")); /* a space inside */
	CHECK(!auth_allows(a, "Basic"));
	CHECK(!auth_allows(a, "Bearer cHJvbTpVKlU=")); /* no token configured */
	CHECK(!auth_allows(a, NULL));
	auth_free(a);
}

/* A hash made here by libxcrypt, with a UTF-8 password. */
static void test_basic_fresh_bcrypt(void)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE], line[128];
	struct crypt_data *data = calloc(1, sizeof(*data));
	const char *hash;
	struct auth *a;

	CHECK(data != NULL);
	CHECK(crypt_gensalt_rn("$2b$", 4, NULL, 0, setting, sizeof(setting)) != NULL);
	hash = crypt_rn("p\xc3\xa4ss w\xc3\xb6rd", setting, data, (int)sizeof(*data));
	CHECK(hash != NULL && hash[0] == '$');
	snprintf(line, sizeof(line), "u:%s\n", hash);
	a = load(NULL, write_text("users", line));
	free(data);
	CHECK(a != NULL);
	CHECK(auth_allows(a, basic("u:p\xc3\xa4ss w\xc3\xb6rd")));
	CHECK(!auth_allows(a, basic("u:pass word")));
	auth_free(a);
}

static void test_basic_file_errors(void)
{
	static char many[(AUTH_MAX_USERS + 1) * 80];
	const struct bad_file bad[] = {
		{ "nocolon\n", 0, -EINVAL, "line 1: want user:hash" },
		{ ":" SHA_CORRECT_HORSE "\n", 0, -EINVAL, "line 1: want user:hash" },
		{ "a\x01"
		  "b:" SHA_CORRECT_HORSE,
		  0, -EINVAL, "line 1: want user:hash" },
		{ "\n# c\nu:xyz\n", 0, -EINVAL, "line 3: unknown hash" },
		{ "u:sha256:abc\n", 0, -EINVAL, "line 1: unknown hash" },
		{ "u:sha256:" SHA_CORRECT_HORSE "0", 0, -EINVAL, "unknown hash" },
		{ "u:4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b563", 0, -EINVAL,
		  "unknown hash" },
		{ "u:sha256:" SHA_CORRECT_HORSE " x", 0, -EINVAL, "unknown hash" },
		{ "u:$2x" BCRYPT_VECTOR_SALT, 0, -EINVAL, "unknown hash" },
		{ "u:$2b$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", 0, -EINVAL,
		  "unknown hash" },
		{ "u:$2b$32$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", 0, -EINVAL,
		  "unknown hash" },
		{ "u:$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe", 0, -EINVAL,
		  "unknown hash" },
		{ "u:$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!", 0, -EINVAL,
		  "unknown hash" },
		{ "u:plaintext\n", 0, -EINVAL, "unknown hash" },
		{ "u:" SHA_CORRECT_HORSE "\nv:" SHA_CORRECT_HORSE "\nu:" SHA_CORRECT_HORSE, 0,
		  -EINVAL, "line 3: the user is listed twice" },
		{ "# only comments\n\n   \n", 0, -EINVAL, "no user" },
		{ "", 0, -EINVAL, "no user" },
		{ "u:" SHA_CORRECT_HORSE "\n\0", 68, -EINVAL, "holds a NUL byte" },
		{ many, 0, -EINVAL, "line 1001: too many users" },
	};
	char why[AUTH_WHY_MAX];
	struct auth *a = NULL;
	size_t i, n = 0, cut = 0;

	for (i = 0; i <= AUTH_MAX_USERS; i++) {
		cut = n;
		n += (size_t)snprintf(many + n, sizeof(many) - n, "user%zu:%s\n", i,
				      SHA_CORRECT_HORSE);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad_file(false, &bad[i]);
	CHECK_INT(auth_new(NULL, "/nonexistent/users", &a, why), -ENOENT);
	CHECK(strstr(why, "--web.basic-auth-file /nonexistent/users"));
	CHECK(a == NULL);
	/* exactly the most users allowed */
	many[cut] = '\0';
	a = load(NULL, write_text("users", many));
	CHECK(a != NULL);
	CHECK(auth_allows(a, basic("user999:correct horse")));
	auth_free(a);
}

static void test_basic_file_too_large(void)
{
	size_t len = AUTH_MAX_FILE_BYTES + 1;
	char *big = malloc(len);
	const struct bad_file b = { big, len, -EFBIG, "larger than allowed" };

	CHECK(big != NULL);
	memset(big, '#', len);
	check_bad_file(false, &b);
	free(big);
}

/* ---- both ---- */

static void test_either_credential(void)
{
	struct auth *a = load(write_text("token", "tok\n"), write_text("users", users_file));
	const char *challenges[2];

	CHECK(a != NULL);
	CHECK(auth_allows(a, "Bearer tok"));
	CHECK(auth_allows(a, basic("ops:correct horse")));
	CHECK(!auth_allows(a, "Bearer correct horse"));
	CHECK(!auth_allows(a, basic("ops:tok")));
	CHECK_INT(auth_challenges(a, challenges), 2);
	CHECK_STR(challenges[0], "Bearer realm=\"cloudmap-sd\"");
	CHECK_STR(challenges[1], "Basic realm=\"cloudmap-sd\", charset=\"UTF-8\"");
	auth_free(a);
}

/* ---- constant time ---- */

/* Runs one check and returns how many comparisons it made; any of them not
 * on two digests counts as a failure. */
static unsigned comparisons(const struct auth *a, const char *header, bool want)
{
	memcmp_calls = 0;
	memcmp_not_digest = 0;
	if (auth_allows(a, header) != want) {
		printf("# %s: want %s\n", header, want ? "allowed" : "refused");
		return 0;
	}
	return memcmp_not_digest ? 0 : memcmp_calls;
}

static void test_constant_time_compare(void)
{
	static char long_token[3000] = "Bearer ";
	struct auth *a;

	memset(long_token + 7, 'x', sizeof(long_token) - 8);
	a = load(write_text("token", "right\n"), write_text("users", "u1:" SHA_CORRECT_HORSE "\n"
								     "u2:" SHA_CORRECT_HORSE "\n"
								     "u3:" SHA_CORRECT_HORSE "\n"));
	CHECK(a != NULL);
	/* one digest comparison, whatever the length */
	CHECK_INT(comparisons(a, "Bearer right", true), 1);
	CHECK_INT(comparisons(a, "Bearer r", false), 1);
	CHECK_INT(comparisons(a, "Bearer righ", false), 1);
	CHECK_INT(comparisons(a, "Bearer rightrightright", false), 1);
	CHECK_INT(comparisons(a, long_token, false), 1);
	/* every user's name, then one password: for a known user or not */
	CHECK_INT(comparisons(a, basic("u1:correct horse"), true), 4);
	CHECK_INT(comparisons(a, basic("u3:correct horse"), true), 4);
	CHECK_INT(comparisons(a, basic("u2:wrong"), false), 4);
	CHECK_INT(comparisons(a, basic("nobody:correct horse"), false), 4);
	CHECK_INT(comparisons(a, basic("u:correct horse"), false), 4);
	auth_free(a);
	/* bcrypt's output is compared as a digest too */
	a = load(NULL, write_text("users", "prom:$2b" BCRYPT_VECTOR_SALT "\n"));
	CHECK(a != NULL);
	CHECK_INT(comparisons(a, basic("prom:U*U"), true), 2);
	CHECK_INT(comparisons(a, basic("prom:U*V"), false), 2);
	auth_free(a);
}

static void cleanup(void)
{
	char path[128];
	static const char *const names[] = { "token", "users", "bad" };
	size_t i;

	for (i = 0; dir[0] && i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	if (dir[0])
		rmdir(dir);
}

int main(void)
{
	int r;

	r = TEST_MAIN(TEST_CASE(test_nothing_required), TEST_CASE(test_bearer),
		      TEST_CASE(test_token_file_errors), TEST_CASE(test_basic_accepts_each_hash),
		      TEST_CASE(test_basic_refuses), TEST_CASE(test_basic_fresh_bcrypt),
		      TEST_CASE(test_basic_file_errors), TEST_CASE(test_basic_file_too_large),
		      TEST_CASE(test_either_credential), TEST_CASE(test_constant_time_compare));
	cleanup();
	return r;
}
