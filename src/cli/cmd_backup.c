/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "progress.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../base/strlist.h"
#include "../base/log.h"
#include "../base/workq.h"
#include "../jobs/backup.h"
#include "../report/backup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_backup_usage[] =
	"usage: dvalin backup -r REPO [OPTIONS] PATH...\n\n"
	"Back up files and directories.  Each PATH is stored under its absolute name.\n"
	"Files whose size, mtime, ctime, inode and mode are unchanged since the parent\n"
	"snapshot (the latest of the same host and paths) are not read again.\n\n"
	"Options:\n"
	"  -e, --exclude GLOB      skip matching entries (repeatable); a GLOB without '/'\n"
	"                          matches names, one with '/' matches absolute paths\n"
	"  -x, --one-file-system   do not cross file system boundaries\n"
	"      --tag T             add a tag (repeatable, or comma-separated)\n"
	"      --host H            record host name H (default: this machine's)\n"
	"      --time \"YYYY-MM-DD HH:MM:SS\"  record this time instead of now\n"
	"      --parent ID         use snapshot ID as the parent\n"
	"      --force             read every file, ignoring the parent\n"
	"      --compression MODE  auto|off|fast|max|0..22 (default auto: zstd 3)\n"
	"      --threads N         read, compress and encrypt files on N threads\n"
	"                          (default: one per processor; 1: no extra threads)\n"
	"      --json              print the summary as JSON\n\n"
	"Exit status: 0 done, 1 failed (nothing recorded), 3 done but some files\n"
	"could not be read (they are missing from the snapshot; see the warnings).\n";

static void print_summary(const cli_ctx *ctx, const backup_result *res, const backup_opts *o)
{
	const snapshot *s = res->snap;
	const snapshot_stats *st = &s->stats;
	char hex[65];
	hex_encode(hex, s->id, 32);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_backup(&j, res);
		json_finish(&j);
		return;
	}
	if (ctx->quiet)
		return;
	char rd[32], add[32], tot[32], dur[32];
	cli_human_bytes(rd, st->bytes_read);
	cli_human_bytes(add, st->bytes_added);
	cli_human_bytes(tot, st->total_bytes);
	cli_human_duration(dur, res->seconds);
	if (s->has_parent) {
		char phex[65];
		hex_encode(phex, s->parent, 32);
		printf("parent:   %.8s (files unchanged since it were not read again)\n", phex);
	} else {
		printf("parent:   none (%s: every file was read)\n",
		       o->force ? "--force" : "no earlier snapshot of this host and these paths");
	}
	printf("files:    %llu new, %llu changed, %llu unchanged (%llu files, %s)\n",
	       (unsigned long long)st->files_new, (unsigned long long)st->files_changed,
	       (unsigned long long)st->files_unchanged, (unsigned long long)st->total_files, tot);
	printf("dirs:     %llu\n", (unsigned long long)st->dirs);
	printf("read:     %s\n", rd);
	printf("added:    %s (after deduplication and compression)\n", add);
	printf("duration: %s (%.2f s)\n", dur, res->seconds);
	if (st->errors)
		printf("errors:   %llu files or directories could not be read\n", (unsigned long long)st->errors);
	printf("snapshot %.8s saved\n", hex);
}

static int add_tags(char ***tags, size_t *n, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return -1;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (*t && strlist_add(tags, n, t) < 0) {
			free(copy);
			return -1;
		}
	free(copy);
	return 0;
}

int cmd_backup(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exclude", required_argument, NULL, 'e' },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "tag", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "time", required_argument, NULL, 'T' },
		{ "parent", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "compression", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 'j' },
		{ 0 },
	};
	backup_opts o;
	memset(&o, 0, sizeof(o));
	int c, level = 3, threads = workq_default_threads(), rc = EXIT_OK;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "e:x", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (strlist_add(&o.excludes, &o.nexcludes, optarg) < 0)
				goto oom;
			break;
		case 'x': o.one_file_system = 1; break;
		case 't':
			if (add_tags(&o.tags, &o.ntags, optarg) < 0)
				goto oom;
			break;
		case 'H': o.host = optarg; break;
		case 'T':
			if (snapshot_parse_time(optarg, &o.time, &o.tz_offset) < 0) {
				rc = cli_usage_error(ctx, "invalid --time '%s' (want \"YYYY-MM-DD HH:MM:SS\")", optarg);
				goto out;
			}
			o.has_time = 1;
			break;
		case 'p': o.parent = optarg; break;
		case 'f': o.force = 1; break;
		case 'c':
			if (cli_parse_compression(optarg, &level) < 0) {
				rc = cli_usage_error(ctx, "invalid --compression '%s'", optarg);
				goto out;
			}
			break;
		case 'j':
			if (cli_parse_threads(optarg, &threads) < 0) {
				rc = cli_usage_error(ctx, "invalid --threads '%s' (1..64)", optarg);
				goto out;
			}
			break;
		default:
			rc = cli_option_error(ctx);
			goto out;
		}
	}
	if (optind >= argc) {
		rc = cli_usage_error(ctx, "no path to back up");
		goto out;
	}
	o.paths = argv + optind;
	o.npaths = (size_t)(argc - optind);

	ctx->compression = level;
	repo *r = NULL;
	int e = cli_open_repo_as(ctx, "backup", 0, &r);
	if (e < 0) {
		rc = cli_fail(e);
		goto out;
	}
	job_progress prog = { 0 };
	progress_display *pd = NULL;
	backup_result res;
	prog.want_estimate = ctx->progress;
	o.threads = threads;
	progress_start(&pd, &prog, "backup", ctx->progress);
	interrupt_install(); /* Ctrl-C: stop, index what was stored, release the lease */
	e = backup_run(r, &o, &prog, &res);
	progress_stop(pd);
	repo_free(r);
	if (e < 0) {
		rc = cli_fail(e);
	} else {
		print_summary(ctx, &res, &o);
		rc = res.snap->stats.errors ? EXIT_PARTIAL : EXIT_OK;
		backup_result_release(&res);
	}
out:
	strlist_free(o.excludes, o.nexcludes);
	strlist_free(o.tags, o.ntags);
	return rc;
oom:
	rc = cli_fail(-12);
	goto out;
}
