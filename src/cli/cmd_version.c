/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../repo/format.h"
#include "../report/config.h"

#include <stdio.h>

const char cmd_version_usage[] =
	"usage: dvalin version [--json]\n\n"
	"Print dvalin's version and the repository format version it writes; with\n"
	"--json also the version of the JSON shapes (docs/json.md).\n";

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage_error(ctx, "takes no arguments");
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_version(&j, DVALIN_VERSION);
		json_finish(&j);
	} else {
		printf("dvalin %s (repository format %d)\n", DVALIN_VERSION, FORMAT_VERSION);
	}
	return EXIT_OK;
}
