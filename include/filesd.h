/* SPDX-License-Identifier: Apache-2.0 */
/*
 * filesd: the files cloudmap-sd writes for Prometheus (the file_sd targets,
 * the drop-in mode's prometheus.yaml) and the warm start from the targets
 * file.
 *
 * Writing: filesd_write_atomic() replaces a file so that a reader sees the
 * old bytes or the new ones, never a mix: a temporary file in the same
 * directory (".<name>.tmp-XXXXXX", which no "*.json" or "*.yaml" glob
 * matches), every byte written, fsync, rename over the file, fsync of the
 * directory. A struct filesd_writer remembers (as a SHA-256 digest) what it
 * last wrote, so that it writes only when the bytes change.
 *
 * Warm start: filesd_parse() turns the bytes of an http_sd / file_sd JSON
 * file into a snapshot marked warm_start, the same bytes the server will
 * serve for it: every group re-rendered compactly with one target (a group
 * of several targets becomes one group per target, so that shards and
 * filters stay exact), its namespace and service taken from the labels
 * __meta_cloudmap_namespace_name and __meta_cloudmap_service_name (empty
 * when absent). It is a pure function of the bytes (fuzzed).
 *
 * Threads: main reads the warm start before the others start; a writer
 * belongs to one thread at a time (the refresher). Nothing here logs.
 */
#ifndef CLOUDMAP_FILESD_H
#define CLOUDMAP_FILESD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct snapshot_piece;

/* Cap on a warm-start file. */
#define FILESD_MAX_BYTES (256u << 20)

#define FILESD_DIGEST_BYTES 32

/* Why a warm-start file was refused, one line. */
struct filesd_error {
	char msg[256];
};

/* Replaces path with len bytes of data, atomically and durably, mode 0644.
 * Returns 0 or a negative errno (-EACCES, -ENOENT for a missing directory,
 * -ENOSPC, ...); on failure the temporary file is gone and path is as it
 * was. */
int filesd_write_atomic(const char *path, const void *data, size_t len);

/* The same with the bytes of n pieces, in order. */
int filesd_write_atomic_pieces(const char *path, const struct snapshot_piece *pieces, size_t n);

/* A file rewritten when, and only when, its bytes change. */
struct filesd_writer {
	char *path;
	unsigned char digest[FILESD_DIGEST_BYTES]; /* of the bytes last written */
	bool have_digest;
	unsigned failures; /* consecutive failed writes; 1: the first of a run */
};

/* Returns 0, or -ENOMEM; path is copied. Nothing is remembered yet. */
int filesd_writer_init(struct filesd_writer *w, const char *path);

/* Frees what w owns; accepts a zeroed struct; idempotent. */
void filesd_writer_done(struct filesd_writer *w);

/* Remembers data as what the file already holds (e.g. what was read at
 * start), so that the same bytes are not written again. */
void filesd_writer_seed(struct filesd_writer *w, const void *data, size_t len);

/* Writes data unless it equals what was last written or seeded. Returns 1
 * when the file was written, 0 when it was unchanged, or the negative errno
 * of filesd_write_atomic() (then w->failures counts the run of failures and
 * the next call tries again; a success resets it). */
int filesd_writer_update(struct filesd_writer *w, const void *data, size_t len);

/* The same with the bytes of n pieces, in order (a snapshot's json_pieces:
 * written without assembling a copy). */
int filesd_writer_update_pieces(struct filesd_writer *w, const struct snapshot_piece *pieces,
				size_t n);

/* Reads a whole regular file of at most max_bytes. Returns 0, *ret_data (a
 * new NUL-terminated copy the caller frees), *ret_len and its modification
 * time in *ret_mtime_unix; -ENOENT when it does not exist; -EFBIG when it
 * is larger than max_bytes; -EINVAL when it is not a regular file; -ENOMEM;
 * or the errno of open/read. */
int filesd_read(const char *path, size_t max_bytes, char **ret_data, size_t *ret_len,
		int64_t *ret_mtime_unix);

/* Parses data (len bytes, NUL not needed) as a JSON array of target groups,
 * each {"targets": [string, ...], "labels": {name: string, ...}} ("labels"
 * may be absent; label names as Prometheus allows them; other members are
 * ignored; an empty array is valid). Returns 0 and *ret, a new snapshot (one
 * reference) with warm_start set and refreshed_at_unix as given; -EBADMSG
 * (not JSON, or not that shape) or -EFBIG (over FILESD_MAX_BYTES) with err
 * (when not NULL) saying what and where; or -ENOMEM. *ret is set only on
 * success. Thread-safe. */
int filesd_parse(const char *data, size_t len, int64_t refreshed_at_unix, struct snapshot **ret,
		 struct filesd_error *err);

#endif
