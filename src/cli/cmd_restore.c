/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "progress.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../base/workq.h"
#include "../jobs/restore.h"
#include "../jobs/snapsel.h"
#include "../jobs/restore_device.h"
#include "../report/backup.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_restore_usage[] =
	"usage: dvalin restore -r REPO SNAPSHOT[:PATH] --target DIR [OPTIONS]\n"
	"       dvalin restore -r REPO SNAPSHOT[:PATH] --to-device DEV [--verify]\n\n"
	"Restore a snapshot under DIR: a backup of /srv/data is written to\n"
	"DIR/srv/data; with SNAPSHOT:PATH, what PATH holds is written into DIR\n"
	"itself ('latest:/srv/data' puts its files in DIR).  Metadata is restored as\n"
	"rsync -aHAXS --numeric-ids would: mode, numeric owner (when root),\n"
	"nanosecond mtime, xattrs and ACLs, hard links, holes of sparse files,\n"
	"symlinks, fifos and device nodes (when root).  Nothing is ever written\n"
	"outside DIR, whatever the snapshot contains.\n\n"
	"Into a DIR that is not empty: an existing entry that matches the snapshot\n"
	"(type, size, mtime) is kept and gets its metadata; one that differs is\n"
	"replaced, and named on the way ('replaced DIR/...'), so a restore never\n"
	"overwrites anything without a word.  --dry-run shows all of it first.\n\n"
	"Options:\n"
	"  -t, --target DIR       where to restore (created if missing)\n"
	"  -i, --include PATTERN  restore only matching entries and what is below them\n"
	"                         (repeatable; one that matches nothing is an error)\n"
	"  -e, --exclude PATTERN  do not restore matching entries (repeatable)\n"
	"      --iexclude PATTERN --exclude without regard to case\n"
	"      --exclude-file F   --exclude each pattern of F (one per line, # comments)\n"
	"      --overwrite MODE   what to do with existing entries that differ from the\n"
	"                         snapshot: if-changed (default: replace them), always\n"
	"                         (also rewrite matching ones), if-newer (replace only\n"
	"                         those older than in the snapshot), never (keep all)\n"
	"      --delete           remove what the snapshot does not have, inside the\n"
	"                         backed-up paths (not what --exclude names)\n"
	"  -n, --dry-run          say what would be restored, replaced, kept and\n"
	"                         deleted; write nothing\n"
	"      --verify           re-hash every chunk read (slower)\n"
	CLI_SELECT_HELP
	"      --threads N        write files on N threads (default: one per processor)\n"
	"      --max-entries N    refuse a snapshot that expands to more than N entries\n"
	"                         (default 1000000000; 0: no limit): a forged snapshot\n"
	"                         can share subtrees to describe 2^40 files from a few\n"
	"                         blobs\n"
	"      --no-space-check   write even if the target's free space or inodes seem\n"
	"                         too few for what the snapshot expands to (checked by\n"
	"                         default, before anything of it is written)\n"
	"      --to-device DEV    write the one file PATH (a device backed up with\n"
	"                         --read-devices, or an image) to the block device DEV,\n"
	"                         holes as zeros; DEV must be as large, unmounted and\n"
	"                         unused.  DEV may also be an image file: written sparse\n"
	"      --json             print the summary as JSON\n\n"
	"PATTERNs as restic's (dvalin(1), PATTERNS): no leading '/' matches at any\n"
	"depth, a trailing '/' matches directories only, '**' any number of levels.\n\n"
	"Exit status: 0 done, 1 some entries could not be restored, an --include\n"
	"matched nothing, or the snapshot is damaged (each is named on stderr).\n";

static const char *const overwrite_modes[] = {
	[RESTORE_IF_CHANGED] = "if-changed",
	[RESTORE_ALWAYS] = "always",
	[RESTORE_IF_NEWER] = "if-newer",
	[RESTORE_NEVER] = "never",
};

typedef struct {
	const cli_ctx *ctx;
	int dry;
} events;

/* One line per existing entry the restore replaces, keeps or deletes. */
static void on_event(void *ud, int ev, const char *path, const char *why)
{
	const events *e = ud;
	if (e->ctx->json || e->ctx->quiet)
		return;
	static const char *const done[] = { "replaced", "kept", "deleted" };
	static const char *const would[] = { "would replace", "would keep", "would delete" };
	printf("%s %s (%s)\n", (e->dry ? would : done)[ev], path, why);
}

/*
 * What a non-root restore leaves out, each kind once, as one warning: on
 * stderr beside the other warnings, with --json and -q too.
 */
