/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proc: running programs without a shell (posix_spawnp: argv as given,
 * argv[0] searched in PATH), with their output captured or handed over
 * line by line, a deadline after which the program (and, when it has a
 * process group of its own, everything it started) is killed.
 *
 * Children start with the default action for SIGINT, SIGTERM, SIGHUP and
 * SIGPIPE and an empty signal mask, whatever the caller ignores or blocks.
 * The caller must not reap children with a SIGCHLD handler of its own.
 */
#ifndef DV_BASE_PROC_H
#define DV_BASE_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* For proc_spec's descriptors: keep the caller's; stderr: where stdout goes. */
#define PROC_INHERIT (-2)
#define PROC_TO_OUT (-3)
/* Lines longer than this reach proc_run_opts.line in pieces. */
#define PROC_LINE_MAX 4096
/* How long a program ended by a timeout or a stop gets between SIGTERM and SIGKILL. */
#define PROC_GRACE_MS 2000

typedef struct {
	const char *const *argv; /* argv[0]: a program, searched in PATH */
	int in, out, err;        /* descriptors for 0, 1, 2; -1: /dev/null; PROC_* */
	int new_group;           /* a process group of its own (killed as one) */
} proc_spec;

/* Starts s->argv; *out is its pid.  -ENOENT (with a message) if it does not exist. */
int proc_spawn(pid_t *out, const proc_spec *s);
/* Waits for pid; *status is its exit status or 128 + the signal that ended it. */
int proc_wait(pid_t pid, int *status);
/*
 * Ends pid: SIGTERM (to its group with group set), SIGKILL after
 * grace_ms if it is still there; reaps it and gives its status.
 */
int proc_terminate(pid_t pid, int group, int grace_ms, int *status);

typedef struct {
	const char *const *argv;
	int in;            /* stdin: a descriptor, -1 (/dev/null) or PROC_INHERIT */
	int with_stderr;   /* stderr goes into the output too (else to /dev/null) */
	int new_group;     /* see proc_spec; a timeout then kills the whole group */
	double timeout;    /* seconds; <= 0: none */
	/*
	 * A stop asked with Ctrl-C or SIGTERM (base/interrupt.h) ends the
	 * program as a timeout does and proc_run returns -EINTR.
	 */
	int interruptible;
	size_t max;        /* output kept in *out: more is -EFBIG (the program is ended) */
	/* each line of output without its newline (NUL-terminated), or NULL */
	void (*line)(void *ud, const char *line);
	void *ud;
} proc_run_opts;

typedef struct {
	int status;    /* exit status, or 128 + signal */
	int timed_out; /* it was ended because the timeout passed */
	int interrupted; /* it was ended because a stop was asked (interruptible) */
} proc_result;

/*
 * Runs o->argv to its end (or its timeout), its output into out (may be
 * NULL: then only o->line sees it).  0 when it ran, whatever its status
 * (see res); a negative code when it could not be started or its output
 * exceeded o->max.  The output stops being read once the program has
 * ended, even if a process it left behind keeps the pipe open.
 */
int proc_run(const proc_run_opts *o, buf *out, proc_result *res);

/*
 * Runs argv[0] (searched in PATH) with argv, stdin from /dev/null, stderr
 * discarded; its stdout (at most max bytes) goes to out.  0 and *status
 * (the exit status, or 128 + signal) when it ran; -ENOENT if the program
 * does not exist.
 */
int proc_capture(const char *const argv[], buf *out, size_t max, int *status);

#endif
