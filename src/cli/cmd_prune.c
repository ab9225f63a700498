/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/hex.h"
#include "../core/crypto.h"
#include "../jobs/gc.h"
#include "../report/prune.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_prune_usage[] =
	"usage: dvalin prune -r REPO [--max-unused P%] [--dry-run] [--threads N] [--json]\n\n"
	"Remove data no snapshot uses.  Needs no password: prune reads only the\n"
	"plaintext structure of the repository.  Backups may run meanwhile.\n\n"
	"Packs no snapshot uses are condemned: the index stops naming them and a\n"
	"later prune deletes them, once no process that started before may still use\n"
	"them (a snapshot committed meanwhile that uses one gets it back).  When no\n"
	"other dvalin process has the repository open, that later step happens at\n"
	"once.  Packs whose unused share exceeds --max-unused are rewritten with\n"
	"only the used blobs.  Packs younger than the oldest running process are\n"
	"left alone.  Only one prune or repair runs at a time.\n\n"
	"Options:\n"
	"      --max-unused P%   rewrite packs more than P% unused (default 5%)\n"
	"  -n, --dry-run         report what would be done, change nothing\n"
	"      --threads N       rewrite packs on N threads (default: one per\n"
	"                        processor; the new packs are the same for any N)\n"
	"      --json            print the report as JSON\n";

int cli_parse_percent(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || (*end && strcmp(end, "%") != 0) || v < 0 || v > 100)
		return -1;
	*out = v / 100;
	return 0;
}

static void report(const cli_ctx *ctx, const gc_result *g, int dry, const backend_requests *req)
{
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_prune(&j, g, dry, req);
		json_finish(&j);
		return;
	}
	if (ctx->quiet)
		return;
	char a[32], b[32], c[32], d[32];
	cli_human_bytes(a, g->bytes);
	cli_human_bytes(b, g->bytes_used);
	printf("marked:      %llu snapshots, %llu trees, %llu blobs in use\n",
	       (unsigned long long)g->snapshots, (unsigned long long)g->trees,
	       (unsigned long long)g->blobs_used);
	printf("packs:       %llu (%s), %s of it in use\n", (unsigned long long)g->packs, a, b);
	cli_human_bytes(c, g->bytes_condemned);
	cli_human_bytes(d, g->bytes_copied);
	printf("%s %llu unused packs (%s)%s\n", dry ? "would condemn:" : "condemned:  ",
	       (unsigned long long)g->packs_condemned, c,
	       g->packs_orphan ? " incl. packs no index named" : "");
	printf("%s %llu packs (copying %s)\n", dry ? "would repack: " : "repacked:   ",
	       (unsigned long long)g->packs_repacked, d);
	if (g->packs_young)
		printf("left alone:  %llu packs younger than the oldest running dvalin process\n",
		       (unsigned long long)g->packs_young);
	cli_human_bytes(a, g->bytes_deleted);
	printf("%s %llu packs (%s)", dry ? "would delete: " : "deleted:    ",
	       (unsigned long long)g->packs_deleted, a);
	if (g->packs_returned)
		printf(", %llu %s to the index (used by a newer snapshot)",
		       (unsigned long long)g->packs_returned, dry ? "would return" : "returned");
	printf("\n");
	if (g->index_files_mended)
		printf("mended:      %llu index files written meanwhile that named deleted packs\n",
		       (unsigned long long)g->index_files_mended);
	/* a dry run cannot count the second step: whether it happens at once
	 * depends on the processes running when prune really runs */
	if (dry && g->packs_condemned + g->packs_repacked)
		printf("               then the %llu packs condemned or repacked above, at once if no\n"
		       "               other dvalin process has the repository open\n",
		       (unsigned long long)(g->packs_condemned + g->packs_repacked));
	if (g->temporaries) {
		cli_human_bytes(a, g->bytes_temporaries);
		printf("%s %llu temporary files left by killed writers (%s)\n",
		       dry ? "would remove: " : "removed:    ", (unsigned long long)g->temporaries, a);
	}
	if (g->records_waiting) {
		printf("waiting:     %llu condemnation(s) wait for dvalin processes started before them\n"
		       "             to finish; the next prune deletes them\n",
		       (unsigned long long)g->records_waiting);
	}
}

/*
 * Refuses, before anything changes, a repository this client may not
 * remove files from (a server token or ssh key with the 'append' right):
 * removing a gc record that does not exist needs the same right as
 * pruning or removing a snapshot and changes nothing; the server's
 * refusal names the right and 'dvalin server prune' (docs/http-api.md).
 */
int cli_check_may_remove(repo *r, const char *what, const char *instead)
{
	uint8_t id[16];
	char name[3 + 2 * sizeof(id) + 1] = "gc/";
	int rc = crypto_random(id, sizeof(id));
	if (rc < 0)
		return rc;
	hex_encode(name + 3, id, sizeof(id));
	rc = backend_remove(repo_backend(r), name);
	if (rc == -EACCES)
		return err_set(rc, "%s refused: %s%s", what, err_msg(rc), instead ? instead : "");
	err_clear();
	return 0;
}

int cli_run_prune(cli_ctx *ctx, double max_unused, int dry, int threads)
{
	repo *r;
	int rc = cli_open_repo_as(ctx, "prune", CLI_KEYLESS | CLI_EXCLUSIVE, &r);
	if (rc < 0)
		return cli_fail(rc);
	if (!dry && (rc = cli_check_may_remove(r, "prune", NULL)) < 0) {
		repo_free(r);
		return cli_fail(rc);
	}
	gc_opts o = { max_unused, dry, threads };
	gc_result g;
	rc = gc_prune(r, &o, &g);
	backend_requests req_n;
	const backend_requests *req = cli_requests(r, &req_n);
	repo_free(r);
	if (rc < 0)
		return cli_fail(rc);
	report(ctx, &g, dry, req);
	return EXIT_OK;
}

int cmd_prune(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-unused", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 'j' },
		{ 0 },
	};
	double max_unused = 0.05;
	int dry = 0, c, threads = 0;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "n", opts, NULL)) != -1) {
		if (c == 'm') {
			if (cli_parse_percent(optarg, &max_unused) < 0)
				return cli_usage_error(ctx, "invalid --max-unused '%s' (expected a percentage such as 5%%)", optarg);
		} else if (c == 'n') {
			dry = 1;
		} else if (c == 'j') {
			if (cli_parse_threads(optarg, &threads) < 0)
				return cli_usage_error(ctx, "invalid --threads '%s' (1..64)", optarg);
		} else {
			return cli_option_error(ctx);
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	return cli_run_prune(ctx, max_unused, dry, threads);
}
