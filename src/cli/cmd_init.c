/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../backend/local.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../report/config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_init_usage[] =
	"usage: dvalin init -r REPO [--kdf-log-n N]\n"
	"       dvalin init --replica-of URL REPO\n\n"
	"Create a new, empty repository in REPO: a directory (created with its\n"
	"missing parents; an existing one must be empty, but for lost+found) or a\n"
	"URL.  The password is asked twice on a terminal, or taken from\n"
	"$DVALIN_PASSWORD, $DVALIN_PASSWORD_FILE or $DVALIN_PASSWORD_COMMAND.  Keep\n"
	"it safe: without it the repository cannot be read by anyone, including you.\n"
	"'dvalin key export' prints the master keys for a paper copy.\n\n"
	"With --replica-of, REPO (here an argument, or -r) becomes a replica of the\n"
	"repository at URL for 'dvalin sync': the same repository id, chunker\n"
	"parameters and key files, so any password of URL opens it.  No password is\n"
	"needed to make one; whoever holds the replica cannot read it without one.\n\n"
	"Options:\n"
	"  --kdf-log-n N      scrypt cost as log2(N), 10..22 (default 15: 32 MiB, ~0.1 s)\n"
	"  --replica-of URL   make a replica of the repository at URL\n";

static int refuse_foreign(backend *be, const char *path);

/* The --json answer of both kinds of init. */
static void print_created(const char *path)
{
	json j;
	json_init(&j, stdout);
	report_created(&j, path);
	json_finish(&j);
}

/* init --replica-of: the config and key files of src, copied; no password. */
static int init_replica(cli_ctx *ctx, const char *src_url, const char *path, const char *extra,
			int kdf)
{
	if (extra)
		return cli_usage_error(ctx, "unexpected argument '%s'", extra);
	if (kdf)
		return cli_usage_error(ctx, "--kdf-log-n does not go with --replica-of: the key files are copied");
	if (!path)
		return cli_usage_error(ctx, "no repository given: init --replica-of URL REPO");
	backend *src = NULL, *dst = NULL;
	int rc = backend_open(src_url, BACKEND_OPEN_SOURCE, &src);
	rc = rc ?: backend_open(path, BACKEND_OPEN_CREATE, &dst);
	rc = rc ?: refuse_foreign(dst, path);
	rc = rc ?: repo_create_replica(dst, src);
	backend_free(src);
	backend_free(dst);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		print_created(path);
	} else if (!ctx->quiet) {
		printf("created replica of %s at %s\n", src_url, path);
		printf("fill it with 'dvalin sync --from %s --to %s'\n", src_url, path);
	}
	return EXIT_OK;
}

/*
 * A local directory that holds anything but what a repository (or an
 * init that was interrupted) holds is not a place for a new one: init
 * would mix its files with someone else's.  "lost+found" is what a fresh
 * file system holds.  Backends without directories are checked by
 * repo_create (no config, no snapshots).
 */
static int refuse_foreign(backend *be, const char *path)
{
	static const char *const ours[] = { "config", "lost+found" };
	static const char *const dirs[] = REPO_DIRS;
	int fd = local_backend_dirfd(be);
	if (fd < 0)
		return 0;
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return err_sys(-errno, "cannot list '%s'", path);
	}
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		const char *n = e->d_name;
		int known = !strcmp(n, ".") || !strcmp(n, "..") || !strncmp(n, ".tmp-", 5);
		for (size_t i = 0; !known && i < ARRAY_SIZE(ours); i++)
			known = !strcmp(n, ours[i]);
		for (size_t i = 0; !known && i < ARRAY_SIZE(dirs); i++)
			known = !strcmp(n, dirs[i]);
		if (!known)
			rc = err_set(-ENOTEMPTY, "'%s' is not empty and not a dvalin repository (it holds '%s'): give a new or empty directory",
				     path, n);
	}
	closedir(d);
	return rc;
}

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "kdf-log-n", required_argument, NULL, 'n' },
					      { "replica-of", required_argument, NULL, 'R' },
					      { 0 } };
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	const char *replica_of = NULL;
	int c, kdf = 0;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < KEY_LOG_N_MIN || v > KEY_LOG_N_MAX)
				return cli_usage_error(ctx, "--kdf-log-n must be %d..%d", KEY_LOG_N_MIN, KEY_LOG_N_MAX);
			p.kdf.log_n = (unsigned)v;
			kdf = 1;
		} else if (c == 'R') {
			replica_of = optarg;
		} else {
			return cli_option_error(ctx);
		}
	}
	if (replica_of)
		return init_replica(ctx, replica_of, optind < argc ? argv[optind] : cli_repo_path(ctx),
				    argc - optind > 1 ? argv[optind + 1] : NULL, kdf);
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	const char *path = cli_repo_path(ctx);
	if (!path)
		return cli_usage_error(ctx, "no repository given: use -r/--repo or set DVALIN_REPOSITORY");
	/* the place first (made with its parents, or refused), then the password */
	backend *be = NULL;
	char *pass = NULL;
	int rc = backend_open(path, BACKEND_OPEN_CREATE, &be);
	rc = rc ?: refuse_foreign(be, path);
	rc = rc ?: cli_password(ctx, 1, &pass);
	p.no_cache = ctx->no_cache;
	rc = rc ?: repo_create(be, pass, &p);
	backend_free(be);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		print_created(path);
	} else if (!ctx->quiet) {
		printf("created dvalin repository at %s\n", path);
		printf("keep the password safe: losing it means losing access to the data\n");
	}
	return EXIT_OK;
}
