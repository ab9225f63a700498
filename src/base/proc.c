/* SPDX-License-Identifier: BSD-2-Clause */
#include "proc.h"
#include "cleanup.h"
#include "err.h"
#include "interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Adds the action that makes target refer to fd (-1: /dev/null). */
static void set_fd(posix_spawn_file_actions_t *fa, int fd, int target)
{
	if (fd == PROC_INHERIT)
		return;
	if (fd == PROC_TO_OUT)
		posix_spawn_file_actions_adddup2(fa, 1, target);
	else if (fd < 0)
		posix_spawn_file_actions_addopen(fa, target, "/dev/null", target ? O_WRONLY : O_RDONLY, 0);
	else
		posix_spawn_file_actions_adddup2(fa, fd, target);
}

int proc_spawn(pid_t *out, const proc_spec *s)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def, none;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	set_fd(&fa, s->in, 0);
	set_fd(&fa, s->out, 1);
	set_fd(&fa, s->err, 2);
	/* what a guard process ignores, a program it runs must not */
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGPIPE);
	sigemptyset(&none);
	short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
	if (s->new_group) {
		flags |= POSIX_SPAWN_SETPGROUP;
		posix_spawnattr_setpgroup(&at, 0);
	}
	posix_spawnattr_setflags(&at, flags);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	int rc = -posix_spawnp(out, s->argv[0], &fa, &at, (char *const *)s->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc < 0)
		return rc == -ENOENT ? err_set(-ENOENT, "'%s' not found", s->argv[0])
				     : err_sys(rc, "cannot run '%s'", s->argv[0]);
	return 0;
}

static int decode_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int proc_wait(pid_t pid, int *status)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return err_sys(-errno, "cannot wait for process %d", (int)pid);
	}
	*status = decode_status(st);
	return 0;
}

/* 1 when pid has ended within ms (reaped into *status), 0 if not, <0. */
static int wait_for(pid_t pid, int ms, int *status)
{
	struct timespec step = { 0, 10 * 1000000L };
	for (int waited = 0;; waited += 10) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			*status = decode_status(st);
			return 1;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (waited >= ms)
			return 0;
		nanosleep(&step, NULL);
	}
}

int proc_terminate(pid_t pid, int group, int grace_ms, int *status)
{
	kill(group ? -pid : pid, SIGTERM);
	int rc = wait_for(pid, grace_ms, status);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	kill(group ? -pid : pid, SIGKILL);
	rc = proc_wait(pid, status);
	if (group)
		kill(-pid, SIGKILL); /* whatever of the group outlived its leader */
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Splits output into lines for the caller's callback. */
typedef struct {
	const proc_run_opts *o;
	char line[PROC_LINE_MAX + 1];
	size_t n;
} line_splitter;

static void lines_feed(line_splitter *ls, const char *p, size_t n)
{
	if (!ls->o->line)
		return;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || ls->n == PROC_LINE_MAX) {
			ls->line[ls->n] = 0;
			ls->o->line(ls->o->ud, ls->line);
			ls->n = 0;
			if (p[i] == '\n')
				continue;
		}
		ls->line[ls->n++] = p[i];
	}
}

static void lines_flush(line_splitter *ls)
{
	if (ls->o->line && ls->n) {
		ls->line[ls->n] = 0;
		ls->o->line(ls->o->ud, ls->line);
		ls->n = 0;
	}
}

/* Reads what is available: 1 at the end of the pipe, 0, or <0. */
static int drain(int fd, const proc_run_opts *o, line_splitter *ls, buf *out)
{
	char tmp[16384];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		lines_feed(ls, tmp, (size_t)n);
		if (!out)
			continue;
		if ((size_t)n > o->max - MIN(out->len, o->max))
			return err_set(-EFBIG, "output of '%s' is larger than %zu bytes", o->argv[0], o->max);
		int rc = buf_append(out, tmp, (size_t)n);
		if (rc < 0)
			return rc;
	}
}

int proc_run(const proc_run_opts *o, buf *out, proc_result *res)
{
	memset(res, 0, sizeof(*res));
	if (out)
		out->len = 0;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_sys(-errno, "cannot run '%s'", o->argv[0]);
	_cleanup_close_ int rfd = fds[0];
	proc_spec s = { o->argv, o->in, fds[1], o->with_stderr ? PROC_TO_OUT : -1, o->new_group };
	pid_t pid;
	int rc = proc_spawn(&pid, &s);
	close(fds[1]);
	if (rc < 0)
		return rc;
	_cleanup_close_ int pfd = (int)pidfd_open(pid, 0);
	if (pfd < 0) {
		rc = err_sys(-errno, "cannot watch '%s'", o->argv[0]);
		proc_terminate(pid, o->new_group, 0, &res->status);
		return rc;
	}
	fcntl(rfd, F_SETFL, O_NONBLOCK);
	line_splitter ls = { .o = o };
	/* (capped: a timeout of centuries is none, and no conversion overflows) */
	double t = o->timeout > 1e9 ? 1e9 : o->timeout;
	int64_t deadline = t > 0 ? now_ms() + (int64_t)(t * 1000 + 0.999) : 0;
	int pipe_open = 1, ended = 0;
	while (!ended) {
		struct pollfd p[2] = { { pfd, POLLIN, 0 }, { rfd, POLLIN, 0 } };
		int wait = -1;
		if (o->interruptible && interrupt_pending()) {
			res->interrupted = 1;
			break;
		}
		if (deadline) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				res->timed_out = 1;
				break;
			}
			wait = (int)MIN(left, (int64_t)1 << 30);
		}
		/*
		 * The signal may land on another thread, or between the check
		 * above and poll(), and then does not interrupt poll: look again
		 * at least every 100 ms.
		 */
		if (o->interruptible && (wait < 0 || wait > 100))
			wait = 100;
		if (poll(p, pipe_open ? 2 : 1, wait) < 0) {
			if (errno == EINTR)
				continue;
			rc = err_sys(-errno, "cannot watch '%s'", o->argv[0]);
			break;
		}
		if (pipe_open && p[1].revents) {
			int d = drain(rfd, o, &ls, out);
			if (d < 0) {
				rc = d;
				break;
			}
			pipe_open = !d;
		}
		ended = p[0].revents != 0;
	}
	if (ended) {
		/* what it wrote before it ended; a process it left may keep
		 * the pipe open, so only what is there now */
		int d = pipe_open ? drain(rfd, o, &ls, out) : 0;
		rc = rc ?: (d < 0 ? d : 0);
		int r2 = proc_wait(pid, &res->status);
		rc = rc ?: r2;
	} else {
		proc_terminate(pid, o->new_group, PROC_GRACE_MS, &res->status);
		if (res->interrupted)
			rc = rc ?: err_set(-EINTR, "interrupted");
	}
	lines_flush(&ls);
	return rc;
}

int proc_capture(const char *const argv[], buf *out, size_t max, int *status)
{
	proc_run_opts o = { .argv = argv, .in = -1, .max = max };
	proc_result res;
	int rc = proc_run(&o, out, &res);
	*status = res.status;
	/* posix_spawnp reports a missing program as exit 127 on glibc */
	if (rc == 0 && res.status == 127 && out->len == 0)
		return err_set(-ENOENT, "'%s' not found", argv[0]);
	return rc;
}
