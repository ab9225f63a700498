/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * select: the options that choose snapshots, one parser for every command
 * that has them (ls, restore, snapshots, forget, tag, find, drill, ...):
 * --snapshot ID, --host H, --path P, --tag LIST into the filter of
 * jobs/snapsel.h, which gives them their meaning.
 */
#include "cli.h"
#include "../base/err.h"

#include <errno.h>

int cli_select_option(int c, const char *arg, snapsel_filter *f)
{
	if (c != SNAPSEL_OPT_SNAPSHOT && c != SNAPSEL_OPT_HOST && c != SNAPSEL_OPT_PATH &&
	    c != SNAPSEL_OPT_TAG)
		return 0;
	int rc = snapsel_filter_add(f, c, arg);
	if (rc == -ENOMEM || rc == -E2BIG)
		rc = err_set(rc, "too many snapshot filters");
	return rc < 0 ? rc : 1;
}
