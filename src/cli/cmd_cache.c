/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cache: list and remove the local metadata caches of remote
 * repositories (backend/cachedir.h says what a cache directory is, and
 * how one in use is told apart and kept).
 */
#include "cli.h"
#include "../backend/backend.h"
#include "../backend/cachedir.h"
#include "../base/err.h"
#include "../base/log.h"
#include "../base/num.h"
#include "../report/cache.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_cache_usage[] =
	"usage: dvalin cache [--no-size]\n"
	"       dvalin cache --cleanup [--max-age DAYS] [--no-size]\n"
	"       dvalin cache --remove ID | --all [--no-size]\n\n"
	"List, or remove, the local caches of remote repositories (https://, ssh://,\n"
	"s3://): their index files, snapshots and tree packs, kept so that they cross\n"
	"the network once.  Each is a directory named by the repository id in\n"
	"$XDG_CACHE_HOME/dvalin (else ~/.cache/dvalin), tagged with a CACHEDIR.TAG; only\n"
	"such directories are listed or removed, never a symlink or anything else.\n"
	"Removing a cache loses nothing: the next command fetches again what it needs.\n"
	"A cache that a running dvalin process has open is kept.\n\n"
	"Options:\n"
	"      --cleanup          remove the caches not used for more than --max-age days\n"
	"      --max-age DAYS     the age for --cleanup (default 30)\n"
	"      --remove ID        remove the cache of one repository (a unique id prefix)\n"
	"      --all              remove every cache (but those in use)\n"
	"      --no-size          do not count the caches' sizes (faster for large ones)\n"
	"      --json             {root, caches, untagged, others}; for a removal {root,\n"
	"                         removed, kept} (docs/json.md, \"Caches\")\n";

enum { LIST, CLEANUP, REMOVE, ALL, DONE /* removed, said so */ };
enum { OPT_CLEANUP = 1000, OPT_MAX_AGE, OPT_REMOVE, OPT_ALL, OPT_NO_SIZE };

#define DEFAULT_MAX_AGE_DAYS 30u /* restic's */

/* "2026-12-02 04:10" in local time, into out[32]. */
static void local_time(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M", &tm))
		snprintf(out, 32, "?");
}

static int64_t age_days(const cachedir_entry *e, int64_t now)
{
	return e->last_used < now ? (now - e->last_used) / 86400 : 0;
}

static void size_text(char out[32], const cachedir_entry *e)
{
	if (e->sized)
		cli_human_bytes(out, e->size);
	else
		snprintf(out, 32, "-");
}

static void print_list(const cachedir_list *l, const char *root, int sized)
{
	int64_t now = time(NULL);
	uint64_t total = 0;
	if (l->n)
		printf("%-8s  %-16s  %8s  %10s  %s\n", "ID", "LAST USED", "AGE", "SIZE", "LOCATION");
	for (size_t i = 0; i < l->n; i++) {
		const cachedir_entry *e = &l->v[i];
		char when[32], size[32], age[32];
		local_time(when, e->last_used);
		size_text(size, e);
		snprintf(age, sizeof(age), "%lld d", (long long)age_days(e, now));
		printf("%-8.8s  %-16s  %8s  %10s  %s%s\n", e->id, when, age, size,
		       e->location ? e->location : "(not recorded)", e->in_use ? "  (in use)" : "");
		total = e->size > UINT64_MAX - total ? UINT64_MAX : total + e->size;
	}
	char sum[40] = "";
	if (sized && l->n) {
		char b[32];
		cli_human_bytes(b, total);
		snprintf(sum, sizeof(sum), " (%s)", b);
	}
	printf("%zu cache%s%s in %s\n", l->n, l->n == 1 ? "" : "s", sum, root);
	if (l->untagged)
		printf("%zu director%s named by a repository id but without dvalin's CACHEDIR.TAG\n"
		       "  (an older dvalin's caches, tagged when next used): never touched; remove by hand\n",
		       l->untagged, l->untagged == 1 ? "y" : "ies");
	if (l->others)
		printf("%zu other entr%s in it %s not a dvalin cache: never touched\n", l->others,
		       l->others == 1 ? "y" : "ies", l->others == 1 ? "is" : "are");
}

