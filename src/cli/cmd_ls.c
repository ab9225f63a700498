/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../jobs/ls.h"
#include "../repo/snapshots.h"
#include "../report/node.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char cmd_ls_usage[] =
	"usage: dvalin ls -r REPO SNAPSHOT [PATH] [-l] [--json]\n\n"
	"List the files of a snapshot (recursively), or of PATH within it.\n"
	"SNAPSHOT is 'latest' or a unique prefix of a snapshot id.\n\n"
	"Options:\n"
	"  -l, --long   mode, owner, size and modification time too\n"
	"      --json   one JSON object per line (newline-delimited): path, name, type,\n"
	"               mode, uid, gid, user, group, size, mtime and ctime (RFC 3339,\n"
	"               ns), dev, inode, nlink, link_target (symlinks), rdev (devices);\n"
	"               name_raw, path_raw, ... hold the bytes of names that are not\n"
	"               UTF-8 (docs/json.md)\n";

static char type_char(int t)
{
	return "?-dlpcbs"[t >= 1 && t <= 7 ? t : 0];
}

typedef struct {
	const cli_ctx *ctx;
	int lng;
	json j;
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
		printf("%s %8.*s %8.*s %12llu %s ", mode,
		       (int)(n->user_len ? n->user_len : 0), (const char *)n->user,
		       (int)n->group_len, (const char *)n->group, (unsigned long long)n->size, when);
		if (!n->user_len)
			printf("(uid %u) ", n->uid);
	}
	fwrite(path->data, 1, path->len, stdout);
	if (st->lng && n->type == NODE_SYMLINK) {
		fputs(" -> ", stdout);
		fwrite(n->target, 1, n->target_len, stdout);
	}
	putchar('\n');
	return ferror(stdout) ? -EIO : 0;
}

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "long", no_argument, NULL, 'l' }, { 0 } };
	ls_state st;
	memset(&st, 0, sizeof(st));
	st.ctx = ctx;
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "l", opts, NULL)) != -1) {
		if (c == 'l')
			st.lng = 1;
		else
			return cli_option_error(ctx);
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "no snapshot given (use 'latest' or an id)");
	if (argc - optind > 2)
		return cli_usage_error(ctx, "too many arguments");
	const char *spec = argv[optind], *sub = optind + 1 < argc ? argv[optind + 1] : NULL;
	repo *r;
	snapshot *s = NULL;
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0)
		return cli_fail(rc);
	rc = repo_find_snapshot(r, spec, &s);
	interrupt_install(); /* a snapshot may list (nearly) forever: Ctrl-C stops it cleanly */
	rc = rc ?: ls_run(r, s, sub, print_node, &st);
	snapshot_free(s);
	repo_free(r);
	return rc < 0 ? cli_fail(rc) : EXIT_OK;
}
