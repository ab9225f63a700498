/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "progress.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../base/strlist.h"
#include "../base/log.h"
#include "../base/workq.h"
#include "../jobs/backup.h"
#include "../jobs/fssnap.h"
#include "../jobs/hook.h"
#include "../report/backup.h"

#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_backup_usage[] =
	"usage: dvalin backup -r REPO [OPTIONS] PATH...\n"
	"       dvalin backup -r REPO [OPTIONS] --stdin [--stdin-name PATH]\n"
	"       dvalin backup -r REPO [OPTIONS] --stdin-from-command -- COMMAND [ARG]...\n\n"
	"Back up files and directories.  Each PATH is stored under its absolute name.\n"
	"Files whose size, mtime, ctime, inode and mode are unchanged since the parent\n"
	"snapshot (the latest of the same host and paths) are not read again.  The\n"
	"repository itself is left out when it lies inside a PATH (and said so).\n\n"
	"Options:\n"
	"  -e, --exclude PATTERN       skip matching entries (repeatable; restic's\n"
	"                              patterns: no leading '/' matches at any depth, a\n"
	"                              trailing '/' directories only, '**' any levels)\n"
	"      --iexclude PATTERN      --exclude without regard to case\n"
	"      --exclude-file F        --exclude each pattern of F (one per line, blanks\n"
	"                              trimmed, # comments, $VAR expanded)\n"
	"      --iexclude-file F       --iexclude each pattern of F\n"
	"      --exclude-caches        leave out the contents of directories with a\n"
	"                              CACHEDIR.TAG (bford.info/cachedir), not the tag\n"
	"      --exclude-if-present N  the same for directories that hold a file N\n"
	"      --exclude-larger-than S skip files larger than S (e.g. 500K, 2M, 1G)\n"
	"      --files-from F          back up the paths listed in F too (one per line,\n"
	"                              # comments, globs expanded; '-' is stdin)\n"
	"      --files-from-verbatim F the same, each line a name exactly as written\n"
	"      --files-from-raw F      the same, names separated by NUL (find -print0)\n"
	"  -n, --dry-run               read what a backup would and say what it would\n"
	"                              add (deduplicated and compressed); store nothing\n"
	"  -x, --one-file-system       do not cross file system boundaries\n"
	"      --tag T                 add a tag (repeatable, or comma-separated)\n"
	"      --host H                record host name H (default: this machine's)\n"
	"      --time \"YYYY-MM-DD HH:MM:SS\"  record this time instead of now\n"
	"      --parent ID             use snapshot ID as the parent\n"
	"      --force                 read every file, ignoring the parent\n"
	"      --compression MODE      auto|off|fast|max|0..22 (default auto: zstd 3)\n"
	"      --threads N             read, compress and encrypt files on N threads\n"
	"                              (default: one per processor; 1: no extra threads)\n"
	"      --json                  print the summary as JSON\n\n"
	"Streams, devices, snapshots, hooks:\n"
	"      --stdin                 back up what stdin delivers, as one file\n"
	"      --stdin-from-command    back up the output of COMMAND (run without a\n"
	"                              shell); unless it exits with status 0, nothing\n"
	"                              is saved\n"
	"      --stdin-name PATH       the file's path in the snapshot (default /stdin)\n"
	"      --stdin-mode MODE       its permission bits, octal (default 0600)\n"
	"      --read-devices          back up block devices by content, zero blocks as\n"
	"                              holes\n"
	"      --snapshot KIND         read the paths from a temporary btrfs, zfs or lvm\n"
	"                              snapshot (recorded under the live paths)\n"
	"      --before CMD            run CMD (/bin/sh -c) first; if it fails, stop\n"
	"      --after CMD             run CMD when done (after --snapshot: once the\n"
	"                              snapshot is made), also when the backup or\n"
	"                              --before failed\n"
	"      --hook-timeout SEC      stop a hook after SEC seconds (default 600, 0: never)\n"
	"      --journal FILE          walk only the directories the change journal FILE\n"
	"                              (`dvalin journal`) names; without a gap-free\n"
	"                              journal since the parent: everything, saying why\n\n"
	"Exit status: 0 done, 1 failed (nothing recorded), 3 done but some files\n"
	"could not be read (they are missing from the snapshot; see the warnings),\n"
	"or the after hook or the removal of a snapshot failed.\n";

