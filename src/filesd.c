/* SPDX-License-Identifier: Apache-2.0 */
/*
 * filesd: atomic file replacement, the change-detecting writer and the
 * warm-start loader. See include/filesd.h.
 *
 * The writer runs in the refresher thread (from the publish and full-refresh
 * hooks main installs); the loader in main before any other thread starts,
 * though it shares nothing and could run anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "filesd.h"
#include "snapshot.h"

#define FILESD_TEMP_SUFFIX ".tmp-XXXXXX"

/* ---- atomic replacement ---- */

/* "<dir>/.<name>.tmp-XXXXXX" for path "<dir>/<name>" (or "<name>"). */
static char *filesd_temp_template(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
	size_t n = strlen(path) + 1 + sizeof(FILESD_TEMP_SUFFIX);
	char *t = malloc(n);

	if (t)
		snprintf(t, n, "%.*s.%s" FILESD_TEMP_SUFFIX, (int)dir_len, path, path + dir_len);
	return t;
}

static int filesd_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Makes the rename durable. A file system that cannot sync a directory
 * (EINVAL) has nothing more to make durable. */
static int filesd_sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
	int fd, r = 0;

	if (slash && !dir)
		return -ENOMEM;
	fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else if (fsync(fd) < 0 && errno != EINVAL)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

/* Fills the open temporary file and closes it. */
static int filesd_fill(int fd, const struct snapshot_piece *pieces, size_t n)
{
	size_t i;
	int r;

	r = fchmod(fd, 0644) < 0 ? -errno : 0;
	for (i = 0; r == 0 && i < n; i++)
		r = filesd_write_all(fd, pieces[i].p, pieces[i].len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int filesd_write_atomic_pieces(const char *path, const struct snapshot_piece *pieces, size_t n)
{
	char *tmp = filesd_temp_template(path);
	int fd, r;

	if (!tmp)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		r = -errno;
		goto out_free;
	}
	r = filesd_fill(fd, pieces, n);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		goto out_free;
	}
	r = filesd_sync_dir(path);
out_free:
	free(tmp);
	return r;
}

int filesd_write_atomic(const char *path, const void *data, size_t len)
{
	struct snapshot_piece piece = { data, len };

	return filesd_write_atomic_pieces(path, &piece, 1);
}

/* ---- the writer ---- */

static void filesd_digest(const struct snapshot_piece *pieces, size_t n, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	bool ok;
	size_t i;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, pieces[i].p, pieces[i].len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == FILESD_DIGEST_BYTES;
	if (!ok)
		memset(out, 0, FILESD_DIGEST_BYTES); /* never equal to a real digest in practice */
	EVP_MD_CTX_free(ctx);
}

int filesd_writer_init(struct filesd_writer *w, const char *path)
{
	memset(w, 0, sizeof(*w));
	w->path = strdup(path);
	return w->path ? 0 : -ENOMEM;
}

void filesd_writer_done(struct filesd_writer *w)
{
	free(w->path);
	memset(w, 0, sizeof(*w));
}

void filesd_writer_seed(struct filesd_writer *w, const void *data, size_t len)
{
	struct snapshot_piece piece = { data, len };

	filesd_digest(&piece, 1, w->digest);
	w->have_digest = true;
}

int filesd_writer_update(struct filesd_writer *w, const void *data, size_t len)
{
	struct snapshot_piece piece = { data, len };

	return filesd_writer_update_pieces(w, &piece, 1);
}

int filesd_writer_update_pieces(struct filesd_writer *w, const struct snapshot_piece *pieces,
				size_t n)
{
	unsigned char digest[FILESD_DIGEST_BYTES];
	int r;

	filesd_digest(pieces, n, digest);
	if (w->have_digest && memcmp(digest, w->digest, sizeof(digest)) == 0)
		return 0;
	r = filesd_write_atomic_pieces(w->path, pieces, n);
	if (r < 0) {
		w->failures++;
		return r;
	}
	memcpy(w->digest, digest, sizeof(digest));
	w->have_digest = true;
	w->failures = 0;
	return 1;
}

/* ---- reading ---- */

static int filesd_read_fd(int fd, size_t size, char **ret_data, size_t *ret_len)
{
	char *data = malloc(size + 1);
	size_t len = 0;
	ssize_t n;

	if (!data)
		return -ENOMEM;
	while (len < size) {
		n = read(fd, data + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(data);
			return -errno;
		}
		if (n == 0)
			break; /* shrank meanwhile */
		len += (size_t)n;
	}
	data[len] = '\0';
	*ret_data = data;
	*ret_len = len;
	return 0;
}

int filesd_read(const char *path, size_t max_bytes, char **ret_data, size_t *ret_len,
		int64_t *ret_mtime_unix)
{
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else if ((uint64_t)st.st_size > max_bytes)
		r = -EFBIG;
	else
		r = filesd_read_fd(fd, (size_t)st.st_size, ret_data, ret_len);
	close(fd);
	if (r == 0)
		*ret_mtime_unix = (int64_t)st.st_mtime;
	return r;
}

