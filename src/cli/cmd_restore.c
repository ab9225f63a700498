/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "progress.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../base/strlist.h"
#include "../base/workq.h"
#include "../jobs/restore.h"
#include "../jobs/snapsel.h"
#include "../report/backup.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_restore_usage[] =
	"usage: dvalin restore -r REPO SNAPSHOT --target DIR [--include GLOB]... [--verify]\n\n"
	"Restore a snapshot under DIR: a backup of /srv/data is written to\n"
	"DIR/srv/data.  Metadata is restored as rsync -aHAXS --numeric-ids would:\n"
	"mode, numeric owner (when root), nanosecond mtime, xattrs and ACLs, hard\n"
	"links, holes of sparse files, symlinks, fifos and device nodes (when root).\n"
	"Nothing is ever written outside DIR, whatever the snapshot contains.\n\n"
	"Options:\n"
	"  -t, --target DIR     where to restore (created if missing)\n"
	"  -i, --include GLOB   restore only matching entries and what is below them\n"
	"                       (repeatable; a GLOB with '/' matches absolute paths)\n"
	"      --verify         re-hash every chunk read (slower)\n"
	CLI_SNAPSEL_HELP
	"      --threads N      write files on N threads (default: one per processor)\n"
	"      --max-entries N  refuse a snapshot that expands to more than N entries\n"
	"                       (default 1000000000; 0: no limit): a forged snapshot can\n"
	"                       share subtrees to describe 2^40 files from a few blobs\n"
	"      --no-space-check write even if the target's free space or inodes seem too\n"
	"                       few for what the snapshot expands to (checked by default,\n"
	"                       before anything of it is written)\n"
	"      --json           print the summary as JSON\n\n"
	"Exit status: 0 done, 1 some entries could not be restored or the snapshot is\n"
	"damaged (each is named on stderr).\n";

int cmd_restore(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "include", required_argument, NULL, 'i' },
		{ "verify", no_argument, NULL, 'V' },
		{ "threads", required_argument, NULL, 'j' },
		{ "max-entries", required_argument, NULL, 'M' },
		{ "no-space-check", no_argument, NULL, 'S' },
		CLI_SNAPSEL_OPTIONS,
		{ 0 },
	};
	restore_opts o;
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	memset(&o, 0, sizeof(o));
	o.threads = workq_default_threads();
	o.max_entries = RESTORE_MAX_ENTRIES;
	int c, rc;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "t:i:", opts, NULL)) != -1) {
		switch (c) {
		case 't': o.target = optarg; break;
		case 'i':
			if (strlist_add(&o.includes, &o.nincludes, optarg) < 0)
				return cli_fail(-12);
			break;
		case 'V': o.verify = 1; break;
		case 'S': o.no_space_check = 1; break;
		case 'M': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-') {
				strlist_free(o.includes, o.nincludes);
				snapsel_filter_release(&f);
				return cli_usage_error(ctx, "invalid --max-entries '%s'", optarg);
			}
			o.max_entries = v;
			break;
		}
		case 'j':
			if (cli_parse_threads(optarg, &o.threads) < 0) {
				strlist_free(o.includes, o.nincludes);
				snapsel_filter_release(&f);
				return cli_usage_error(ctx, "invalid --threads '%s' (1..64)", optarg);
			}
			break;
		case SNAPSEL_OPT_HOST:
		case SNAPSEL_OPT_PATH:
		case SNAPSEL_OPT_TAG:
			if ((rc = snapsel_filter_add(&f, c, optarg)) < 0) {
				strlist_free(o.includes, o.nincludes);
				snapsel_filter_release(&f);
				return cli_fail(rc);
			}
			break;
		default:
			strlist_free(o.includes, o.nincludes);
			snapsel_filter_release(&f);
			return cli_option_error(ctx);
		}
	}
	if (optind >= argc || !o.target || argc - optind > 1) {
		strlist_free(o.includes, o.nincludes);
		snapsel_filter_release(&f);
		return cli_usage_error(ctx, optind >= argc ? "no snapshot given" :
					    !o.target ? "no --target given" : "too many arguments");
	}
	char note[PATH_MAX + 160];
	snprintf(note, sizeof(note), "dvalin: restore interrupted: '%s' may hold part of the snapshot; "
		 "the repository was not changed", o.target);
	interrupt_set_note(note);
	repo *r;
	snapshot *s = NULL;
	restore_stats st;
	memset(&st, 0, sizeof(st));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		strlist_free(o.includes, o.nincludes);
		snapsel_filter_release(&f);
		return cli_fail(rc);
	}
	rc = snapsel_find(r, &f, argv[optind], &s, NULL);
	if (rc == 0) {
		job_progress prog = { 0 };
		progress_display *pd = NULL;
		progress_start(&pd, &prog, "restore", ctx->progress);
		interrupt_install(); /* Ctrl-C stops it cleanly, the lease released */
		rc = restore_run(r, s, &o, &prog, &st);
		progress_stop(pd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	snapshot_free(s);
	repo_free(r);
	strlist_free(o.includes, o.nincludes);
	snapsel_filter_release(&f);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_restore(&j, &st, secs);
		json_finish(&j);
	} else if (!ctx->quiet) {
		char b[32], d[32];
		cli_human_bytes(b, st.bytes);
		cli_human_duration(d, secs);
		printf("restored %llu files, %llu directories, %llu other entries, %s in %s (%.2f s)\n",
		       (unsigned long long)st.files, (unsigned long long)st.dirs,
		       (unsigned long long)st.others, b, d, secs);
		if (st.errors)
			printf("%llu entries could not be restored (see the errors above)\n",
			       (unsigned long long)st.errors);
	}
	return st.errors ? EXIT_FAIL : EXIT_OK;
}
