/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../jobs/check.h"
#include "../report/check.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_check_usage[] =
	"usage: dvalin check -r REPO [--read-data | --read-data-subset S] [--no-key]\n"
	"                    [--threads N] [--json]\n\n"
	"Verify the repository.  Levels, each named in the output:\n"
	"  structure  index files are valid and agree with the pack tables, every\n"
	"             pack the index names exists, snapshots parse, every blob a\n"
	"             snapshot uses is indexed (always)\n"
	"  storage    every stored blob matches the checksum in its pack's table\n"
	"             (--read-data; needs no key)\n"
	"  content    every blob decrypts and re-hashes to its id (--read-data,\n"
	"             with the key)\n"
	"On damage, the snapshots and files that lose data are listed.\n\n"
	"Options:\n"
	"      --read-data           read every pack\n"
	"      --read-data-subset S  read part of the packs: 'N/M' reads part N of M\n"
	"                            (runs 1/M .. M/M together read everything), 'P%'\n"
	"                            reads P% chosen by the date, so that consecutive\n"
	"                            days cover everything in 100/P days\n"
	"      --no-key              run without the password (structure and storage)\n"
	"      --threads N           read and verify packs on N threads (default: one\n"
	"                            per processor; the report is the same for any N)\n"
	"      --json                print the result as JSON (docs/json.md)\n\n"
	"Exit status: 0 no problems, 6 damaged or missing data found, 1 the check\n"
	"could not run.\n";

typedef struct {
	const cli_ctx *ctx;
	json *j;
	char **problems; /* for JSON: printed after the affected list */
	size_t nproblems;
} out_ctx;

static void on_problem(void *ud, const char *msg)
{
	out_ctx *o = ud;
	if (!o->ctx->json)
		log_error("%s", msg);
	else if (strlist_add(&o->problems, &o->nproblems, msg) < 0)
		log_error("%s", msg);
}

static void on_affected(void *ud, const snapshot *s, const char *path, const char *what)
{
	out_ctx *o = ud;
	if (o->ctx->json) {
		report_check_affected(o->j, s, path, what);
		return;
	}
	char hex[65], when[40];
	hex_encode(hex, s->id, 32);
	snapshot_format_time(when, s);
	printf("damaged: snapshot %.8s (%s): %s: %s\n", hex, when, *path ? path : "/", what);
}

static int parse_subset(const char *s, check_opts *o)
{
	unsigned a, b;
	char extra;
	if (sscanf(s, "%u/%u%c", &a, &b, &extra) == 2) {
		if (b == 0 || a == 0 || a > b)
			return -1;
		o->part = a;
		o->parts = b;
		return 0;
	}
	double f;
	if (cli_parse_percent(s, &f) < 0 || f <= 0 || !strchr(s, '%'))
		return -1;
	o->fraction = f;
	o->day = (int64_t)time(NULL) / 86400;
	return 0;
}

static void print_text(const check_result *r, const check_opts *o, int keyless)
{
	printf("structure: %llu snapshots, %llu index files, %llu packs, %llu trees, %llu blobs in use",
	       (unsigned long long)r->snapshots, (unsigned long long)r->index_files,
	       (unsigned long long)r->packs, (unsigned long long)r->trees,
	       (unsigned long long)r->blobs_referenced);
	if (keyless)
		printf(" (without the key: snapshot bodies not read)");
	printf("\n");
	if (r->packs_unindexed)
		printf("note:      %llu packs no index names (left by interrupted backups: prune\n"
		       "           removes them, 'repair index' indexes them)\n",
		       (unsigned long long)r->packs_unindexed);
	if (r->packs_condemned)
		printf("note:      %llu condemned packs wait for deletion by prune\n",
		       (unsigned long long)r->packs_condemned);
	if (r->temporaries)
		printf("note:      %llu temporary files left by killed writers (prune removes them)\n",
		       (unsigned long long)r->temporaries);
	if (r->storage_checked) {
		char b[32];
		cli_human_bytes(b, r->bytes_read);
		printf("storage:   read %llu of %llu packs", (unsigned long long)r->packs_read,
		       (unsigned long long)r->packs);
		if (o->parts > 1)
			printf(" (part %u/%u)", o->part, o->parts);
		else if (o->fraction > 0)
			printf(" (%.0f%% subset of the day)", o->fraction * 100);
		printf(", %llu blobs, %s: checksums verified\n", (unsigned long long)r->blobs_read, b);
	} else {
		printf("storage:   not checked (use --read-data)\n");
	}
	if (r->content_checked)
		printf("content:   %llu blobs decrypted and re-hashed\n", (unsigned long long)r->blobs_read);
	else
		printf("content:   not checked (%s)\n", keyless ? "needs the key" : "use --read-data");
	if (r->problems)
		printf("%llu problem%s found; %llu snapshot%s and %llu files or directories affected\n",
		       (unsigned long long)r->problems, r->problems == 1 ? "" : "s",
		       (unsigned long long)r->snapshots_affected,
		       r->snapshots_affected == 1 ? "" : "s", (unsigned long long)r->files_affected);
	else
		printf("no problems found\n");
}

int cmd_check(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "read-data", no_argument, NULL, 'd' },
		{ "read-data-subset", required_argument, NULL, 's' },
		{ "no-key", no_argument, NULL, 'k' },
		{ "threads", required_argument, NULL, 'j' },
		{ 0 },
	};
	check_opts o;
	memset(&o, 0, sizeof(o));
	int keyless = 0, c, subset = 0;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd') {
			o.read_data = 1;
		} else if (c == 's') {
			if (parse_subset(optarg, &o) < 0)
				return cli_usage_error(ctx, "invalid --read-data-subset '%s' (expected N/M or P%%)", optarg);
			o.read_data = 1;
			subset = 1;
		} else if (c == 'k') {
			keyless = 1;
		} else if (c == 'j') {
			if (cli_parse_threads(optarg, &o.threads) < 0)
				return cli_usage_error(ctx, "invalid --threads '%s' (1..64)", optarg);
		} else {
			return cli_option_error(ctx);
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	(void)subset;
	repo *r;
	/* a good local copy must not hide a damaged file on the server (restic's check does the same) */
	int rc = cli_open_repo_as(ctx, "read", CLI_TOLERANT | CLI_NO_CACHE | (keyless ? CLI_KEYLESS : 0), &r);
	if (rc < 0)
		return cli_fail(rc);
	json j;
	out_ctx oc = { ctx, &j, NULL, 0 };
	o.problem = on_problem;
	o.affected = on_affected;
	o.ud = &oc;
	if (ctx->json) {
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "affected");
		json_arr_begin(&j);
	}
	check_result res;
	rc = check_run(r, &o, &res);
	backend_requests req_n;
	const backend_requests *req = cli_requests(r, &req_n);
	repo_free(r);
	/* a check that found damage and then could not go on still reports it */
	const char *error = rc < 0 ? err_msg(rc) : NULL;
	if (ctx->json) {
		report_check_result(&j, &res, oc.problems, oc.nproblems, error, req);
		json_finish(&j);
	}
	strlist_free(oc.problems, oc.nproblems);
	if (rc < 0 && !res.problems)
		return cli_fail(rc);
	if (rc < 0)
		log_error("the check could not finish: %s", error);
	else if (!ctx->json && !ctx->quiet)
		print_text(&res, &o, keyless);
	return res.problems ? EXIT_DAMAGE : EXIT_OK;
}
