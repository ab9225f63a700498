/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/log.h"
#include "../jobs/unlock.h"

#include <getopt.h>
#include <stdio.h>
#include <time.h>

const char cmd_unlock_usage[] =
	"usage: dvalin unlock -r REPO [--remove-all]\n\n"
	"Remove the leases (locks/) of dvalin processes that are gone: those of this\n"
	"host whose process is not running, and those nothing refreshed for the lease\n"
	"expiry plus the clock skew (DVALIN_LEASE_EXPIRY, DVALIN_CLOCK_SKEW), the rule\n"
	"prune applies.  Leases never stop a backup; a stale one only keeps prune from\n"
	"deleting sooner, and prune removes stale ones itself.  Needs no password.\n\n"
	"Options:\n"
	"      --remove-all   remove every lease, also of processes that may be running:\n"
	"                     a running prune or backup then fails at its next check\n"
	"                     instead of finishing (nothing committed is lost); for a\n"
	"                     lease this host cannot judge, such as one of a host that\n"
	"                     is gone for good\n";

static void on_lease(void *ud, const lease_info *l, int what, const char *why)
{
	const cli_ctx *ctx = ud;
	if (ctx->quiet)
		return;
	static const char *const verb[] = { "removed", "kept", "removed" };
	char when[32] = "?";
	time_t t = (time_t)(l->start_ns / 1000000000);
	struct tm tm;
	if (!l->damaged && localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (l->damaged)
		printf("%s %s (damaged): %s\n", verb[what], l->name, why);
	else
		printf("%s %s (%s, host %s, pid %ld, since %s): %s\n", verb[what], l->name, l->kind,
		       l->host, l->pid, when, why);
}

int cmd_unlock(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "remove-all", no_argument, NULL, 'a' }, { 0 } };
	unlock_opts o = { 0, on_lease, ctx };
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			o.remove_all = 1;
		else
			return cli_option_error(ctx);
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	repo *r;
	int rc = cli_open_repo_as(ctx, NULL, CLI_KEYLESS, &r);
	if (rc < 0)
		return cli_fail(rc);
	unlock_result res;
	rc = unlock_run(r, &o, &res);
	repo_free(r);
	if (rc < 0)
		return cli_fail(rc);
	if (res.live_removed)
		log_warn("removed %zu lease%s of processes that may still be running (--remove-all): a running prune or backup fails at its next check",
			 res.live_removed, res.live_removed == 1 ? "" : "s");
	if (!ctx->quiet)
		printf("%zu stale lease%s removed, %zu live kept, %zu live removed\n", res.stale_removed,
		       res.stale_removed == 1 ? "" : "s", res.live_kept, res.live_removed);
	return res.failed ? EXIT_FAIL : EXIT_OK;
}
