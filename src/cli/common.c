/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/log.h"
#include "../core/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int cli_usage_error(const cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "dvalin%s%s: ", ctx->cmd ? " " : "", ctx->cmd ? ctx->cmd : "");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see 'dvalin %s%s--help')\n", ctx->cmd ? ctx->cmd : "", ctx->cmd ? " " : "");
	va_end(ap);
	return EXIT_USAGE;
}

int cli_fail(int code)
{
	/* cleaned up: say what was interrupted and die of the signal
	 * (EXIT_INTERRUPTED); the note replaces the bare "interrupted" */
	if (code == -EINTR)
		interrupt_reraise();
	log_error("%s", err_msg(code));
	return code == -DV_EUSAGE ? EXIT_USAGE : EXIT_FAIL;
}

static void strip_newline(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

/*
 * A password is one line; a first line that is empty is refused, as no
 * repository can have an empty password (init and key add refuse one), so
 * it can only be a mistake (a wrong file, a command that failed quietly).
 */
static int take_line(char *line, ssize_t n, const char *what, char **out)
{
	if (n < 0) {
		free(line);
		return err_set(-EINVAL, "%s is empty", what);
	}
	strip_newline(line);
	if (!*line) {
		free(line);
		return err_set(-EINVAL, "%s starts with an empty line (no password)", what);
	}
	*out = line;
	return 0;
}

static int read_password_file(const char *path, char **out)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot read password file '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_sys(-errno, "cannot read password file '%s'", path);
	if (S_ISDIR(st.st_mode))
		return err_set(-EISDIR, "password file '%s' is a directory", path);
	FILE *f = fdopen(fd, "r");
	if (!f)
		return err_sys(-errno, "cannot read password file '%s'", path);
	fd = -1; /* f owns it now */
	char *line = NULL, what[PATH_MAX + 32];
	size_t cap = 0;
	errno = 0;
	ssize_t n = getline(&line, &cap, f);
	int e = n < 0 && ferror(f) ? -(errno ? errno : EIO) : 0;
	fclose(f);
	if (e) {
		free(line);
		return err_sys(e, "cannot read password file '%s'", path);
	}
	snprintf(what, sizeof(what), "password file '%s'", path);
	return take_line(line, n, what, out);
}

/* How a child ended, in words: "exited with status 1", "killed by signal 9 (KILL)". */
static void describe_status(char *out, size_t cap, int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		snprintf(out, cap, "was not found (the shell exited with status 127)");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 126)
		snprintf(out, cap, "could not be run (the shell exited with status 126: not executable?)");
	else if (WIFEXITED(st))
		snprintf(out, cap, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st)) {
		const char *name = sigabbrev_np(WTERMSIG(st));
		snprintf(out, cap, "was killed by signal %d%s%s%s", WTERMSIG(st), name ? " (SIG" : "",
			 name ? name : "", name ? ")" : "");
	} else
		snprintf(out, cap, "ended with wait status %d", st);
}

/*
 * The command runs under sh -c, its stdout read for the first line; its
 * stderr stays the user's, so its own complaint (sh: 1: pass: not found)
 * appears right above ours.
 */
static int run_password_command(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "re");
	if (!p)
		return err_sys(-errno, "cannot run the password command (DVALIN_PASSWORD_COMMAND)");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, p);
	/* read the rest, so that a command writing more never dies of SIGPIPE */
	char sink[4096];
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	int st = pclose(p);
	if (st != 0) {
		char how[128];
		if (st < 0)
			snprintf(how, sizeof(how), "could not be waited for: %s", strerror(errno));
		else
			describe_status(how, sizeof(how), st);
		if (line)
			explicit_bzero(line, cap);
		free(line);
		return err_set(-EINVAL, "the password command (DVALIN_PASSWORD_COMMAND) %s", how);
	}
	if (n < 0) {
		free(line);
		return err_set(-EINVAL, "the password command (DVALIN_PASSWORD_COMMAND) printed nothing");
	}
	return take_line(line, n, "the output of the password command (DVALIN_PASSWORD_COMMAND)", out);
}

static int prompt(const char *text, char **out)
{
	_cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0 || !isatty(fd))
		return err_set(-EINVAL, "no password given: set DVALIN_PASSWORD, DVALIN_PASSWORD_FILE or DVALIN_PASSWORD_COMMAND, or run on a terminal");
	struct termios old, quiet;
	if (tcgetattr(fd, &old) < 0)
		return -errno;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	if (write(fd, text, strlen(text)) < 0)
		return -errno;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	char line[1024];
	ssize_t n = read(fd, line, sizeof(line) - 1);
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		return -errno;
	if (n <= 0)
		return err_set(-EINVAL, "no password entered");
	line[n] = 0;
	strip_newline(line);
	*out = strdup(line);
	explicit_bzero(line, sizeof(line));
	return *out ? 0 : -ENOMEM;
}

