/* SPDX-License-Identifier: BSD-2-Clause */
#include "seglist.h"
#include "../base/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int seglist_push(seglist *s, uint64_t len, const uint8_t *id)
{
	int rc = array_reserve(&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	if (rc < 0)
		return rc;
	seglist_seg *g = &s->v[s->n++];
	g->len = len;
	g->hole = !id;
	if (id)
		memcpy(g->id, id, 32);
	return 0;
}

int seglist_reserve(seglist *s, size_t more)
{
	if (more <= s->cap - s->n)
		return 0;
	if (more > SIZE_MAX / sizeof(*s->v) - s->n)
		return -ENOMEM;
	seglist_seg *v = realloc(s->v, (s->n + more) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->cap = s->n + more;
	return 0;
}

int seglist_copy(seglist *dst, const seglist *src)
{
	dst->n = 0;
	int rc = seglist_reserve(dst, src->n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < src->n; i++) {
		rc = seglist_push(dst, src->v[i].len, src->v[i].hole ? NULL : src->v[i].id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

uint64_t seglist_size(const seglist *s)
{
	uint64_t size = 0;
	/* lengths come from reads of one file or from a decoded node, whose
	 * codec bounds the total; saturate all the same */
	for (size_t i = 0; i < s->n; i++)
		size = s->v[i].len > UINT64_MAX - size ? UINT64_MAX : size + s->v[i].len;
	return size;
}

int seglist_to_node(const seglist *s, tree_writer *tw, tree_seg **out)
{
	tree_seg *ts = calloc(s->n ? s->n : 1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		ts[i].len = s->v[i].len;
		int rc = s->v[i].hole ? 0 : tree_writer_ref(tw, s->v[i].id, &ts[i].ref);
		if (rc < 0) {
			free(ts);
			return rc;
		}
	}
	*out = ts;
	return 0;
}

void seglist_release(seglist *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
