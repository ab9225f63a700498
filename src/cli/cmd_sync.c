/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "progress.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/interrupt.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/rate.h"
#include "../base/strlist.h"
#include "../jobs/sync.h"
#include "../jobs/syncsel.h"
#include "../report/check.h"
#include "../report/sync.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_sync_usage[] =
	"usage: dvalin sync [--from URL] --to URL [--host H] [--path P] [--tag T[,T...]]\n"
	"                   [--latest N] [--snapshot ID]... [--remove-vanished] [--dry-run]\n"
	"                   [--limit-rate R] [--threads N] [--verify] [--json]\n\n"
	"Copy snapshots from one repository to a replica of it (made by 'dvalin init\n"
	"--replica-of'), without the password: only what the destination lacks is\n"
	"read and written, packs are copied whole where every blob is needed, and\n"
	"every blob is checked against its stored checksum on the way.  A snapshot\n"
	"that needs a blob damaged or missing in the source is not copied and is\n"
	"named; the others are (exit status 1).  A sync that was interrupted goes\n"
	"on where it stopped when run again.  --from and --to take any repository\n"
	"URL; --from defaults to -r/--repo or $DVALIN_REPOSITORY.  'dvalin copy' is\n"
	"the same command (restic's name for it).\n\n"
	"Which snapshots (all by default; filters combine):\n"
	CLI_SELECT_HELP
	"      --latest N         the N newest of each host and set of paths\n"
	"      --snapshot ID      the snapshot with this id or unique prefix (repeatable;\n"
	"                         further IDs may follow the options)\n"
	"--host, --path and --tag need the password (names are encrypted); --latest\n"
	"and --snapshot do not.\n\n"
	"Options:\n"
	"      --remove-vanished  remove from the destination the snapshots the source\n"
	"                         no longer has (those matching --host/--path/--tag\n"
	"                         when given); protected ones stay.  Off by default: a\n"
	"                         source that lost or hides snapshots must not empty\n"
	"                         its copy\n"
	"  -n, --dry-run          say what would be copied, write nothing\n"
	"      --limit-rate R     read at most R bytes per second from the source\n"
	"                         (e.g. 20M; K, M, G are 1024, 1024^2, 1024^3)\n"
	"      --threads N        copy and verify with N threads (default: one per core)\n"
	"      --verify           afterwards read back every pack this sync wrote from\n"
	"                         the destination's storage (past the page cache) and\n"
	"                         check it: check --read-data of the new packs\n"
	"      --json             print the result as JSON (docs/json.md)\n\n"
	"Exit status: 0 done, 1 an error or snapshots not copied, 6 --verify found\n"
	"damage.\n";

typedef struct {
	sync_opts o;
	const char *from, *to;
	snapsel_filter filter; /* --host, --path, --tag */
	char **ids;
	size_t nids;
	int verify;
} sync_args;

static void args_release(sync_args *a)
{
	snapsel_filter_release(&a->filter);
	strlist_free(a->ids, a->nids);
}

static int parse(cli_ctx *ctx, int argc, char **argv, sync_args *a)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		CLI_SELECT_OPTIONS,
		{ "latest", required_argument, NULL, 'l' },
		{ "snapshot", required_argument, NULL, 's' },
		{ "remove-vanished", no_argument, NULL, 'R' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "limit-rate", required_argument, NULL, 'L' },
		{ "threads", required_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "n", opts, NULL)) != -1) {
		int rc = cli_select_option(c, optarg, &a->filter);
		if (rc < 0)
			return cli_fail(rc);
		if (rc == 1)
			continue;
		switch (c) {
		case 'f': a->from = optarg; break;
		case 't': a->to = optarg; break;
		case 's': rc = strlist_add(&a->ids, &a->nids, optarg); break;
		case 'l': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 1000000)
				return cli_usage_error(ctx, "invalid --latest '%s' (a count of 1 or more)", optarg);
			a->o.latest = (int)v;
			break;
		}
		case 'R': a->o.remove_vanished = 1; break;
		case 'n': a->o.dry_run = 1; break;
		case 'L':
			if (rate_parse(optarg, &a->o.limit_rate) < 0)
				return cli_usage_error(ctx, "invalid --limit-rate '%s' (bytes per second, e.g. 20M)", optarg);
			break;
		case 'j':
			if (cli_parse_threads(optarg, &a->o.threads) < 0)
				return cli_usage_error(ctx, "invalid --threads '%s' (1..64)", optarg);
			break;
		case 'V': a->verify = 1; break;
		default: return cli_option_error(ctx);
		}
		if (rc < 0)
			return cli_fail(rc);
	}
	for (int i = optind; i < argc; i++)
		if (strlist_add(&a->ids, &a->nids, argv[i]) < 0)
			return cli_fail(-ENOMEM);
	if (!a->from)
		a->from = cli_repo_path(ctx);
	if (!a->from)
		return cli_usage_error(ctx, "no source: give --from URL, -r/--repo or set DVALIN_REPOSITORY");
	if (!a->to)
		return cli_usage_error(ctx, "no destination: give --to URL");
	if (a->verify && a->o.dry_run)
		return cli_usage_error(ctx, "--verify checks what a sync wrote; a dry run writes nothing");
	a->o.filter = &a->filter;
	a->o.ids = a->ids;
	a->o.nids = a->nids;
	return -1;
}

