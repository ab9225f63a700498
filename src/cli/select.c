/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * select: the options that choose snapshots, one parser for every command
 * that has them (find, drill, mount, ...): --snapshot ID (repeatable, id
 * prefixes), --host H, --path P, --tag T (repeatable), into the filter of
 * jobs/snapsel.h.
 */
#include "cli.h"
#include "../base/strlist.h"

int cli_select_option(int c, const char *arg, snapsel_filter *f)
{
	int rc;
	switch (c) {
	case CLI_OPT_SNAPSHOT: rc = strlist_add(&f->ids, &f->nids, arg); break;
	case CLI_OPT_HOST: rc = strlist_add(&f->hosts, &f->nhosts, arg); break;
	case CLI_OPT_PATH: rc = strlist_add(&f->paths, &f->npaths, arg); break;
	case CLI_OPT_TAG: rc = strlist_add(&f->tags, &f->ntags, arg); break;
	default: return 0;
	}
	return rc < 0 ? rc : 1;
}
