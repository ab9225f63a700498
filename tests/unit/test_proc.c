/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proc_run: output captured and split into lines (long ones in pieces),
 * exit statuses and signals, the output cap, a timeout that ends the
 * program, and a program that leaves a child holding the pipe open.
 */
#include "harness.h"
#include "base/err.h"
#include "base/proc.h"

#include <time.h>

typedef struct {
	char lines[8][PROC_LINE_MAX + 1];
	size_t n, total;
} seen;

static void on_line(void *ud, const char *line)
{
	seen *s = ud;
	if (s->n < 8)
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", line);
	s->n++;
	s->total += strlen(line);
}

static int sh(const char *script, double timeout, size_t max, buf *out, seen *s, proc_result *res)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	proc_run_opts o = { .argv = argv, .in = -1, .with_stderr = 1, .new_group = 1,
			    .timeout = timeout, .max = max, .line = s ? on_line : NULL, .ud = s };
	return proc_run(&o, out, res);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

TEST(lines_status_and_output)
{
	buf out = BUF_INIT;
	seen s = { 0 };
	proc_result res;
	REQUIRE(sh("printf 'a\\nbb\\n'; echo err >&2; printf ccc; exit 3", 0, 1000, &out, &s, &res) == 0);
	CHECK(res.status == 3 && !res.timed_out);
	CHECK(s.n == 4 && strcmp(s.lines[0], "a") == 0 && strcmp(s.lines[1], "bb") == 0);
	CHECK(strcmp(s.lines[2], "err") == 0 && strcmp(s.lines[3], "ccc") == 0);
	CHECK(out.len == 12 && memcmp(out.data, "a\nbb\nerr\nccc", 12) == 0);
	/* a line longer than PROC_LINE_MAX arrives in pieces, nothing lost */
	memset(&s, 0, sizeof(s));
	REQUIRE(sh("head -c 10000 /dev/zero | tr '\\0' x; echo", 0, 0, NULL, &s, &res) == 0);
	CHECK(s.n == 3 && s.total == 10000 && strlen(s.lines[0]) == PROC_LINE_MAX);
	REQUIRE(sh("kill -9 $$", 0, 0, NULL, NULL, &res) == 0);
	CHECK(res.status == 128 + 9);
	buf_release(&out);
}

TEST(output_cap_and_missing_program)
{
	buf out = BUF_INIT;
	proc_result res;
	CHECK(sh("head -c 100000 /dev/zero", 0, 1000, &out, NULL, &res) == -EFBIG);
	const char *argv[] = { "no-such-program-dvalin", NULL };
	proc_run_opts o = { .argv = argv, .in = -1, .max = 10 };
	CHECK(proc_run(&o, &out, &res) == -ENOENT);
	CHECK(strstr(err_msg(-ENOENT), "no-such-program-dvalin") != NULL);
	buf_release(&out);
}

TEST(timeout_ends_the_group_and_a_lingering_child_does_not_hold_us)
{
	proc_result res;
	seen s = { 0 };
	double t = now();
	REQUIRE(sh("sleep 30 & sleep 30", 0.3, 0, NULL, NULL, &res) == 0);
	CHECK(res.timed_out && res.status == 128 + 15);
	CHECK(now() - t < 20); /* not the children's 30 s: a bound far from both, for a loaded machine */
	/* the shell ends at once; its background child keeps the pipe open */
	t = now();
	REQUIRE(sh("sleep 30 & echo done", 0, 0, NULL, &s, &res) == 0);
	CHECK(!res.timed_out && res.status == 0 && s.n == 1 && strcmp(s.lines[0], "done") == 0);
	CHECK(now() - t < 20);
}
