/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../jobs/find.h"
#include "../jobs/quote.h"
#include "../report/node.h"
#include "../report/report.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char cmd_find_usage[] =
	"usage: dvalin find -r REPO PATTERN [--regex] [-i] [--snapshot ID] [--host H]\n"
	"                   [--path P] [--tag T] [--newer DATE] [--older DATE]\n"
	"                   [--larger SIZE] [--smaller SIZE] [--type T] [--json]\n\n"
	"Find files in snapshots: every entry whose name matches the glob PATTERN\n"
	"('*.conf'; a PATTERN with a '/' is matched against the whole path,\n"
	"'/etc/*.conf'), in every snapshot or those chosen, oldest snapshot first.\n"
	"Each match is printed with its snapshot, modification time, size and path.\n\n"
	"Options:\n"
	"      --regex         PATTERN is an extended regular expression, searched for\n"
	"                      in the whole path ('^/home/[^/]+/\\.ssh/')\n"
	"  -i, --ignore-case   letters match either case\n"
	"      --snapshot ID   only this snapshot (an id prefix; repeatable)\n"
	"      --host H        only snapshots of host H (repeatable)\n"
	"      --path P        only snapshots with P among their backed-up paths\n"
	"      --tag T         only snapshots carrying tag T\n"
	"      --newer DATE    modified at or after DATE ('2026-01-01',\n"
	"                      '2026-01-01 12:00'; local time)\n"
	"      --older DATE    modified before DATE\n"
	"      --larger SIZE   larger than SIZE bytes ('100', '10K', '5M', '2G')\n"
	"      --smaller SIZE  smaller than SIZE bytes\n"
	"      --type T        f (file), d (directory), l (symlink), p (fifo),\n"
	"                      c, b (devices), s (socket)\n"
	"      --json          one JSON object per match (docs/json.md, \"Find\")\n";

typedef struct {
	const cli_ctx *ctx;
	buf q;
	json j;
} find_out;

static int print_match(void *ud, const find_match *m)
{
	find_out *o = ud;
	if (o->ctx->json) {
		json_init(&o->j, stdout);
		json_obj_begin(&o->j);
		report_id(&o->j, "snapshot_id", m->s->id);
		json_key(&o->j, "snapshot_time");
		report_time(&o->j, m->s->time, m->s->time_nsec, m->s->tz_offset);
		json_key(&o->j, "node");
		report_node(&o->j, m->t, m->n, m->path->data, m->path->len, 0);
		json_obj_end(&o->j);
		json_finish(&o->j);
		return ferror(stdout) ? -EIO : 0;
	}
	char hex[65], when[32];
	hex_encode(hex, m->s->id, 32);
	time_t tt = (time_t)m->n->mtime;
	struct tm tm;
	if (localtime_r(&tt, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	else
		snprintf(when, sizeof(when), "?");
	printf("%.8s  %s  %12llu  %s\n", hex, when, (unsigned long long)m->n->size,
	       quote_path(&o->q, m->path->data, m->path->len));
	return ferror(stdout) ? -EIO : 0;
}

static int parse_type(const char *s)
{
	static const char types[] = "fdlpcbs";
	static const int nodes[] = { NODE_FILE, NODE_DIR, NODE_SYMLINK, NODE_FIFO, NODE_CHR, NODE_BLK,
				     NODE_SOCK };
	const char *p = s[0] && !s[1] ? strchr(types, s[0]) : NULL;
	return p ? nodes[p - types] : -1;
}

int cmd_find(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SELECT_SNAPSHOT,
		CLI_SELECT_OPTIONS,
		{ "regex", no_argument, NULL, 'E' },
		{ "ignore-case", no_argument, NULL, 'i' },
		{ "newer", required_argument, NULL, 'n' },
		{ "older", required_argument, NULL, 'o' },
		{ "larger", required_argument, NULL, 'L' },
		{ "smaller", required_argument, NULL, 'S' },
		{ "type", required_argument, NULL, 't' },
		{ 0 },
	};
	find_opts o;
	memset(&o, 0, sizeof(o));
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	int c, rc;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "i", opts, NULL)) != -1) {
		const char *bad = NULL;
		if ((rc = cli_select_option(c, optarg, &f)) != 0) {
			if (rc < 0) {
				snapsel_filter_release(&f);
				return cli_fail(rc);
			}
			continue;
		}
		switch (c) {
		case 'E': o.regex = 1; break;
		case 'i': o.ignore_case = 1; break;
		case 'n': o.has_newer = 1; bad = cli_parse_date(optarg, &o.newer) < 0 ? "--newer" : NULL; break;
		case 'o': o.has_older = 1; bad = cli_parse_date(optarg, &o.older) < 0 ? "--older" : NULL; break;
		case 'L': o.has_larger = 1; bad = cli_parse_size(optarg, &o.larger) < 0 ? "--larger" : NULL; break;
		case 'S': o.has_smaller = 1; bad = cli_parse_size(optarg, &o.smaller) < 0 ? "--smaller" : NULL; break;
		case 't': o.type = parse_type(optarg); bad = o.type < 0 ? "--type" : NULL; break;
		default:
			snapsel_filter_release(&f);
			return cli_option_error(ctx);
		}
		if (bad) {
			snapsel_filter_release(&f);
			return cli_usage_error(ctx, "invalid %s '%s'", bad, optarg);
		}
	}
	if (argc - optind != 1) {
		snapsel_filter_release(&f);
		return cli_usage_error(ctx, argc - optind ? "give one pattern" : "no pattern given");
	}
	o.pattern = argv[optind];
	find_out out = { ctx, BUF_INIT, { 0 } };
	repo *r;
	snapshot **v = NULL;
	size_t n = 0, damaged = 0;
	find_stats st;
	rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		snapsel_filter_release(&f);
		return cli_fail(rc);
	}
	interrupt_install(); /* Ctrl-C stops it cleanly, the lease released */
	rc = snapsel_list(r, &f, &v, &n, &damaged);
	if (rc == 0 && n == 0)
		rc = err_set(-DV_ENOTFOUND, snapsel_filter_empty(&f) ? "no snapshot in repository '%s'"
								 : "no snapshot in repository '%s' matches the filters",
			     repo_location(r));
	rc = rc ?: find_run(r, v, n, &o, print_match, &out, &st);
	repo_free_snapshots(v, n);
	repo_free(r);
	snapsel_filter_release(&f);
	buf_release(&out.q);
	if (rc < 0)
		return cli_fail(rc);
	if (!ctx->json && !ctx->quiet)
		fprintf(stderr, "%llu matches in %llu snapshots (%llu entries looked at, %llu unchanged directories skipped)\n",
			(unsigned long long)st.matches, (unsigned long long)st.snapshots,
			(unsigned long long)st.entries, (unsigned long long)st.subtrees_skipped);
	return st.errors ? EXIT_FAIL : EXIT_OK;
}