/* ---- the warm-start loader: checking the shape ---- */

static int filesd_fail(struct filesd_error *err, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int filesd_fail(struct filesd_error *err, int r, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Prometheus's label names: [a-zA-Z_][a-zA-Z0-9_]*. */
static bool filesd_valid_label_name(const char *s)
{
	static const char allowed[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";

	return *s && !(*s >= '0' && *s <= '9') && s[strspn(s, allowed)] == '\0';
}

static int filesd_check_labels(json_t *labels, size_t i, struct filesd_error *err)
{
	const char *key;
	json_t *v;

	if (!labels)
		return 0;
	if (!json_is_object(labels))
		return filesd_fail(err, -EBADMSG, "group %zu: \"labels\" is not an object", i);
	json_object_foreach (labels, key, v) {
		if (!filesd_valid_label_name(key))
			return filesd_fail(err, -EBADMSG, "group %zu: invalid label name \"%.64s\"",
					   i, key);
		if (!json_is_string(v))
			return filesd_fail(err, -EBADMSG,
					   "group %zu: label \"%.64s\" is not a string", i, key);
	}
	return 0;
}

static int filesd_check_targets(json_t *targets, size_t i, struct filesd_error *err)
{
	json_t *t;
	size_t j;

	if (!json_is_array(targets))
		return filesd_fail(err, -EBADMSG, "group %zu: \"targets\" is not an array", i);
	json_array_foreach (targets, j, t) {
		if (!json_is_string(t) || json_string_length(t) == 0)
			return filesd_fail(err, -EBADMSG,
					   "group %zu: target %zu is not a non-empty string", i, j);
	}
	return 0;
}

/* Checks the shape and counts the targets. */
static int filesd_check(json_t *root, size_t *ret_targets, struct filesd_error *err)
{
	size_t i, n = 0;
	json_t *g;
	int r;

	if (!json_is_array(root))
		return filesd_fail(err, -EBADMSG, "not an array of target groups");
	json_array_foreach (root, i, g) {
		if (!json_is_object(g))
			return filesd_fail(err, -EBADMSG, "group %zu is not an object", i);
		r = filesd_check_targets(json_object_get(g, "targets"), i, err);
		if (r == 0)
			r = filesd_check_labels(json_object_get(g, "labels"), i, err);
		if (r < 0)
			return r;
		n += json_array_size(json_object_get(g, "targets"));
	}
	*ret_targets = n;
	return 0;
}

/* ---- the warm-start loader: building the snapshot ---- */

/* The groups of one service, as they are rendered: one part each. */
struct filesd_service {
	const char *namespace_name; /* borrowed from the JSON */
	const char *service_name;
	struct buf json;
	struct snapshot_part_group *groups;
	size_t n_groups, groups_alloc;
};

struct filesd_build {
	json_t *service_index; /* "<ns>\n<svc>" -> index into services */
	struct filesd_service *services;
	size_t n_services, services_alloc;
	size_t json_len; /* of everything rendered, against the cap */
};

/* Grows *arr (of *alloc elements of size each) to hold one more than n. */
static int filesd_grow(void **arr, size_t *alloc, size_t n, size_t size)
{
	size_t next = *alloc ? 2 * *alloc : 16;
	void *p;

	if (n < *alloc)
		return 0;
	p = realloc(*arr, next * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*alloc = next;
	return 0;
}

static const char *filesd_label(json_t *labels, const char *key)
{
	const char *v = json_string_value(json_object_get(labels, key));

	return v ? v : "";
}

static int filesd_service_add(struct filesd_build *b, const char *ns, const char *svc,
			      const char *key, size_t *ret_idx)
{
	struct filesd_service *fs;
	int r;

	r = filesd_grow((void **)&b->services, &b->services_alloc, b->n_services,
			sizeof(*b->services));
	if (r < 0)
		return r;
	fs = &b->services[b->n_services];
	*fs = (struct filesd_service){ .namespace_name = ns, .service_name = svc };
	buf_init(&fs->json, SNAPSHOT_MAX_JSON_BYTES);
	*ret_idx = b->n_services++;
	if (json_object_set_new(b->service_index, key, json_integer((json_int_t)*ret_idx)) < 0)
		return -ENOMEM;
	return 0;
}

/* The service of a group, from its labels; added when new. Services come
 * in the order they first appear; a file this daemon wrote lists each
 * service's groups together, so its order is kept. */
static int filesd_service(struct filesd_build *b, json_t *labels, size_t *ret_idx)
{
	const char *ns = filesd_label(labels, "__meta_cloudmap_namespace_name");
	const char *svc = filesd_label(labels, "__meta_cloudmap_service_name");
	size_t n = strlen(ns) + strlen(svc) + 2;
	char *key = malloc(n);
	json_t *known;
	int r;

	if (!key)
		return -ENOMEM;
	snprintf(key, n, "%s\n%s", ns, svc);
	known = json_object_get(b->service_index, key);
	if (known) {
		*ret_idx = (size_t)json_integer_value(known);
		r = 0;
	} else {
		r = filesd_service_add(b, ns, svc, key, ret_idx);
	}
	free(key);
	return r;
}

/* Appends the compact JSON of v. */
static int filesd_put_json(struct buf *out, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int r;

	if (!text)
		return -ENOMEM;
	r = buf_puts(out, text);
	free(text);
	return r;
}

/* {"targets":[TARGET],"labels":LABELS} as the next group of fs. */
static int filesd_put_group(struct filesd_build *b, struct filesd_service *fs, json_t *target,
			    const char *labels)
{
	struct snapshot_part_group *g;
	size_t before = fs->json.len;
	int r;

	r = filesd_grow((void **)&fs->groups, &fs->groups_alloc, fs->n_groups, sizeof(*fs->groups));
	if (r == 0 && fs->n_groups > 0)
		r = buf_putc(&fs->json, ',');
	if (r < 0)
		return r;
	g = &fs->groups[fs->n_groups];
	g->offset = fs->json.len;
	r = buf_puts(&fs->json, "{\"targets\":[");
	if (r == 0)
		r = filesd_put_json(&fs->json, target);
	if (r == 0)
		r = buf_printf(&fs->json, "],\"labels\":%s}", labels);
	if (r < 0)
		return r;
	g->len = fs->json.len - g->offset;
	b->json_len += fs->json.len - before + 1;
	if (b->json_len > SNAPSHOT_MAX_JSON_BYTES)
		return -EMSGSIZE;
	fs->n_groups++;
	return snapshot_address_hash(json_string_value(target), json_string_length(target),
				     &g->address_hash);
}

/* One input group: one output group per target. */
static int filesd_add_group(struct filesd_build *b, json_t *group)
{
	json_t *labels = json_object_get(group, "labels"), *t;
	char *labels_text;
	size_t j, svc;
	int r;

	if (json_array_size(json_object_get(group, "targets")) == 0)
		return 0;
	r = filesd_service(b, labels, &svc);
	if (r < 0)
		return r;
	labels_text = labels ? json_dumps(labels, JSON_COMPACT) : strdup("{}");
	if (!labels_text)
		return -ENOMEM;
	json_array_foreach (json_object_get(group, "targets"), j, t) {
		r = filesd_put_group(b, &b->services[svc], t, labels_text);
		if (r < 0)
			break;
	}
	free(labels_text);
	return r;
}

/* Makes the services' parts (taking their bytes) and the snapshot. */
static int filesd_assemble(struct filesd_build *b, int64_t refreshed_at_unix, struct snapshot **ret)
{
	struct snapshot_part **parts = calloc(b->n_services + 1, sizeof(*parts));
	struct filesd_service *fs;
	size_t i, n = 0, len;
	char *json;
	int r = parts ? 0 : -ENOMEM;

	for (i = 0; r == 0 && i < b->n_services; i++) {
		fs = &b->services[i];
		json = buf_steal(&fs->json, &len);
		r = snapshot_part_adopt(fs->namespace_name, fs->service_name, json, len, fs->groups,
					fs->n_groups, 0, &parts[n]);
		fs->groups = NULL; /* adopted, or freed on failure */
		n += r == 0;
	}
	if (r == 0)
		r = snapshot_assemble(parts, n, refreshed_at_unix, ret);
	if (r == 0)
		(*ret)->warm_start = true;
	for (i = 0; i < n; i++)
		snapshot_part_unref(parts[i]);
	free(parts);
	return r;
}

static int filesd_build(json_t *root, int64_t refreshed_at_unix, struct snapshot **ret)
{
	struct filesd_build b = { 0 };
	json_t *g;
	size_t i;
	int r = -ENOMEM;

	b.service_index = json_object();
	if (b.service_index)
		r = 0;
	json_array_foreach (root, i, g) {
		if (r == 0)
			r = filesd_add_group(&b, g);
	}
	if (r == 0)
		r = filesd_assemble(&b, refreshed_at_unix, ret);
	for (i = 0; i < b.n_services; i++) {
		buf_done(&b.services[i].json);
		free(b.services[i].groups);
	}
	free(b.services);
	json_decref(b.service_index);
	return r;
}

int filesd_parse(const char *data, size_t len, int64_t refreshed_at_unix, struct snapshot **ret,
		 struct filesd_error *err)
{
	json_error_t jerr;
	size_t n_targets = 0;
	json_t *root;
	int r;

	if (len > FILESD_MAX_BYTES)
		return filesd_fail(err, -EFBIG, "larger than %u bytes", FILESD_MAX_BYTES);
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		return filesd_fail(err, -EBADMSG, "not JSON: %s at line %d, column %d", jerr.text,
				   jerr.line, jerr.column);
	r = filesd_check(root, &n_targets, err);
	if (r == 0)
		r = filesd_build(root, refreshed_at_unix, ret);
	if (r == -EMSGSIZE)
		r = filesd_fail(err, -EFBIG, "larger than %u bytes once rendered",
				SNAPSHOT_MAX_JSON_BYTES);
	else if (r == -ENOMEM)
		filesd_fail(err, r, "out of memory");
	json_decref(root);
	return r;
}
