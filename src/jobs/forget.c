/* SPDX-License-Identifier: BSD-2-Clause */
#include "forget.h"
#include "../base/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void forget_policy_init(forget_policy *p)
{
	for (size_t i = 0; i < 6; i++)
		p->keep[i] = -1;
	p->within_s = -1;
}

int forget_policy_empty(const forget_policy *p)
{
	for (size_t i = 0; i < 6; i++)
		if (p->keep[i] >= 0)
			return 0;
	return p->within_s < 0;
}

const char *forget_rule_name(int rule)
{
	static const char *const names[] = { "", "protected", "tag", "within", "last",
					     "hourly", "daily", "weekly", "monthly", "yearly" };
	return rule >= 0 && rule <= RULE_YEARLY ? names[rule] : "";
}

/* The period of a snapshot under a rule, as a number. */
static int64_t period(const forget_item *it, int rule, size_t index)
{
	time_t t = (time_t)(it->time + it->tz_offset);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return (int64_t)index;
	int64_t y = tm.tm_year + 1900;
	switch (rule) {
	case RULE_HOURLY:
		return ((y * 100 + tm.tm_mon) * 100 + tm.tm_mday) * 100 + tm.tm_hour;
	case RULE_DAILY:
		return (y * 100 + tm.tm_mon) * 100 + tm.tm_mday;
	case RULE_WEEKLY: {
		char b[16];
		strftime(b, sizeof(b), "%G%V", &tm);
		return strtoll(b, NULL, 10);
	}
	case RULE_MONTHLY:
		return y * 100 + tm.tm_mon;
	case RULE_YEARLY:
		return y;
	default: /* last: every snapshot is its own period */
		return (int64_t)index;
	}
}

static int contains(const int64_t *v, size_t n, int64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return 1;
	return 0;
}

static int apply_rule(forget_item *items, size_t n, int rule, int keep)
{
	if (keep <= 0)
		return 0;
	int64_t *covered = malloc(n * sizeof(*covered));
	int64_t *included = malloc(n * sizeof(*included));
	if (!covered || !included) {
		free(covered);
		free(included);
		return -ENOMEM;
	}
	size_t ncov = 0, ninc = 0;
	for (size_t i = 0; i < n; i++)
		if (items[i].decided && items[i].rule != RULE_NONE)
			covered[ncov++] = period(&items[i], rule, i);
	for (size_t i = 0; i < n; i++) {
		forget_item *it = &items[i];
		if (it->decided)
			continue;
		int64_t p = period(it, rule, i);
		if (contains(covered, ncov, p))
			continue;
		if (!contains(included, ninc, p)) {
			if (ninc >= (size_t)keep)
				break;
			included[ninc++] = p;
			it->decided = 1;
			it->rule = rule;
			it->rank = (int)ninc;
		} else {
			it->decided = 1; /* an older one of a kept period */
			it->rule = RULE_NONE;
		}
	}
	free(covered);
	free(included);
	return 0;
}

int forget_apply(forget_item *items, size_t n, const forget_policy *p, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		forget_item *it = &items[i];
		it->decided = 0;
		it->rule = RULE_NONE;
		it->rank = 0;
		if (it->is_protected)
			it->rule = RULE_PROTECTED;
		else if (it->has_keep_tag)
			it->rule = RULE_TAG;
		else if (p->within_s >= 0 && it->time >= now - p->within_s)
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
		total += v * unit;
		p = end + 1;
	}
	*out = total;
	return 0;
}
