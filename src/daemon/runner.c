/* SPDX-License-Identifier: BSD-2-Clause */
#include "runner.h"
#include "clock.h"
#include "../base/cleanup.h"
#include "../base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_OUT ((size_t)4 << 20)
#define DEFAULT_ERR ((size_t)1 << 20)
#define READ_CHUNK 65536

struct runner_child {
	pid_t pid;
	int fd[2];           /* stdout, stderr read ends; -1 when closed */
	buf out, err;
	size_t out_cap, err_cap;
	size_t err_head;     /* bytes kept from the beginning once the middle is dropped */
	uint64_t err_dropped;
	int truncated, exited, status, signaled, merge;
	int64_t exited_at;   /* monotonic µs */
};

static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static char self_path[PATH_MAX];

static void find_self(void)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		snprintf(self_path, sizeof(self_path), "/proc/self/exe");
	else
		self_path[n] = 0;
}

const char *runner_self(void)
{
	pthread_once(&self_once, find_self);
	return self_path;
}

/* environ with the additions replacing variables of the same name. */
static char **make_env(char *const *add)
{
	size_t n = 0, na = 0;
	while (environ[n])
		n++;
	while (add && add[na])
		na++;
	char **v = calloc(n + na + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int replaced = 0;
		for (size_t a = 0; a < na && !replaced; a++) {
			const char *eq = strchr(add[a], '=');
			size_t l = eq ? (size_t)(eq - add[a]) : strlen(add[a]);
			replaced = strncmp(environ[i], add[a], l) == 0 && environ[i][l] == '=';
		}
		if (!replaced)
			v[k++] = environ[i];
	}
	for (size_t a = 0; a < na; a++)
		v[k++] = add[a];
	return v;
}

int runner_start(runner_child **out, const runner_spec *s)
{
	runner_child *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd[0] = c->fd[1] = -1;
	c->out_cap = s->out_cap ? s->out_cap : DEFAULT_OUT;
	c->err_cap = s->err_cap ? s->err_cap : DEFAULT_ERR;
	c->merge = s->merge_stdout;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, rc = 0;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		rc = err_sys(-errno, "cannot create pipes for '%s'", s->argv[0]);
	char **env = rc == 0 ? make_env(s->env) : NULL;
	if (rc == 0 && !env)
		rc = -ENOMEM;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int have = 0;
	if (rc == 0) {
		sigset_t none, all;
		sigemptyset(&none);
		sigfillset(&all);
		posix_spawn_file_actions_init(&fa);
		posix_spawnattr_init(&at);
		have = 1;
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, po[1], 1);
		posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		posix_spawnattr_setpgroup(&at, 0);
		posix_spawnattr_setsigmask(&at, &none);
		posix_spawnattr_setsigdefault(&at, &all);
		int e = posix_spawn(&c->pid, s->argv[0], &fa, &at, s->argv, env);
		if (e)
			rc = err_sys(-e, "cannot start '%s'", s->argv[0]);
	}
	if (have) {
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
	}
	free(env);
	if (po[1] >= 0)
		close(po[1]);
	if (pe[1] >= 0)
		close(pe[1]);
	if (rc < 0) {
		if (po[0] >= 0)
			close(po[0]);
		if (pe[0] >= 0)
			close(pe[0]);
		free(c);
		return rc;
	}
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	c->fd[0] = po[0];
	c->fd[1] = pe[0];
	*out = c;
	return 0;
}

