/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../repo/format.h"

#include <stdio.h>

const char cmd_version_usage[] =
	"usage: dvalin version\n\n"
	"Print dvalin's version and the repository format version it writes.\n";

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage_error(ctx, "takes no arguments");
	printf("dvalin %s (repository format %d)\n", DVALIN_VERSION, FORMAT_VERSION);
	return EXIT_OK;
}
