/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The socket carries one message per cleanup change (SOCK_SEQPACKET keeps
 * them apart):
 *   'A' | le32 id | le32 timeout in ms (0: none) | u8 retries | what NUL argv[0] NUL ...
 *   'D' | le32 id          dismissed
 *   'Q'                    farewell: exit, run nothing
 * The end of the socket without 'Q' means this process is gone.
 */
#include "guard.h"
#include "buf.h"
#include "cleanup.h"
#include "err.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct guard {
	int sock;
	pid_t pid;
	unsigned next_id;
};

typedef struct {
	unsigned id;
	uint32_t timeout_ms;
	int retries;
	char *what;
	char **argv; /* into the same allocation as what */
} action;

/* ---- the guard process: no stdio, no locks (see guard.h) ---- */

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	char line[PROC_LINE_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = MIN((size_t)n, sizeof(line) - 1);
	ssize_t w = write(2, line, len);
	(void)w; /* nowhere left to report a failing stderr */
}

static void say_line(void *ud, const char *line)
{
	say("dvalin: cleanup: %s: %s\n", (const char *)ud, line);
}

/* An 'A' message into a (one allocation); 0 or -1 if malformed. */
static int parse_action(action *a, const uint8_t *p, size_t n)
{
	if (n < 10 || p[n - 1] != 0)
		return -1;
	size_t len = n - 10, argc = 0;
	for (size_t i = 0; i < len; i++)
		argc += p[10 + i] == 0;
	if (argc < 2) /* what and argv[0] */
		return -1;
	/* argv (argc - 1 pointers and NULL) first, aligned; the strings after it */
	char **argv = malloc(argc * sizeof(char *) + len);
	if (!argv)
		return -1;
	char *s = (char *)(argv + argc);
	memcpy(s, p + 10, len);
	a->id = le32_get(p + 1);
	a->timeout_ms = le32_get(p + 5);
	a->retries = p[9] > 8 ? 8 : p[9];
	a->what = s;
	size_t k = 0;
	for (char *q = s + strlen(s) + 1; q < s + len; q += strlen(q) + 1)
		argv[k++] = q;
	argv[k] = NULL;
	a->argv = argv;
	return 0;
}

static void run_action(const action *a)
{
	say("dvalin: cleanup after an interrupted run: %s\n", a->what);
	for (int attempt = 0;; attempt++) {
		proc_run_opts o = {
			.argv = (const char *const *)a->argv, .in = -1, .with_stderr = 1,
			.new_group = 1, .timeout = a->timeout_ms / 1000.0, .line = say_line,
			.ud = a->what,
		};
		proc_result res;
		int rc = proc_run(&o, NULL, &res);
		if (rc == 0 && res.status == 0)
			return;
		if (attempt >= a->retries) {
			say("dvalin: cleanup failed: %s: %s\n", a->what,
			    rc < 0 ? err_msg(rc) : res.timed_out ? "timed out" : "the command failed");
			return;
		}
		struct timespec t = { (time_t)1 << attempt, 0 };
		nanosleep(&t, NULL);
	}
}

static _Noreturn void guard_main(int sock)
{
	action *v = calloc(GUARD_MAX_ACTIONS, sizeof(*v));
	size_t n = 0;
	static uint8_t msg[GUARD_MAX_MSG];
	for (;;) {
		ssize_t got = recv(sock, msg, sizeof(msg), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* the job's process is gone */
		if (msg[0] == 'Q')
			_exit(0);
		if (msg[0] == 'A' && v && n < GUARD_MAX_ACTIONS && parse_action(&v[n], msg, (size_t)got) == 0)
			n++;
		if (msg[0] == 'D' && got == 5) {
			unsigned id = le32_get(msg + 1);
			for (size_t i = 0; i < n; i++) {
				if (v[i].id != id)
					continue;
				free(v[i].argv);
				memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
				n--;
				break;
			}
		}
	}
	while (n-- > 0)
		run_action(&v[n]);
	_exit(0);
}

static void guard_child(int sock)
{
	/* out of the job's process group and deaf to what ends the job */
	setpgid(0, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* hold nothing of the job's but stderr: not its stdout (a reader
	 * would wait for the guard), not a snapshot's directory */
	if (sock != 3) {
		if (dup2(sock, 3) < 0)
			_exit(1);
		sock = 3;
	}
	close_range(4, ~0U, 0);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > 3)
			close(null);
	}
	if (chdir("/") < 0)
		_exit(1);
	guard_main(sock);
}

int guard_new(guard **out)
{
	guard *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(g);
		return err_sys(-errno, "cannot start the cleanup guard");
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		guard_child(sv[1]);
	}
	int e = -errno;
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		free(g);
		return err_sys(e, "cannot start the cleanup guard");
	}
	g->sock = sv[0];
	g->pid = pid;
	*out = g;
	return 0;
}

static int send_msg(guard *g, const void *p, size_t n)
{
	for (;;) {
		if (send(g->sock, p, n, MSG_NOSIGNAL) == (ssize_t)n)
			return 0;
		if (errno != EINTR)
			return err_sys(-errno, "the cleanup guard is gone");
	}
}

int guard_add(guard *g, const char *what, const char *const *argv, double timeout, int retries,
	      unsigned *out_id)
{
	uint8_t msg[GUARD_MAX_MSG];
	size_t n = 10;
	const char *first[] = { what, NULL };
	for (int part = 0; part < 2; part++) {
		for (const char *const *s = part ? argv : first; *s; s++) {
			size_t l = strlen(*s) + 1;
			if (l > sizeof(msg) - n)
				return err_set(-E2BIG, "cleanup command too long: %s", what);
			memcpy(msg + n, *s, l);
			n += l;
		}
	}
	unsigned id = ++g->next_id;
	double ms = timeout > 0 ? timeout * 1000 : 0;
	msg[0] = 'A';
	le32_put(msg + 1, id);
	le32_put(msg + 5, ms > 4e9 ? 4000000000u : (uint32_t)ms);
	msg[9] = (uint8_t)(retries < 0 ? 0 : retries > 8 ? 8 : retries);
	int rc = send_msg(g, msg, n);
	if (rc == 0)
		*out_id = id;
	return rc;
}

int guard_dismiss(guard *g, unsigned id)
{
	uint8_t msg[5] = { 'D' };
	le32_put(msg + 1, id);
	return send_msg(g, msg, sizeof(msg));
}

void guard_free(guard *g)
{
	if (!g)
		return;
	send_msg(g, "Q", 1);
	close(g->sock);
	int status;
	proc_wait(g->pid, &status);
	free(g);
}
