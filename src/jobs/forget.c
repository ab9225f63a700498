/* SPDX-License-Identifier: BSD-2-Clause */
#include "forget.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void forget_policy_init(forget_policy *p)
{
	for (size_t i = 0; i < 6; i++)
		p->keep[i] = -1;
	p->within_s = -1;
}

int forget_policy_is_empty(const forget_policy *p)
{
	for (size_t i = 0; i < 6; i++)
		if (p->keep[i] > 0)
			return 0;
	return p->within_s <= 0;
}

const char *forget_rule_name(int rule)
{
	static const char *const names[] = { "", "protected", "tag", "within", "last",
					     "hourly", "daily", "weekly", "monthly", "yearly" };
	return rule >= 0 && rule <= RULE_YEARLY ? names[rule] : "";
}

/* The local time of an item, or 0 if it cannot be represented (a forged time). */
static int local_tm(const forget_item *it, struct tm *tm)
{
	int64_t local;
	if (__builtin_add_overflow(it->time, (int64_t)it->tz_offset, &local) || (time_t)local != local)
		return 0;
	time_t t = (time_t)local;
	return gmtime_r(&t, tm) != NULL;
}

/*
 * The period of a snapshot under a rule, as a number.  A time that has
 * no calendar date (only a forged snapshot holds one) and the rule "last"
 * make every snapshot its own period: the index, negated so that it can
 * never equal a calendar period (those are positive).
 */
static int64_t period(const forget_item *it, int rule, size_t index)
{
	struct tm tm;
	if (rule == RULE_LAST || !local_tm(it, &tm))
		return -1 - (int64_t)index;
	int64_t y = (int64_t)tm.tm_year + 1900 + 100000; /* positive for years > -100000 */
	switch (rule) {
	case RULE_HOURLY:
		return ((y * 100 + tm.tm_mon) * 100 + tm.tm_mday) * 100 + tm.tm_hour;
	case RULE_DAILY:
		return (y * 100 + tm.tm_mon) * 100 + tm.tm_mday;
	case RULE_WEEKLY: {
		char b[32];
		strftime(b, sizeof(b), "%G%V", &tm);
		return strtoll(b, NULL, 10) + 100000 * 100;
	}
	case RULE_MONTHLY:
		return y * 100 + tm.tm_mon;
	default: /* yearly */
		return y;
	}
}

