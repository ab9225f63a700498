/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "progress.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../base/workq.h"
#include "../jobs/drill.h"
#include "../report/drill.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

const char cmd_drill_usage[] =
	"usage: dvalin drill -r REPO [--snapshot latest] [--sample 200 | --sample 2%]\n"
	"                    [--full --target DIR] [--target DIR] [--seed N] [--json]\n\n"
	"Prove that a snapshot restores: restore a sample of its files into a scratch\n"
	"directory (with the restore command's own code), then check\n"
	"  - every restored byte against the snapshot's content ids, and size, mode,\n"
	"    owner, mtime and extended attributes against what it recorded;\n"
	"  - every sampled file that is unchanged on this machine since the snapshot\n"
	"    (same size, mtime, ctime and inode) against the live file, byte for byte\n"
	"    and in its metadata (a file that changed or is gone is only reported);\n"
	"  - the restore's throughput: the time a full restore would take.\n"
	"The scratch directory is removed at the end.\n\n"
	"The sample favours large, old and long unchanged files over small recent\n"
	"ones, and always holds the largest file (up to 1 GiB), the oldest and the\n"
	"longest unchanged; a seed gives the same sample again.\n\n"
	"Options:\n"
	"      --snapshot S   'latest' (default) or a unique prefix of a snapshot id\n"
	"      --host H, --path P, --tag T\n"
	"                     'latest' among the snapshots of host H, with path P\n"
	"                     among its paths, carrying tag T (each repeatable)\n"
	"      --sample N     restore N files (default 200)\n"
	"      --sample P%    restore files holding P% of the snapshot's bytes\n"
	"      --full         restore and check everything (needs --target: the disk\n"
	"                     must hold the whole snapshot; its free space is checked\n"
	"                     before anything is written)\n"
	"      --target DIR   make the scratch directory in DIR (default /var/tmp)\n"
	"      --seed N       draw the sample from seed N (default: a random seed,\n"
	"                     printed, to repeat the drill with)\n"
	"      --no-live      do not compare with the live files\n"
	"      --keep         leave the scratch directory (its path is printed)\n"
	"      --threads N    restore on N threads (default: one per processor)\n"
	"      --json         print the result as JSON (docs/json.md, \"Drill\")\n\n"
	"Exit status: 0 the drill passed, 6 something did not match (each file is\n"
	"named), 1 the drill could not run.\n";

static int parse_sample(const char *s, drill_opts *o)
{
	if (strchr(s, '%')) {
		double f;
		if (cli_parse_percent(s, &f) < 0 || !(f > 0) || f > 1)
			return -1;
		o->share = f;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || v == 0)
		return -1;
	o->sample = v;
	o->share = 0;
	return 0;
}

static void print_findings(const drill_result *res, int failures)
{
	for (size_t i = 0; i < res->nfindings; i++) {
		const drill_finding *f = &res->findings[i];
		if (drill_kind_fails(f->kind) != failures)
			continue;
		printf("  %-8s %s: %s\n", failures ? "FAILED" : drill_kind_name(f->kind), f->path,
		       f->reason);
	}
}

static void print_text(const snapshot *s, const drill_result *res, const drill_opts *o)
{
	char when[40], b1[32], b2[32], d1[32], d2[32], hex[65];
	snapshot_format_time(when, s);
	hex_encode(hex, s->id, 32);
	cli_human_bytes(b1, res->bytes_sampled);
	cli_human_bytes(b2, res->bytes_total);
	printf("drill of snapshot %.8s (%s, host %s), seed %llu\n", hex, when, s->host ? s->host : "",
	       (unsigned long long)res->seed);
	if (res->full)
		printf("restored everything: %llu files, %s\n", (unsigned long long)res->files_total, b2);
	else
		printf("sample: %llu of %llu files, %s of %s\n", (unsigned long long)res->files_sampled,
		       (unsigned long long)res->files_total, b1, b2);
	cli_human_bytes(b1, (uint64_t)res->bytes_per_second);
	cli_human_duration(d1, res->estimate_seconds);
	cli_human_duration(d2, res->estimate_seconds_min);
	printf("restore: %.2f s, %s/s", res->restore_seconds, b1);
	if (res->full)
		printf("; a full restore takes %s\n", d1);
	else if (res->estimate_seconds > 0)
		printf("; a full restore would take about %s (at least %s)\n", d1, d2);
	else
		printf("\n");
	uint64_t failed = 0;
	for (size_t i = 0; i < res->nfindings; i++)
		failed += drill_kind_fails(res->findings[i].kind);
	printf("checked against the snapshot: %llu entries, %llu did not match\n",
	       (unsigned long long)res->entries_verified, (unsigned long long)res->entries_failed);
	if (res->live_skipped)
		printf("live files not compared: %s\n", res->live_skipped);
	else
		printf("live files: %llu unchanged and identical, %llu unchanged but different, %llu changed since the snapshot, %llu gone\n",
		       (unsigned long long)res->live_identical, (unsigned long long)res->live_failed,
		       (unsigned long long)res->live_changed, (unsigned long long)res->live_gone);
	print_findings(res, 0);
	if (res->notes_dropped)
		printf("  (%llu more changed or gone files not listed)\n",
		       (unsigned long long)res->notes_dropped);
	print_findings(res, 1);
	if (o->keep)
		printf("restored files kept in %s\n", res->scratch);
	if (res->ok)
		printf("drill passed\n");
	else if (res->restore_errors && !failed)
		printf("drill FAILED: %llu entries could not be restored (named above)\n",
		       (unsigned long long)res->restore_errors);
	else
		printf("drill FAILED: %llu problem%s (named above)\n", (unsigned long long)failed,
		       failed == 1 ? "" : "s");
}

