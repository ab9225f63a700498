/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../jobs/forget.h"
#include "../jobs/snapsel.h"
#include "../report/forget.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_forget_usage[] =
	"usage: dvalin forget -r REPO [SNAPSHOT...] [POLICY] [--group-by host,paths,tags]\n"
	"                     [--host H] [--path P] [--tag T] [--exact-path P...]\n"
	"                     [--allow-empty] [--dry-run] [--prune [--max-unused P%]]\n"
	"                     [--no-key] [--json]\n\n"
	"Remove snapshots: those named ('latest' or id prefixes), or those a retention\n"
	"policy does not keep.\n"
	"The data they used is freed by 'dvalin prune' (or --prune).\n\n"
	"Policy (at least one is needed to remove by policy):\n"
	"      --keep-last N      the N newest snapshots\n"
	"      --keep-hourly N    the newest snapshot of each of the last N hours\n"
	"      --keep-daily N     ... days\n"
	"      --keep-weekly N    ... ISO weeks (Monday to Sunday)\n"
	"      --keep-monthly N   ... months\n"
	"      --keep-yearly N    ... years\n"
	"      --keep-within D    every snapshot younger than D (e.g. 30d, 12h, 2w,\n"
	"                         6m, 1y, 1y6m; m = 31 days, y = 365 days)\n"
	"      --keep-tag T       every snapshot tagged T (repeatable)\n"
	"A count or duration of 0 is no rule.  Rules run from the finest (last) to\n"
	"the coarsest (yearly); a period that already holds a kept snapshot does not\n"
	"count toward a coarser rule.  Protected snapshots are always kept.  See\n"
	"dvalin(1) for a worked example.\n\n"
	"Safety: a --keep-tag that no snapshot carries is an error, and a policy that\n"
	"would remove every snapshot of a group is refused (nothing is removed)\n"
	"unless --allow-empty is given.\n\n"
	"Options:\n"
	"      --group-by LIST    apply the policy per group of snapshots with the same\n"
	"                         host, paths and/or tags (default host,paths; '' = one group)\n"
	CLI_SELECT_HELP
	"      --exact-path P     only snapshots whose set of paths is exactly the given\n"
	"                         ones (repeatable: the paths a backup was given)\n"
	"      --allow-empty      let the policy remove every snapshot of a group\n"
	"  -n, --dry-run          print each snapshot's fate and why (the rule that keeps\n"
	"                         it, or why no rule does), remove nothing\n"
	"      --no-key           without the password (a replica, a server): decide on\n"
	"                         the plaintext time and keyed group ids of each\n"
	"                         snapshot; groups are shown as '#' and an id.  The\n"
	"                         same rules keep the same snapshots; snapshots from\n"
	"                         before dvalin 0.2 carry neither and are kept;\n"
	"                         --host, --path, --tag, --exact-path and --keep-tag\n"
	"                         need the key\n"
	"      --prune            run prune afterwards\n"
	"      --max-unused P%    for --prune (default 5%)\n"
	"      --json             print the decisions as JSON (docs/json.md)\n";

const char cmd_protect_usage[] =
	"usage: dvalin protect -r REPO ID...\n\n"
	"Protect snapshots: forget never removes a protected snapshot, whatever the\n"
	"policy, until 'dvalin unprotect' is run.\n";

const char cmd_unprotect_usage[] =
	"usage: dvalin unprotect -r REPO ID...\n\n"
	"Remove the protection of snapshots (see 'dvalin protect').\n";

typedef struct {
	forget_opts o;
	snapsel_filter filter;
	char **keep_tags, **exact_paths;
	size_t nkeep_tags, nexact_paths;
	int prune;
	int keyless;
	int policy_only; /* an option that goes with a policy, not with ids, was given */
	double max_unused;
} forget_args;

static int parse_group_by(const char *s, int *out)
{
	int g = 0;
	char *copy = strdup(s), *save = NULL;
	if (!copy)
		return -1;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "host") == 0)
			g |= FORGET_GROUP_HOST;
		else if (strcmp(t, "paths") == 0)
			g |= FORGET_GROUP_PATHS;
		else if (strcmp(t, "tags") == 0)
			g |= FORGET_GROUP_TAGS;
		else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	*out = g;
	return 0;
}

/* A keep count; 0 means "no such rule" (as in restic), stored as -1. */
static int parse_count(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || v > 1000000)
		return -1;
	*out = v ? (int)v : -1;
	return 0;
}

/* Keyless names are "#" and 64 hex digits: 16 say enough to people. */
static void print_strs(const char *const *v, size_t n, int keyless)
{
	for (size_t i = 0; i < n; i++)
		printf("%s%.*s", i ? "," : "", keyless ? 17 : (int)strlen(v[i]), v[i]);
}