void forget_period_label(const forget_item *it, int rule, char out[32])
{
	struct tm tm;
	out[0] = 0;
	if (!local_tm(it, &tm))
		return;
	switch (rule) {
	case RULE_HOURLY: strftime(out, 32, "%Y-%m-%d %H:00", &tm); break;
	case RULE_DAILY: strftime(out, 32, "%Y-%m-%d", &tm); break;
	case RULE_WEEKLY: strftime(out, 32, "%G-W%V", &tm); break;
	case RULE_MONTHLY: strftime(out, 32, "%Y-%m", &tm); break;
	case RULE_YEARLY: strftime(out, 32, "%Y", &tm); break;
	default: break;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The position of the first v[i] == x in the sorted v, or n. */
static size_t find(const int64_t *v, size_t n, int64_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == x ? lo : n;
}

/*
 * One rule over the items (newest first).  Periods that hold a snapshot
 * kept before this rule ("covered") do not count.  Of every other period
 * the newest undecided snapshot is kept, for the first keep periods met;
 * the older snapshots of a period kept here are removed, so that coarser
 * rules pass over them.  The scan does not stop after keep periods: with
 * snapshots from several time zones, periods need not follow the order of
 * time, and an older snapshot of a kept period may come after a newer
 * period.  O(n log n): periods are sorted once, and each distinct period
 * gets a slot by its position in the sorted list.
 */
static int apply_rule(forget_item *items, size_t n, int rule, int keep)
{
	if (keep <= 0 || n == 0)
		return 0;
	_cleanup_free_ int64_t *per = malloc(n * sizeof(*per));
	_cleanup_free_ int64_t *sorted = malloc(n * sizeof(*sorted));
	_cleanup_free_ int64_t *covered = malloc(n * sizeof(*covered));
	_cleanup_free_ size_t *kept_by = malloc(n * sizeof(*kept_by));
	if (!per || !sorted || !covered || !kept_by)
		return -ENOMEM;
	size_t ncov = 0, nkept = 0;
	for (size_t i = 0; i < n; i++) {
		per[i] = sorted[i] = period(&items[i], rule, i);
		kept_by[i] = SIZE_MAX;
		if (items[i].decided && items[i].rule != RULE_NONE)
			covered[ncov++] = per[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_i64);
	qsort(covered, ncov, sizeof(*covered), cmp_i64);
	for (size_t i = 0; i < n; i++) {
		forget_item *it = &items[i];
		if (it->decided || find(covered, ncov, per[i]) < ncov)
			continue;
		size_t slot = find(sorted, n, per[i]);
		if (kept_by[slot] == SIZE_MAX) {
			if (nkept >= (size_t)keep)
				continue; /* beyond the N most recent periods: not kept here */
			kept_by[slot] = i;
			it->decided = 1;
			it->rule = rule;
			it->rank = (int)++nkept;
		} else {
			it->decided = 1; /* an older one of a kept period */
			it->rule = RULE_NONE;
			it->superseded_rule = rule;
			it->superseded_by = kept_by[slot];
		}
	}
	return 0;
}

int forget_apply(forget_item *items, size_t n, const forget_policy *p, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		forget_item *it = &items[i];
		it->decided = 0;
		it->rule = RULE_NONE;
		it->rank = 0;
		it->superseded_rule = 0;
		it->superseded_by = 0;
		if (it->is_protected)
			it->rule = RULE_PROTECTED;
		else if (it->has_keep_tag)
			it->rule = RULE_TAG;
		else if (p->within_s > 0 && it->time >= now - p->within_s)
			it->rule = RULE_WITHIN;
		it->decided = it->rule != RULE_NONE;
	}
	for (int k = 0; k < 6; k++) {
		int rc = apply_rule(items, n, RULE_LAST + k, p->keep[k]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int forget_parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0;
	const char *p = s;
	if (!*p)
		return -EINVAL;
	while (*p) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (errno || end == p || v < 0 || v > 100000)
			return -EINVAL;
		int64_t unit;
		switch (*end) {
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		case 'm': unit = 31 * 86400; break;
		case 'y': unit = 365 * 86400; break;
		default: return -EINVAL;
		}
		/* at most 100000 years per term; a command line holds too few terms to overflow */
		if (__builtin_add_overflow(total, v * unit, &total))
			return -EINVAL;
		p = end + 1;
	}
	*out = total;
	return 0;
}

/* ---------- the job: groups ---------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The strings as a sorted set (duplicates dropped), in a new array. */
static int sorted_set(const char ***out, size_t *out_n, const char *const *v, size_t n)
{
	*out = NULL;
	*out_n = 0;
	if (n == 0)
		return 0;
	const char **a = malloc(n * sizeof(*a));
	if (!a)
		return -ENOMEM;
	memcpy(a, v, n * sizeof(*a));
	qsort(a, n, sizeof(*a), cmp_str);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (m == 0 || strcmp(a[m - 1], a[i]) != 0)
			a[m++] = a[i];
	*out = a;
	*out_n = m;
	return 0;
}

typedef struct {
	snapshot *s;
	const char **paths, **tags;
	size_t npaths, ntags;
} grouped;

static int cmp_list(const char **a, size_t na, const char **b, size_t nb)
{
	for (size_t i = 0; i < na && i < nb; i++) {
		int c = strcmp(a[i], b[i]);
		if (c)
			return c;
	}
	return na < nb ? -1 : na > nb;
}

/* By group (the fields of group_by), then newest first, then by id. */
static int cmp_grouped(const void *pa, const void *pb, void *ud)
{
	const grouped *a = pa, *b = pb;
	int group_by = *(const int *)ud, c = 0;
	if (group_by & FORGET_GROUP_HOST)
		c = strcmp(a->s->host, b->s->host);
	if (!c && (group_by & FORGET_GROUP_PATHS))
		c = cmp_list(a->paths, a->npaths, b->paths, b->npaths);
	if (!c && (group_by & FORGET_GROUP_TAGS))
		c = cmp_list(a->tags, a->ntags, b->tags, b->ntags);
	if (c)
		return c;
	if (a->s->time != b->s->time)
		return a->s->time > b->s->time ? -1 : 1;
	if (a->s->time_nsec != b->s->time_nsec)
		return a->s->time_nsec > b->s->time_nsec ? -1 : 1;
	return memcmp(a->s->id, b->s->id, 32);
}

static int same_group(const grouped *a, const grouped *b, int g)
{
	return (!(g & FORGET_GROUP_HOST) || strcmp(a->s->host, b->s->host) == 0) &&
	       (!(g & FORGET_GROUP_PATHS) || cmp_list(a->paths, a->npaths, b->paths, b->npaths) == 0) &&
	       (!(g & FORGET_GROUP_TAGS) || cmp_list(a->tags, a->ntags, b->tags, b->ntags) == 0);
}

static int has_any_tag(const snapshot *s, char *const *tags, size_t n)
{
	for (size_t i = 0; i < s->ntags; i++)
		for (size_t k = 0; k < n; k++)
			if (strcmp(s->tags[i], tags[k]) == 0)
				return 1;
	return 0;
}

/* The groups of the selected snapshots, each sorted newest first. */
static int make_groups(forget_result *res, const forget_opts *o, grouped *e, size_t m)
{
	qsort_r(e, m, sizeof(*e), cmp_grouped, (void *)&o->group_by);
	size_t ng = 0;
	for (size_t i = 0; i < m; i++)
		ng += i == 0 || !same_group(&e[i - 1], &e[i], o->group_by);
	res->decisions = calloc(m ? m : 1, sizeof(*res->decisions));
	res->groups = calloc(ng ? ng : 1, sizeof(*res->groups));
	if (!res->decisions || !res->groups)
		return -ENOMEM;
	res->ndecisions = m;
	forget_group *g = NULL;
	for (size_t i = 0; i < m; i++) {
		if (i == 0 || !same_group(&e[i - 1], &e[i], o->group_by)) {
			g = &res->groups[res->ngroups++];
			g->v = &res->decisions[i];
			if (o->group_by & FORGET_GROUP_HOST)
				g->host = e[i].s->host;
			/* the sorted sets of its first snapshot, copied */
			int rc = 0;
			if (o->group_by & FORGET_GROUP_PATHS)
				rc = sorted_set(&g->paths, &g->npaths, e[i].paths, e[i].npaths);
			if (rc == 0 && (o->group_by & FORGET_GROUP_TAGS))
				rc = sorted_set(&g->tags, &g->ntags, e[i].tags, e[i].ntags);
			if (rc < 0)
				return rc;
		}
		forget_decision *d = &res->decisions[i];
		d->s = e[i].s;
		d->group = g;
		d->it.time = e[i].s->time;
		d->it.tz_offset = e[i].s->tz_offset;
		d->it.is_protected = idmap_get(&res->prot, e[i].s->id) != NULL;
		d->it.has_keep_tag = has_any_tag(e[i].s, o->keep_tags, o->nkeep_tags);
		g->n++;
	}
	return 0;
}

static int decide(forget_result *res, const forget_opts *o)
{
	for (size_t k = 0; k < res->ngroups; k++) {
		forget_group *g = &res->groups[k];
		_cleanup_free_ forget_item *items = malloc(g->n * sizeof(*items));
		if (!items)
			return -ENOMEM;
		for (size_t i = 0; i < g->n; i++)
			items[i] = g->v[i].it;
		int rc = forget_apply(items, g->n, &o->pol, o->now);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < g->n; i++) {
			forget_decision *d = &g->v[i];
			d->it = items[i];
			if (d->it.superseded_rule)
				d->superseded_by = &g->v[d->it.superseded_by];
			if (d->it.rule == RULE_NONE)
				g->removals++;
		}
		res->removals += g->removals;
	}
	return 0;
}

int forget_plan(forget_result *res, const forget_opts *o)
{
	size_t n = res->nsnaps, m = 0;
	grouped *e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	const char **want = NULL;
	size_t nwant = 0;
	int rc = o->nexact_paths ? sorted_set(&want, &nwant, (const char *const *)o->exact_paths, o->nexact_paths) : 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		snapshot *s = res->snaps[i];
		if (!snapsel_match(o->filter, s))
			continue;
		e[m].s = s;
		rc = sorted_set(&e[m].paths, &e[m].npaths, (const char *const *)s->paths, s->npaths);
		rc = rc ?: sorted_set(&e[m].tags, &e[m].ntags, (const char *const *)s->tags, s->ntags);
		int same = rc == 0 && e[m].npaths == nwant;
		for (size_t k = 0; same && k < nwant; k++)
			same = strcmp(e[m].paths[k], want[k]) == 0;
		if (rc == 0 && o->nexact_paths && !same) {
			free(e[m].paths);
			free(e[m].tags);
			continue;
		}
		m++;
	}
	free(want);
	res->group_by = o->group_by;
	rc = rc ?: make_groups(res, o, e, m);
	rc = rc ?: decide(res, o);
	for (size_t i = 0; i < m; i++) {
		free(e[i].paths);
		free(e[i].tags);
	}
	free(e);
	return rc;
}

/* ---------- the job: checks, removal ---------- */

/* Every keep tag must be carried by a snapshot the policy sees. */
static int check_keep_tags(const forget_result *res, const forget_opts *o)
{
	for (size_t k = 0; k < o->nkeep_tags; k++) {
		size_t ntags = 0;
		for (size_t i = 0; i < res->ndecisions; i++)
			if (has_any_tag(res->decisions[i].s, &o->keep_tags[k], 1))
				goto next;
		/* name the tags there are, so that a misspelling shows */
		for (size_t i = 0; i < res->ndecisions; i++)
			ntags += res->decisions[i].s->ntags;
		char **all = malloc((ntags ? ntags : 1) * sizeof(*all));
		const char **set = NULL;
		size_t nset = 0, len = 0;
		if (!all)
			return -ENOMEM;
		ntags = 0;
		for (size_t i = 0; i < res->ndecisions; i++)
			for (size_t t = 0; t < res->decisions[i].s->ntags; t++)
				all[ntags++] = res->decisions[i].s->tags[t];
		int rc = sorted_set(&set, &nset, (const char *const *)all, ntags);
		free(all);
		if (rc < 0)
			return rc;
		char in_use[256];
		snprintf(in_use, sizeof(in_use), "%s", nset ? "tags in use:" : "no snapshot has a tag");
		len = strlen(in_use);
		for (size_t i = 0; i < nset && len < sizeof(in_use); i++) {
			int w = snprintf(in_use + len, sizeof(in_use) - len, "%s '%s'", i ? "," : "", set[i]);
			len += w > 0 ? (size_t)w : 0;
		}
		if (len >= sizeof(in_use))
			memcpy(in_use + sizeof(in_use) - 4, "...", 4);
		free(set);
		return err_set(-EINVAL, "no snapshot%s has the tag '%s' to keep (%s)",
			       snapsel_filter_empty(o->filter) ? "" : " of those selected", o->keep_tags[k],
			       in_use);
next:;
	}
	return 0;
}

/* Names a group in a message: "host 'h', paths '/a', '/b'". */
static void group_name(const forget_group *g, int group_by, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
#define PUT(...)                                                                          \
	do {                                                                              \
		int w_ = len < cap ? snprintf(out + len, cap - len, __VA_ARGS__) : 0;     \
		len += w_ > 0 ? (size_t)w_ : 0;                                           \
	} while (0)
	if (group_by & FORGET_GROUP_HOST)
		PUT("host '%s'", g->host);
	if (group_by & FORGET_GROUP_PATHS) {
		PUT("%spaths", len ? ", " : "");
		for (size_t i = 0; i < g->npaths; i++)
			PUT("%s '%s'", i ? "," : "", g->paths[i]);
	}
	if (group_by & FORGET_GROUP_TAGS) {
		PUT("%stags", len ? ", " : "");
		for (size_t i = 0; i < g->ntags; i++)
			PUT("%s '%s'", i ? "," : "", g->tags[i]);
		if (!g->ntags)
			PUT(" (none)");
	}
	if (!group_by)
		PUT("all snapshots");
#undef PUT
	if (len >= cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

/* A plan that would leave a group without any snapshot is refused. */
static int check_empty_groups(const forget_result *res, const forget_opts *o)
{
	const forget_group *first = NULL;
	size_t empty = 0;
	for (size_t k = 0; k < res->ngroups; k++) {
		if (res->groups[k].removals == res->groups[k].n) {
			first = first ? first : &res->groups[k];
			empty++;
		}
	}
	if (!empty || o->allow_empty)
		return 0;
	char name[512];
	group_name(first, res->group_by, name, sizeof(name));
	if (empty == 1)
		return err_set(-ECANCELED, "the policy would remove all %zu snapshot%s of the group %s; nothing was removed",
			       first->n, first->n == 1 ? "" : "s", name);
	return err_set(-ECANCELED, "the policy would remove every snapshot of %zu groups (the first: %s, %zu snapshot%s); nothing was removed",
		       empty, name, first->n, first->n == 1 ? "" : "s");
}

static int remove_planned(repo *r, forget_result *res)
{
	for (size_t i = 0; i < res->ndecisions; i++) {
		forget_decision *d = &res->decisions[i];
		if (d->it.rule != RULE_NONE)
			continue;
		int rc = repo_forget_snapshot(r, d->s->id);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			log_error("%s", err_msg(rc));
			d->error = rc;
			res->failed++;
		} else {
			d->removed = 1;
			res->removed++;
		}
	}
	return 0;
}

/* Snapshots named by id prefix: one group, each a removal. */
static int plan_ids(forget_result *res, const forget_opts *o)
{
	res->decisions = calloc(o->nids ? o->nids : 1, sizeof(*res->decisions));
	res->groups = calloc(1, sizeof(*res->groups));
	if (!res->decisions || !res->groups)
		return -ENOMEM;
	forget_group *g = &res->groups[0];
	g->v = res->decisions;
	res->ngroups = 1;
	for (size_t k = 0; k < o->nids; k++) {
		snapshot *hit = NULL;
		size_t at;
		int rc = snapsel_pick(res->snaps, res->nsnaps, o->filter, o->ids[k], &at);
		if (rc == 0)
			hit = res->snaps[at];
		int dup = 0;
		for (size_t i = 0; rc == 0 && i < g->n; i++)
			dup |= g->v[i].s == hit;
		if (rc < 0) {
			log_error("%s", err_msg(rc));
			res->failed++;
			continue;
		}
		if (dup)
			continue;
		forget_decision *d = &g->v[g->n++];
		d->s = hit;
		d->group = g;
		d->it.time = hit->time;
		d->it.tz_offset = hit->tz_offset;
		d->it.is_protected = idmap_get(&res->prot, hit->id) != NULL;
		d->it.rule = RULE_NONE;
		d->named = 1;
		g->removals++;
	}
	res->ndecisions = g->n;
	res->removals = g->removals;
	return 0;
}

/* "#" and the hex of a group id: what a keyless plan uses for a name. */
static char *group_name_of(const uint8_t id[32])
{
	char *s = malloc(66);
	if (s) {
		s[0] = '#';
		hex_encode(s + 1, id, 32);
	}
	return s;
}

/*
 * Keyless: a snapshot as its header describes it, the group ids for the
 * host, the one path and the one tag.  user is empty.
 */
static int snapshot_of_header(snapshot **out, const snapshot_header *h)
{
	snapshot *s = snapshot_new();
	char *path = NULL, *tag = NULL;
	if (!s)
		return -ENOMEM;
	memcpy(s->id, h->id, 32);
	memcpy(s->tree, h->tree, 32);
	s->time = h->time;
	s->time_nsec = h->time_nsec;
	s->tz_offset = h->tz_offset;
	s->host = h->has_plain ? group_name_of(h->group[SNAPSHOT_GROUP_HOST]) : strdup("");
	s->user = strdup("");
	int rc = s->host && s->user ? 0 : -ENOMEM;
	if (rc == 0 && h->has_plain) {
		path = group_name_of(h->group[SNAPSHOT_GROUP_PATHS]);
		tag = group_name_of(h->group[SNAPSHOT_GROUP_TAGS]);
		rc = path && tag ? 0 : -ENOMEM;
		rc = rc ?: strlist_add(&s->paths, &s->npaths, path);
		rc = rc ?: strlist_add(&s->tags, &s->ntags, tag);
	}
	free(path);
	free(tag);
	if (rc < 0) {
		snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/*
 * Keyless: the snapshots from their headers.  For a policy, those without
 * a plaintext time are left out (kept) and counted; named by id, every
 * snapshot can be found.
 */
static int load_headers(repo *r, forget_result *res, int all)
{
	snapshot_header *h = NULL;
	size_t n = 0;
	int rc = repo_load_snapshot_headers(r, &h, &n, &res->damaged);
	if (rc == 0 && !(res->snaps = calloc(n ? n : 1, sizeof(*res->snaps))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!h[i].has_plain && !all) {
			res->predating++;
			continue;
		}
		rc = snapshot_of_header(&res->snaps[res->nsnaps], &h[i]);
		res->nsnaps += rc == 0;
	}
	free(h);
	return rc;
}

const char *forget_needs_key(const forget_opts *o)
{
	const snapsel_filter *f = o->filter;
	if (f && f->nhosts)
		return "--host";
	if (f && f->npaths)
		return "--path";
	if (f && f->ntags)
		return "--tag";
	if (o->nexact_paths)
		return "--exact-path";
	return o->nkeep_tags ? "--keep-tag" : NULL;
}

int forget_run(repo *r, const forget_opts *o, forget_result *res)
{
	memset(res, 0, sizeof(*res));
	res->prot = (idmap)IDMAP_INIT;
	res->keyless = repo_is_keyless(r);
	if (!o->nids && forget_policy_is_empty(&o->pol) && !o->nkeep_tags)
		return err_set(-DV_EUSAGE, "no snapshot ids and no keep rule: refusing to remove every snapshot");
	const char *need = res->keyless ? forget_needs_key(o) : NULL;
	if (need)
		return err_set(-DV_EUSAGE, "%s needs the key: host names, paths and tags are encrypted (the snapshot headers carry only keyed group ids)%s",
			       need, o->nkeep_tags ? "; use protect instead of --keep-tag" : "");
	int rc = res->keyless ? load_headers(r, res, o->nids > 0)
			      : repo_load_snapshots(r, &res->snaps, &res->nsnaps, &res->damaged);
	rc = rc ?: repo_load_protected(r, &res->prot);
	if (rc == 0 && res->predating)
		log_warn("%zu snapshot(s) were written before snapshots carried their time and group in plaintext: a policy without the key keeps them (forget with the key decides about them)",
			 res->predating);
	if (rc == 0 && res->damaged)
		log_warn("%s (%zu damaged snapshot file(s) left alone)", err_msg(0), res->damaged);
	if (rc < 0)
		return rc;
	if (o->nids) {
		rc = plan_ids(res, o);
	} else {
		rc = forget_plan(res, o);
		rc = rc ?: check_keep_tags(res, o);
		rc = rc ?: check_empty_groups(res, o);
	}
	if (rc == 0 && !o->dry_run)
		rc = remove_planned(r, res);
	return rc;
}

void forget_result_release(forget_result *res)
{
	for (size_t k = 0; k < res->ngroups; k++) {
		free(res->groups[k].paths);
		free(res->groups[k].tags);
	}
	free(res->groups);
	free(res->decisions);
	repo_free_snapshots(res->snaps, res->nsnaps);
	idmap_release(&res->prot);
	memset(res, 0, sizeof(*res));
}

void forget_reason(const forget_decision *d, char *out, size_t cap)
{
	const forget_item *it = &d->it;
	if (it->rule != RULE_NONE && it->rank) {
		snprintf(out, cap, "%s #%d", forget_rule_name(it->rule), it->rank);
	} else if (it->rule != RULE_NONE) {
		snprintf(out, cap, "%s", forget_rule_name(it->rule));
	} else if (d->named) {
		snprintf(out, cap, "named on the command line");
	} else if (d->superseded_by) {
		char label[32], hex[65];
		forget_period_label(it, it->superseded_rule, label);
		hex_encode(hex, d->superseded_by->s->id, 32);
		snprintf(out, cap, "%s period %s already kept by %s #%d (%.8s)",
			 forget_rule_name(it->superseded_rule), label,
			 forget_rule_name(d->superseded_by->it.rule), d->superseded_by->it.rank, hex);
	} else {
		snprintf(out, cap, "not kept by any rule");
	}
}
