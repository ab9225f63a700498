/* SPDX-License-Identifier: BSD-2-Clause */
#include "idmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static idmap_slot *find(idmap_slot *slots, size_t cap, const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id + 8, sizeof(h));
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!slots[i].used || memcmp(slots[i].id, id, 32) == 0)
			return &slots[i];
}

static int grow(idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	idmap_slot *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].used)
			*find(s, cap, m->slots[i].id) = m->slots[i];
	free(m->slots);
	m->slots = s;
	m->cap = cap;
	return 0;
}

int idmap_put(idmap *m, const uint8_t id[32], idmap_slot **out, int *created)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		int r = grow(m);
		if (r < 0)
			return r;
	}
	idmap_slot *s = find(m->slots, m->cap, id);
	if (created)
		*created = !s->used;
	if (!s->used) {
		memcpy(s->id, id, 32);
		s->val = 0;
		s->used = 1;
		m->n++;
	}
	*out = s;
	return 0;
}

idmap_slot *idmap_get(const idmap *m, const uint8_t id[32])
{
	if (!m->cap)
		return NULL;
	idmap_slot *s = find(m->slots, m->cap, id);
	return s->used ? s : NULL;
}

void idmap_release(idmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
