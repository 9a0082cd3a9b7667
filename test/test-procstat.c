/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of procstat: the parsers on tricky texts, the reader on the fixture
 * folder test/procstat (laid out as /proc), the rendered families, and a
 * sanity check of this very process.
 */
#include <errno.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "procstat.h"
#include "test.h"

static void test_parse_stat(void)
{
	/* A command name with spaces and parentheses, as prctl() allows. */
	static const char text[] = "77 (a) b (c)) R 1 77 77 0 -1 0 0 0 0 0 "
				   "150 50 0 0 20 0 1 0 500 8192000 100 0\n";
	struct procstat ps = { 0 };

	CHECK_INT(procstat_parse_stat(text, 100, 4096, 1000, &ps), 0);
	CHECK(ps.have == PROCSTAT_HAVE_STAT);
	CHECK(ps.cpu_seconds_total == 2.0);
	CHECK(ps.start_time_seconds == 1005.0);
	CHECK(ps.virtual_memory_bytes == 8192000.0);
	CHECK(ps.resident_memory_bytes == 409600.0);
}

static void test_parse_stat_malformed(void)
{
	struct procstat ps = { 0 };

	CHECK_INT(procstat_parse_stat("", 100, 4096, 0, &ps), -EBADMSG);
	CHECK_INT(procstat_parse_stat("1 (x) R 1 2 3", 100, 4096, 0, &ps), -EBADMSG);
	CHECK_INT(procstat_parse_stat("1 x R 1 2 3", 100, 4096, 0, &ps), -EBADMSG);
	CHECK_INT(procstat_parse_stat("1 (x) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 x",
				      100, 4096, 0, &ps),
		  -EBADMSG);
	CHECK(ps.have == 0);
}

static void test_parse_btime_and_limits(void)
{
	double v = 0;

	CHECK_INT(procstat_parse_btime("cpu 1 2\nbtime 1700000000\nprocesses 3\n", &v), 0);
	CHECK(v == 1700000000.0);
	CHECK_INT(procstat_parse_btime("cpu 1 2\nxbtime 1\n", &v), -EBADMSG);
	CHECK_INT(procstat_parse_btime("btime x\n", &v), -EBADMSG);
	CHECK_INT(procstat_parse_limits("Limit  Soft Limit  Hard Limit  Units\n"
					"Max open files            4096   8192   files\n",
					&v),
		  0);
	CHECK(v == 4096.0);
	CHECK_INT(procstat_parse_limits("Max open files  unlimited  unlimited  files\n", &v), 0);
	CHECK(isinf(v) && v > 0);
	CHECK_INT(procstat_parse_limits("Max cpu time  unlimited  unlimited  seconds\n", &v),
		  -EBADMSG);
}

static void test_read_fixture(void)
{
	struct procstat ps;
	double ticks = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);

	CHECK_INT(procstat_read(test_path("procstat"), &ps), 0);
	CHECK(ps.have == (PROCSTAT_HAVE_STAT | PROCSTAT_HAVE_FDS | PROCSTAT_HAVE_MAX_FDS));
	CHECK(ps.cpu_seconds_total == 300 / ticks);
	CHECK(ps.start_time_seconds == 1700000000 + 12000 / ticks);
	CHECK(ps.virtual_memory_bytes == 104857600.0);
	CHECK(ps.resident_memory_bytes == 2560 * page);
	CHECK(ps.open_fds == 3);
	CHECK(ps.max_fds == 1024);
	CHECK_INT(procstat_read(test_path("no-such-folder"), &ps), -ENOENT);
}

static void test_render(void)
{
	struct procstat ps = { .cpu_seconds_total = 1.25,
			       .start_time_seconds = 1700000000.5,
			       .virtual_memory_bytes = 1e6,
			       .resident_memory_bytes = 4096,
			       .max_fds = INFINITY,
			       .have = PROCSTAT_HAVE_STAT | PROCSTAT_HAVE_MAX_FDS };
	struct buf b;

	buf_init(&b, 1 << 16);
	CHECK_INT(procstat_render(&ps, &b), 0);
	CHECK_STR(
	    b.data,
	    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total 1.25\n"
	    "# HELP process_max_fds Maximum number of open file descriptors.\n"
	    "# TYPE process_max_fds gauge\n"
	    "process_max_fds +Inf\n"
	    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes 4096\n"
	    "# HELP process_start_time_seconds Start time of the process since unix epoch "
	    "in seconds.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds 1700000000.5\n"
	    "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
	    "# TYPE process_virtual_memory_bytes gauge\n"
	    "process_virtual_memory_bytes 1000000\n");
	buf_done(&b);
}

/* This process, through a registry as the daemons use it. */
static void test_collect_self(void)
{
	struct metrics_registry *reg = metrics_registry_new();
	double now = (double)time(NULL);
	struct procstat ps;
	struct buf b;

	CHECK_INT(procstat_read(NULL, &ps), 0);
	CHECK(ps.have == (PROCSTAT_HAVE_STAT | PROCSTAT_HAVE_FDS | PROCSTAT_HAVE_MAX_FDS));
	CHECK(ps.start_time_seconds > now - 600 && ps.start_time_seconds < now + 5);
	CHECK(ps.resident_memory_bytes > 0 && ps.virtual_memory_bytes >= ps.resident_memory_bytes);
	CHECK(ps.open_fds >= 3 && ps.open_fds <= ps.max_fds);
	CHECK_INT(metrics_register_collector(reg, procstat_collect, NULL), 0);
	buf_init(&b, 1 << 16);
	CHECK_INT(metrics_render(reg, &b), 0);
	CHECK(strstr(b.data, "\nprocess_open_fds ") != NULL);
	CHECK(strstr(b.data, "# TYPE process_cpu_seconds_total counter\n") ==
	      b.data +
		  strlen("# HELP process_cpu_seconds_total Total user and system CPU time spent in "
			 "seconds.\n"));
	buf_done(&b);
	metrics_registry_free(reg);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_parse_stat), TEST_CASE(test_parse_stat_malformed),
			 TEST_CASE(test_parse_btime_and_limits), TEST_CASE(test_read_fixture),
			 TEST_CASE(test_render), TEST_CASE(test_collect_self));
}