int cmd_drill(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SELECT_SNAPSHOT,
		CLI_SELECT_OPTIONS,
		{ "sample", required_argument, NULL, 's' },
		{ "full", no_argument, NULL, 'F' },
		{ "target", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 'S' },
		{ "no-live", no_argument, NULL, 'L' },
		{ "keep", no_argument, NULL, 'k' },
		{ "threads", required_argument, NULL, 'j' },
		{ 0 },
	};
	drill_opts o = { NULL, DRILL_DEFAULT_SAMPLE, 0, 0, 0, 1, 0, workq_default_threads() };
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	const char *spec = "latest";
	int c, rc, seeded = 0;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "t:", opts, NULL)) != -1) {
		const char *bad = NULL;
		if (c == SNAPSEL_OPT_SNAPSHOT) { /* the one to drill, not a filter */
			spec = optarg;
			continue;
		}
		if ((rc = cli_select_option(c, optarg, &f)) != 0) {
			if (rc < 0) {
				snapsel_filter_release(&f);
				return cli_fail(rc);
			}
			continue;
		}
		switch (c) {
		case 's': bad = parse_sample(optarg, &o) < 0 ? "--sample (a count or a percentage)" : NULL; break;
		case 'F': o.full = 1; break;
		case 't': o.target = optarg; break;
		case 'L': o.live = 0; break;
		case 'k': o.keep = 1; break;
		case 'S': {
			char *end;
			errno = 0;
			o.seed = strtoull(optarg, &end, 10);
			bad = errno || *end || end == optarg || optarg[0] == '-' ? "--seed" : NULL;
			seeded = 1;
			break;
		}
		case 'j': bad = cli_parse_threads(optarg, &o.threads) < 0 ? "--threads (1..64)" : NULL; break;
		default:
			snapsel_filter_release(&f);
			return cli_option_error(ctx);
		}
		if (bad) {
			snapsel_filter_release(&f);
			return cli_usage_error(ctx, "invalid %s '%s'", bad, optarg);
		}
	}
	if (optind < argc || (o.full && !o.target)) {
		snapsel_filter_release(&f);
		return cli_usage_error(ctx, optind < argc ? "unexpected argument '%s'"
					 : "--full needs --target DIR%s (a disk that can hold the whole snapshot)",
				       optind < argc ? argv[optind] : "");
	}
	if (!o.target)
		o.target = DRILL_DEFAULT_TARGET;
	if (!seeded && getrandom(&o.seed, sizeof(o.seed), 0) != sizeof(o.seed))
		o.seed = (uint64_t)time(NULL);
	o.seed &= (1ULL << 53) - 1; /* exact in any JSON reader */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	repo *r;
	snapshot *s = NULL;
	drill_result res;
	memset(&res, 0, sizeof(res));
	rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		snapsel_filter_release(&f);
		return cli_fail(rc);
	}
	rc = snapsel_find(r, &f, spec, &s, NULL);
	if (rc == 0) {
		job_progress prog = { 0 };
		progress_display *pd = NULL;
		progress_start(&pd, &prog, "drill", ctx->progress);
		interrupt_install(); /* Ctrl-C: the scratch directory is removed first */
		rc = drill_run(r, s, &o, &prog, &res);
		progress_stop(pd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	int status = EXIT_OK;
	if (rc < 0) {
		status = cli_fail(rc);
	} else {
		if (ctx->json) {
			json j;
			json_init(&j, stdout);
			report_drill(&j, s, &res, o.keep, secs);
			json_finish(&j);
		} else if (!ctx->quiet || !res.ok) {
			print_text(s, &res, &o);
		}
		status = res.ok ? EXIT_OK : EXIT_DAMAGE;
	}
	drill_result_release(&res);
	snapshot_free(s);
	repo_free(r);
	snapsel_filter_release(&f);
	interrupt_reraise();
	return status;
}
