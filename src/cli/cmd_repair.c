/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../jobs/repair.h"
#include "../report/repair.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char cmd_repair_usage[] =
	"usage: dvalin repair -r REPO index [--read-data]\n"
	"       dvalin repair -r REPO snapshots [--forget-damaged]\n\n"
	"repair index      rebuild the index from the pack tables (no key needed);\n"
	"                  with --read-data, blobs whose stored bytes fail their\n"
	"                  checksum are left out (then run 'repair snapshots')\n"
	"repair snapshots  rewrite every snapshot that uses blobs the index lacks:\n"
	"                  lost file contents become zeros (holes) of the same length,\n"
	"                  lost directories become empty; the new snapshot is tagged\n"
	"                  'repaired', records the damaged paths and replaces the old\n"
	"                  one.  With --forget-damaged such snapshots, and snapshot\n"
	"                  files that cannot be read, are removed instead.\n"
	"Afterwards 'dvalin check' passes and everything undamaged restores.\n";

static void on_damaged(void *ud, const snapshot *s, const char *path, const char *what)
{
	const cli_ctx *ctx = ud;
	char hex[65];
	hex_encode(hex, s->id, 32);
	if (!ctx->quiet)
		printf("snapshot %.8s: %s: %s\n", hex, path, what);
}

static void on_rewritten(void *ud, const snapshot *s, const uint8_t *new_id)
{
	const cli_ctx *ctx = ud;
	char hex[65], nhex[65];
	hex_encode(hex, s->id, 32);
	if (ctx->quiet)
		return;
	if (new_id) {
		hex_encode(nhex, new_id, 32);
		printf("snapshot %.8s rewritten as %.8s\n", hex, nhex);
	} else {
		printf("snapshot %.8s forgotten\n", hex);
	}
}

static int repair_index_cmd(cli_ctx *ctx, int read_data)
{
	repo *r;
	int rc = cli_open_repo_as(ctx, "repair", CLI_KEYLESS | CLI_EXCLUSIVE | CLI_TOLERANT | CLI_NO_CACHE, &r);
	if (rc < 0)
		return cli_fail(rc);
	repair_index_result res;
	rc = repair_index(r, read_data, &res);
	repo_free(r);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_repair_index(&j, &res);
		json_finish(&j);
	} else if (!ctx->quiet) {
		printf("indexed %llu blobs in %llu packs; replaced %llu index files\n",
		       (unsigned long long)res.blobs, (unsigned long long)res.packs,
		       (unsigned long long)res.index_files_removed);
		if (res.packs_bad || res.blobs_damaged)
			printf("left out: %llu packs with damaged tables, %llu damaged blobs; run 'dvalin repair snapshots'\n",
			       (unsigned long long)res.packs_bad, (unsigned long long)res.blobs_damaged);
	}
	return EXIT_OK;
}

static int repair_snapshots_cmd(cli_ctx *ctx, int forget_damaged)
{
	repo *r;
	int rc = cli_open_repo_as(ctx, "backup", CLI_NO_CACHE, &r);
	if (rc < 0)
		return cli_fail(rc);
	repair_snapshots_opts o = { forget_damaged, on_damaged, on_rewritten, ctx };
	repair_snapshots_result res;
	int saved = ctx->quiet;
	if (ctx->json)
		ctx->quiet = 1;
	rc = repair_snapshots(r, &o, &res);
	ctx->quiet = saved;
	repo_free(r);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_repair_snapshots(&j, &res);
		json_finish(&j);
	} else if (!ctx->quiet) {
		printf("%llu snapshots: %llu rewritten, %llu forgotten, %llu unreadable removed\n",
		       (unsigned long long)res.snapshots, (unsigned long long)res.rewritten,
		       (unsigned long long)res.forgotten, (unsigned long long)res.unreadable_removed);
	}
	return EXIT_OK;
}

int cmd_repair(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "read-data", no_argument, NULL, 'd' },
		{ "forget-damaged", no_argument, NULL, 'f' },
		{ 0 },
	};
	int read_data = 0, forget = 0, c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			read_data = 1;
		else if (c == 'f')
			forget = 1;
		else
			return cli_option_error(ctx);
	}
	if (optind + 1 != argc)
		return cli_usage_error(ctx, "expected 'index' or 'snapshots'");
	const char *what = argv[optind];
	if (strcmp(what, "index") == 0 && !forget)
		return repair_index_cmd(ctx, read_data);
	if (strcmp(what, "snapshots") == 0 && !read_data)
		return repair_snapshots_cmd(ctx, forget);
	if (strcmp(what, "index") == 0 || strcmp(what, "snapshots") == 0)
		return cli_usage_error(ctx, "--%s does not apply to 'repair %s'",
				       forget ? "forget-damaged" : "read-data", what);
	return cli_usage_error(ctx, "unknown repair target '%s' (expected 'index' or 'snapshots')", what);
}
