/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/idmap.h"
#include "../base/strlist.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../jobs/forget.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_forget_usage[] =
	"usage: dvalin forget -r REPO [ID...] [POLICY] [--group-by host,paths,tags]\n"
	"                     [--dry-run] [--prune [--max-unused P%]] [--json]\n\n"
	"Remove snapshots: those named, or those a retention policy does not keep.\n"
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
	"Rules run from the finest (last) to the coarsest (yearly); a period that\n"
	"already holds a kept snapshot does not count toward a coarser rule.\n"
	"Protected snapshots are always kept.  See dvalin(1) for a worked example.\n\n"
	"Options:\n"
	"      --group-by LIST    apply the policy per group of snapshots with the same\n"
	"                         host, paths and/or tags (default host,paths; '' = one group)\n"
	"      --host H           only snapshots of host H\n"
	"  -n, --dry-run          print each snapshot's fate and the rule that decided it\n"
	"      --prune            run prune afterwards\n"
	"      --max-unused P%    for --prune (default 5%)\n"
	"      --json             print the decisions as JSON\n";

const char cmd_protect_usage[] =
	"usage: dvalin protect -r REPO ID...\n\n"
	"Protect snapshots: forget never removes a protected snapshot, whatever the\n"
	"policy, until 'dvalin unprotect' is run.\n";

const char cmd_unprotect_usage[] =
	"usage: dvalin unprotect -r REPO ID...\n\n"
	"Remove the protection of snapshots (see 'dvalin protect').\n";

enum { G_HOST = 1, G_PATHS = 2, G_TAGS = 4 };

typedef struct {
	forget_policy pol;
	char **keep_tags;
	size_t nkeep_tags;
	int group_by;
	const char *host;
	int dry, prune;
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
			g |= G_HOST;
		else if (strcmp(t, "paths") == 0)
			g |= G_PATHS;
		else if (strcmp(t, "tags") == 0)
			g |= G_TAGS;
		else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	*out = g;
	return 0;
}

static int parse_count(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || v > 1000000)
		return -1;
	*out = (int)v;
	return 0;
}

/* The group key: the selected fields, NUL-separated lists joined by '\n'. */
static int group_key(buf *out, const snapshot *s, int g)
{
	out->len = 0;
	int rc = 0;
	if (g & G_HOST)
		rc = rc ?: buf_append(out, s->host, strlen(s->host) + 1);
	rc = rc ?: buf_append(out, "\n", 1);
	for (size_t i = 0; (g & G_PATHS) && rc == 0 && i < s->npaths; i++)
		rc = buf_append(out, s->paths[i], strlen(s->paths[i]) + 1);
	rc = rc ?: buf_append(out, "\n", 1);
	for (size_t i = 0; (g & G_TAGS) && rc == 0 && i < s->ntags; i++)
		rc = buf_append(out, s->tags[i], strlen(s->tags[i]) + 1);
	return rc;
}

typedef struct {
	snapshot *s;
	buf key;
	forget_item it;
} entry;

static int cmp_entry(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
	int c = memcmp(x->key.data, y->key.data, n);
	if (c || x->key.len != y->key.len)
		return c ? c : (x->key.len < y->key.len ? -1 : 1);
	/* newest first */
	if (x->s->time != y->s->time)
		return x->s->time > y->s->time ? -1 : 1;
	if (x->s->time_nsec != y->s->time_nsec)
		return x->s->time_nsec > y->s->time_nsec ? -1 : 1;
	return memcmp(x->s->id, y->s->id, 32);
}

static int same_group(const entry *a, const entry *b)
{
	return a->key.len == b->key.len && memcmp(a->key.data, b->key.data, a->key.len) == 0;
}

static void print_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", v[i]);
}

static void print_group_head(const cli_ctx *ctx, json *j, const entry *e, int g)
{
	const snapshot *s = e->s;
	if (ctx->json) {
		json_obj_begin(j);
		json_key(j, "host");
		if (g & G_HOST)
			json_str(j, s->host);
		else
			json_null(j);
		json_key(j, "paths");
		json_arr_begin(j);
		for (size_t i = 0; (g & G_PATHS) && i < s->npaths; i++)
			json_str(j, s->paths[i]);
		json_arr_end(j);
		json_key(j, "tags");
		json_arr_begin(j);
		for (size_t i = 0; (g & G_TAGS) && i < s->ntags; i++)
			json_str(j, s->tags[i]);
		json_arr_end(j);
		json_key(j, "snapshots");
		json_arr_begin(j);
		return;
	}
	if (ctx->quiet)
		return;
	printf("group:");
	if (g & G_HOST)
		printf(" host %s", s->host);
	if (g & G_PATHS) {
		printf(" paths ");
		print_strs(s->paths, s->npaths);
	}
	if (g & G_TAGS) {
		printf(" tags ");
		print_strs(s->tags, s->ntags);
	}
	printf("\n");
}