static void warn_not_permitted(const restore_stats *st)
{
	if (!st->not_permitted)
		return;
	char text[256] = "";
	size_t l = 0;
	if (st->owners_skipped)
		l += (size_t)snprintf(text + l, sizeof(text) - l, "the owner of %llu entries",
				      (unsigned long long)st->owners_skipped);
	if (st->devices_skipped && l < sizeof(text))
		l += (size_t)snprintf(text + l, sizeof(text) - l, "%s%llu device nodes", l ? ", " : "",
				      (unsigned long long)st->devices_skipped);
	if (st->xattrs_skipped && l < sizeof(text))
		snprintf(text + l, sizeof(text) - l, "%sextended attributes of %llu entries",
			 l ? ", " : "", (unsigned long long)st->xattrs_skipped);
	log_warn("not running as root: not restored: %s (everything else was)", text);
}

static void print_summary(const restore_stats *st, int dry, double secs)
{
	char b[32], d[32];
	cli_human_bytes(b, st->bytes);
	cli_human_duration(d, secs);
	printf("%s %llu files, %llu directories, %llu other entries, %s", dry ? "would restore" : "restored",
	       (unsigned long long)st->files, (unsigned long long)st->dirs,
	       (unsigned long long)st->others, b);
	if (!dry)
		printf(" in %s (%.2f s)", d, secs);
	printf("\n");
	if (st->replaced || st->unchanged || st->kept || st->deleted)
		printf("existing entries: %llu %s (they differed), %llu unchanged, %llu kept, %llu %s\n",
		       (unsigned long long)st->replaced, dry ? "to replace" : "replaced",
		       (unsigned long long)st->unchanged, (unsigned long long)st->kept,
		       (unsigned long long)st->deleted, dry ? "to delete" : "deleted");
	if (st->errors)
		printf("%llu entries could not be restored (see the errors above)\n",
		       (unsigned long long)st->errors);
}

typedef struct {
	restore_opts o;
	const char *to_device;
	snapsel_filter f;
	char **iexcl;
	size_t niexcl;
} restore_args;

/*
 * restore --to-device: the file path (the snapshot's only path when not
 * given) to a device or an image file.
 */
static int restore_to_device(cli_ctx *ctx, const snapsel_filter *f, const char *spec,
			     const char *path, const char *target, int verify)
{
	repo *r;
	snapshot *s = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0)
		return cli_fail(rc);
	char *in = NULL;
	rc = snapsel_find(r, f, spec, &s, &in);
	if (rc == 0 && in && path)
		rc = err_set(-DV_EUSAGE, "give the file as '%s' or with --include, not both", spec);
	if (rc == 0 && in)
		path = in;
	if (rc == 0 && !path && s->npaths != 1)
		rc = err_set(-DV_EUSAGE, "the snapshot has %zu paths: name the file with --include PATH",
			     s->npaths);
	if (rc == 0 && !path)
		path = s->paths[0];
	restore_device_stats st;
	memset(&st, 0, sizeof(st));
	if (rc == 0) {
		restore_device_opts o = { path, target, verify };
		job_progress prog = { 0 };
		progress_display *pd = NULL;
		progress_start(&pd, &prog, "restore", ctx->progress);
		interrupt_install();
		rc = restore_device_run(r, s, &o, &prog, &st);
		progress_stop(pd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (rc == 0 && ctx->json) {
		json j;
		json_init(&j, stdout);
		report_restore_device(&j, path, target, &st, secs);
		json_finish(&j);
	} else if (rc == 0 && !ctx->quiet) {
		char b[32], d[32], z[32], t[32];
		cli_human_bytes(b, st.size);
		cli_human_bytes(d, st.data);
		cli_human_bytes(z, st.zeroed);
		cli_human_duration(t, secs);
		printf("restored '%s' to '%s': %s (%s of data, %s %s) in %s (%.2f s)\n", path, target, b, d,
		       st.device ? z : b, st.device ? "zeroed" : "in total", t, secs);
	}
	snapshot_free(s);
	repo_free(r);
	rc = rc < 0 ? cli_fail(rc) : EXIT_OK;
	free(in); /* after the message, which may name it */
	return rc;
}

static void args_release(restore_args *a)
{
	strlist_free(a->o.includes, a->o.nincludes);
	strlist_free(a->o.excludes, a->o.nexcludes);
	strlist_free(a->o.iexcludes, a->o.niexcludes);
	snapsel_filter_release(&a->f);
}

/* Parses the options; -1 when they are good, else the exit status. */
static int parse_args(cli_ctx *ctx, int argc, char **argv, restore_args *a)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "include", required_argument, NULL, 'i' },
		{ "exclude", required_argument, NULL, 'e' },
		{ "iexclude", required_argument, NULL, 'I' },
		{ "exclude-file", required_argument, NULL, 'F' },
		{ "overwrite", required_argument, NULL, 'O' },
		{ "delete", no_argument, NULL, 'D' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verify", no_argument, NULL, 'V' },
		{ "threads", required_argument, NULL, 'j' },
		{ "max-entries", required_argument, NULL, 'M' },
		{ "no-space-check", no_argument, NULL, 'S' },
		{ "to-device", required_argument, NULL, 'T' },
		CLI_SELECT_OPTIONS,
		{ 0 },
	};
	restore_opts *o = &a->o;
	int c, rc = 0;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "t:i:e:n", opts, NULL)) != -1) {
		switch (c) {
		case 't': o->target = optarg; break;
		case 'i': rc = strlist_add(&o->includes, &o->nincludes, optarg); break;
		case 'e': rc = strlist_add(&o->excludes, &o->nexcludes, optarg); break;
		case 'I': rc = strlist_add(&o->iexcludes, &o->niexcludes, optarg); break;
		case 'F': rc = cli_read_list(optarg, CLI_LIST_PATTERNS, &o->excludes, &o->nexcludes); break;
		case 'D': o->del = 1; break;
		case 'n': o->dry_run = 1; break;
		case 'V': o->verify = 1; break;
		case 'S': o->no_space_check = 1; break;
		case 'O': {
			size_t m = 0;
			while (m < ARRAY_SIZE(overwrite_modes) && strcmp(optarg, overwrite_modes[m]))
				m++;
			if (m == ARRAY_SIZE(overwrite_modes))
				return cli_usage_error(ctx, "invalid --overwrite '%s' (if-changed, always, if-newer or never)",
						       optarg);
			o->overwrite = (int)m;
			break;
		}
		case 'T': a->to_device = optarg; break;
		case 'M': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-')
				return cli_usage_error(ctx, "invalid --max-entries '%s'", optarg);
			o->max_entries = v;
			break;
		}
		case 'j':
			if (cli_parse_threads(optarg, &o->threads) < 0)
				return cli_usage_error(ctx, "invalid --threads '%s' (1..64)", optarg);
			break;
		case SNAPSEL_OPT_HOST:
		case SNAPSEL_OPT_PATH:
		case SNAPSEL_OPT_TAG:
			rc = snapsel_filter_add(&a->f, c, optarg);
			break;
		default:
			return cli_option_error(ctx);
		}
		if (rc < 0)
			return cli_fail(rc);
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "no snapshot given");
	if (argc - optind > 1)
		return cli_usage_error(ctx, "too many arguments");
	if (a->to_device && (o->target || o->nincludes > 1 || o->nexcludes || o->niexcludes ||
			     o->del || o->dry_run || o->overwrite))
		return cli_usage_error(ctx, "--to-device takes one SNAPSHOT[:PATH], at most one --include PATH, "
					    "--verify, and no --target or options of a restore into a directory");
	if (!o->target && !a->to_device)
		return cli_usage_error(ctx, "no --target given");
	return -1;
}

