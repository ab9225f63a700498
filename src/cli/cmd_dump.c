/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/fsio.h"
#include "../base/log.h"
#include "../jobs/dump.h"
#include "../jobs/snapsel.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_dump_usage[] =
	"usage: dvalin dump -r REPO SNAPSHOT PATH [--format auto|raw|tar]\n"
	"       dvalin dump -r REPO SNAPSHOT:PATH [--format auto|raw|tar]\n\n"
	"Write PATH of a snapshot to standard output: a file's contents as they\n"
	"are (usable in a pipe), a directory as a tar stream.  SNAPSHOT is 'latest'\n"
	"(narrowed by --host, --path, --tag) or a unique prefix of a snapshot id.\n\n"
	"The tar stream is POSIX pax with everything a restore sets: owners, modes,\n"
	"times in nanoseconds, symlinks, devices, hard links, xattrs, ACLs and sparse\n"
	"files.  Entries are named by their path in the snapshot without the leading\n"
	"'/', so 'tar -x -C T' lays them out as 'dvalin restore --target T' would;\n"
	"extract with 'tar --xattrs --xattrs-include=* --acls -x' to keep them all.\n\n"
	"Options:\n"
	"      --format F   auto (default): raw for a file, tar for a directory;\n"
	"                   raw: a file's contents; tar: a tar stream of PATH\n"
	CLI_SELECT_HELP "\n"
	"Exit status: 0 done, 1 PATH could not be read (a tar stream names each\n"
	"entry it left out or could not read, and is complete all the same).\n";

static int write_stdout(void *ud, const void *p, size_t n)
{
	(void)ud;
	int rc = fsio_write_all(STDOUT_FILENO, p, n);
	return rc < 0 ? err_sys(rc, "cannot write to standard output") : 0;
}

enum { FMT_AUTO, FMT_RAW, FMT_TAR };

int cmd_dump(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
					      CLI_SELECT_OPTIONS, { 0 } };
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	int c, rc, fmt = FMT_AUTO;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == '?' || (rc = cli_select_option(c, optarg, &f)) < 0) {
			snapsel_filter_release(&f);
			return c == '?' ? cli_option_error(ctx) : cli_fail(rc);
		}
		if (rc > 0)
			continue;
		if (strcmp(optarg, "auto") == 0)
			fmt = FMT_AUTO;
		else if (strcmp(optarg, "raw") == 0)
			fmt = FMT_RAW;
		else if (strcmp(optarg, "tar") == 0)
			fmt = FMT_TAR;
		else {
			snapsel_filter_release(&f);
			return cli_usage_error(ctx, "unknown --format '%s' (auto, raw or tar)", optarg);
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		snapsel_filter_release(&f);
		return cli_usage_error(ctx, "give a snapshot and a path (SNAPSHOT PATH or SNAPSHOT:PATH)");
	}
	const char *spec = argv[optind], *path = argc - optind == 2 ? argv[optind + 1] : NULL;
	char *in = NULL;
	repo *r;
	rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		snapsel_filter_release(&f);
		return cli_fail(rc);
	}
	snapshot *s = NULL;
	snapfs *fs = NULL;
	snapfs_session *ss = NULL;
	snapfs_path p = SNAPFS_PATH_INIT;
	snapfs_params sp = SNAPFS_PARAMS_INIT;
	dump_stats st = { 0 };
	interrupt_install(); /* Ctrl-C stops it cleanly, the lease released */
	rc = snapsel_find(r, &f, spec, &s, &in);
	if (rc == 0 && !!in == !!path)
		rc = err_set(-DV_EUSAGE, in ? "give the path as '%s' or as a second argument, not both"
					    : "'%s': no path given (SNAPSHOT PATH or SNAPSHOT:PATH)", spec);
	if (in)
		path = in;
	rc = rc ?: snapfs_new(&fs, r, &sp);
	rc = rc ?: snapfs_session_new(&ss, fs);
	rc = rc ?: snapfs_lookup(ss, s->tree, path, strlen(path), &p);
	if (rc == 0 && fmt == FMT_AUTO)
		fmt = p.node && p.node->type == NODE_FILE ? FMT_RAW : FMT_TAR;
	if (rc == 0 && fmt == FMT_RAW && !(p.node && p.node->type == NODE_FILE))
		rc = err_set(-DV_EUSAGE, "'%s' is not a regular file (--format tar writes it as a tar stream)", path);
	if (rc == 0 && fmt == FMT_TAR && isatty(STDOUT_FILENO))
		rc = err_set(-DV_EUSAGE, "refusing to write a tar stream to a terminal: redirect or pipe it");
	if (rc == 0 && fmt == FMT_RAW)
		rc = dump_file(ss, &p, write_stdout, NULL);
	else if (rc == 0)
		rc = dump_tar(ss, &p, write_stdout, NULL, &st);
	if (rc < 0 && p.node && p.node->type == NODE_FILE && fmt == FMT_RAW &&
	    !strstr(err_msg(rc), path))
		rc = err_set(rc, "cannot dump '%s': %s", path, err_msg(rc));
	snapfs_path_release(fs, &p);
	snapfs_session_free(ss);
	snapfs_free(fs);
	snapshot_free(s);
	repo_free(r);
	snapsel_filter_release(&f);
	if (rc < 0)
		rc = cli_fail(rc);
	free(in); /* after the message, which may name it */
	if (rc)
		return rc;
	if (st.errors) {
		log_error("%llu entries could not be dumped (named above)", (unsigned long long)st.errors);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