static void print_summary(const cli_ctx *ctx, const backup_result *res, const backup_opts *o,
			  const backend_requests *req)
{
	const snapshot *s = res->snap;
	const snapshot_stats *st = &s->stats;
	char hex[65];
	hex_encode(hex, s->id, 32);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_backup(&j, res, req);
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
		if (res->journal_used)
			printf("journal:  %zu directories walked, the rest reused from the parent\n",
			       res->journal_dirs);
	} else {
		printf("parent:   none (%s: every file was read)\n",
		       o->force ? "--force" : "no earlier snapshot of this host and these paths");
	}
	printf("files:    %llu new, %llu changed, %llu unchanged (%llu files, %s)\n",
	       (unsigned long long)st->files_new, (unsigned long long)st->files_changed,
	       (unsigned long long)st->files_unchanged, (unsigned long long)st->total_files, tot);
	printf("dirs:     %llu\n", (unsigned long long)st->dirs);
	printf("read:     %s\n", rd);
	printf("%s %s (after deduplication and compression)\n", res->dry_run ? "would add:" : "added:   ", add);
	if (res->stream) {
		char sb[32], nb[32];
		cli_human_bytes(sb, res->stream_bytes);
		cli_human_bytes(nb, res->bytes_new);
		double pct = res->stream_bytes ? 100.0 * (double)(res->stream_bytes - MIN(res->bytes_new, res->stream_bytes)) /
							 (double)res->stream_bytes : 0;
		printf("stream:   %s, %s, of which %s new (%.1f%% already stored)\n", s->paths[0], sb, nb, pct);
		if (res->command_status >= 0)
			printf("command:  exit status %d\n", res->command_status);
	}
	printf("duration: %s (%.2f s)\n", dur, res->seconds);
	if (st->errors)
		printf("errors:   %llu files or directories could not be read\n", (unsigned long long)st->errors);
	if (res->dry_run)
		printf("dry run: nothing was stored, no snapshot saved\n");
	else
		printf("snapshot %.8s saved\n", hex);
}

/* --stdin-mode: octal permission bits. */
static int parse_mode(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 8);
	if (!*s || *end || errno || v > 07777)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* --hook-timeout: seconds, 0 for none. */
static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* The stream options, checked together: EXIT_OK or a usage error. */
static int stream_args(cli_ctx *ctx, backup_opts *o, int stream, const char *name, int argc,
		       char **argv)
{
	if (!stream) {
		if (name || o->stdin_mode != 0600)
			return cli_usage_error(ctx, "--stdin-name and --stdin-mode need --stdin or --stdin-from-command");
		return EXIT_OK;
	}
	if (o->snapshot)
		return cli_usage_error(ctx, "--snapshot reads paths: it cannot be used with a stream");
	if (stream == 1 && optind < argc)
		return cli_usage_error(ctx, "--stdin takes no PATH (use --stdin-name to name the stream)");
	if (stream == 2 && optind >= argc)
		return cli_usage_error(ctx, "no command after --stdin-from-command (give it after '--')");
	if (stream == 2)
		o->stdin_command = (const char *const *)(argv + optind);
	o->stdin_name = name ? name : "/stdin";
	return EXIT_OK;
}

enum {
	OPT_EXCLUDE_FILE = 0x4201,
	OPT_IEXCLUDE,
	OPT_IEXCLUDE_FILE,
	OPT_EXCLUDE_CACHES,
	OPT_EXCLUDE_IF_PRESENT,
	OPT_EXCLUDE_LARGER,
	OPT_FILES_FROM,
	OPT_FILES_FROM_VERBATIM,
	OPT_FILES_FROM_RAW,
};