static void print_group(const forget_group *g, int group_by, int keyless)
{
	if (group_by) {
		printf("group:");
		if (group_by & FORGET_GROUP_HOST) {
			printf(" host ");
			print_strs(&g->host, 1, keyless);
		}
		if (group_by & FORGET_GROUP_PATHS) {
			printf(" paths ");
			print_strs(g->paths, g->npaths, keyless);
		}
		if (group_by & FORGET_GROUP_TAGS) {
			printf(" tags ");
			print_strs(g->tags, g->ntags, keyless);
		}
		printf("\n");
	}
	for (size_t i = 0; i < g->n; i++) {
		const forget_decision *d = &g->v[i];
		char hex[65], when[40], reason[256];
		hex_encode(hex, d->s->id, 32);
		snapshot_format_time(when, d->s);
		forget_reason(d, reason, sizeof(reason));
		printf("  %-6s  %.8s  %s  %s\n", d->it.rule != RULE_NONE ? "keep" : "remove", hex, when,
		       reason);
	}
}

static void print_text(const forget_result *res, int dry, int ids)
{
	for (size_t k = 0; !ids && k < res->ngroups; k++)
		print_group(&res->groups[k], res->group_by, res->keyless);
	for (size_t i = 0; ids && i < res->ndecisions; i++) {
		const forget_decision *d = &res->decisions[i];
		char hex[65], when[40];
		hex_encode(hex, d->s->id, 32);
		snapshot_format_time(when, d->s);
		if (dry || d->removed)
			printf("%s %.8s  %s  named on the command line\n", dry ? "would remove" : "removed",
			       hex, when);
	}
	size_t n = dry ? res->removals : res->removed;
	printf("%zu snapshot%s %s\n", n, n == 1 ? "" : "s", dry ? "would be removed" : "removed");
}

static int parse_forget_args(cli_ctx *ctx, int argc, char **argv, forget_args *a)
{
	static const struct option opts[] = {
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-hourly", required_argument, NULL, 'h' },
		{ "keep-daily", required_argument, NULL, 'd' },
		{ "keep-weekly", required_argument, NULL, 'w' },
		{ "keep-monthly", required_argument, NULL, 'm' },
		{ "keep-yearly", required_argument, NULL, 'y' },
		{ "keep-within", required_argument, NULL, 'W' },
		{ "keep-tag", required_argument, NULL, 'T' },
		{ "group-by", required_argument, NULL, 'g' },
		CLI_SELECT_OPTIONS,
		{ "exact-path", required_argument, NULL, 'P' },
		{ "allow-empty", no_argument, NULL, 'E' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "prune", no_argument, NULL, 'p' },
		{ "max-unused", required_argument, NULL, 'u' },
		{ "no-key", no_argument, NULL, 'k' },
		{ 0 },
	};
	static const char rules[] = "lhdwmy";
	int c, idx;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "n", opts, &idx)) != -1) {
		const char *rp = c ? strchr(rules, c) : NULL;
		if (rp) {
			if (parse_count(optarg, &a->o.pol.keep[rp - rules]) < 0)
				return cli_usage_error(ctx, "invalid count '%s' for --%s (0..1000000)", optarg,
						       opts[idx].name);
		} else if (c == 'W') {
			if (forget_parse_duration(optarg, &a->o.pol.within_s) < 0)
				return cli_usage_error(ctx, "invalid duration '%s' for --keep-within (expected e.g. 30d, 12h, 2w, 6m, 1y)", optarg);
		} else if (c == 'T') {
			if (strlist_add(&a->keep_tags, &a->nkeep_tags, optarg) < 0)
				return EXIT_FAIL;
		} else if (c == 'g') {
			if (parse_group_by(optarg, &a->o.group_by) < 0)
				return cli_usage_error(ctx, "invalid --group-by '%s' (a list of host, paths, tags)", optarg);
			a->policy_only = 1;
		} else if (c == SNAPSEL_OPT_HOST || c == SNAPSEL_OPT_PATH || c == SNAPSEL_OPT_TAG) {
			int rc = snapsel_filter_add(&a->filter, c, optarg);
			if (rc < 0)
				return cli_fail(rc);
		} else if (c == 'P') {
			char *p;
			int rc = snapsel_path_arg("exact-path", optarg, &p);
			rc = rc ?: strlist_add(&a->exact_paths, &a->nexact_paths, p);
			free(p);
			if (rc < 0)
				return cli_fail(rc);
			a->policy_only = 1;
		} else if (c == 'E') {
			a->o.allow_empty = 1;
			a->policy_only = 1;
		} else if (c == 'n') {
			a->o.dry_run = 1;
		} else if (c == 'p') {
			a->prune = 1;
		} else if (c == 'k') {
			a->keyless = 1;
		} else if (c == 'u') {
			if (cli_parse_percent(optarg, &a->max_unused) < 0)
				return cli_usage_error(ctx, "invalid --max-unused '%s'", optarg);
		} else {
			return cli_option_error(ctx);
		}
	}
	a->o.ids = argv + optind;
	a->o.nids = (size_t)(argc - optind);
	a->o.filter = &a->filter;
	a->o.keep_tags = a->keep_tags;
	a->o.nkeep_tags = a->nkeep_tags;
	a->o.exact_paths = a->exact_paths;
	a->o.nexact_paths = a->nexact_paths;
	int policy = !forget_policy_is_empty(&a->o.pol) || a->nkeep_tags;
	if (a->o.nids && policy)
		return cli_usage_error(ctx, "give snapshot ids or a policy, not both");
	if (!a->o.nids && !policy)
		return cli_usage_error(ctx, "no snapshot ids and no --keep-* rule (a count of 0 is no rule): refusing to remove every snapshot");
	if (a->o.nids && a->policy_only)
		return cli_usage_error(ctx, "--allow-empty, --exact-path and --group-by go with a policy, not with ids");
	return -1;
}

