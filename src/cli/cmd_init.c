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
	"usage: dvalin init -r REPO [--kdf-log-n N]\n\n"
	"Create a new, empty repository in REPO (a directory, created if missing).\n"
	"The password is asked twice on a terminal, or taken from $DVALIN_PASSWORD,\n"
	"$DVALIN_PASSWORD_FILE or $DVALIN_PASSWORD_COMMAND.  Keep it safe: without it\n"
	"the repository cannot be read by anyone, including you.\n\n"
	"Options:\n"
	"  --kdf-log-n N   scrypt cost as log2(N), 10..22 (default 15: 32 MiB, ~0.1 s)\n";

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "kdf-log-n", required_argument, NULL, 'n' }, { 0 } };
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < KEY_LOG_N_MIN || v > KEY_LOG_N_MAX)
				return cli_usage_error(ctx, "--kdf-log-n must be %d..%d", KEY_LOG_N_MIN, KEY_LOG_N_MAX);
			p.kdf.log_n = (unsigned)v;
		} else {
			return cli_option_error(ctx);
		}
	}
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
