/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/json.h"
#include "../jobs/stats.h"

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

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

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
	uint64_t unused = s.index_stored > s.stored_used ? s.index_stored - s.stored_used : 0;
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "snapshots"); json_uint(&j, s.snapshots);
		json_key(&j, "logical_files"); json_uint(&j, s.logical_files);
		json_key(&j, "logical_bytes"); json_uint(&j, s.logical_bytes);
		json_key(&j, "blobs_used"); json_uint(&j, s.blobs_used);
		json_key(&j, "trees_used"); json_uint(&j, s.trees);
		json_key(&j, "unique_raw_bytes"); json_uint(&j, s.raw_used);
		json_key(&j, "unique_stored_bytes"); json_uint(&j, s.stored_used);
		json_key(&j, "index_blobs"); json_uint(&j, s.index_blobs);
		json_key(&j, "unused_stored_bytes"); json_uint(&j, unused);
		json_key(&j, "packs"); json_uint(&j, s.packs);
		json_key(&j, "pack_bytes"); json_uint(&j, s.pack_bytes);
		json_key(&j, "dedup_ratio");
		json_double(&j, ratio(s.logical_bytes, s.data_raw_used));
		json_key(&j, "compression_ratio");
		json_double(&j, ratio(s.raw_used, s.stored_used));
		json_obj_end(&j);
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
	cli_human_bytes(a, unused);
	printf("stored:       %llu packs, %s (%llu blobs indexed; %s unused, freed by prune)\n",
	       (unsigned long long)s.packs, d, (unsigned long long)s.index_blobs, a);
	printf("dedup:        %.2fx (logical / unique file contents)\n", ratio(s.logical_bytes, s.data_raw_used));
	printf("compression:  %.2fx (unique raw / unique stored)\n", ratio(s.raw_used, s.stored_used));
	return EXIT_OK;
}
