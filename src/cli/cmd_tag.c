/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/strlist.h"
#include "../jobs/snapsel.h"
#include "../jobs/tag.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_tag_usage[] =
	"usage: dvalin tag -r REPO [--add T] [--remove T] [--set T] [SNAPSHOT...]\n"
	"                  [--host H] [--path P] [--tag T]\n\n"
	"Change the tags of snapshots: those named ('latest' or id prefixes), or\n"
	"without names every snapshot the filter passes (all of them, without a\n"
	"filter).  A snapshot is sealed whole, so one whose tags change is stored\n"
	"anew, with a new id, and the old one removed after the new is stored; a\n"
	"protected snapshot stays protected.  The data is not touched.\n\n"
	"Options:\n"
	"      --add T[,T...]     add tags (repeatable)\n"
	"      --remove T[,T...]  remove tags (repeatable)\n"
	"      --set T[,T...]     replace all tags by these (repeatable; --set '' removes\n"
	"                         every tag); not together with --remove\n"
	CLI_SELECT_HELP;

static void print_tags(const snapshot *s)
{
	for (size_t i = 0; i < s->ntags; i++)
		printf("%s%s", i ? "," : "", s->tags[i]);
	if (!s->ntags)
		printf("(none)");
}

static void on_change(void *ud, const snapshot *old, const snapshot *now)
{
	const cli_ctx *ctx = ud;
	if (ctx->quiet)
		return;
	char a[65], b[65];
	hex_encode(a, old->id, 32);
	hex_encode(b, now->id, 32);
	printf("%.8s -> %.8s  tags ", a, b);
	print_tags(now);
	printf(" (were ");
	print_tags(old);
	printf(")\n");
}

int cmd_tag(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "add", required_argument, NULL, 'a' },
		{ "remove", required_argument, NULL, 'd' },
		{ "set", required_argument, NULL, 's' },
		CLI_SELECT_OPTIONS,
		{ 0 },
	};
	tag_opts o;
	memset(&o, 0, sizeof(o));
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	int c, rc = 0, ex = -1;
	optind = 1;
	while (ex < 0 && (c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': rc = cli_add_csv(&o.add, &o.nadd, optarg); break;
		case 'd': rc = cli_add_csv(&o.remove, &o.nremove, optarg); break;
		case 's':
			o.has_set = 1;
			rc = cli_add_csv(&o.set, &o.nset, optarg);
			break;
		case SNAPSEL_OPT_HOST:
		case SNAPSEL_OPT_PATH:
		case SNAPSEL_OPT_TAG:
			rc = snapsel_filter_add(&f, c, optarg);
			break;
		default:
			ex = cli_option_error(ctx);
		}
		if (rc < 0)
			ex = cli_fail(rc);
	}
	if (ex < 0 && !o.has_set && !o.nadd && !o.nremove)
		ex = cli_usage_error(ctx, "nothing to do: give --add, --remove or --set");
	if (ex < 0 && o.has_set && o.nremove)
		ex = cli_usage_error(ctx, "--set replaces every tag: give it without --remove");
	if (ex < 0) {
		o.snapshots = argv + optind;
		o.nsnapshots = (size_t)(argc - optind);
		o.filter = &f;
		o.on_change = on_change;
		o.ud = ctx;
		repo *r;
		tag_result res;
		rc = cli_open_repo_as(ctx, "backup", 0, &r);
		if (rc == 0) {
			rc = tag_run(r, &o, &res);
			repo_free(r);
		}
		if (rc < 0)
			ex = cli_fail(rc);
		else {
			if (!ctx->quiet)
				printf("%zu snapshot%s changed, %zu already so\n", res.changed,
				       res.changed == 1 ? "" : "s", res.unchanged);
			ex = res.failed ? EXIT_FAIL : EXIT_OK;
		}
	}
	strlist_free(o.add, o.nadd);
	strlist_free(o.remove, o.nremove);
	strlist_free(o.set, o.nset);
	snapsel_filter_release(&f);
	return ex;
}
