/* SPDX-License-Identifier: Apache-2.0 */
/*
 * procstat: process metrics from /proc. See include/procstat.h.
 *
 * Pure parsers of each file's text, a reader that feeds them, and a renderer
 * that writes through the metrics module's helpers. No state, no locks.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "procstat.h"

#define PROCSTAT_MAX_FILE_BYTES (1u << 20)

/* Fields of /proc/<pid>/stat, numbered as in proc(5). */
enum {
	STAT_UTIME = 14,
	STAT_STIME = 15,
	STAT_STARTTIME = 22,
	STAT_VSIZE = 23,
	STAT_RSS = 24,
};

/* Reads fields 3..24 (after the command name) into v[3..24]. */
static int procstat_stat_fields(const char *text, double *v)
{
	const char *p = strrchr(text, ')');
	char *end;
	int i;

	if (!p || p[1] != ' ')
		return -EBADMSG;
	p += 2;
	if (*p == ' ' || *p == '\0') /* field 3, the state: one letter */
		return -EBADMSG;
	p++;
	for (i = 4; i <= STAT_RSS; i++) {
		if (*p != ' ')
			return -EBADMSG;
		v[i] = strtod(p + 1, &end);
		if (end == p + 1)
			return -EBADMSG;
		p = end;
	}
	return 0;
}

int procstat_parse_stat(const char *text, long ticks_per_sec, long page_size_bytes,
			double boot_time_seconds, struct procstat *ps)
{
	double v[STAT_RSS + 1];
	int r;

	if (ticks_per_sec <= 0 || page_size_bytes <= 0)
		return -EBADMSG;
	r = procstat_stat_fields(text, v);
	if (r < 0)
		return r;
	ps->cpu_seconds_total = (v[STAT_UTIME] + v[STAT_STIME]) / (double)ticks_per_sec;
	ps->start_time_seconds = boot_time_seconds + v[STAT_STARTTIME] / (double)ticks_per_sec;
	ps->virtual_memory_bytes = v[STAT_VSIZE];
	ps->resident_memory_bytes = v[STAT_RSS] * (double)page_size_bytes;
	ps->have |= PROCSTAT_HAVE_STAT;
	return 0;
}

/* Returns the start of the line of text that begins with key, or NULL. */
static const char *procstat_find_line(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p;

	for (p = text; strncmp(p, key, n) != 0; p++) {
		p = strchr(p, '\n');
		if (!p)
			return NULL;
	}
	return p;
}

int procstat_parse_btime(const char *text, double *ret_seconds)
{
	const char *p = procstat_find_line(text, "btime ");
	char *end;
	double v;

	if (!p)
		return -EBADMSG;
	v = strtod(p + strlen("btime "), &end);
	if (end == p + strlen("btime ") || (*end != '\n' && *end != '\0'))
		return -EBADMSG;
	*ret_seconds = v;
	return 0;
}

int procstat_parse_limits(const char *text, double *ret_max_fds)
{
	const char *p = procstat_find_line(text, "Max open files ");
	char *end;
	double v;

	if (!p)
		return -EBADMSG;
	p += strlen("Max open files");
	p += strspn(p, " ");
	if (strncmp(p, "unlimited", strlen("unlimited")) == 0) {
		*ret_max_fds = INFINITY;
		return 0;
	}
	v = strtod(p, &end);
	if (end == p || *end != ' ')
		return -EBADMSG;
	*ret_max_fds = v;
	return 0;
}

/* Reads dir/rel into a new string (the caller frees it), or NULL. */
static char *procstat_read_file(const char *dir, const char *rel)
{
	char path[4096], chunk[4096];
	struct buf b;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	buf_init(&b, PROCSTAT_MAX_FILE_BYTES);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			break;
	if (ferror(f) || !feof(f))
		buf_done(&b);
	fclose(f);
	return b.data ? buf_steal(&b, NULL) : NULL;
}

static void procstat_read_stat(const char *dir, struct procstat *ps)
{
	char *self = procstat_read_file(dir, "self/stat");
	char *sys = procstat_read_file(dir, "stat");
	double btime;

	if (self && sys && procstat_parse_btime(sys, &btime) == 0)
		procstat_parse_stat(self, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), btime, ps);
	free(self);
	free(sys);
}

static void procstat_read_fds(const char *dir, struct procstat *ps)
{
	char path[4096];
	struct dirent *e;
	double n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/self/fd", dir);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	ps->open_fds = n;
	ps->have |= PROCSTAT_HAVE_FDS;
}

static void procstat_read_limits(const char *dir, struct procstat *ps)
{
	char *text = procstat_read_file(dir, "self/limits");

	if (text && procstat_parse_limits(text, &ps->max_fds) == 0)
		ps->have |= PROCSTAT_HAVE_MAX_FDS;
	free(text);
}

int procstat_read(const char *proc_dir, struct procstat *ret)
{
	struct procstat ps = { 0 };
	const char *dir = proc_dir ? proc_dir : "/proc";

	procstat_read_stat(dir, &ps);
	procstat_read_fds(dir, &ps);
	procstat_read_limits(dir, &ps);
	if (!ps.have)
		return -ENOENT;
	*ret = ps;
	return 0;
}

struct procstat_metric {
	unsigned have;
	const char *name;
	const char *help;
	enum metrics_type type;
	size_t offset;
};

static const struct procstat_metric procstat_metrics[] = {
	{ PROCSTAT_HAVE_STAT, "process_cpu_seconds_total",
	  "Total user and system CPU time spent in seconds.", METRICS_COUNTER,
	  offsetof(struct procstat, cpu_seconds_total) },
	{ PROCSTAT_HAVE_MAX_FDS, "process_max_fds", "Maximum number of open file descriptors.",
	  METRICS_GAUGE, offsetof(struct procstat, max_fds) },
	{ PROCSTAT_HAVE_FDS, "process_open_fds", "Number of open file descriptors.", METRICS_GAUGE,
	  offsetof(struct procstat, open_fds) },
	{ PROCSTAT_HAVE_STAT, "process_resident_memory_bytes", "Resident memory size in bytes.",
	  METRICS_GAUGE, offsetof(struct procstat, resident_memory_bytes) },
	{ PROCSTAT_HAVE_STAT, "process_start_time_seconds",
	  "Start time of the process since unix epoch in seconds.", METRICS_GAUGE,
	  offsetof(struct procstat, start_time_seconds) },
	{ PROCSTAT_HAVE_STAT, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
	  METRICS_GAUGE, offsetof(struct procstat, virtual_memory_bytes) },
};

int procstat_render(const struct procstat *ps, struct buf *out)
{
	const struct procstat_metric *m;
	double v;
	size_t i;
	int r = 0;

	for (i = 0; i < sizeof(procstat_metrics) / sizeof(procstat_metrics[0]) && r >= 0; i++) {
		m = &procstat_metrics[i];
		if (!(ps->have & m->have))
			continue;
		memcpy(&v, (const char *)ps + m->offset, sizeof(v));
		r = metrics_write_header(out, m->name, m->help, m->type);
		if (r >= 0)
			r = metrics_write_sample(out, m->name, NULL, NULL, 0, v);
	}
	return r;
}

int procstat_collect(struct buf *out, void *userdata)
{
	struct procstat ps;

	if (procstat_read(userdata, &ps) < 0)
		return 0;
	return procstat_render(&ps, out);
}