/* --files-from: each line a glob, as restic expands them (one matching nothing stays as written). */
static int add_globbed(char ***paths, size_t *n, char **lines, size_t nlines)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nlines; i++) {
		glob_t g;
		int gr = glob(lines[i], GLOB_NOCHECK | GLOB_NOSORT, NULL, &g);
		if (gr == GLOB_NOSPACE)
			rc = -ENOMEM;
		else if (gr != 0)
			rc = strlist_add(paths, n, lines[i]);
		for (size_t k = 0; gr == 0 && rc == 0 && k < g.gl_pathc; k++)
			rc = strlist_add(paths, n, g.gl_pathv[k]);
		if (gr == 0)
			globfree(&g);
	}
	return rc;
}

/*
 * The options that select what is backed up beside --exclude: -1 when
 * taken, else the exit status.
 */
static int select_option(cli_ctx *ctx, int c, const char *arg, backup_opts *o, char ***paths,
			 size_t *npaths)
{
	int rc = 0;
	char **lines = NULL;
	size_t n = 0;
	switch (c) {
	case OPT_EXCLUDE_FILE:
		rc = cli_read_list(arg, CLI_LIST_PATTERNS, &o->excludes, &o->nexcludes);
		break;
	case OPT_IEXCLUDE:
		rc = strlist_add(&o->iexcludes, &o->niexcludes, arg);
		break;
	case OPT_IEXCLUDE_FILE:
		rc = cli_read_list(arg, CLI_LIST_PATTERNS, &o->iexcludes, &o->niexcludes);
		break;
	case OPT_EXCLUDE_CACHES:
		o->exclude_caches = 1;
		break;
	case OPT_EXCLUDE_IF_PRESENT:
		if (!*arg || strchr(arg, '/'))
			return cli_usage_error(ctx, "invalid --exclude-if-present '%s' (a file name, no '/')", arg);
		rc = strlist_add(&o->if_present, &o->nif_present, arg);
		break;
	case OPT_EXCLUDE_LARGER:
		if (cli_parse_size(arg, &o->larger_than) < 0 || o->larger_than == 0)
			return cli_usage_error(ctx, "invalid --exclude-larger-than '%s' (a size such as 500K, 2M, 1G)",
					       arg);
		break;
	case OPT_FILES_FROM:
		rc = cli_read_list(arg, CLI_LIST_PATTERNS, &lines, &n);
		rc = rc ?: add_globbed(paths, npaths, lines, n);
		break;
	case OPT_FILES_FROM_VERBATIM:
		rc = cli_read_list(arg, CLI_LIST_VERBATIM, paths, npaths);
		break;
	case OPT_FILES_FROM_RAW:
		rc = cli_read_list(arg, CLI_LIST_RAW, paths, npaths);
		break;
	}
	strlist_free(lines, n);
	return rc < 0 ? cli_fail(rc) : -1;
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
		/* what to leave out, and paths from files: select_option() */
		{ "exclude-file", required_argument, NULL, OPT_EXCLUDE_FILE },
		{ "iexclude", required_argument, NULL, OPT_IEXCLUDE },
		{ "iexclude-file", required_argument, NULL, OPT_IEXCLUDE_FILE },
		{ "exclude-caches", no_argument, NULL, OPT_EXCLUDE_CACHES },
		{ "exclude-if-present", required_argument, NULL, OPT_EXCLUDE_IF_PRESENT },
		{ "exclude-larger-than", required_argument, NULL, OPT_EXCLUDE_LARGER },
		{ "files-from", required_argument, NULL, OPT_FILES_FROM },
		{ "files-from-verbatim", required_argument, NULL, OPT_FILES_FROM_VERBATIM },
		{ "files-from-raw", required_argument, NULL, OPT_FILES_FROM_RAW },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "stdin", no_argument, NULL, 1 },
		{ "stdin-from-command", no_argument, NULL, 2 },
		{ "stdin-name", required_argument, NULL, 3 },
		{ "stdin-mode", required_argument, NULL, 4 },
		{ "read-devices", no_argument, NULL, 5 },
		{ "snapshot", required_argument, NULL, 6 },
		{ "before", required_argument, NULL, 7 },
		{ "after", required_argument, NULL, 8 },
		{ "hook-timeout", required_argument, NULL, 9 },
		{ "journal", required_argument, NULL, 10 },
		{ 0 },
	};
	backup_opts o;
	memset(&o, 0, sizeof(o));
	char **paths = NULL;
	size_t npaths = 0;
	o.stdin_mode = 0600;
	o.hook_timeout = HOOK_DEFAULT_TIMEOUT;
	int c, level = 3, threads = workq_default_threads(), rc = EXIT_OK, stream = 0;
	const char *stdin_name = NULL;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "e:xn", opts, NULL)) != -1) {
		switch (c) {
		case 'n': o.dry_run = 1; break;
		case 'e':
			if (strlist_add(&o.excludes, &o.nexcludes, optarg) < 0)
				goto oom;
			break;
		case 'x': o.one_file_system = 1; break;
		case 't':
			if (cli_add_csv(&o.tags, &o.ntags, optarg) < 0)
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
		case 1:
		case 2:
			if (stream && stream != c) {
				rc = cli_usage_error(ctx, "--stdin and --stdin-from-command exclude each other");
				goto out;
			}
			stream = c;
			break;
		case 3: stdin_name = optarg; break;
		case 4:
			if (parse_mode(optarg, &o.stdin_mode) < 0) {
				rc = cli_usage_error(ctx, "invalid --stdin-mode '%s' (octal, up to 7777)", optarg);
				goto out;
			}
			break;
		case 5: o.read_devices = 1; break;
		case 6: {
			fssnap_kind k;
			if (fssnap_parse_kind(optarg, &k) < 0) {
				rc = cli_usage_error(ctx, "invalid --snapshot '%s' (btrfs, zfs or lvm)", optarg);
				goto out;
			}
			o.snapshot = (int)k;
			break;
		}
		case 7: o.before = optarg; break;
		case 10: o.journal = optarg; break;
		case 8: o.after = optarg; break;
		case 9:
			if (parse_seconds(optarg, &o.hook_timeout) < 0) {
				rc = cli_usage_error(ctx, "invalid --hook-timeout '%s' (seconds)", optarg);
				goto out;
			}
			break;
		default:
			if (c >= OPT_EXCLUDE_FILE && c <= OPT_FILES_FROM_RAW) {
				if ((rc = select_option(ctx, c, optarg, &o, &paths, &npaths)) >= 0)
					goto out;
				rc = EXIT_OK;
				break;
			}
			rc = cli_option_error(ctx);
			goto out;
		}
	}
	if ((rc = stream_args(ctx, &o, stream, stdin_name, argc, argv)) != EXIT_OK)
		goto out;
	if (stream && npaths) {
		rc = cli_usage_error(ctx, "a stream backup takes no paths (--files-from)");
		goto out;
	}
	for (int i = optind; !stream && i < argc; i++)
		if (strlist_add(&paths, &npaths, argv[i]) < 0)
			goto oom;
	if (!stream && npaths == 0) {
		rc = cli_usage_error(ctx, "no path to back up");
		goto out;
	}
	o.paths = paths;
	o.npaths = npaths;

	ctx->compression = level;
	repo *r = NULL;
	/* a dry run stores nothing: it reads the repository like ls */
	int e = cli_open_repo_as(ctx, o.dry_run ? "read" : "backup", 0, &r);
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
	backend_requests req_n;
	const backend_requests *req = cli_requests(r, &req_n);
	repo_free(r);
	if (e < 0) {
		rc = cli_fail(e);
	} else {
		print_summary(ctx, &res, &o, req);
		rc = res.snap->stats.errors || res.cleanup_failed ? EXIT_PARTIAL : EXIT_OK;
		backup_result_release(&res);
	}
out:
	strlist_free(o.excludes, o.nexcludes);
	strlist_free(o.iexcludes, o.niexcludes);
	strlist_free(o.if_present, o.nif_present);
	strlist_free(o.tags, o.ntags);
	strlist_free(paths, npaths);
	return rc;
oom:
	rc = cli_fail(-12);
	goto out;
}
