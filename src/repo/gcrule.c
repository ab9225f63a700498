/* SPDX-License-Identifier: BSD-2-Clause */
#include "gcrule.h"
#include "../base/checked.h"

/* Expiry and skew are >= 0 by contract; a negative one would make the
 * rule less careful, so it counts as 0. */
static int64_t nonneg(int64_t v)
{
	return v > 0 ? v : 0;
}

int gcrule_lease_trust(const gcrule_lease *l, const gcrule_clock *c)
{
	if (!l->parsed)
		return GCRULE_UNPARSABLE;
	if (l->start_ns <= 0)
		return GCRULE_BAD_START;
	if (l->refresh_ns < l->start_ns)
		return GCRULE_BAD_ORDER;
	/* A writer's clock may run ahead of ours by the skew, no more; a
	 * lease from further ahead could claim a start after a condemnation
	 * it actually preceded. */
	if (l->refresh_ns > sat_add_i64(c->now_ns, nonneg(c->skew_ns)))
		return GCRULE_FUTURE;
	return GCRULE_TRUSTED;
}

const char *gcrule_trust_reason(int trust)
{
	switch (trust) {
	case GCRULE_TRUSTED: return "trusted";
	case GCRULE_UNPARSABLE: return "it does not parse";
	case GCRULE_BAD_START: return "its start is not after 1970";
	case GCRULE_BAD_ORDER: return "it was refreshed before it started";
	case GCRULE_FUTURE: return "its times are ahead of this clock by more than the skew allowance";
	}
	return "unknown";
}

/*
 * Whether the time t is older than expiry + skew, exactly: the elapsed
 * time and the limit both fit in 64 unsigned bits (expiry and skew are
 * >= 0), where saturating them could make two different values equal.
 */
static int expired(int64_t t, const gcrule_clock *c)
{
	if (t >= c->now_ns)
		return 0;
	uint64_t elapsed = (uint64_t)c->now_ns - (uint64_t)t;
	uint64_t limit = (uint64_t)nonneg(c->expiry_ns) + (uint64_t)nonneg(c->skew_ns);
	return elapsed > limit;
}

int gcrule_lease_stale(const gcrule_lease *l, const gcrule_clock *c, int64_t *from)
{
	int trust = gcrule_lease_trust(l, c);
	/* the host and pid parsed and prove the process is gone, whatever
	 * the times say */
	if (l->parsed && l->process_gone)
		return 1;
	if (trust == GCRULE_TRUSTED) {
		/* A rewrite of the file by its process shows in both times; a
		 * recent modification time means someone still writes it,
		 * whatever its (possibly wrong) clock says. */
		if (expired(l->refresh_ns, c) && (!l->mtime_known || expired(l->mtime_ns, c)))
			return 1;
		*from = l->start_ns;
		return 0;
	}
	/* Untrusted: nothing it says about time counts; only the storage's
	 * modification time can show that nobody refreshes it any more. */
	if (l->mtime_known && expired(l->mtime_ns, c))
		return 1;
	*from = INT64_MIN;
	return 0;
}

void gcrule_horizon_add(gcrule_horizon *h, int64_t from)
{
	h->live++;
	if (from < h->oldest)
		h->oldest = from;
}

void gcrule_leases(gcrule_horizon *out, const gcrule_lease *v, size_t n, const gcrule_clock *c,
		   gcrule_verdict *verdicts)
{
	gcrule_horizon h = GCRULE_HORIZON_INIT;
	for (size_t i = 0; i < n; i++) {
		int64_t from;
		int stale = gcrule_lease_stale(&v[i], c, &from);
		if (!stale)
			gcrule_horizon_add(&h, from);
		if (verdicts) {
			verdicts[i].stale = stale;
			verdicts[i].trust = gcrule_lease_trust(&v[i], c);
		}
	}
	*out = h;
}

int64_t gcrule_cutoff(const gcrule_horizon *h, int64_t own_start_ns, int64_t skew_ns)
{
	if (h->live == 0)
		return own_start_ns;
	int64_t theirs = sat_sub_i64(h->oldest, nonneg(skew_ns));
	return theirs < own_start_ns ? theirs : own_start_ns;
}

int gcrule_pack_young(int64_t mtime_ns, int64_t cutoff_ns)
{
	return mtime_ns >= cutoff_ns;
}

int gcrule_record_dated(int64_t time_ns)
{
	/* 0 is "not yet dated"; a negative time is no moment a prune could
	 * have written, so it is dated anew (later: more careful) as well */
	return time_ns > 0;
}

int gcrule_record_ripe_for(int64_t time_ns, int64_t from, int64_t skew_ns)
{
	/* from >= time + skew; a sum past INT64_MAX is later than any start,
	 * so never ripe (wrapped, it would read as "long ago") */
	int64_t limit;
	if (!gcrule_record_dated(time_ns) || __builtin_add_overflow(time_ns, nonneg(skew_ns), &limit))
		return 0;
	return from >= limit;
}

int gcrule_record_ripe(int64_t time_ns, const gcrule_horizon *h, int64_t skew_ns)
{
	if (!gcrule_record_dated(time_ns))
		return 0;
	if (h->live == 0)
		return 1;
	return gcrule_record_ripe_for(time_ns, h->oldest, skew_ns);
}
