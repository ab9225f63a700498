/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../jobs/diff.h"
#include "../jobs/quote.h"
#include "../jobs/snapsel.h"
#include "../report/diff.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_diff_usage[] =
	"usage: dvalin diff -r REPO SNAPSHOT-A SNAPSHOT-B [PATH] [--metadata] [--json]\n\n"
	"       dvalin diff -r REPO SNAPSHOT-A:PATH-A SNAPSHOT-B:PATH-B [--metadata] [--json]\n\n"
	"Show what changed from SNAPSHOT-A to SNAPSHOT-B (each 'latest' or a unique\n"
	"prefix of a snapshot id), in all of them or below PATH (or from PATH-A in\n"
	"one to PATH-B in the other; 'ID' alone is its '/').  Directories that\n"
	"are identical in both are skipped without being read.\n\n"
	"Each change is one line:\n"
	"  +  PATH    added             T  PATH    another type of entry\n"
	"  -  PATH    removed           U  PATH    metadata only (--metadata)\n"
	"  M  PATH    contents changed (a file's data, a symlink's target, a device)\n"
	"Everything below an added or removed directory is listed too.\n\n"
	"Options:\n"
	"      --metadata   also compare mode, owner, mtime and extended attributes\n"
	"      --json       one JSON object per change (docs/json.md, \"Diff\")\n";

typedef struct {
	const cli_ctx *ctx;
	buf q;
	json j;
} diff_out;

static void fields_text(char *out, size_t cap, unsigned f)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = { { DIFF_F_MODE, "mode" }, { DIFF_F_OWNER, "owner" }, { DIFF_F_MTIME, "mtime" },
		      { DIFF_F_XATTRS, "xattrs" } };
	out[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(f & names[i].bit))
			continue;
		size_t w = strlen(out);
		snprintf(out + w, cap - w, "%s%s", w ? ", " : " (", names[i].name);
	}
	if (out[0]) {
		size_t w = strlen(out);
		snprintf(out + w, cap - w, ")");
	}
}

static int print_change(void *ud, const diff_change *c)
{
	diff_out *o = ud;
	if (o->ctx->json) {
		json_init(&o->j, stdout);
		report_diff_change(&o->j, c);
		json_finish(&o->j);
		return ferror(stdout) ? -EIO : 0;
	}
	static const char marks[] = "?+-MTU";
	char extra[80];
	fields_text(extra, sizeof(extra), c->fields & ~(unsigned)DIFF_F_CONTENT);
	printf("%c  %s%s\n", marks[c->change >= DIFF_ADDED && c->change <= DIFF_METADATA ? c->change : 0],
	       quote_path(&o->q, c->path->data, c->path->len), extra);
	return ferror(stdout) ? -EIO : 0;
}

int cmd_diff(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "metadata", no_argument, NULL, 'm' }, { 0 } };
	diff_opts o = { 0, print_change, NULL };
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c != 'm')
			return cli_option_error(ctx);
		o.metadata = 1;
	}
	if (argc - optind < 2 || argc - optind > 3)
		return cli_usage_error(ctx, argc - optind < 2 ? "give two snapshots" : "too many arguments");
	const char *path = argc - optind == 3 ? argv[optind + 2] : NULL;
	char *in_a = NULL, *in_b = NULL;
	diff_out out = { ctx, BUF_INIT, { 0 } };
	o.ud = &out;
	repo *r;
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0)
		return cli_fail(rc);
	snapshot *sa = NULL, *sb = NULL;
	snapfs *fs = NULL;
	snapfs_session *ss = NULL;
	snapfs_path pa = SNAPFS_PATH_INIT, pb = SNAPFS_PATH_INIT;
	snapfs_params sp = SNAPFS_PARAMS_INIT;
	diff_stats st;
	int has_a = 0, has_b = 0;
	interrupt_install(); /* Ctrl-C stops it cleanly, the lease released */
	rc = snapsel_find(r, NULL, argv[optind], &sa, &in_a);
	rc = rc ?: snapsel_find(r, NULL, argv[optind + 1], &sb, &in_b);
	if (rc == 0 && path && (in_a || in_b))
		rc = err_set(-DV_EUSAGE, "give a path as SNAPSHOT:PATH or as a third argument, not both");
	rc = rc ?: snapfs_new(&fs, r, &sp);
	rc = rc ?: snapfs_session_new(&ss, fs);
	if (rc == 0) {
		/* a path in one snapshot only: all of it is added or removed */
		const char *a = in_a ? in_a : path ? path : "/", *b = in_b ? in_b : path ? path : "/";
		int ra = snapfs_lookup(ss, sa->tree, a, strlen(a), &pa);
		int rb = ra == 0 || ra == -DV_ENOTFOUND ? snapfs_lookup(ss, sb->tree, b, strlen(b), &pb) : ra;
		has_a = ra == 0;
		has_b = rb == 0;
		if ((ra < 0 && ra != -DV_ENOTFOUND) || (rb < 0 && rb != -DV_ENOTFOUND))
			rc = ra < 0 && ra != -DV_ENOTFOUND ? ra : rb;
		else if (!has_a && !has_b && strcmp(a, b) == 0)
			rc = err_set(-DV_ENOTFOUND, "path '%s' is in neither snapshot", a);
		else if (!has_a && !has_b)
			rc = err_set(-DV_ENOTFOUND, "neither '%s' nor '%s' is in its snapshot", a, b);
	}
	rc = rc ?: diff_run(ss, has_a ? &pa : NULL, has_b ? &pb : NULL, &o, &st);
	snapfs_path_release(fs, &pa);
	snapfs_path_release(fs, &pb);
	if (rc == 0 && !ctx->json && !ctx->quiet) {
		snapfs_stats fst;
		snapfs_get_stats(fs, &fst);
		printf("%llu added, %llu removed, %llu changed, %llu changed type, %llu metadata only; %llu directory trees read\n",
			(unsigned long long)st.added, (unsigned long long)st.removed,
			(unsigned long long)st.modified, (unsigned long long)st.type,
			(unsigned long long)st.metadata, (unsigned long long)fst.trees_loaded);
	}
	snapfs_session_free(ss);
	snapfs_free(fs);
	snapshot_free(sa);
	snapshot_free(sb);
	repo_free(r);
	buf_release(&out.q);
	rc = rc < 0 ? cli_fail(rc) : EXIT_OK;
	free(in_a); /* after the message, which may name them */
	free(in_b);
	return rc;
}
