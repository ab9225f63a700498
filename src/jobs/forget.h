/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forget: retention policies (the semantics of Proxmox Backup Server and
 * borg; docs/dvalin.1 has a worked example), and the forget job that
 * applies one to a repository (`dvalin forget`, and the daemon's prune
 * jobs later).
 *
 * The rules, in forget_apply() (pure: no I/O): within one group,
 * snapshots newest first, protected, tagged (keep tags) and recent
 * (within) snapshots are kept first; then the rules run from the finest
 * to the coarsest: last, hourly, daily, weekly (ISO weeks), monthly,
 * yearly.  A rule keeps the newest snapshot of each of its N most recent
 * periods, skipping periods that already hold a kept snapshot, and marks
 * the other snapshots of a period it kept for removal so that coarser
 * rules pass over them.  Periods are taken in the time zone the snapshot
 * was made in.  A count of 0 (or less) and a duration of 0 mean "no such
 * rule", as in restic: `--keep-last 0` keeps nothing by itself, it does
 * not make every snapshot go.
 *
 * The job, forget_run(): snapshots are grouped (host, paths, tags as
 * sets), the policy decides each group, and the plan is checked before
 * anything is removed: a keep tag no snapshot carries is an error (a
 * misspelt tag would otherwise keep nothing), and a plan that removes
 * every snapshot of a group is refused unless allow_empty is set.
 *
 * Without the key (a repository opened keyless: a replica, a server) the
 * job reads what snapshot headers say in plaintext: the time and keyed
 * group ids (docs/format.md).  The host, paths and tags of each snapshot
 * are then the hex of its group ids ("#" and 64 digits), which are equal
 * exactly when the values are, so the same grouping and the same rules
 * decide the same way as with the key.  Snapshots without those fields
 * (version 1 files) are never removed by a policy and are counted; host,
 * path and tag filters and keep tags need names and are refused.
 */
#ifndef DV_JOBS_FORGET_H
#define DV_JOBS_FORGET_H

#include <stddef.h>
#include <stdint.h>

#include "../base/idmap.h"
#include "../repo/repo.h"
#include "../repo/snapshot.h"
#include "snapsel.h"

enum forget_rule {
	RULE_NONE = 0, /* removed */
	RULE_PROTECTED,
	RULE_TAG,
	RULE_WITHIN,
	RULE_LAST,
	RULE_HOURLY,
	RULE_DAILY,
	RULE_WEEKLY,
	RULE_MONTHLY,
	RULE_YEARLY,
};

typedef struct {
	int keep[6];       /* last, hourly, daily, weekly, monthly, yearly; <= 0: no rule */
	int64_t within_s;  /* <= 0: no rule */
} forget_policy;

typedef struct {
	int64_t time;      /* seconds since the epoch */
	int32_t tz_offset; /* seconds east of UTC */
	int is_protected, has_keep_tag;
	/* results */
	int rule;          /* enum forget_rule; RULE_NONE: removed */
	int rank;          /* the n-th period of its rule */
	int decided;
	/*
	 * Removed because a newer snapshot keeps its period: the rule and that
	 * snapshot's index.  0 when it is removed because no rule kept it.
	 */
	int superseded_rule;
	size_t superseded_by;
} forget_item;

void forget_policy_init(forget_policy *p);
/* No rule at all (keep tags are the caller's: forget_opts). */
int forget_policy_is_empty(const forget_policy *p);
/* Decides every item; items must be sorted newest first. */
int forget_apply(forget_item *items, size_t n, const forget_policy *p, int64_t now);
const char *forget_rule_name(int rule);
/* The period of an item under a rule, for messages: "2026-11-30", "2026-W48", ... */
void forget_period_label(const forget_item *it, int rule, char out[32]);
/* "30d", "12h", "2w", "6m", "1y", combinations such as "1y6m". */
int forget_parse_duration(const char *s, int64_t *out_s);

/* ---------- the job ---------- */

enum { FORGET_GROUP_HOST = 1, FORGET_GROUP_PATHS = 2, FORGET_GROUP_TAGS = 4 };

typedef struct {
	/* either ids (snapshots named as snapsel.h says: latest, id prefixes) ... */
	char *const *ids;
	size_t nids;
	/* ... or a policy */
	forget_policy pol;
	char *const *keep_tags;
	size_t nkeep_tags;
	int group_by;        /* FORGET_GROUP_* */
	const snapsel_filter *filter; /* only the snapshots it passes (NULL: all) */
	char *const *exact_paths; /* only snapshots of exactly these paths, as a set (0: all) */
	size_t nexact_paths;
	int allow_empty;     /* the policy may remove every snapshot of a group */
	int dry_run;         /* decide, remove nothing */
	int64_t now;         /* seconds since the epoch, for within */
} forget_opts;

typedef struct forget_group forget_group;

typedef struct forget_decision forget_decision;

struct forget_decision {
	const snapshot *s;
	const forget_group *group;
	forget_item it;      /* the decision (it.rule == RULE_NONE: remove) */
	/* removed because this newer snapshot keeps its period (it.superseded_rule) */
	const forget_decision *superseded_by;
	int named;           /* named by id: removed whatever the rules say */
	int removed;         /* 1 once removed (never in a dry run) */
	int error;           /* <0: the removal failed (logged) */
};

struct forget_group {
	/* what the group's snapshots share: each field named by group_by, as a
	 * sorted set; host NULL and the lists empty for a field not grouped by */
	const char *host;
	const char **paths, **tags; /* owned arrays of the snapshots' strings */
	size_t npaths, ntags;
	forget_decision *v;  /* newest first */
	size_t n, removals;
};

typedef struct {
	snapshot **snaps;    /* every snapshot loaded (owned) */
	size_t nsnaps, damaged;
	idmap prot;          /* the protected set */
	int group_by;        /* FORGET_GROUP_* the groups were made with (0 for ids) */
	forget_decision *decisions; /* all, group after group */
	size_t ndecisions;
	forget_group *groups;
	size_t ngroups;
	size_t removals;     /* decisions to remove */
	size_t removed;      /* ... and removed */
	size_t failed;       /* ids that matched nothing, removals that failed */
	int keyless;         /* decided on plaintext headers (group ids for names) */
	size_t predating;    /* keyless: snapshots without a plaintext time, kept */
} forget_result;

/*
 * Loads the snapshots, decides and, unless a dry run, removes.  Returns 0,
 * or <0 with a message: -EINVAL for a keep tag no snapshot carries,
 * -ECANCELED when the plan would empty a group without allow_empty (res
 * then holds the plan; nothing was removed), another code when the
 * repository could not be read.  Failures of single removals or ids are
 * logged and counted in res->failed.  res must be released in every case.
 */
/*
 * The option of o that needs names, so the key (--host, --path, --tag,
 * --exact-path, --keep-tag), or NULL: a keyless forget knows snapshots
 * only by id, time and group ids.
 */
const char *forget_needs_key(const forget_opts *o);
int forget_run(repo *r, const forget_opts *o, forget_result *res);
/* Pure: the grouped, decided plan for loaded snapshots (res->snaps, res->prot). */
int forget_plan(forget_result *res, const forget_opts *o);
void forget_result_release(forget_result *res);
/*
 * Why a decision, for people: "daily #2", "protected", "not kept by any
 * rule", "daily period 2026-11-30 already kept by daily #1 (1a2b3c4d)",
 * "named on the command line".
 */
void forget_reason(const forget_decision *d, char *out, size_t cap);

#endif
