/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/json.h"
#include "../jobs/stats.h"
#include "../report/stats.h"

#include <stdio.h>

const char cmd_stats_usage[] =
	"usage: dvalin stats -r REPO [--json]\n\n"
	"Print what the snapshots hold and what storing it costs:\n"
	"  logical     files and bytes summed over all snapshots (what restoring\n"
	"              every snapshot would write)\n"
	"  unique      distinct blobs the snapshots use, before and after\n"
	"              compression and encryption\n"
	"  stored      packs and bytes under data/, and what prune could free\n"
	"  ratios      deduplication = logical / unique raw bytes of file contents,\n"
	"              compression = unique raw / unique stored bytes\n";

int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
	if (argc > 1)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[1]);
	repo *r;
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0)
		return cli_fail(rc);
	stats_result s;
	rc = stats_run(r, &s);
	repo_free(r);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_stats(&j, &s);
		json_finish(&j);
		return EXIT_OK;
	}
	char a[32], b[32], c[32], d[32];
	cli_human_bytes(a, s.logical_bytes);
	cli_human_bytes(b, s.raw_used);
	cli_human_bytes(c, s.stored_used);
	cli_human_bytes(d, s.pack_bytes);
	printf("snapshots:    %llu\n", (unsigned long long)s.snapshots);
	printf("logical:      %llu files, %s\n", (unsigned long long)s.logical_files, a);
	printf("unique:       %llu blobs (%llu trees), %s raw, %s stored\n",
	       (unsigned long long)s.blobs_used, (unsigned long long)s.trees, b, c);
	cli_human_bytes(a, report_stats_unused(&s));
	printf("stored:       %llu packs, %s (%llu blobs indexed; %s unused, freed by prune)\n",
	       (unsigned long long)s.packs, d, (unsigned long long)s.index_blobs, a);
	printf("dedup:        %.2fx (logical / unique file contents)\n", report_stats_dedup_ratio(&s));
	printf("compression:  %.2fx (unique raw / unique stored)\n", report_stats_compression_ratio(&s));
	return EXIT_OK;
}