void runner_free(runner_child *c)
{
	if (!c)
		return;
	if (!c->exited && c->pid > 0) {
		kill(-c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
	buf_release(&c->out);
	buf_release(&c->err);
	free(c);
}

pid_t runner_pid(const runner_child *c)
{
	return c->pid;
}

void runner_fds(const runner_child *c, int out[2])
{
	out[0] = c->fd[0];
	out[1] = c->fd[1];
}

/* Appends to the stderr capture; beyond the cap the middle is left out. */
static int keep_err(runner_child *c, const char *p, size_t n)
{
	if (c->err.len + n <= c->err_cap)
		return buf_append(&c->err, p, n);
	if (!c->err_head) {
		/* freeze the first quarter, keep a sliding window after it */
		static const char mark[] = "\n[... output left out ...]\n";
		size_t head = c->err_cap / 4;
		int rc = 0;
		if (c->err.len > head) {
			c->err_dropped += c->err.len - head;
			c->err.len = head;
		} else { /* the beginning may be in this very piece */
			size_t take = MIN(head - c->err.len, n);
			rc = buf_append(&c->err, p, take);
			p += take;
			n -= take;
		}
		rc = rc ?: buf_append(&c->err, mark, sizeof(mark) - 1);
		if (rc < 0)
			return rc;
		c->err_head = c->err.len;
	}
	size_t window = c->err_cap - c->err_head;
	if (n >= window) {
		c->err_dropped += c->err.len - c->err_head + (n - window);
		c->err.len = c->err_head;
		return buf_append(&c->err, p + (n - window), window);
	}
	size_t tail = c->err.len - c->err_head;
	if (tail + n > window) {
		size_t drop = tail + n - window;
		memmove(c->err.data + c->err_head, c->err.data + c->err_head + drop, tail - drop);
		c->err.len -= drop;
		c->err_dropped += drop;
	}
	return buf_append(&c->err, p, n);
}

int runner_pump(runner_child *c, int fd)
{
	int which = fd == c->fd[0] ? 0 : fd == c->fd[1] ? 1 : -1;
	if (which < 0 || fd < 0)
		return 0;
	char b[READ_CHUNK];
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(fd, b, sizeof(b));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			n = 0; /* an error on a pipe: treat as its end */
		}
		if (n == 0) {
			close(fd);
			c->fd[which] = -1;
			return 0;
		}
		int rc;
		if (which == 1 || c->merge)
			rc = keep_err(c, b, (size_t)n);
		else if (c->out.len + (size_t)n > c->out_cap) {
			c->truncated = 1;
			rc = 0;
		} else {
			rc = buf_append(&c->out, b, (size_t)n);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void set_status(runner_child *c, int st)
{
	c->exited = 1;
	c->exited_at = clock_mono();
	if (WIFEXITED(st)) {
		c->status = WEXITSTATUS(st);
	} else {
		c->signaled = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		c->status = 128 + c->signaled;
	}
}

int runner_reap(runner_child *c, int *status)
{
	if (!c->exited) {
		int st;
		pid_t p = waitpid(c->pid, &st, WNOHANG);
		if (p == c->pid)
			set_status(c, st);
		else if (p < 0 && errno == ECHILD)
			set_status(c, 0xff00); /* reaped elsewhere: cannot know; exit 255 */
	}
	if (!c->exited)
		return 0;
	/*
	 * The pipes may still hold output.  A process the child left behind
	 * (a hook's background job) may keep them open: two seconds after the
	 * exit they are closed regardless.
	 */
	int late = clock_mono() - c->exited_at > 2 * CLOCK_USEC;
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] >= 0)
			runner_pump(c, c->fd[i]);
		if (c->fd[i] >= 0 && late) {
			close(c->fd[i]);
			c->fd[i] = -1;
		}
	}
	if (c->fd[0] >= 0 || c->fd[1] >= 0)
		return 0;
	*status = c->status;
	return 1;
}

void runner_signal(runner_child *c, int sig)
{
	if (c->pid > 0 && !c->exited)
		kill(-c->pid, sig);
	else if (c->pid > 0)
		kill(-c->pid, sig); /* a hook's background children may remain in the group */
}

int runner_signaled(const runner_child *c)
{
	return c->signaled;
}

const buf *runner_stdout(const runner_child *c)
{
	return &c->out;
}

