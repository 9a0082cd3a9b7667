/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigv4: AWS Signature Version 4 header signing. See include/sigv4.h.
 *
 * The steps, each a small pure function:
 *   sigv4_state_init()      checks the inputs, formats the date, hashes the
 *                           payload;
 *   sigv4_build()           canonical request and signed-header list;
 *   sigv4_build_sts()       string to sign;
 *   sigv4_signing_key()     HMAC chain from the secret down the scope;
 *   sigv4_authorization()   the Authorization value.
 * Every intermediate lives in a struct buf capped at
 * SIGV4_MAX_CANONICAL_BYTES; key material is wiped once used. No state is
 * shared between calls, so any thread may sign.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sigv4.h"

#define SIGV4_SHA256_BYTES  32
#define SIGV4_SPACE	    " \t\r\n\v\f"
#define SIGV4_MAX_UNIX	    253402300799LL /* 9999-12-31T23:59:59Z */
#define SIGV4_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One header of the canonical set: the caller's or one the signer adds. */
struct sigv4_hdr {
	const char *name;
	const char *value;
};

/* One query parameter, encoded: name then value, back to back in a buf. */
struct sigv4_param {
	const char *s; /* set once the buf no longer moves */
	size_t off;
	size_t name_len;
	size_t value_len;
};

/* What every step needs, computed once. */
struct sigv4_state {
	char amz_date[SIGV4_AMZ_DATE_SIZE];
	char payload_hash[SIGV4_HEX_SIZE];
	struct buf canon;	   /* canonical request */
	struct buf signed_headers; /* "host;x-amz-date" */
};

/* Headers a proxy may change or drop: never signed, as the AWS SDKs do. */
static const char *const sigv4_unsigned_headers[] = {
	"connection", "expect", "upgrade", "user-agent", "x-amzn-trace-id",
};

/* Headers the signer adds: the caller must not pass them. */
static const char *const sigv4_reserved_headers[] = {
	"authorization",
	"x-amz-content-sha256",
	"x-amz-date",
	"x-amz-security-token",
};

/* ---- small helpers ---- */

static char sigv4_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Compares two header names as ASCII, case-insensitively. */
static int sigv4_name_cmp(const char *a, const char *b)
{
	unsigned char ca, cb;

	do {
		ca = (unsigned char)sigv4_lower(*a++);
		cb = (unsigned char)sigv4_lower(*b++);
	} while (ca && ca == cb);
	return ca - cb;
}

static bool sigv4_name_in(const char *name, const char *const *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sigv4_name_cmp(name, set[i]) == 0)
			return true;
	return false;
}

/* An RFC 9110 token. */
static bool sigv4_is_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || strchr(extra, *s)))
			return false;
	return true;
}

