/* SPDX-License-Identifier: BSD-2-Clause */
#include "chunker.h"

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