/* An error of the destination's storage, said as what it means for the sync. */
static int destination_error(int rc, const char *to, int opening)
{
	char msg[900];
	snprintf(msg, sizeof(msg), "%s", err_msg(rc));
	if (rc == -ENOSPC || rc == -EDQUOT)
		return err_set(rc, "destination '%s' is full (%s); what was copied stays and the next sync goes on from there",
			       to, msg);
	if (rc == -EROFS)
		return err_set(rc, "destination '%s' is read-only (%s)", to, msg);
	if (rc == -EACCES || rc == -EPERM)
		return err_set(rc, "destination '%s' may not be written (%s)", to, msg);
	if (opening && (rc == -DV_ENOTFOUND || rc == -ENOENT))
		return err_set(rc, "destination: %s; make a replica with 'dvalin init --replica-of SOURCE %s'",
			       msg, to);
	return rc;
}

static void print_text(const sync_result *res, const sync_args *a)
{
	int dry = a->o.dry_run;
	char rd[32], wr[32], need[32], t[32];
	for (size_t i = 0; i < res->n; i++) {
		const sync_snapshot *x = &res->v[i];
		char hex[65];
		hex_encode(hex, x->id, 32);
		if (x->state == SYNC_SKIPPED)
			log_error("snapshot '%.8s' not copied: %s", hex, x->reason);
		else if (x->state == SYNC_REMOVED)
			printf("%s %.8s (vanished at the source)\n", dry ? "would remove" : "removed", hex);
		else if (x->state == SYNC_KEPT_PROTECTED)
			printf("kept %.8s: vanished at the source, but protected here\n", hex);
		else if (x->state == SYNC_COPIED && dry)
			printf("would copy %.8s\n", hex);
	}
	cli_human_bytes(rd, res->bytes_read);
	cli_human_bytes(wr, res->bytes_written);
	cli_human_bytes(need, res->bytes_needed);
	cli_human_duration(t, res->seconds);
	printf("%s %llu snapshot%s (%llu already there, %llu not copied) from %s to %s\n",
	       dry ? "would copy" : "copied", (unsigned long long)res->copied,
	       res->copied == 1 ? "" : "s", (unsigned long long)res->present,
	       (unsigned long long)res->skipped, a->from, a->to);
	printf("  trees: %llu walked, %llu %s; blobs: %llu %s, %llu already there\n",
	       (unsigned long long)res->trees_walked, (unsigned long long)res->trees_copied,
	       dry ? "to copy" : "copied", (unsigned long long)res->blobs_copied,
	       dry ? "to copy" : "copied", (unsigned long long)res->blobs_present);
	printf("  packs: %llu %s whole, %llu repacked", (unsigned long long)res->packs_reused,
	       dry ? "to copy" : "copied", (unsigned long long)res->packs_repacked);
	if (res->packs_adopted)
		printf(", %llu left by an interrupted sync reused", (unsigned long long)res->packs_adopted);
	if (dry)
		printf("; %s to copy\n", need);
	else
		printf("; %s read, %s written in %s\n", rd, wr, t);
	if (res->removed || res->kept_protected)
		printf("  %llu snapshot%s %s, %llu protected kept\n", (unsigned long long)res->removed,
		       res->removed == 1 ? "" : "s", dry ? "would be removed" : "removed",
		       (unsigned long long)res->kept_protected);
	printf("the destination %s %llu snapshot%s\n", dry ? "would hold" : "holds",
	       (unsigned long long)res->at_destination, res->at_destination == 1 ? "" : "s");
}

typedef struct {
	char **problems;
	size_t n;
} problems;

static void on_problem(void *ud, const char *msg)
{
	problems *p = ud;
	if (strlist_add(&p->problems, &p->n, msg) < 0)
		log_error("%s", msg);
}

/* check --read-data of the new packs, through a fresh handle (its index names them). */
static int verify(const cli_ctx *ctx, const sync_args *a, const char *pass, const sync_result *res,
		  check_result *cr, problems *pb, backend_requests *req, const backend_requests **out_req)
{
	repo *d = NULL;
	check_opts o;
	memset(&o, 0, sizeof(o));
	o.problem = on_problem;
	o.ud = pb;
	o.threads = a->o.threads; /* --threads bounds the verify as it does the copy */
	int rc = cli_open_url(ctx, a->to, "read", CLI_TOLERANT | (pass ? 0 : CLI_KEYLESS), pass, &d);
	rc = rc ?: sync_verify(d, res, &o, cr);
	*out_req = d ? cli_requests(d, req) : NULL;
	repo_free(d);
	return rc;
}