static bool sigv4_is_unreserved(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int sigv4_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void sigv4_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Cuts b back to len bytes (after a failed append). */
static void sigv4_buf_truncate(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

/* ---- crypto ---- */

static int sigv4_sha256_hex(const void *p, size_t n, char out[SIGV4_HEX_SIZE])
{
	unsigned char md[SIGV4_SHA256_BYTES];
	unsigned int md_len = 0;

	if (!EVP_Digest(n ? p : "", n, md, &md_len, EVP_sha256(), NULL) ||
	    md_len != SIGV4_SHA256_BYTES)
		return -EIO;
	sigv4_hex(md, sizeof(md), out);
	return 0;
}

static int sigv4_hmac(const void *key, size_t key_len, const void *msg, size_t msg_len,
		      unsigned char out[SIGV4_SHA256_BYTES])
{
	unsigned int out_len = 0;

	if (!HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &out_len) ||
	    out_len != SIGV4_SHA256_BYTES)
		return -EIO;
	return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request"). */
static int sigv4_signing_key(const struct sigv4_params *p, const char *amz_date,
			     unsigned char ret_key[SIGV4_SHA256_BYTES])
{
	const char *msg[] = { amz_date, p->region, p->service, "aws4_request" };
	unsigned char k[2][SIGV4_SHA256_BYTES];
	char secret[4 + SIGV4_MAX_KEY_BYTES];
	size_t secret_len = strlen(p->secret_access_key), i;
	int r = 0;

	memcpy(secret, "AWS4", 4);
	memcpy(secret + 4, p->secret_access_key, secret_len);
	r = sigv4_hmac(secret, 4 + secret_len, msg[0], 8, k[0]);
	for (i = 1; r == 0 && i < 4; i++)
		r = sigv4_hmac(k[(i - 1) % 2], SIGV4_SHA256_BYTES, msg[i], strlen(msg[i]),
			       k[i % 2]);
	if (r == 0)
		memcpy(ret_key, k[1], SIGV4_SHA256_BYTES);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(k, sizeof(k));
	return r;
}

static int sigv4_signature(const struct sigv4_params *p, const char *amz_date,
			   const struct buf *sts, char out[SIGV4_HEX_SIZE])
{
	unsigned char key[SIGV4_SHA256_BYTES], mac[SIGV4_SHA256_BYTES];
	int r;

	r = sigv4_signing_key(p, amz_date, key);
	if (r == 0)
		r = sigv4_hmac(key, sizeof(key), sts->data, sts->len, mac);
	if (r == 0)
		sigv4_hex(mac, sizeof(mac), out);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* ---- inputs ---- */

/* A non-empty string of at most max printable bytes, none of them in bad. */
static int sigv4_check_str(const char *s, size_t max, const char *bad)
{
	size_t n, i;

	if (!s || !*s)
		return -EINVAL;
	n = strnlen(s, max + 1);
	if (n > max)
		return -EMSGSIZE;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || strchr(bad, s[i]))
			return -EINVAL;
	return 0;
}

static int sigv4_check_params(const struct sigv4_params *p)
{
	int r;

	r = sigv4_check_str(p->region, SIGV4_MAX_SCOPE_BYTES, "/");
	if (r == 0)
		r = sigv4_check_str(p->service, SIGV4_MAX_SCOPE_BYTES, "/");
	if (r == 0)
		r = sigv4_check_str(p->access_key_id, SIGV4_MAX_KEY_BYTES, "/,");
	if (r == 0)
		r = sigv4_check_str(p->secret_access_key, SIGV4_MAX_KEY_BYTES, "");
	if (r == 0 && p->session_token && *p->session_token)
		r = sigv4_check_str(p->session_token, SIGV4_MAX_TOKEN_BYTES, "");
	return r;
}

static int sigv4_format_date(int64_t now_unix, char out[SIGV4_AMZ_DATE_SIZE])
{
	time_t t = (time_t)now_unix;
	struct tm tm;

	if (now_unix < 0 || now_unix > SIGV4_MAX_UNIX || (int64_t)t != now_unix ||
	    !gmtime_r(&t, &tm))
		return -EINVAL;
	if (strftime(out, SIGV4_AMZ_DATE_SIZE, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_AMZ_DATE_SIZE - 1)
		return -EINVAL;
	return 0;
}

static bool sigv4_has_token(const struct sigv4_params *p)
{
	return p->session_token && *p->session_token;
}

static void sigv4_state_done(struct sigv4_state *st)
{
	buf_done(&st->canon);
	buf_done(&st->signed_headers);
}

/* Checks p, formats the date and hashes the payload. */
static int sigv4_state_init(struct sigv4_state *st, const struct sigv4_request *req,
			    const struct sigv4_params *p)
{
	int r;

	buf_init(&st->canon, SIGV4_MAX_CANONICAL_BYTES);
	buf_init(&st->signed_headers, SIGV4_MAX_CANONICAL_BYTES);
	r = sigv4_check_params(p);
	if (r == 0)
		r = sigv4_format_date(p->now_unix, st->amz_date);
	if (r == 0 && req && req->payload_len && !req->payload)
		r = -EINVAL;
	if (r == 0 && req)
		r = sigv4_sha256_hex(req->payload, req->payload_len, st->payload_hash);
	return r;
}

/* ---- URI encoding, path and query ---- */

/* The length of the run at s (n bytes) that needs no escaping. */
static size_t sigv4_plain_run(const char *s, size_t n, bool keep_slash)
{
	size_t i = 0;

	while (i < n && (sigv4_is_unreserved(s[i]) || (keep_slash && s[i] == '/')))
		i++;
	return i;
}

int sigv4_uri_encode(const char *s, size_t n, bool keep_slash, struct buf *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t start = out->len, i, run;
	char esc[3] = { '%' };
	int r = 0;

	for (i = 0; r == 0 && i < n; i += run) {
		run = sigv4_plain_run(s + i, n - i, keep_slash);
		if (run) {
			r = buf_append(out, s + i, run);
			continue;
		}
		esc[1] = digits[(unsigned char)s[i] >> 4];
		esc[2] = digits[(unsigned char)s[i] & 0xf];
		r = buf_append(out, esc, 3);
		run = 1;
	}
	if (r < 0)
		sigv4_buf_truncate(out, start);
	return r;
}

/* Appends one path segment (or a whole path), encoded again if asked. */
static int sigv4_append_segment(const char *s, size_t n, const struct sigv4_params *p,
				struct buf *out)
{
	return p->double_encode_path ? sigv4_uri_encode(s, n, true, out) : buf_append(out, s, n);
}

/* Drops the last "/segment" written after base. */
static void sigv4_pop_segment(struct buf *out, size_t base)
{
	size_t i = out->len;

	while (i > base && out->data[i - 1] != '/')
		i--;
	if (i > base)
		i--;
	sigv4_buf_truncate(out, i);
}

/* Appends the path with empty and "." segments dropped and ".." applied;
 * a trailing slash is kept. */
static int sigv4_append_path_normalized(const char *path, const struct sigv4_params *p,
					struct buf *out)
{
	size_t base = out->len, n;
	const char *s = path;
	int r = 0;

	while (r == 0 && *s) {
		s += strspn(s, "/");
		n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.')
			sigv4_pop_segment(out, base);
		else if (n > 0 && !(n == 1 && s[0] == '.')) {
			r = buf_putc(out, '/');
			if (r == 0)
				r = sigv4_append_segment(s, n, p, out);
		}
		s += n;
	}
	if (r == 0 && (out->len == base || path[strlen(path) - 1] == '/'))
		r = buf_putc(out, '/');
	return r;
}

static int sigv4_append_path(const char *path, const struct sigv4_params *p, struct buf *out)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (p->normalize_path)
		return sigv4_append_path_normalized(path, p, out);
	return sigv4_append_segment(path, strlen(path), p, out);
}

/* Appends s (n bytes, as on the wire) percent-decoded, then encoded again. */
static int sigv4_query_reencode(const char *s, size_t n, struct buf *out)
{
	int hi, lo, r = 0;
	size_t i;
	char c;

	for (i = 0; r == 0 && i < n; i++) {
		c = s[i];
		if (c == '%') {
			if (n - i < 3 || (hi = sigv4_hex_value(s[i + 1])) < 0 ||
			    (lo = sigv4_hex_value(s[i + 2])) < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		r = sigv4_uri_encode(&c, 1, false, out);
	}
	return r;
}

/* Encodes one "name=value" (or "name") of n bytes into enc. */
static int sigv4_param_add(const char *s, size_t n, struct buf *enc, struct sigv4_param *pm)
{
	const char *eq = memchr(s, '=', n);
	size_t name_len = eq ? (size_t)(eq - s) : n;
	int r;

	pm->off = enc->len;
	r = sigv4_query_reencode(s, name_len, enc);
	if (r < 0)
		return r;
	pm->name_len = enc->len - pm->off;
	if (eq)
		r = sigv4_query_reencode(eq + 1, n - name_len - 1, enc);
	pm->value_len = enc->len - pm->off - pm->name_len;
	return r;
}

/* Splits the query on '&' (empty pieces dropped) into encoded params. */
static int sigv4_query_parse(const char *q, struct buf *enc, struct sigv4_param *pm,
			     size_t *n_params)
{
	size_t n, i;
	int r;

	for (*n_params = 0; *q; q += n + (q[n] == '&')) {
		n = strcspn(q, "&");
		if (n == 0)
			continue;
		if (*n_params == SIGV4_MAX_QUERY_PARAMS)
			return -E2BIG;
		r = sigv4_param_add(q, n, enc, &pm[(*n_params)++]);
		if (r < 0)
			return r;
	}
	for (i = 0; i < *n_params; i++)
		pm[i].s = enc->data ? enc->data + pm[i].off : "";
	return 0;
}

static int sigv4_bytes_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (c)
		return c;
	return a_len < b_len ? -1 : a_len > b_len;
}

/* Orders encoded params by name, then value. */
static int sigv4_param_cmp(const void *a, const void *b)
{
	const struct sigv4_param *x = a, *y = b;
	int c;

	c = sigv4_bytes_cmp(x->s, x->name_len, y->s, y->name_len);
	if (c)
		return c;
	return sigv4_bytes_cmp(x->s + x->name_len, x->value_len, y->s + y->name_len, y->value_len);
}

static int sigv4_append_params(const struct sigv4_param *pm, size_t n, struct buf *out)
{
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < n; i++) {
		if (i > 0)
			r = buf_putc(out, '&');
		if (r == 0)
			r = buf_append(out, pm[i].s, pm[i].name_len);
		if (r == 0)
			r = buf_putc(out, '=');
		if (r == 0)
			r = buf_append(out, pm[i].s + pm[i].name_len, pm[i].value_len);
	}
	return r;
}

static int sigv4_append_query(const char *query, struct buf *out)
{
	struct sigv4_param pm[SIGV4_MAX_QUERY_PARAMS];
	struct buf enc;
	size_t n = 0;
	int r;

	if (!query || !*query)
		return 0;
	buf_init(&enc, SIGV4_MAX_CANONICAL_BYTES);
	r = sigv4_query_parse(query, &enc, pm, &n);
	if (r == 0 && n > 0) {
		qsort(pm, n, sizeof(pm[0]), sigv4_param_cmp);
		r = sigv4_append_params(pm, n, out);
	}
	buf_done(&enc);
	return r;
}

/* ---- headers ---- */

/* Checks the caller's headers: valid names, none reserved, a Host. */
static int sigv4_check_headers(const struct sigv4_request *req)
{
	bool host = false;
	size_t i;

	if (req->n_headers > SIGV4_MAX_HEADERS)
		return -E2BIG;
	if (req->n_headers && !req->headers)
		return -EINVAL;
	for (i = 0; i < req->n_headers; i++) {
		if (!req->headers[i].name || !req->headers[i].value ||
		    !sigv4_is_token(req->headers[i].name) ||
		    sigv4_name_in(req->headers[i].name, sigv4_reserved_headers,
				  SIGV4_ARRAY_SIZE(sigv4_reserved_headers)))
			return -EINVAL;
		host = host || sigv4_name_cmp(req->headers[i].name, "host") == 0;
	}
	return host ? 0 : -EINVAL;
}

/* Gathers the headers to sign: the caller's, less the unsigned ones, and
 * those the signer adds. Returns their number. */
static size_t sigv4_collect_headers(const struct sigv4_request *req, const struct sigv4_params *p,
				    const struct sigv4_state *st, struct sigv4_hdr *h)
{
	size_t i, n = 0;

	for (i = 0; i < req->n_headers; i++)
		if (!sigv4_name_in(req->headers[i].name, sigv4_unsigned_headers,
				   SIGV4_ARRAY_SIZE(sigv4_unsigned_headers)))
			h[n++] = (struct sigv4_hdr){ req->headers[i].name, req->headers[i].value };
	h[n++] = (struct sigv4_hdr){ "x-amz-date", st->amz_date };
	if (sigv4_has_token(p) && !p->omit_session_token)
		h[n++] = (struct sigv4_hdr){ "x-amz-security-token", p->session_token };
	if (p->sign_body)
		h[n++] = (struct sigv4_hdr){ "x-amz-content-sha256", st->payload_hash };
	return n;
}

/* Sorts by lowercase name; stable, so repeated names keep their order. */
static void sigv4_sort_headers(struct sigv4_hdr *h, size_t n)
{
	struct sigv4_hdr t;
	size_t i, j;

	for (i = 1; i < n; i++) {
		t = h[i];
		for (j = i; j > 0 && sigv4_name_cmp(h[j - 1].name, t.name) > 0; j--)
			h[j] = h[j - 1];
		h[j] = t;
	}
}

/* Appends the name in lowercase. */
static int sigv4_append_lower(const char *name, struct buf *out)
{
	size_t start = out->len, i;
	int r;

	r = buf_puts(out, name);
	for (i = start; r == 0 && i < out->len; i++)
		out->data[i] = sigv4_lower(out->data[i]);
	return r;
}

/* Appends the value trimmed, each inner run of white space (line breaks of
 * a multi-line value too) made one space. */
static int sigv4_append_value(const char *v, struct buf *out)
{
	bool first = true;
	size_t n;
	int r = 0;

	for (v += strspn(v, SIGV4_SPACE); r == 0 && *v; v += strspn(v, SIGV4_SPACE)) {
		n = strcspn(v, SIGV4_SPACE);
		if (!first)
			r = buf_putc(out, ' ');
		if (r == 0)
			r = buf_append(out, v, n);
		first = false;
		v += n;
	}
	return r;
}

/* Appends one header: "\nname:value" for a new name, ",value" for a
 * repeated one; the name goes to the signed list too. */
static int sigv4_append_header(const struct sigv4_hdr *h, const struct sigv4_hdr *prev,
			       struct buf *out, struct buf *signed_headers)
{
	int r = 0;

	if (prev && sigv4_name_cmp(prev->name, h->name) == 0)
		r = buf_putc(out, ',');
	else {
		if (prev)
			r = buf_putc(out, '\n');
		if (r == 0 && prev)
			r = buf_putc(signed_headers, ';');
		if (r == 0)
			r = sigv4_append_lower(h->name, signed_headers);
		if (r == 0)
			r = sigv4_append_lower(h->name, out);
		if (r == 0)
			r = buf_putc(out, ':');
	}
	return r < 0 ? r : sigv4_append_value(h->value, out);
}

/* Appends the canonical headers block ending in a blank line, then the
 * signed-header list and a newline; fills st->signed_headers. */
static int sigv4_append_headers(const struct sigv4_request *req, const struct sigv4_params *p,
				struct sigv4_state *st)
{
	struct sigv4_hdr h[SIGV4_MAX_HEADERS + 3];
	size_t n, i;
	int r;

	r = sigv4_check_headers(req);
	if (r < 0)
		return r;
	n = sigv4_collect_headers(req, p, st, h);
	sigv4_sort_headers(h, n);
	for (i = 0; r == 0 && i < n; i++)
		r = sigv4_append_header(&h[i], i ? &h[i - 1] : NULL, &st->canon,
					&st->signed_headers);
	if (r == 0)
		r = buf_printf(&st->canon, "\n\n%s\n", st->signed_headers.data);
	return r;
}

/* ---- the pipeline ---- */

/* Builds the canonical request into st->canon. */
static int sigv4_build(const struct sigv4_request *req, const struct sigv4_params *p,
		       struct sigv4_state *st)
{
	int r;

	if (!req->method || !sigv4_is_token(req->method))
		return -EINVAL;
	r = buf_printf(&st->canon, "%s\n", req->method);
	if (r == 0)
		r = sigv4_append_path(req->path, p, &st->canon);
	if (r == 0)
		r = buf_putc(&st->canon, '\n');
	if (r == 0)
		r = sigv4_append_query(req->query, &st->canon);
	if (r == 0)
		r = buf_putc(&st->canon, '\n');
	if (r == 0)
		r = sigv4_append_headers(req, p, st);
	if (r == 0)
		r = buf_puts(&st->canon, st->payload_hash);
	return r;
}

/* Builds the string to sign for canon into out (empty on entry). */
static int sigv4_build_sts(const struct sigv4_params *p, const char *amz_date, const char *canon,
			   size_t canon_len, struct buf *out)
{
	char hash[SIGV4_HEX_SIZE];
	int r;

	r = sigv4_sha256_hex(canon, canon_len, hash);
	if (r < 0)
		return r;
	return buf_printf(out, SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date,
			  amz_date, p->region, p->service, hash);
}

static int sigv4_authorization(const struct sigv4_params *p, const struct sigv4_state *st,
			       const char *signature, char **ret)
{
	struct buf b;
	char *s;
	int r;

	buf_init(&b, SIGV4_MAX_CANONICAL_BYTES);
	r = buf_printf(&b,
		       SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
				       "SignedHeaders=%s, Signature=%s",
		       p->access_key_id, st->amz_date, p->region, p->service,
		       st->signed_headers.data, signature);
	if (r < 0) {
		buf_done(&b);
		return r;
	}
	s = buf_steal(&b, NULL);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_params *p,
			    struct buf *out)
{
	struct sigv4_state st;
	int r;

	r = sigv4_state_init(&st, req, p);
	if (r == 0)
		r = sigv4_build(req, p, &st);
	if (r == 0)
		r = buf_append(out, st.canon.data, st.canon.len);
	sigv4_state_done(&st);
	return r;
}

int sigv4_string_to_sign(const struct sigv4_params *p, const char *canon, size_t canon_len,
			 struct buf *out)
{
	struct sigv4_state st;
	struct buf sts;
	int r;

	buf_init(&sts, SIGV4_MAX_CANONICAL_BYTES);
	r = sigv4_state_init(&st, NULL, p);
	if (r == 0)
		r = sigv4_build_sts(p, st.amz_date, canon, canon_len, &sts);
	if (r == 0)
		r = buf_append(out, sts.data, sts.len);
	buf_done(&sts);
	sigv4_state_done(&st);
	return r;
}

/* Signs into res (zeroed on entry); on failure the caller frees res. */
static int sigv4_sign_into(const struct sigv4_request *req, const struct sigv4_params *p,
			   struct sigv4_state *st, struct sigv4_result *res)
{
	struct buf sts;
	int r;

	buf_init(&sts, SIGV4_MAX_CANONICAL_BYTES);
	r = sigv4_build(req, p, st);
	if (r == 0)
		r = sigv4_build_sts(p, st->amz_date, st->canon.data, st->canon.len, &sts);
	if (r == 0)
		r = sigv4_signature(p, st->amz_date, &sts, res->signature);
	buf_done(&sts);
	if (r == 0)
		r = sigv4_authorization(p, st, res->signature, &res->authorization);
	if (r == 0 && sigv4_has_token(p)) {
		res->security_token = strdup(p->session_token);
		if (!res->security_token)
			r = -ENOMEM;
	}
	memcpy(res->amz_date, st->amz_date, sizeof(res->amz_date));
	memcpy(res->content_sha256, st->payload_hash, sizeof(res->content_sha256));
	res->add_content_sha256 = p->sign_body;
	return r;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *p,
	       struct sigv4_result *ret)
{
	struct sigv4_result res = { 0 };
	struct sigv4_state st;
	int r;

	r = sigv4_state_init(&st, req, p);
	if (r == 0)
		r = sigv4_sign_into(req, p, &st, &res);
	sigv4_state_done(&st);
	if (r < 0) {
		sigv4_result_done(&res);
		return r;
	}
	*ret = res;
	return 0;
}

size_t sigv4_result_headers(const struct sigv4_result *r, struct http_header *out)
{
	size_t n = 0;

	if (r->security_token)
		out[n++] = (struct http_header){ "X-Amz-Security-Token", r->security_token };
	out[n++] = (struct http_header){ "X-Amz-Date", r->amz_date };
	if (r->add_content_sha256)
		out[n++] = (struct http_header){ "x-amz-content-sha256", r->content_sha256 };
	out[n++] = (struct http_header){ "Authorization", r->authorization };
	return n;
}

void sigv4_result_done(struct sigv4_result *r)
{
	free(r->authorization);
	if (r->security_token) {
		OPENSSL_cleanse(r->security_token, strlen(r->security_token));
		free(r->security_token);
	}
	memset(r, 0, sizeof(*r));
}
