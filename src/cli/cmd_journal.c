/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/strlist.h"
#include "../jobs/journal_rec.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

const char cmd_journal_usage[] =
	"usage: dvalin journal FILE PATH...\n\n"
	"Record which directories below PATH change, into the change journal FILE,\n"
	"until SIGTERM or SIGINT; `dvalin backup --journal FILE` then walks only those\n"
	"and reuses the parent snapshot's trees for the rest (docs/journal.md).  Uses\n"
	"fanotify with a mark on each file system (root).  Whatever it cannot map\n"
	"exactly (a queue overflow, a hard-linked file, a directory it cannot find) is\n"
	"a gap, after which the next backup walks everything.  Prints one line once\n"
	"it records.  Needs no repository.\n";

static void on_ready(void *ud)
{
	(void)ud;
	printf("recording\n");
	fflush(stdout);
}

int cmd_journal(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { 0 } };
	optind = 1;
	if (cli_getopt(ctx, argc, argv, "", opts, NULL) != -1)
		return cli_option_error(ctx);
	if (argc - optind < 2)
		return cli_usage_error(ctx, "needs a journal file and at least one path");
	char **paths = NULL;
	size_t n = 0;
	int rc = 0;
	for (int i = optind + 1; i < argc && rc == 0; i++) {
		/* the recorder compares the kernel's paths: no links in them */
		char *p = realpath(argv[i], NULL);
		if (!p) {
			rc = -errno;
			fprintf(stderr, "dvalin journal: cannot record '%s': %s\n", argv[i], err_str(rc));
			break;
		}
		rc = strlist_add(&paths, &n, p);
		free(p);
	}
	if (rc < 0) {
		strlist_free(paths, n);
		return rc == -ENOMEM ? cli_fail(rc) : EXIT_FAIL;
	}
	interrupt_install();
	journal_rec_params p = { argv[optind], paths, n, 0, on_ready, NULL };
	rc = journal_rec_run(&p);
	strlist_free(paths, n);
	return rc < 0 ? cli_fail(rc) : EXIT_OK;
}
