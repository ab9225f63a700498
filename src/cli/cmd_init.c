/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../report/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_init_usage[] =
	"usage: dvalin init -r REPO [--kdf-log-n N]\n"
	"       dvalin init --replica-of URL REPO\n\n"
	"Create a new, empty repository in REPO (a directory, created if missing).\n"
	"The password is asked twice on a terminal, or taken from $DVALIN_PASSWORD,\n"
	"$DVALIN_PASSWORD_FILE or $DVALIN_PASSWORD_COMMAND.  Keep it safe: without it\n"
	"the repository cannot be read by anyone, including you.\n\n"
	"With --replica-of, REPO (here an argument, or -r) becomes a replica of the\n"
	"repository at URL for 'dvalin sync': the same repository id, chunker\n"
	"parameters and key files, so any password of URL opens it.  No password is\n"
	"needed to make one; whoever holds the replica cannot read it without one.\n\n"
	"Options:\n"
	"  --kdf-log-n N      scrypt cost as log2(N), 10..22 (default 15: 32 MiB, ~0.1 s)\n"
	"  --replica-of URL   make a replica of the repository at URL\n";

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
	int rc = backend_open(src_url, 0, &src);
	rc = rc ?: backend_open(path, BACKEND_OPEN_CREATE, &dst);
	rc = rc ?: repo_create_replica(dst, src);
	backend_free(src);
	backend_free(dst);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_created(&j, path);
		json_finish(&j);
	} else if (!ctx->quiet) {
		printf("created replica of %s at %s\n", src_url, path);
		printf("fill it with 'dvalin sync --from %s --to %s'\n", src_url, path);
	}
	return EXIT_OK;
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
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
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
			return cli_usage_error(ctx, "unknown option");
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
	char *pass = NULL;
	int rc = cli_password(ctx, 1, &pass);
	if (rc < 0)
		return cli_fail(rc);
	backend *be = NULL;
	rc = backend_open(path, BACKEND_OPEN_CREATE, &be);
	rc = rc ?: repo_create(be, pass, &p);
	backend_free(be);
	free(pass);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_created(&j, path);
		json_finish(&j);
	} else if (!ctx->quiet) {
		printf("created dvalin repository at %s\n", path);
		printf("keep the password safe: losing it means losing access to the data\n");
	}
	return EXIT_OK;
}