static void print_decision(const cli_ctx *ctx, json *j, const entry *e)
{
	char hex[65], when[40];
	hex_encode(hex, e->s->id, 32);
	snapshot_format_time(when, e->s);
	int keep = e->it.rule != RULE_NONE;
	if (ctx->json) {
		json_obj_begin(j);
		json_key(j, "id"); json_str(j, hex);
		json_key(j, "short_id"); json_strn(j, hex, 8);
		json_key(j, "time"); json_str(j, when);
		json_key(j, "action"); json_str(j, keep ? "keep" : "remove");
		json_key(j, "rule");
		if (keep)
			json_str(j, forget_rule_name(e->it.rule));
		else
			json_null(j);
		if (e->it.rank) {
			json_key(j, "rank");
			json_uint(j, (uint64_t)e->it.rank);
		}
		json_obj_end(j);
		return;
	}
	if (ctx->quiet)
		return;
	printf("  %-6s  %.8s  %s", keep ? "keep" : "remove", hex, when);
	if (keep && e->it.rank)
		printf("  %s #%d", forget_rule_name(e->it.rule), e->it.rank);
	else if (keep)
		printf("  %s", forget_rule_name(e->it.rule));
	printf("\n");
}

static int has_any_tag(const snapshot *s, char **tags, size_t n)
{
	for (size_t i = 0; i < s->ntags; i++)
		for (size_t k = 0; k < n; k++)
			if (strcmp(s->tags[i], tags[k]) == 0)
				return 1;
	return 0;
}

/* Applies the policy group by group; removes (unless dry) and reports. */
static int by_policy(cli_ctx *ctx, repo *r, snapshot **v, size_t n, const forget_args *a,
		     const idmap *prot, size_t *removed)
{
	_cleanup_free_ entry *e = calloc(n + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	size_t m = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (a->host && strcmp(v[i]->host, a->host) != 0)
			continue;
		e[m].s = v[i];
		e[m].it.time = v[i]->time;
		e[m].it.tz_offset = v[i]->tz_offset;
		e[m].it.is_protected = idmap_get(prot, v[i]->id) != NULL;
		e[m].it.has_keep_tag = has_any_tag(v[i], a->keep_tags, a->nkeep_tags);
		rc = group_key(&e[m].key, v[i], a->group_by);
		m++;
	}
	if (rc == 0 && m)
		qsort(e, m, sizeof(*e), cmp_entry);
	json j;
	if (ctx->json) {
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "dry_run"); json_bool(&j, a->dry);
		json_key(&j, "groups");
		json_arr_begin(&j);
	}
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; rc == 0 && i < m;) {
		size_t k = i;
		while (k < m && same_group(&e[i], &e[k]))
			k++;
		_cleanup_free_ forget_item *items = calloc(k - i, sizeof(*items));
		if (!items) {
			rc = -ENOMEM;
			break;
		}
		for (size_t x = i; x < k; x++)
			items[x - i] = e[x].it;
		if ((rc = forget_apply(items, k - i, &a->pol, now)) < 0)
			break;
		print_group_head(ctx, &j, &e[i], a->group_by);
		for (size_t x = i; x < k; x++) {
			e[x].it = items[x - i];
			print_decision(ctx, &j, &e[x]);
			if (e[x].it.rule != RULE_NONE)
				continue;
			if (a->dry) {
				(*removed)++;
				continue;
			}
			int f = repo_forget_snapshot(r, e[x].s->id);
			if (f < 0) {
				log_error("%s", err_msg(f));
				rc = f;
			} else {
				(*removed)++;
			}
		}
		if (ctx->json) {
			json_arr_end(&j);
			json_obj_end(&j);
		}
		i = k;
	}
	if (ctx->json) {
		json_arr_end(&j);
		json_key(&j, "removed"); json_uint(&j, *removed);
		json_obj_end(&j);
		json_finish(&j);
	}
	for (size_t i = 0; i < m; i++)
		buf_release(&e[i].key);
	return rc;
}

/* Resolves an id prefix among the loaded snapshots. */
static int resolve(snapshot **v, size_t n, const char *spec, snapshot **out)
{
	size_t hits = 0;
	if (!hex_is_prefix(spec, 64))
		return err_set(-DV_EUSAGE, "invalid snapshot id '%s'", spec);
	for (size_t i = 0; i < n; i++) {
		char hex[65];
		hex_encode(hex, v[i]->id, 32);
		if (strncasecmp(hex, spec, strlen(spec)) == 0) {
			*out = v[i];
			hits++;
		}
	}
	if (hits == 0)
		return err_set(-DV_ENOTFOUND, "no snapshot matches '%s'", spec);
	if (hits > 1)
		return err_set(-DV_EAMBIG, "snapshot id prefix '%s' is ambiguous", spec);
	return 0;
}