const buf *runner_stderr(const runner_child *c)
{
	return &c->err;
}

int runner_truncated(const runner_child *c)
{
	return c->truncated;
}

/* The last line of a child's stderr, without dvalin's prefix: the reason of a failure. */
void runner_last_line(const buf *b, char *out, size_t cap)
{
	out[0] = 0;
	size_t end = b->len;
	while (end && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r' || b->data[end - 1] == ' '))
		end--;
	size_t start = end;
	while (start && b->data[start - 1] != '\n')
		start--;
	const char *p = (const char *)b->data + start;
	size_t n = end - start;
	if (n > 8 && memcmp(p, "dvalin: ", 8) == 0)
		p += 8, n -= 8;
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

void runner_describe_exit(char *out, size_t cap, int st, int signaled)
{
	if (signaled)
		snprintf(out, cap, "killed by signal %d", signaled);
	else
		snprintf(out, cap, "exit status %d", st);
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int runner_capture(const runner_spec *s, int timeout_ms, int *status, buf *out, buf *err)
{
	runner_child *c;
	int rc = runner_start(&c, s);
	if (rc < 0)
		return rc;
	int64_t deadline = clock_mono() + (int64_t)timeout_ms * 1000, kill_at = 0;
	int st = 0;
	for (;;) {
		if (runner_reap(c, &st) == 1)
			break;
		int64_t now = clock_mono();
		if (!kill_at && now >= deadline) {
			runner_signal(c, SIGINT);
			kill_at = now + 2 * CLOCK_USEC;
		} else if (kill_at && now >= kill_at) {
			runner_signal(c, SIGKILL);
			kill_at = INT64_MAX;
		}
		struct pollfd p[2];
		int np = 0;
		for (int i = 0; i < 2; i++)
			if (c->fd[i] >= 0)
				p[np++] = (struct pollfd){ c->fd[i], POLLIN, 0 };
		if (np == 0) {
			nap_ms(10); /* pipes closed, process not yet gone */
			continue;
		}
		if (poll(p, (nfds_t)np, 100) > 0)
			for (int i = 0; i < np; i++)
				if (p[i].revents)
					runner_pump(c, p[i].fd);
	}
	if (status)
		*status = st;
	rc = 0;
	if (out)
		rc = buf_append(out, c->out.data ? (const char *)c->out.data : "", c->out.len);
	if (err && rc == 0)
		rc = buf_append(err, c->err.data ? (const char *)c->err.data : "", c->err.len);
	runner_free(c);
	return rc;
}

ssize_t runner_read_stdout(runner_child *c, void *p, size_t max, int timeout_ms)
{
	for (;;) {
		if (c->fd[0] < 0)
			return 0;
		/* drain stderr too, so a chatty child never blocks on a full pipe */
		struct pollfd pf[2] = { { c->fd[0], POLLIN, 0 }, { c->fd[1], POLLIN, 0 } };
		int n = poll(pf, c->fd[1] >= 0 ? 2 : 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		if (c->fd[1] >= 0 && pf[1].revents)
			runner_pump(c, c->fd[1]);
		if (!pf[0].revents)
			continue;
		ssize_t k = read(c->fd[0], p, max);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			close(c->fd[0]);
			c->fd[0] = -1;
			return k < 0 ? -errno : 0;
		}
		return k;
	}
}

int runner_wait(runner_child *c, int *status)
{
	while (c->fd[1] >= 0) {
		struct pollfd pf = { c->fd[1], POLLIN, 0 };
		if (poll(&pf, 1, 1000) > 0)
			runner_pump(c, c->fd[1]);
		else
			break; /* stderr idle: do not wait on a grandchild holding it */
	}
	if (!c->exited) {
		int st;
		while (waitpid(c->pid, &st, 0) < 0) {
			if (errno != EINTR) {
				st = 0xff00;
				break;
			}
		}
		set_status(c, st);
	}
	*status = c->status;
	return 0;
}
