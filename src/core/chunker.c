/* SPDX-License-Identifier: BSD-2-Clause */
#include "chunker.h"

#include <string.h>

static unsigned log2u(uint32_t v)
{
	unsigned n = 0;
	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

int chunker_params_is_valid(const chunker_params *p)
{
	return p->min >= 64 && p->min < p->avg && p->avg < p->max &&
	       p->max <= (64u << 20) && (p->avg & (p->avg - 1)) == 0;
}

void chunker_init(chunker *c, const chunker_params *p, const uint64_t gear[256])
{
	unsigned bits = log2u(p->avg);
	for (int i = 0; i < 256; i++)
		c->gear[i] = gear[i];
	c->p = *p;
	c->mask_s = ~0ULL << (64 - (bits + 2));
	c->mask_l = ~0ULL << (64 - (bits - 2));
}

size_t chunker_cut(const chunker *c, const uint8_t *buf, size_t len)
{
	if (len <= c->p.min)
		return len;
	size_t n = len < c->p.max ? len : c->p.max;
	size_t normal = n < c->p.avg ? n : c->p.avg;
	uint64_t fp = 0;
	size_t i = c->p.min;
	for (; i < normal; i++) {
		fp = (fp << 1) + c->gear[buf[i]];
		if (!(fp & c->mask_s))
			return i + 1;
	}
	for (; i < n; i++) {
		fp = (fp << 1) + c->gear[buf[i]];
		if (!(fp & c->mask_l))
			return i + 1;
	}
	return n;
}

/* One lane's candidate, stored in its own share of out->pos. */
static int note_cand(const chunker *c, chunker_cands *out, size_t *n, size_t lane_cap, uint32_t *dst,
		     size_t i, uint64_t fp)
{
	if (*n == lane_cap)
		return -1;
	dst[(*n)++] = (uint32_t)i | (fp & c->mask_s ? 0 : CHUNKER_CAND_STRICT);
	(void)out;
	return 0;
}

/*
 * The hash is one dependent shift and add per byte, so a single pass runs
 * at the latency of that chain.  Four lanes over four quarters of the
 * range, interleaved in one loop, run at the throughput of the loads
 * instead (about three times as fast here); each lane first hashes the
 * 63 bytes before its quarter, so every lane's hashes are exact.
 */
void chunker_scan(const chunker *c, const uint8_t *buf, chunker_cands *out)
{
	enum { LANES = 4 };
	size_t from = out->from, to = out->to;
	out->n = 0;
	out->dense = 0;
	size_t len = to - from, q = len / LANES;
	size_t lane_cap = out->cap / LANES;
	if (len < 4096 || lane_cap == 0) {
		uint64_t fp = 0;
		for (size_t i = from >= 63 ? from - 63 : 0; i < from; i++)
			fp = (fp << 1) + c->gear[buf[i]];
		for (size_t i = from; i < to; i++) {
			fp = (fp << 1) + c->gear[buf[i]];
			if ((fp & c->mask_l) == 0 &&
			    note_cand(c, out, &out->n, out->cap, out->pos, i, fp) < 0) {
				out->dense = 1;
				out->n = 0;
				return;
			}
		}
		return;
	}
	size_t st[LANES], n[LANES] = { 0 };
	uint64_t fp[LANES];
	for (int k = 0; k < LANES; k++) {
		st[k] = from + (size_t)k * q;
		fp[k] = 0;
		for (size_t i = st[k] >= 63 ? st[k] - 63 : 0; i < st[k]; i++)
			fp[k] = (fp[k] << 1) + c->gear[buf[i]];
	}
	const uint64_t ml = c->mask_l, *g = c->gear;
	const uint8_t *b0 = buf + st[0], *b1 = buf + st[1], *b2 = buf + st[2], *b3 = buf + st[3];
	uint64_t f0 = fp[0], f1 = fp[1], f2 = fp[2], f3 = fp[3];
	int full = 0;
	/* four chains in registers (an array would go through memory) */
	for (size_t j = 0; j < q && !full; j++) {
		f0 = (f0 << 1) + g[b0[j]];
		f1 = (f1 << 1) + g[b1[j]];
		f2 = (f2 << 1) + g[b2[j]];
		f3 = (f3 << 1) + g[b3[j]];
		if (__builtin_expect((f0 & ml) && (f1 & ml) && (f2 & ml) && (f3 & ml), 1))
			continue;
		const uint64_t f[LANES] = { f0, f1, f2, f3 };
		for (int k = 0; k < LANES; k++)
			if ((f[k] & ml) == 0 &&
			    note_cand(c, out, &n[k], lane_cap, out->pos + (size_t)k * lane_cap, st[k] + j,
				      f[k]) < 0)
				full = 1;
	}
	fp[LANES - 1] = f3;
	/* the last lane also takes what the quarters left over */
	for (size_t i = from + LANES * q; i < to && !full; i++) {
		fp[LANES - 1] = (fp[LANES - 1] << 1) + c->gear[buf[i]];
		if ((fp[LANES - 1] & ml) == 0 &&
		    note_cand(c, out, &n[LANES - 1], lane_cap, out->pos + (size_t)(LANES - 1) * lane_cap,
			      i, fp[LANES - 1]) < 0)
			full = 1;
	}
	if (full) {
		out->dense = 1;
		return;
	}
	/* lanes in order: the candidates ascend */
	for (int k = 0; k < LANES; k++) {
		memmove(out->pos + out->n, out->pos + (size_t)k * lane_cap, n[k] * sizeof(*out->pos));
		out->n += n[k];
	}
}

/* The first i in [lo, hi) whose hash passes (strict below normal, loose
 * from it on), computed by hashing; fp is the hash before lo. */
static size_t hash_range(const chunker *c, const uint8_t *buf, size_t lo, size_t hi, size_t normal,
			 uint64_t fp)
{
	for (size_t i = lo; i < hi; i++) {
		fp = (fp << 1) + c->gear[buf[i]];
		if (!(fp & (i < normal ? c->mask_s : c->mask_l)))
			return i;
	}
	return SIZE_MAX;
}

size_t chunker_cut_cands(const chunker *c, const uint8_t *buf, size_t start, size_t len,
			 const chunker_cands *parts, size_t nparts)
{
	if (len <= c->p.min)
		return len;
	size_t n = len < c->p.max ? len : c->p.max;
	size_t end = start + n, normal = start + (n < c->p.avg ? n : c->p.avg);
	size_t i0 = start + c->p.min, exact = i0 + 63 < end ? i0 + 63 : end;
	/* right after the reset the hash has fewer than 64 bytes: hash them */
	size_t hit = hash_range(c, buf, i0, exact, normal, 0);
	if (hit != SIZE_MAX)
		return hit + 1 - start;
	for (size_t k = 0; k < nparts && exact < end; k++) {
		const chunker_cands *p = &parts[k];
		if (p->to <= exact)
			continue;
		size_t lo = exact > p->from ? exact : p->from, hi = p->to < end ? p->to : end;
		if (p->dense) {
			/* a full hash window from here on equals the free-running hash */
			uint64_t fp = 0;
			for (size_t i = lo - 63; i < lo; i++)
				fp = (fp << 1) + c->gear[buf[i]];
			hit = hash_range(c, buf, lo, hi, normal, fp);
			if (hit != SIZE_MAX)
				return hit + 1 - start;
		} else {
			for (size_t j = 0; j < p->n; j++) {
				size_t i = p->pos[j] & ~CHUNKER_CAND_STRICT;
				if (i < lo)
					continue;
				if (i >= hi)
					break;
				if (i >= normal || (p->pos[j] & CHUNKER_CAND_STRICT))
					return i + 1 - start;
			}
		}
		exact = hi;
	}
	return n;
}