int cmd_restore(cli_ctx *ctx, int argc, char **argv)
{
	restore_args a;
	memset(&a, 0, sizeof(a));
	a.o.threads = workq_default_threads();
	a.o.max_entries = RESTORE_MAX_ENTRIES;
	int ex = parse_args(ctx, argc, argv, &a);
	if (ex < 0 && a.to_device)
		ex = restore_to_device(ctx, &a.f, argv[optind], a.o.nincludes ? a.o.includes[0] : NULL,
				       a.to_device, a.o.verify);
	if (ex >= 0) {
		args_release(&a);
		return ex;
	}
	restore_opts *o = &a.o;
	events ev = { ctx, o->dry_run };
	o->on_event = on_event;
	o->ud = &ev;
	char note[PATH_MAX + 160];
	snprintf(note, sizeof(note), "dvalin: restore interrupted: '%s' may hold part of the snapshot; "
		 "the repository was not changed", o->target);
	interrupt_set_note(note);
	repo *r;
	snapshot *s = NULL;
	char *sub = NULL;
	restore_stats st;
	memset(&st, 0, sizeof(st));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		args_release(&a);
		return cli_fail(rc);
	}
	rc = snapsel_find(r, &a.f, argv[optind], &s, &sub);
	if (rc == 0) {
		job_progress prog = { 0 };
		progress_display *pd = NULL;
		o->subpath = sub;
		progress_start(&pd, &prog, o->dry_run ? "restore (dry run)" : "restore", ctx->progress);
		interrupt_install(); /* Ctrl-C stops it cleanly, the lease released */
		rc = restore_run(r, s, o, &prog, &st);
		progress_stop(pd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	backend_requests req_n;
	const backend_requests *req = cli_requests(r, &req_n);
	snapshot_free(s);
	free(sub);
	repo_free(r);
	args_release(&a);
	/* what was done is said even when an --include matched nothing */
	if (rc < 0 && rc != -DV_ENOTFOUND)
		return cli_fail(rc);
	warn_not_permitted(&st);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_restore(&j, &st, secs, o->dry_run, req);
		json_finish(&j);
	} else if (!ctx->quiet && (rc == 0 || st.files + st.dirs + st.others)) {
		print_summary(&st, o->dry_run, secs);
	}
	if (rc < 0)
		return cli_fail(rc);
	return st.errors ? EXIT_FAIL : EXIT_OK;
}