int cli_password(const cli_ctx *ctx, int confirm, char **out)
{
	const char *file = ctx->password_file ? ctx->password_file : getenv("DVALIN_PASSWORD_FILE");
	const char *cmd = getenv("DVALIN_PASSWORD_COMMAND");
	const char *env = getenv("DVALIN_PASSWORD");
	int rc;
	if (file && *file)
		rc = read_password_file(file, out);
	else if (cmd && *cmd)
		rc = run_password_command(cmd, out);
	else if (env && !*env)
		rc = err_set(-EINVAL, "DVALIN_PASSWORD is set but empty (unset it to be asked)");
	else if (env)
		rc = (*out = strdup(env)) ? 0 : -ENOMEM;
	else {
		rc = prompt(confirm ? "enter password for new repository: " : "enter password: ", out);
		if (rc == 0 && confirm) {
			char *again = NULL;
			rc = prompt("enter password again: ", &again);
			if (rc == 0 && strcmp(again, *out) != 0)
				rc = err_set(-EINVAL, "passwords do not match");
			free(again);
			if (rc < 0) {
				free(*out);
				*out = NULL;
			}
		}
	}
	if (rc == 0 && confirm && !**out) {
		free(*out);
		*out = NULL;
		rc = err_set(-EINVAL, "an empty password is not allowed");
	}
	return rc;
}

int cli_new_password(const char *file, char **out)
{
	int rc;
	if (file) {
		rc = read_password_file(file, out);
	} else {
		rc = prompt("enter the new password: ", out);
		char *again = NULL;
		if (rc == 0 && (rc = prompt("enter the new password again: ", &again)) == 0 &&
		    strcmp(again, *out) != 0)
			rc = err_set(-EINVAL, "passwords do not match");
		free(again);
		if (rc == 0 && !**out)
			rc = err_set(-EINVAL, "an empty password is not allowed");
		if (rc < 0 && *out) {
			free(*out);
			*out = NULL;
		}
	}
	return rc;
}

const char *cli_repo_path(const cli_ctx *ctx)
{
	if (ctx->repo)
		return ctx->repo;
	const char *e = getenv("DVALIN_REPOSITORY");
	return e && *e ? e : NULL;
}

int cli_open_repo_as(const cli_ctx *ctx, const char *kind, int flags, repo **out)
{
	const char *path = cli_repo_path(ctx);
	if (!path)
		return err_set(-DV_EUSAGE, "no repository given: use -r/--repo or set DVALIN_REPOSITORY");
	char *pass = NULL;
	int rc = 0;
	if (!(flags & CLI_KEYLESS) && (rc = cli_password(ctx, 0, &pass)) < 0)
		return rc;
	rc = cli_open_url(ctx, path, kind, flags, pass, out);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	return rc;
}

int cli_open_url(const cli_ctx *ctx, const char *url, const char *kind, int flags, const char *pass,
		 repo **out)
{
	repo_open_opts o = { (flags & CLI_KEYLESS) ? NULL : pass, ctx->compression, kind,
			     !!(flags & CLI_EXCLUSIVE), !!(flags & CLI_TOLERANT),
			     ctx->no_cache || (flags & CLI_NO_CACHE) };
	backend *be;
	int rc = backend_open(url, (flags & CLI_SOURCE) ? BACKEND_OPEN_SOURCE : 0, &be);
	return rc ?: repo_open_with(out, be, &o); /* takes be over */
}

int cli_open_repo(const cli_ctx *ctx, repo **out)
{
	return cli_open_repo_as(ctx, "read", 0, out);
}

const backend_requests *cli_requests(repo *r, backend_requests *out)
{
	return backend_request_counts(repo_backend(r), out) ? out : NULL;
}

int cli_parse_threads(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v < 1 || v > 64)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int cli_parse_compression(const char *s, int *out)
{
	char *end;
	if (strcmp(s, "auto") == 0)
		*out = 3;
	else if (strcmp(s, "off") == 0)
		*out = 0;
	else if (strcmp(s, "fast") == 0)
		*out = 1;
	else if (strcmp(s, "max") == 0)
		*out = 19;
	else {
		long v = strtol(s, &end, 10);
		if (*end || v < 0 || v > 22)
			return -EINVAL;
		*out = (int)v;
	}
	return 0;
}

void cli_human_bytes(char out[32], uint64_t n)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, 32, "%llu B", (unsigned long long)n);
	else
		snprintf(out, 32, "%.2f %s", v, units[u]);
}

void cli_human_duration(char out[32], double seconds)
{
	unsigned long s = (unsigned long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(out, 32, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, 32, "%lu:%02lu", s / 60, s % 60);
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	static const char units[] = "KMGTP";
	const char *u = *end ? strchr(units, *end & ~0x20) : NULL;
	unsigned shift = u ? 10 * (unsigned)(u - units + 1) : 0;
	if (u) {
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
	} else if (*end == 'B' || *end == 'b') {
		end++;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_parse_date(const char *s, int64_t *out)
{
	char full[64];
	int32_t tz;
	size_t n = strlen(s);
	/* a date alone is its midnight; "T" may stand for the space */
	if (n == 10)
		snprintf(full, sizeof(full), "%s 00:00:00", s);
	else if (n == 16)
		snprintf(full, sizeof(full), "%s:00", s);
	else
		snprintf(full, sizeof(full), "%s", s);
	if (n > 10 && full[10] == 'T')
		full[10] = ' ';
	return snapshot_parse_time(full, out, &tz);
}