int cmd_sync(cli_ctx *ctx, int argc, char **argv)
{
	sync_args a;
	memset(&a, 0, sizeof(a));
	int ex = parse(ctx, argc, argv, &a);
	if (ex >= 0) {
		args_release(&a);
		return ex;
	}
	/* the password only where names must be read */
	char *pass = NULL;
	int rc = syncsel_needs_key(&a.o) ? cli_password(ctx, 0, &pass) : 0;
	if (rc < 0)
		rc = err_set(rc, "--host, --path and --tag need the password of the source (host names, paths and tags are encrypted): %s",
			     err_msg(rc));
	repo *src = NULL, *dst = NULL;
	rc = rc ?: cli_open_url(ctx, a.from, "read", CLI_SOURCE | (pass ? 0 : CLI_KEYLESS), pass, &src);
	if (rc == 0) {
		rc = cli_open_url(ctx, a.to, a.o.dry_run ? "read" : "backup", pass ? 0 : CLI_KEYLESS,
				  pass, &dst);
		if (rc < 0)
			rc = destination_error(rc, a.to, 1);
	}
	/* before anything is copied: a mirror that could not remove would be half done */
	if (rc == 0 && a.o.remove_vanished && !a.o.dry_run)
		rc = cli_check_may_remove(dst, "--remove-vanished",
					  "; nothing was copied or removed (without --remove-vanished sync copies and removes nothing)");
	if (rc < 0) {
		repo_free(src);
		repo_free(dst);
		free(pass);
		args_release(&a);
		return cli_fail(rc);
	}
	job_progress prog = { 0 };
	progress_display *pd = NULL;
	a.o.progress = &prog;
	progress_start(&pd, &prog, a.o.dry_run ? "planning" : "syncing", ctx->progress);
	interrupt_install();
	sync_result res;
	rc = sync_run(src, dst, &a.o, &res);
	progress_stop(pd);
	repo_free(src);
	repo_free(dst);
	if (rc < 0 && rc != -DV_ECORRUPT)
		rc = destination_error(rc, a.to, 0);
	int skipped_only = rc == -DV_ECORRUPT && res.skipped;
	check_result cr;
	problems pb = { NULL, 0 };
	int vrc = 0, verified = 0;
	backend_requests vreq_n;
	const backend_requests *vreq = NULL;
	memset(&cr, 0, sizeof(cr));
	if (a.verify && (rc == 0 || skipped_only)) {
		vrc = verify(ctx, &a, pass, &res, &cr, &pb, &vreq_n, &vreq);
		verified = 1;
	}
	char errbuf[900] = "", verrbuf[900] = "";
	if (rc < 0)
		snprintf(errbuf, sizeof(errbuf), "%s", err_msg(rc));
	if (vrc < 0)
		snprintf(verrbuf, sizeof(verrbuf), "%s", err_msg(vrc));
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		json_obj_begin(&j);
		report_sync_fields(&j, &res, a.from, a.to, a.o.dry_run, rc < 0 ? errbuf : NULL);
		json_key(&j, "verify");
		if (verified) {
			json_obj_begin(&j);
			json_key(&j, "affected");
			json_arr_begin(&j);
			/* closes the array and the object */
			report_check_result(&j, &cr, pb.problems, pb.n, vrc < 0 ? verrbuf : NULL, vreq);
		} else {
			json_null(&j);
		}
		json_obj_end(&j);
		json_finish(&j);
	} else if (!ctx->quiet && (rc == 0 || skipped_only)) {
		print_text(&res, &a);
	}
	if (verified && !ctx->json) {
		for (size_t i = 0; i < pb.n; i++)
			log_error("verify: %s", pb.problems[i]);
		if (vrc < 0)
			log_error("verify: %s", verrbuf);
		else if (!ctx->quiet && !cr.problems) {
			char b[32];
			cli_human_bytes(b, cr.bytes_read);
			printf("verified %llu new pack%s (%llu blobs, %s) read back from %s: no problems\n",
			       (unsigned long long)cr.packs_read, cr.packs_read == 1 ? "" : "s",
			       (unsigned long long)cr.blobs_read, b, a.to);
		}
	}
	strlist_free(pb.problems, pb.n);
	sync_result_release(&res);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	args_release(&a);
	if (rc < 0 && !ctx->json && !skipped_only)
		return cli_fail(rc);
	if (rc < 0 && skipped_only && !ctx->json)
		log_error("%s", errbuf);
	if (rc == -EINTR)
		interrupt_reraise();
	if (rc < 0 || vrc < 0)
		return EXIT_FAIL;
	return verified && cr.problems ? EXIT_DAMAGE : EXIT_OK;
}