int cmd_forget(cli_ctx *ctx, int argc, char **argv)
{
	forget_args a;
	memset(&a, 0, sizeof(a));
	forget_policy_init(&a.o.pol);
	a.o.group_by = FORGET_GROUP_HOST | FORGET_GROUP_PATHS;
	a.max_unused = 0.05;
	int ex = parse_forget_args(ctx, argc, argv, &a);
	if (ex >= 0) {
		strlist_free(a.keep_tags, a.nkeep_tags);
		strlist_free(a.exact_paths, a.nexact_paths);
		snapsel_filter_release(&a.filter);
		return ex;
	}
	const char *need = a.keyless ? forget_needs_key(&a.o) : NULL;
	if (need) {
		strlist_free(a.keep_tags, a.nkeep_tags);
		strlist_free(a.exact_paths, a.nexact_paths);
		snapsel_filter_release(&a.filter);
		return cli_usage_error(ctx, "%s needs the key: host names, paths and tags are encrypted%s", need,
				       a.nkeep_tags ? " (use protect instead of --keep-tag)" : "");
	}
	repo *r;
	int rc = cli_open_repo_as(ctx, "read", a.keyless ? CLI_KEYLESS : 0, &r);
	if (rc < 0) {
		strlist_free(a.keep_tags, a.nkeep_tags);
		strlist_free(a.exact_paths, a.nexact_paths);
		snapsel_filter_release(&a.filter);
		return cli_fail(rc);
	}
	a.o.now = (int64_t)time(NULL);
	forget_result res;
	rc = forget_run(r, &a.o, &res);
	backend_requests req_n;
	const backend_requests *req = cli_requests(r, &req_n);
	repo_free(r);
	/* a refused plan is still shown by a dry run: it says what the policy would do */
	int show = rc == 0 || (rc == -ECANCELED && a.o.dry_run);
	if (show && ctx->json) {
		json j;
		json_init(&j, stdout);
		report_forget(&j, &res, a.o.dry_run, req);
		json_finish(&j);
	} else if (show && !ctx->quiet) {
		print_text(&res, a.o.dry_run, a.o.nids > 0);
	}
	size_t failed = res.failed;
	forget_result_release(&res);
	strlist_free(a.keep_tags, a.nkeep_tags);
	strlist_free(a.exact_paths, a.nexact_paths);
	snapsel_filter_release(&a.filter);
	if (rc == -ECANCELED)
		rc = err_set(rc, "%s (--allow-empty allows it)", err_msg(rc));
	if (rc < 0)
		return cli_fail(rc);
	if (failed)
		return EXIT_FAIL; /* each failure was reported */
	if (a.prune && !a.o.dry_run) {
		if (ctx->json) /* one JSON document per command */
			ctx->quiet = 1;
		int saved = ctx->json;
		ctx->json = 0;
		int p = cli_run_prune(ctx, a.max_unused, 0, 0);
		ctx->json = saved;
		return p;
	}
	return EXIT_OK;
}

static int set_protection(cli_ctx *ctx, int argc, char **argv, int on)
{
	if (argc < 2)
		return cli_usage_error(ctx, "no snapshot id given");
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-')
			return cli_usage_error(ctx, "unknown option '%s'", argv[i]);
	repo *r;
	int rc = cli_open_repo(ctx, &r), ex = EXIT_OK;
	if (rc < 0)
		return cli_fail(rc);
	for (int i = 1; i < argc; i++) {
		snapshot *s = NULL;
		rc = snapsel_find(r, NULL, argv[i], &s, NULL);
		rc = rc ?: repo_set_protected(r, s->id, on);
		if (rc < 0) {
			int e = cli_fail(rc);
			ex = ex > e ? ex : e;
		} else if (!ctx->quiet) {
			char hex[65];
			hex_encode(hex, s->id, 32);
			printf("%s %.8s\n", on ? "protected" : "unprotected", hex);
		}
		snapshot_free(s);
	}
	repo_free(r);
	return ex;
}

int cmd_protect(cli_ctx *ctx, int argc, char **argv)
{
	return set_protection(ctx, argc, argv, 1);
}

int cmd_unprotect(cli_ctx *ctx, int argc, char **argv)
{
	return set_protection(ctx, argc, argv, 0);
}