/* What a removal chose, and what became of each. */
typedef struct {
	size_t *chosen, nchosen;
	size_t *removed, nremoved;
	size_t *kept, nkept;
	char **reasons;
	int *busy;  /* kept[i] is in use (else it failed, and the error was logged) */
	int failed; /* a cache asked for stayed, or could not be removed */
} removal;

static void removal_release(removal *m)
{
	for (size_t i = 0; i < m->nkept; i++)
		free(m->reasons[i]);
	free(m->reasons);
	free(m->busy);
	free(m->chosen);
	free(m->removed);
	free(m->kept);
}

/* The index of the one cache whose id starts with prefix: 0, -DV_ENOTFOUND or -DV_EAMBIG (message set). */
static int find_prefix(const cachedir_list *l, const char *prefix, size_t *out)
{
	size_t n = 0, len = strlen(prefix);
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->v[i].id, prefix, len) == 0) {
			if (n++ == 0)
				*out = i;
			if (strcmp(l->v[i].id, prefix) == 0) /* the whole id wins */
				return *out = i, 0;
		}
	if (n == 1)
		return 0;
	if (n == 0)
		return -DV_ENOTFOUND;
	return err_set(-DV_EAMBIG, "cache id prefix '%s' matches %zu caches: give more of the id",
		       prefix, n);
}

/* The caches mode names, into m->chosen: 0 or < 0 (message set). */
static int choose(removal *m, const cachedir_list *l, int mode, uint32_t max_age, const char *id)
{
	m->chosen = calloc(l->n ? l->n : 1, sizeof(size_t));
	if (!m->chosen)
		return -ENOMEM;
	int64_t now = time(NULL);
	if (mode == REMOVE) {
		int r = find_prefix(l, id, &m->chosen[0]);
		m->nchosen = r == 0;
		return r == -DV_ENOTFOUND ? 0 : r;
	}
	for (size_t i = 0; i < l->n; i++)
		if (mode == ALL || cachedir_is_old(l->v[i].last_used, now, max_age))
			m->chosen[m->nchosen++] = i;
	return 0;
}

/* Removes the chosen caches, noting which went and which stayed (and why). */
static int run_removal(removal *m, const cachedir_list *l, const char *root, int mode)
{
	m->removed = calloc(m->nchosen ? m->nchosen : 1, sizeof(size_t));
	m->kept = calloc(m->nchosen ? m->nchosen : 1, sizeof(size_t));
	m->reasons = calloc(m->nchosen ? m->nchosen : 1, sizeof(char *));
	m->busy = calloc(m->nchosen ? m->nchosen : 1, sizeof(int));
	if (!m->removed || !m->kept || !m->reasons || !m->busy)
		return -ENOMEM;
	for (size_t i = 0; i < m->nchosen; i++) {
		size_t k = m->chosen[i];
		int r = cachedir_remove(root, l->v[k].id);
		if (r == 0 || r == -DV_ENOTFOUND) { /* not found: removed meanwhile */
			err_clear();
			m->removed[m->nremoved++] = k;
			continue;
		}
		/* in use is what --cleanup expects; anything else was asked for and not done */
		if (r != -EBUSY || mode != CLEANUP)
			m->failed = 1;
		if (r != -EBUSY)
			log_error("%s", err_msg(r));
		m->busy[m->nkept] = r == -EBUSY;
		m->reasons[m->nkept] = strdup(err_msg(r));
		m->kept[m->nkept++] = k;
		err_clear();
	}
	return 0;
}

static void print_removal(const removal *m, const cachedir_list *l, int mode, uint32_t max_age,
			  int sized)
{
	int64_t now = time(NULL);
	uint64_t freed = 0;
	for (size_t i = 0; i < m->nremoved; i++) {
		const cachedir_entry *e = &l->v[m->removed[i]];
		char when[32], size[32];
		local_time(when, e->last_used);
		size_text(size, e);
		printf("removed %.8s  %s, last used %s (%lld d ago), %s\n", e->id,
		       e->location ? e->location : "(location not recorded)", when,
		       (long long)age_days(e, now), size);
		freed = e->size > UINT64_MAX - freed ? UINT64_MAX : freed + e->size;
	}
	for (size_t i = 0; i < m->nkept; i++)
		if (m->busy[i]) /* the others were errors, on stderr */
			printf("%s: kept\n", m->reasons[i] ? m->reasons[i] : l->v[m->kept[i]].id);
	if (mode == CLEANUP && m->nchosen == 0) {
		printf("no cache unused for more than %u day%s (of %zu)\n", max_age, max_age == 1 ? "" : "s",
		       l->n);
		return;
	}
	char b[40] = "";
	if (sized) {
		char h[32];
		cli_human_bytes(h, freed);
		snprintf(b, sizeof(b), " (%s)", h);
	}
	printf("%zu cache%s removed%s, %zu kept\n", m->nremoved, m->nremoved == 1 ? "" : "s", b,
	       l->n - m->nremoved);
}

