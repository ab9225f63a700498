/* SPDX-License-Identifier: BSD-2-Clause */
#include "hardlinks.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot(uint64_t dev, uint64_t ino, size_t cap)
{
	return (size_t)(ino * 31 + dev) & (cap - 1);
}

static int grow(hardlinks *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	if (cap > SIZE_MAX / 2 / sizeof(hardlink))
		return -ENOMEM;
	hardlink *n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->v[i].used)
			continue;
		size_t k = slot(t->v[i].dev, t->v[i].ino, cap);
		while (n[k].used)
			k = (k + 1) & (cap - 1);
		n[k] = t->v[i];
	}
	free(t->v);
	t->v = n;
	t->cap = cap;
	return 0;
}

hardlink *hardlinks_find(hardlinks *t, uint64_t dev, uint64_t ino)
{
	if (!t->cap)
		return NULL;
	for (size_t k = slot(dev, ino, t->cap); t->v[k].used; k = (k + 1) & (t->cap - 1))
		if (t->v[k].dev == dev && t->v[k].ino == ino)
			return &t->v[k];
	return NULL;
}

int hardlinks_add(hardlinks *t, uint64_t dev, uint64_t ino, hardlink **out)
{
	hardlink *h = hardlinks_find(t, dev, ino);
	if (h) {
		*out = h;
		return 0;
	}
	if ((t->n + 1) * 2 > t->cap) {
		int rc = grow(t);
		if (rc < 0)
			return rc;
	}
	size_t k = slot(dev, ino, t->cap);
	while (t->v[k].used)
		k = (k + 1) & (t->cap - 1);
	h = &t->v[k];
	h->used = 1;
	h->dev = dev;
	h->ino = ino;
	t->n++;
	*out = h;
	return 0;
}

void hardlinks_release(hardlinks *t)
{
	for (size_t i = 0; i < t->cap; i++)
		seglist_release(&t->v[i].segs);
	free(t->v);
	t->v = NULL;
	t->cap = t->n = 0;
}
