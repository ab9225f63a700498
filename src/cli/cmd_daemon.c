/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/log.h"
#include "../daemon/auth.h"
#include "../daemon/config.h"
#include "../daemon/daemon.h"

#include <crypt.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

const char cmd_daemon_usage[] =
	"usage: dvalin daemon [--config FILE]\n"
	"       dvalin daemon --check-config [--config FILE]\n"
	"       dvalin daemon --hash-password\n\n"
	"Run every job of the configuration on its schedule (backups with their\n"
	"retention, prune, check, disk and pool checks), keep their history, notify on\n"
	"failures, recoveries and jobs that have not succeeded within their max-age,\n"
	"and serve the web UI, its API and Prometheus metrics (/metrics).  Runs in the\n"
	"foreground, for systemd (Type=notify, with a watchdog) or a terminal.\n"
	"SIGTERM stops (running jobs are interrupted and their repositories stay\n"
	"consistent), SIGHUP reloads the configuration.  docs/daemon.md and dvalin(1)\n"
	"list every setting.\n\n"
	"Options:\n"
	"      --config FILE    the configuration (default $DVALIN_CONFIG, else\n"
	"                       " CONFIG_DEFAULT_PATH ")\n"
	"      --check-config   read and check the configuration, print every error as\n"
	"                       FILE:LINE: reason, start nothing\n"
	"      --hash-password  read a password (from the terminal, twice, or one line of\n"
	"                       standard input) and print its yescrypt hash for\n"
	"                       '[web] user = NAME HASH'\n\n"
	"Exit status: 0 stopped cleanly (or the configuration is valid), 1 it could not\n"
	"start or the configuration has errors, 2 usage.\n";

const char *cli_config_path(const char *opt)
{
	if (opt)
		return opt;
	const char *e = getenv("DVALIN_CONFIG");
	return e && *e ? e : CONFIG_DEFAULT_PATH;
}

static int read_line(const char *prompt, char *out, size_t cap)
{
	int tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	if (tty) {
		fputs(prompt, stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *r = fgets(out, (int)cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!r)
		return err_set(-EINVAL, "no password given");
	out[strcspn(out, "\r\n")] = 0;
	return 0;
}

static int hash_password(void)
{
	char a[1024], b[1024], hash[CRYPT_OUTPUT_SIZE];
	int rc = read_line("password: ", a, sizeof(a));
	if (rc == 0 && isatty(STDIN_FILENO)) {
		rc = read_line("again: ", b, sizeof(b));
		if (rc == 0 && strcmp(a, b) != 0)
			rc = err_set(-EINVAL, "the passwords differ");
	}
	if (rc == 0 && !a[0])
		rc = err_set(-EINVAL, "an empty password is not allowed");
	rc = rc ?: auth_hash_password(a, hash, sizeof(hash));
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	if (rc < 0)
		return cli_fail(rc);
	printf("%s\n", hash);
	return EXIT_OK;
}

static int check_config(const char *path)
{
	dconf *c;
	int nerr;
	int rc = config_load(&c, path, &nerr);
	if (rc == -EINVAL) {
		log_error("%s: %d error%s", path, nerr, nerr == 1 ? "" : "s");
		return EXIT_FAIL;
	}
	if (rc < 0)
		return cli_fail(rc);
	printf("%s: ok, %zu job%s\n", path, c->njobs, c->njobs == 1 ? "" : "s");
	for (size_t i = 0; i < c->njobs; i++) {
		const dconf_job *j = &c->jobs[i];
		/* a sync: its source, then the replica it writes */
		printf("  %-7s %-16s %s%s%s%s%s\n", config_kind_name(j->kind), j->name,
		       j->schedule ? calendar_text(j->schedule) : "(runs only when asked)",
		       j->repo ? "  -> " : "", j->repo ? j->repo->location : "", j->to ? " -> " : "",
		       j->to ? j->to->location : "");
	}
	const char *scheme = c->tls_cert ? "https://" : "http://";
	size_t ll = c->listen ? strlen(c->listen) : 0;
	if (!c->listen)
		printf("web UI: off\n");
	else if (ll >= 2 && strcmp(c->listen + ll - 2, ":0") == 0)
		printf("web UI: %s%.*s, on a free port chosen when the daemon starts\n", scheme, (int)(ll - 2),
		       c->listen);
	else
		printf("web UI: %s%s/\n", scheme, c->listen);
	printf("notification channels: %zu\n", c->alerts.n);
	printf("state: %s\n", c->state_dir);
	config_free(c);
	return EXIT_OK;
}

int cmd_daemon(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "hash-password", no_argument, NULL, 'H' },
		{ 0 },
	};
	const char *config = NULL;
	int c, check = 0, hash = 0;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'k')
			check = 1;
		else if (c == 'H')
			hash = 1;
		else
			return cli_option_error(ctx);
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (check && hash)
		return cli_usage_error(ctx, "--check-config and --hash-password exclude each other");
	if (hash)
		return hash_password();
	const char *path = cli_config_path(config);
	if (check)
		return check_config(path);
	/* a daemon's log goes to the journal line by line */
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);
	return daemon_main(path, DVALIN_VERSION) == 0 ? EXIT_OK : EXIT_FAIL;
}
