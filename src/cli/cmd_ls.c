/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../jobs/ls.h"
#include "../repo/snapshots.h"
#include "../jobs/quote.h"
#include "../jobs/snapsel.h"
#include "../report/node.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_ls_usage[] =
	"usage: dvalin ls -r REPO SNAPSHOT[:PATH] [PATH] [-l] [--depth N] [--json]\n\n"
	"List the files of a snapshot (recursively), or of PATH within it.  A name\n"
	"holding a control character or bytes that are not UTF-8 is printed in\n"
	"double quotes with C escapes (\"/a\\nb\", \\xff), so each entry is one line.\n"
	"SNAPSHOT is 'latest' (the newest that passes --host, --path and --tag) or\n"
	"a unique prefix of a snapshot id; 'latest:/etc' names /etc in it.\n\n"
	"Options:\n"
	"  -l, --long             mode, owner, size and modification time too\n"
	"  -d, --depth N          at most N levels below PATH (1: PATH and its entries)\n"
	CLI_SELECT_HELP
	"      --json             one JSON object per line (newline-delimited): path,\n"
	"                         name, type, mode, uid, gid, user, group, size, mtime\n"
	"                         and ctime (RFC 3339, ns), dev, inode, nlink,\n"
	"                         link_target (symlinks), rdev (devices); name_raw,\n"
	"                         path_raw, ... hold the bytes of names that are not\n"
	"                         UTF-8 (docs/json.md)\n";

static char type_char(int t)
{
	return "?-dlpcbs"[t >= 1 && t <= 7 ? t : 0];
}

typedef struct {
	const cli_ctx *ctx;
	int lng;
	json j;
	buf q; /* a name quoted for the listing */
} ls_state;

static void mode_string(char out[11], const tree_node *n)
{
	static const char rwx[] = "rwxrwxrwx";
	out[0] = type_char(n->type);
	for (int i = 0; i < 9; i++)
		out[1 + i] = (n->mode & (0400u >> i)) ? rwx[i] : '-';
	if (n->mode & 04000) out[3] = (n->mode & 0100) ? 's' : 'S';
	if (n->mode & 02000) out[6] = (n->mode & 010) ? 's' : 'S';
	if (n->mode & 01000) out[9] = (n->mode & 01) ? 't' : 'T';
	out[10] = 0;
}

static int print_node(void *ud, const buf *path, const tree *t, const tree_node *n)
{
	ls_state *st = ud;
	if (st->ctx->json) {
		json_init(&st->j, stdout);
		report_node(&st->j, t, n, path->data, path->len, 0);
		json_finish(&st->j);
		return ferror(stdout) ? -EIO : 0;
	}
	if (st->lng) {
		char mode[11], when[32];
		time_t tt = (time_t)n->mtime;
		struct tm tm;
		localtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		mode_string(mode, n);
		printf("%s %8s", mode, quote_listing(&st->q, n->user, n->user_len));
		printf(" %8s %12llu %s ", quote_listing(&st->q, n->group, n->group_len),
		       (unsigned long long)n->size, when);
		if (!n->user_len)
			printf("(uid %u) ", n->uid);
	}
	fputs(quote_listing(&st->q, path->data, path->len), stdout);
	if (st->lng && n->type == NODE_SYMLINK)
		printf(" -> %s", quote_listing(&st->q, n->target, n->target_len));
	putchar('\n');
	return ferror(stdout) ? -EIO : 0;
}

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "long", no_argument, NULL, 'l' },
					      { "depth", required_argument, NULL, 'd' }, CLI_SELECT_OPTIONS,
					      { 0 } };
	int depth = 0;
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	ls_state st;
	memset(&st, 0, sizeof(st));
	st.ctx = ctx;
	int c, rc = 0;
	optind = 1;
	while (rc == 0 && (c = cli_getopt(ctx, argc, argv, "ld:", opts, NULL)) != -1) {
		if (c == 'l') {
			st.lng = 1;
		} else if (c == 'd') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || !*optarg || v < 1 || v > 4096)
				rc = cli_usage_error(ctx, "invalid --depth '%s' (1..4096)", optarg);
			else
				depth = (int)v;
		} else if (c == '?') {
			rc = cli_option_error(ctx);
		} else if ((rc = snapsel_filter_add(&f, c, optarg)) < 0) {
			rc = cli_fail(rc);
		}
	}
	if (rc == 0 && optind >= argc)
		rc = cli_usage_error(ctx, "no snapshot given (use 'latest' or an id)");
	if (rc == 0 && argc - optind > 2)
		rc = cli_usage_error(ctx, "too many arguments");
	if (rc) {
		snapsel_filter_release(&f);
		return rc;
	}
	const char *spec = argv[optind], *sub = optind + 1 < argc ? argv[optind + 1] : NULL;
	repo *r;
	snapshot *s = NULL;
	char *in = NULL;
	rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		snapsel_filter_release(&f);
		return cli_fail(rc);
	}
	rc = snapsel_find(r, &f, spec, &s, &in);
	if (rc == 0 && in && sub)
		rc = err_set(-DV_EUSAGE, "give the path as '%s' or as a second argument, not both", spec);
	interrupt_install(); /* a snapshot may list (nearly) forever: Ctrl-C stops it cleanly */
	rc = rc ?: ls_run_depth(r, s, in ? in : sub, depth, print_node, &st);
	snapshot_free(s);
	free(in);
	repo_free(r);
	snapsel_filter_release(&f);
	buf_release(&st.q);
	return rc < 0 ? cli_fail(rc) : EXIT_OK;
}
