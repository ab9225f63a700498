/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * runner: child processes of the daemon.  Every job runs as a separate
 * process (normally the dvalin binary itself, re-executed with the job's
 * arguments and --json), so that a crash, a leak or a hung repository
 * cannot take the daemon down.
 *
 * A child gets /dev/null as stdin, two pipes for stdout and stderr, its
 * own process group (so a signal reaches a hook's children too), the
 * default signal dispositions and an empty signal mask (the daemon blocks
 * signals for its signalfd), and the daemon's environment with the
 * spec's additions.  It is started with posix_spawn(), which is safe in
 * the daemon's threaded process.
 *
 * Output is captured with caps: stdout up to out_cap bytes (beyond that
 * the rest is counted and dropped: runner_truncated() tells); stderr up to
 * err_cap bytes, keeping the beginning and the end and leaving out the
 * middle with a marker line, since the reason of a failure is usually at
 * the end and its cause at the beginning.
 *
 * Two ways to use it: the daemon's loop polls runner_fds(), calls
 * runner_pump() on readable ones and runner_reap() on SIGCHLD; or a
 * thread calls runner_capture(), which does all of that for one child
 * with a deadline.
 */
#ifndef DV_DAEMON_RUNNER_H
#define DV_DAEMON_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/buf.h"

typedef struct runner_child runner_child;

typedef struct {
	char *const *argv;        /* argv[0] is a path (no PATH search) */
	char *const *env;         /* "NAME=value" added to (or replacing in) the environment; NULL-ended or NULL */
	size_t out_cap, err_cap;  /* 0: 4 MiB and 1 MiB */
	int merge_stdout;         /* stdout goes to the stderr capture (hooks: one log) */
} runner_spec;

/* The path of the running dvalin binary, for re-executing it. */
const char *runner_self(void);

int runner_start(runner_child **out, const runner_spec *s);
/* Frees the capture; the process must have been reaped (or is killed and reaped). */
void runner_free(runner_child *c);

pid_t runner_pid(const runner_child *c);
/* The open capture pipes (-1 once closed): out[0] stdout, out[1] stderr. */
void runner_fds(const runner_child *c, int out[2]);
/* Reads what fd has now (non-blocking); closes it at its end. */
int runner_pump(runner_child *c, int fd);
/*
 * Checks (WNOHANG) whether the child has exited: 1 and *status (the exit
 * status, or 128 + the signal) when it has and both pipes are drained,
 * 0 if not yet.
 */
int runner_reap(runner_child *c, int *status);
/* Sends sig to the child's process group. */
void runner_signal(runner_child *c, int sig);
/* Whether the child died of a signal (its number, or 0). */
int runner_signaled(const runner_child *c);

const buf *runner_stdout(const runner_child *c);
const buf *runner_stderr(const runner_child *c);
/* Stdout was longer than out_cap. */
int runner_truncated(const runner_child *c);
/* The last line of a stderr capture, without dvalin's "dvalin: " prefix: the reason of a failure. */
void runner_last_line(const buf *err, char *out, size_t cap);
/* "exit status N" or "killed by signal N". */
void runner_describe_exit(char *out, size_t cap, int st, int signaled);

/*
 * Runs one child to its end within timeout_ms (then SIGINT, and SIGKILL
 * two seconds later), from any thread; 0 and *status, stdout and stderr
 * copied into out and err (either may be NULL), or <0 if it could not be
 * started.
 */
int runner_capture(const runner_spec *s, int timeout_ms, int *status, buf *out, buf *err);

/*
 * Blocks until the child's stdout has something (or timeout_ms passes):
 * then reads up to max bytes into p.  >0 bytes read, 0 at the end of its
 * output, -ETIMEDOUT, or another <0.  For streaming a child's stdout to a
 * client (the spec's out_cap is then not used).
 */
ssize_t runner_read_stdout(runner_child *c, void *p, size_t max, int timeout_ms);
/* Waits (blocking, from a thread) for the child's end: its status. */
int runner_wait(runner_child *c, int *status);

#endif
