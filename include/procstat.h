/* SPDX-License-Identifier: Apache-2.0 */
/*
 * procstat: the standard Prometheus process metrics, read from /proc.
 *
 *   process_cpu_seconds_total      utime + stime of /proc/self/stat
 *   process_start_time_seconds     starttime of /proc/self/stat + btime of /proc/stat
 *   process_virtual_memory_bytes   vsize of /proc/self/stat
 *   process_resident_memory_bytes  rss of /proc/self/stat, in pages
 *   process_open_fds               entries of /proc/self/fd
 *   process_max_fds                "Max open files" soft limit of /proc/self/limits
 *
 * procstat_collect() is a metrics_collect_fn: register it on a registry and
 * every render appends these families. A metric whose source cannot be read
 * is left out rather than failing the whole exposition. No state: every
 * function may be called from any thread.
 */
#ifndef CLOUDMAP_PROCSTAT_H
#define CLOUDMAP_PROCSTAT_H

#include "buf.h"

#define PROCSTAT_HAVE_STAT    (1u << 0) /* cpu, start time, memory */
#define PROCSTAT_HAVE_FDS     (1u << 1) /* open_fds */
#define PROCSTAT_HAVE_MAX_FDS (1u << 2) /* max_fds */

struct procstat {
	double cpu_seconds_total;
	double start_time_seconds; /* since the epoch */
	double virtual_memory_bytes;
	double resident_memory_bytes;
	double open_fds;
	double max_fds; /* +Inf when unlimited */
	unsigned have;	/* PROCSTAT_HAVE_* of the fields that were read */
};

/* Parses the text of /proc/<pid>/stat (the command name may hold spaces and
 * parentheses) into the PROCSTAT_HAVE_STAT fields of *ps and sets that bit.
 * Returns 0, or -EBADMSG with *ps untouched. */
int procstat_parse_stat(const char *text, long ticks_per_sec, long page_size_bytes,
			double boot_time_seconds, struct procstat *ps);

/* Finds the "btime" line of /proc/stat's text. Returns 0 and *ret_seconds,
 * or -EBADMSG. */
int procstat_parse_btime(const char *text, double *ret_seconds);

/* Finds the soft "Max open files" limit in /proc/<pid>/limits's text.
 * Returns 0 and *ret_max_fds (+Inf for "unlimited"), or -EBADMSG. */
int procstat_parse_limits(const char *text, double *ret_max_fds);

/* Reads the statistics of the calling process below proc_dir (NULL:
 * "/proc"; tests pass a folder of fixtures laid out the same way). Returns
 * 0 and *ret with the bits of what could be read in ret->have, or -ENOENT
 * when nothing could. */
int procstat_read(const char *proc_dir, struct procstat *ret);

/* Appends the families of what ps->have says was read. Returns 0 or a buf
 * error (out may then hold part of the text). */
int procstat_render(const struct procstat *ps, struct buf *out);

/* A metrics_collect_fn: procstat_read(userdata) then procstat_render().
 * userdata is the proc folder (a const char *) or NULL. Nothing readable is
 * no error: it appends nothing. */
int procstat_collect(struct buf *out, void *userdata);

#endif