static int by_ids(cli_ctx *ctx, repo *r, snapshot **v, size_t n, char **ids, size_t nids,
		  int dry, size_t *removed)
{
	int rc = 0;
	for (size_t i = 0; i < nids; i++) {
		snapshot *s = NULL;
		int f = resolve(v, n, ids[i], &s);
		if (f == 0 && !dry)
			f = repo_forget_snapshot(r, s->id);
		if (f < 0) {
			log_error("%s", err_msg(f));
			rc = rc ?: f;
			continue;
		}
		char hex[65];
		hex_encode(hex, s->id, 32);
		if (!ctx->quiet && !ctx->json)
			printf("%s %.8s\n", dry ? "would remove" : "removed", hex);
		(*removed)++;
	}
	return rc;
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
		{ "host", required_argument, NULL, 'H' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "prune", no_argument, NULL, 'p' },
		{ "max-unused", required_argument, NULL, 'u' },
		{ 0 },
	};
	static const char rules[] = "lhdwmy";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
		const char *rp = c ? strchr(rules, c) : NULL;
		if (rp) {
			if (parse_count(optarg, &a->pol.keep[rp - rules]) < 0)
				return cli_usage_error(ctx, "invalid count '%s' for %s", optarg, argv[optind - 1]);
		} else if (c == 'W') {
			if (forget_parse_duration(optarg, &a->pol.within_s) < 0)
				return cli_usage_error(ctx, "invalid duration '%s' (expected e.g. 30d, 12h, 2w, 6m, 1y)", optarg);
		} else if (c == 'T') {
			if (strlist_add(&a->keep_tags, &a->nkeep_tags, optarg) < 0)
				return EXIT_FAIL;
		} else if (c == 'g') {
			if (parse_group_by(optarg, &a->group_by) < 0)
				return cli_usage_error(ctx, "invalid --group-by '%s' (a list of host, paths, tags)", optarg);
		} else if (c == 'H') {
			a->host = optarg;
		} else if (c == 'n') {
			a->dry = 1;
		} else if (c == 'p') {
			a->prune = 1;
		} else if (c == 'u') {
			if (cli_parse_percent(optarg, &a->max_unused) < 0)
				return cli_usage_error(ctx, "invalid --max-unused '%s'", optarg);
		} else {
			return cli_usage_error(ctx, "unknown option");
		}
	}
	return -1;
}

int cmd_forget(cli_ctx *ctx, int argc, char **argv)
{
	forget_args a;
	memset(&a, 0, sizeof(a));
	forget_policy_init(&a.pol);
	a.group_by = G_HOST | G_PATHS;
	a.max_unused = 0.05;
	int ex = parse_forget_args(ctx, argc, argv, &a);
	if (ex >= 0) {
		strlist_free(a.keep_tags, a.nkeep_tags);
		return ex;
	}
	char **ids = argv + optind;
	size_t nids = (size_t)(argc - optind);
	int policy = !forget_policy_empty(&a.pol) || a.nkeep_tags;
	if (nids && policy)
		ex = cli_usage_error(ctx, "give snapshot ids or a policy, not both");
	else if (!nids && !policy)
		ex = cli_usage_error(ctx, "no snapshot ids and no --keep-* rule: refusing to remove every snapshot");
	if (ex >= 0) {
		strlist_free(a.keep_tags, a.nkeep_tags);
		return ex;
	}
	repo *r;
	snapshot **v = NULL;
	size_t n = 0, damaged = 0, removed = 0;
	idmap prot = IDMAP_INIT;
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0) {
		strlist_free(a.keep_tags, a.nkeep_tags);
		return cli_fail(rc);
	}
	rc = repo_load_snapshots(r, &v, &n, &damaged);
	rc = rc ?: repo_load_protected(r, &prot);
	if (rc == 0 && damaged)
		log_warn("%s (%zu damaged snapshot file(s) left alone)", err_msg(0), damaged);
	if (rc == 0)
		rc = nids ? by_ids(ctx, r, v, n, ids, nids, a.dry, &removed)
			  : by_policy(ctx, r, v, n, &a, &prot, &removed);
	if (rc == 0 && !ctx->json && !ctx->quiet)
		printf("%zu snapshot%s %s\n", removed, removed == 1 ? "" : "s",
		       a.dry ? "would be removed" : "removed");
	repo_free_snapshots(v, n);
	idmap_release(&prot);
	repo_free(r);
	strlist_free(a.keep_tags, a.nkeep_tags);
	if (rc < 0) {
		if (nids)
			return EXIT_FAIL; /* each failure was reported */
		return cli_fail(rc);
	}
	if (a.prune && !a.dry) {
		if (ctx->json) /* one JSON document per command */
			ctx->quiet = 1;
		int saved = ctx->json;
		ctx->json = 0;
		int p = cli_run_prune(ctx, a.max_unused, 0);
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
		rc = repo_find_snapshot(r, argv[i], &s);
		rc = rc ?: repo_set_protected(r, s->id, on);
		if (rc < 0) {
			log_error("%s", err_msg(rc));
			ex = EXIT_FAIL;
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
