/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../jobs/snapsel.h"
#include "../report/snapshot.h"
#include "../repo/snapshots.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char cmd_snapshots_usage[] =
	"usage: dvalin snapshots -r REPO [--host H] [--path P] [--tag T] [--json]\n\n"
	"List the snapshots, oldest first: id, time, host, tags, paths, number of\n"
	"files and the bytes the backup added to the repository.  A protected\n"
	"snapshot (see 'dvalin protect') is marked with '*' after its id.\n\n"
	"Options:\n"
	CLI_SELECT_HELP
	"      --json             an array of objects: id, short_id, time (RFC 3339,\n"
	"                         ns), host, user, paths, tags, parent, tree, protected,\n"
	"                         damaged_paths (set by a repair) and a summary object;\n"
	"                         'cat snapshot' prints the same object (docs/json.md)\n";

static void print_json(snapshot **v, size_t n, const snapsel_filter *f, const idmap *prot)
{
	json j;
	json_init(&j, stdout);
	json_arr_begin(&j);
	for (size_t i = 0; i < n; i++)
		if (snapsel_match(f, v[i]))
			report_snapshot(&j, v[i], idmap_get(prot, v[i]->id) != NULL);
	json_arr_end(&j);
	json_finish(&j);
}

/* The tags of s as one column: "a,b". */
static void tag_text(char *out, size_t cap, const snapshot *s)
{
	out[0] = 0;
	for (size_t k = 0; k < s->ntags; k++) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s%s", k ? "," : "", s->tags[k]);
	}
}

#define MAX_COL 40 /* a longer host or tag list is cut, so the table stays a table */

/*
 * Columns are as wide as their widest entry (up to MAX_COL), as restic
 * sizes them, so a long host, tag list or protection mark never shifts
 * the columns after it.
 */
static void print_table(snapshot **v, size_t n, const snapsel_filter *f, const idmap *prot)
{
	int hw = 4, tw = 4;
	char tags[256];
	for (size_t i = 0; i < n; i++) {
		if (!snapsel_match(f, v[i]))
			continue;
		tag_text(tags, sizeof(tags), v[i]);
		int h = (int)strlen(v[i]->host), t = (int)strlen(tags);
		hw = h > hw ? (h < MAX_COL ? h : MAX_COL) : hw;
		tw = t > tw ? (t < MAX_COL ? t : MAX_COL) : tw;
	}
	int indent = printf("%-9s  %-19s  %-*s  %-*s  %10s  %10s  ", "ID", "Time", hw, "Host", tw,
			    "Tags", "Files", "Added");
	printf("Paths\n");
	size_t shown = 0, prot_shown = 0;
	for (size_t i = 0; i < n; i++) {
		const snapshot *s = v[i];
		if (!snapsel_match(f, s))
			continue;
		char hex[65], when[40], added[32];
		hex_encode(hex, s->id, 32);
		time_t t = (time_t)s->time;
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		cli_human_bytes(added, s->stats.bytes_added);
		tag_text(tags, sizeof(tags), s);
		printf("%.8s%c  %-19s  %-*.*s  %-*.*s  %10llu  %10s  %s\n", hex,
		       idmap_get(prot, s->id) ? '*' : ' ', when, hw, MAX_COL, s->host, tw, MAX_COL,
		       tags, (unsigned long long)s->stats.total_files, added,
		       s->npaths ? s->paths[0] : "");
		for (size_t k = 1; k < s->npaths; k++)
			printf("%*s%s\n", indent, "", s->paths[k]);
		shown++;
		prot_shown += idmap_get(prot, s->id) != NULL;
	}
	printf("%zu snapshot%s", shown, shown == 1 ? "" : "s");
	if (prot_shown)
		printf(", %zu protected (*)", prot_shown);
	printf("\n");
}

int cmd_snapshots(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_SELECT_OPTIONS, { 0 } };
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	int c, rc;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == '?') {
			snapsel_filter_release(&f);
			return cli_option_error(ctx);
		}
		if ((rc = snapsel_filter_add(&f, c, optarg)) < 0) {
			snapsel_filter_release(&f);
			return cli_fail(rc);
		}
	}
	if (optind < argc) {
		snapsel_filter_release(&f);
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	}
	repo *r;
	rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		snapsel_filter_release(&f);
		return cli_fail(rc);
	}
	snapshot **v = NULL;
	size_t n = 0, damaged = 0;
	idmap prot = IDMAP_INIT;
	rc = repo_load_snapshots(r, &v, &n, &damaged);
	rc = rc ?: repo_load_protected(r, &prot);
	if (rc == 0 && damaged)
		log_warn("%s (%zu damaged snapshot file(s) skipped)", err_msg(0), damaged);
	if (rc == 0 && ctx->json)
		print_json(v, n, &f, &prot);
	else if (rc == 0)
		print_table(v, n, &f, &prot);
	repo_free_snapshots(v, n);
	idmap_release(&prot);
	repo_free(r);
	snapsel_filter_release(&f);
	if (rc < 0)
		return cli_fail(rc);
	return damaged ? EXIT_FAIL : EXIT_OK;
}