static int parse_days(const cli_ctx *ctx, const char *s, uint32_t *out)
{
	const char *end;
	uint64_t v;
	if (num_parse_u64(s, &end, &v) < 0 || *end || v > CACHEDIR_MAX_AGE_DAYS)
		return cli_usage_error(ctx, "invalid --max-age '%s': a number of days, 0 to %u", s,
				       CACHEDIR_MAX_AGE_DAYS);
	*out = (uint32_t)v;
	return 0;
}

int cmd_cache(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cleanup", no_argument, NULL, OPT_CLEANUP },
		{ "max-age", required_argument, NULL, OPT_MAX_AGE },
		{ "remove", required_argument, NULL, OPT_REMOVE },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "no-size", no_argument, NULL, OPT_NO_SIZE },
		{ 0 },
	};
	int mode = LIST, modes = 0, sized = 1, c;
	uint32_t max_age = DEFAULT_MAX_AGE_DAYS;
	const char *id = NULL, *max_age_arg = NULL;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CLEANUP: mode = CLEANUP; modes++; break;
		case OPT_REMOVE: mode = REMOVE; modes++; id = optarg; break;
		case OPT_ALL: mode = ALL; modes++; break;
		case OPT_MAX_AGE: max_age_arg = optarg; break;
		case OPT_NO_SIZE: sized = 0; break;
		default: return cli_option_error(ctx);
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (id && !id[0])
		return cli_usage_error(ctx, "--remove needs a cache id");
	if (modes > 1)
		return cli_usage_error(ctx, "give one of --cleanup, --remove and --all");
	if (max_age_arg && mode != CLEANUP)
		return cli_usage_error(ctx, "--max-age is the age for --cleanup: give --cleanup too");
	if (max_age_arg && parse_days(ctx, max_age_arg, &max_age) != 0)
		return EXIT_USAGE;
	char root[PATH_MAX];
	int rc = backend_cache_root(root, sizeof(root));
	if (rc == -ENOENT)
		return cli_fail(err_set(rc, "no cache directory: neither $XDG_CACHE_HOME nor $HOME is set"));
	if (rc < 0)
		return cli_fail(err_sys(rc, "cannot name the cache directory"));
	cachedir_list l;
	rc = cachedir_list_read(&l, root, sized);
	if (rc < 0)
		return cli_fail(rc);
	removal m = { 0 };
	if (mode != LIST)
		rc = choose(&m, &l, mode, max_age, id);
	if (rc == 0 && mode == REMOVE && m.nchosen == 0) {
		/* no listed cache: the removal says why (a symlink, a foreign directory, nothing) */
		rc = cachedir_remove(root, id);
		if (rc == 0 && !ctx->quiet && !ctx->json) /* made since it was listed */
			printf("removed %s\n", id);
		mode = rc == 0 && !ctx->json ? DONE : mode;
	}
	if (rc == 0 && mode != LIST && mode != DONE)
		rc = run_removal(&m, &l, root, mode);
	if (rc < 0) {
		removal_release(&m);
		cachedir_list_release(&l);
		return cli_fail(rc);
	}
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		if (mode == LIST)
			report_caches(&j, &l, root);
		else
			report_cache_removal(&j, &l, root, m.removed, m.nremoved, m.kept, m.reasons, m.nkept);
		json_finish(&j);
	} else if (!ctx->quiet && mode != DONE) {
		if (mode == LIST)
			print_list(&l, root, sized);
		else
			print_removal(&m, &l, mode, max_age, sized);
	}
	int failed = m.failed;
	removal_release(&m);
	cachedir_list_release(&l);
	return failed ? EXIT_FAIL : EXIT_OK;
}
