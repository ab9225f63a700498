/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main: global options, the command table, dispatch.  The only place
 * that calls exit().
 *
 * Global options (-r/--repo, --password-file, --json, --no-cache, -q/--quiet) may
 * stand before or after the command name; they are taken out of argv
 * first, the rest goes to the command's own getopt_long.
 */
#include "cli.h"
#include "../base/cleanup.h"
#include "../base/interrupt.h"
#include "../base/log.h"

#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const cli_command commands[] = {
	{ "init", cmd_init, "create a new repository", cmd_init_usage },
	{ "backup", cmd_backup, "back up files and directories", cmd_backup_usage },
	{ "snapshots", cmd_snapshots, "list snapshots", cmd_snapshots_usage },
	{ "ls", cmd_ls, "list the files of a snapshot", cmd_ls_usage },
	{ "restore", cmd_restore, "restore a snapshot", cmd_restore_usage },
	{ "dump", cmd_dump, "write a file or directory of a snapshot to stdout", cmd_dump_usage },
	{ "mount", cmd_mount, "browse the snapshots as a read-only file system", cmd_mount_usage },
	{ "diff", cmd_diff, "show what changed between two snapshots", cmd_diff_usage },
	{ "find", cmd_find, "find files in snapshots by name, size and time", cmd_find_usage },
	{ "drill", cmd_drill, "prove a snapshot restores: a sampled restore, checked", cmd_drill_usage },
	{ "forget", cmd_forget, "remove snapshots by a retention policy", cmd_forget_usage },
	{ "prune", cmd_prune, "remove data no snapshot uses", cmd_prune_usage },
	{ "check", cmd_check, "verify the repository", cmd_check_usage },
	{ "journal", cmd_journal, "record which directories change, for backup --journal", cmd_journal_usage },
	{ "unlock", cmd_unlock, "remove the leases of processes that are gone", cmd_unlock_usage },
	{ "cache", cmd_cache, "list or clean the local caches of remote repositories", cmd_cache_usage },
	{ "sync", cmd_sync, "copy snapshots to a replica, without the key", cmd_sync_usage },
	{ "copy", cmd_sync, "the same as sync (restic's name for it)", cmd_sync_usage },
	{ "repair", cmd_repair, "rebuild the index, rewrite damaged snapshots", cmd_repair_usage },
	{ "stats", cmd_stats, "sizes, deduplication and compression", cmd_stats_usage },
	{ "protect", cmd_protect, "keep a snapshot from being forgotten", cmd_protect_usage },
	{ "unprotect", cmd_unprotect, "allow a protected snapshot to be forgotten", cmd_unprotect_usage },
	{ "tag", cmd_tag, "add, remove or set the tags of snapshots", cmd_tag_usage },
	{ "key", cmd_key, "list, add, remove keys; change the password; paper copy", cmd_key_usage },
	{ "disks", cmd_disks, "check the health of disks (SMART)", cmd_disks_usage },
	{ "zpool-check", cmd_zpool_check, "check ZFS pools", cmd_zpool_check_usage },
	{ "alert", cmd_alert, "send a test notification", cmd_alert_usage },
	{ "schedule", cmd_schedule, "next times of a calendar expression", cmd_schedule_usage },
	{ "daemon", cmd_daemon, "run scheduled jobs, the web UI and metrics", cmd_daemon_usage },
	{ "jobs", cmd_jobs, "the daemon's jobs: history, logs, run one now", cmd_jobs_usage },
	{ "server", cmd_server, "serve repositories over HTTPS (tokens, rights)", cmd_server_usage },
	{ "serve", cmd_serve, "serve one repository over ssh (--stdio)", cmd_serve_usage },
	{ "generate", cmd_generate, "shell completion and the man page", cmd_generate_usage },
	{ "cat", cmd_cat, "print repository objects (debugging aid)", cmd_cat_usage },
	{ "version", cmd_version, "print the version", cmd_version_usage },
};

const cli_command *cli_commands(size_t *n)
{
	*n = ARRAY_SIZE(commands);
	return commands;
}

const cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void main_usage(FILE *f)
{
	fputs("usage: dvalin [-r REPO] COMMAND [OPTIONS] [ARGS]\n\n"
	      "A deduplicating, compressing, encrypting backup tool.\n\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fputs("\nGlobal options (before or after the command):\n"
	      "  -r, --repo PATH        repository (default: $DVALIN_REPOSITORY)\n"
	      "      --password-file F  read the password from F (also $DVALIN_PASSWORD_FILE)\n"
	      "      --json             machine-readable output\n"
	      "      --no-cache         no local metadata cache for a remote repository\n"
	      "      --fingerprint FP   pin an https server's key (also $DVALIN_FINGERPRINT)\n"
	      "  -q, --quiet            no progress, no summary\n"
	      "  -h, --help             this text; 'dvalin COMMAND --help' for a command\n\n"
	      "Password: --password-file, $DVALIN_PASSWORD_FILE, $DVALIN_PASSWORD_COMMAND,\n"
	      "$DVALIN_PASSWORD, else asked on the terminal.\n"
	      "Exit status:\n"
	      "  0    success                 4    a disk or pool has a warning\n"
	      "  1    error                   5    a disk or pool is failing\n"
	      "  2    usage error             6    check found damaged or missing data,\n"
	      "  3    backup saved, but some       or a drill found files that do not match\n"
	      "       files were unreadable   130  interrupted (SIGINT)\n", f);
}

void cli_print_usage(const char *cmd)
{
	const cli_command *c = cli_find_command(cmd);
	if (c)
		fputs(c->usage, stdout);
	else
		main_usage(stdout);
}

/* Takes the global options out of argv; returns the new argc or -1. */
static int take_globals(cli_ctx *ctx, int argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (strcmp(a, "--") == 0) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "-r") == 0 || strcmp(a, "--repo") == 0 || strcmp(a, "--password-file") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "dvalin: option '%s' needs a value\n", a);
				return -1;
			}
			val = argv[++i];
			if (a[1] == 'r' || a[2] == 'r')
				ctx->repo = val;
			else
				ctx->password_file = val;
		} else if (strncmp(a, "--repo=", 7) == 0) {
			ctx->repo = a + 7;
		} else if (strncmp(a, "-r", 2) == 0 && a[2]) {
			ctx->repo = a + 2;
		} else if (strncmp(a, "--password-file=", 16) == 0) {
			ctx->password_file = a + 16;
		} else if (strcmp(a, "--fingerprint") == 0 || strncmp(a, "--fingerprint=", 14) == 0) {
			/* for the remote backend, which reads it where it reads the token */
			const char *fp = a[13] == '=' ? a + 14 : i + 1 < argc ? argv[++i] : NULL;
			if (!fp) {
				fprintf(stderr, "dvalin: option '--fingerprint' needs a value\n");
				return -1;
			}
			setenv("DVALIN_FINGERPRINT", fp, 1);
		} else if (strcmp(a, "--no-cache") == 0) {
			ctx->no_cache = 1;
		} else if (strcmp(a, "--json") == 0) {
			ctx->json = 1;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			ctx->quiet = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

/* Deep directory trees are walked with one descriptor per level. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	cli_ctx ctx;
	/*
	 * Large buffers (packs, read and seal buffers, index files being
	 * written) come from mmap and go back when freed.  glibc raises its
	 * threshold when such a chunk is freed, and later ones then live in
	 * the per-thread arenas, where freed memory stays resident: 13 MB of
	 * the peak of a first backup of 1M files (docs/performance.md).
	 */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	memset(&ctx, 0, sizeof(ctx));
	argc = take_globals(&ctx, argc, argv);
	if (argc < 0)
		exit(EXIT_USAGE);
	if (argc < 2) {
		main_usage(stderr);
		exit(EXIT_USAGE);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		cli_print_usage(argc > 2 ? argv[2] : "");
		exit(EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0)
		argv[1] = "version";
	const cli_command *c = cli_find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "dvalin: unknown command '%s' (see 'dvalin --help')\n", argv[1]);
		exit(EXIT_USAGE);
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(c->usage, stdout);
			exit(EXIT_OK);
		}
	}
	ctx.cmd = c->name;
	char note[256];
	cli_interrupt_note(note, sizeof(note), c->name);
	interrupt_set_note(note);
	interrupt_install_abrupt(); /* a command that polls installs its own */
	ctx.compression = 3;
	ctx.progress = !ctx.quiet && !ctx.json && isatty(STDERR_FILENO);
	log_set_quiet(ctx.quiet);
	raise_fd_limit();
	int rc = c->fn(&ctx, argc - 1, argv + 1);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		perror("dvalin: cannot write output");
		rc = EXIT_FAIL;
	}
	exit(rc);
}
