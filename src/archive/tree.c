/* SPDX-License-Identifier: BSD-2-Clause */
#include "tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_XATTRS 4096
#define XATTR_VALUE_MAX 65536

void tree_xattr_iter_init(tree_xattr_iter *it, const tree_node *n)
{
	it->p = n->xattrs;
	it->end = n->xattrs_len ? n->xattrs + n->xattrs_len : it->p; /* NULL + 0 is undefined */
	it->left = 0;
	if (n->xattrs_len) {
		reader r;
		reader_init(&r, it->p, n->xattrs_len);
		it->left = reader_varint(&r);
		it->p = r.bad ? it->end : r.p;
	}
}

int tree_xattr_next(tree_xattr_iter *it, const uint8_t **name, size_t *nlen,
		    const uint8_t **value, size_t *vlen)
{
	if (it->left == 0)
		return 0;
	reader r;
	reader_init(&r, it->p, (size_t)(it->end - it->p));
	*name = reader_str(&r, nlen, 255);
	*value = reader_str(&r, vlen, XATTR_VALUE_MAX);
	if (!reader_ok(&r))
		return -DV_ECORRUPT;
	it->p = r.p;
	it->left--;
	return 1;
}

int tree_xattrs_begin(buf *out)
{
	out->len = 0;
	return 0;
}

/* The encoded list keeps its count in front; rebuild it on each add. */
int tree_xattrs_add(buf *out, const void *name, size_t nlen, const void *value, size_t vlen)
{
	uint64_t count = 0;
	size_t hdr = 0;
	if (out->len) {
		reader r;
		reader_init(&r, out->data, out->len);
		count = reader_varint(&r);
		hdr = (size_t)(r.p - out->data);
	}
	buf _cleanup_(buf_releasep) n = BUF_INIT;
	int rc = buf_put_varint(&n, count + 1);
	if (out->len) /* an empty list may have no storage: NULL + 0 is undefined */
		rc = rc ?: buf_append(&n, out->data + hdr, out->len - hdr);
	rc = rc ?: buf_put_str(&n, name, nlen);
	rc = rc ?: buf_put_str(&n, value, vlen);
	if (rc < 0)
		return rc;
	buf_release(out);
	*out = n;
	n = (buf)BUF_INIT;
	return 0;
}

static uint64_t id_hash(const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return h;
}

static int grow_slots(tree_writer *w)
{
	size_t cap = w->slot_cap ? w->slot_cap * 2 : 64;
	uint32_t *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	const uint8_t *ids = w->children.data + 4;
	for (uint32_t i = 0; i < w->nchildren; i++) {
		size_t k = id_hash(ids + 32 * (size_t)i) & (cap - 1);
		while (s[k])
			k = (k + 1) & (cap - 1);
		s[k] = i + 1;
	}
	free(w->slots);
	w->slots = s;
	w->slot_cap = cap;
	return 0;
}

int tree_writer_ref(tree_writer *w, const uint8_t id[32], uint32_t *out_ref)
{
	int rc;
	if (w->children.len == 0 && (rc = buf_put_le32(&w->children, 0)) < 0)
		return rc;
	if ((w->nchildren + 1) * 2 > w->slot_cap && (rc = grow_slots(w)) < 0)
		return rc;
	size_t k = id_hash(id) & (w->slot_cap - 1);
	const uint8_t *ids = w->children.data + 4;
	while (w->slots[k]) {
		if (memcmp(ids + 32 * (size_t)(w->slots[k] - 1), id, 32) == 0) {
			*out_ref = w->slots[k];
			return 0;
		}
		k = (k + 1) & (w->slot_cap - 1);
	}
	if ((rc = buf_append(&w->children, id, 32)) < 0)
		return rc;
	w->slots[k] = ++w->nchildren;
	le32_put(w->children.data, w->nchildren);
	*out_ref = w->nchildren;
	return 0;
}

int tree_name_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/*
 * The extension: a list of (varint tag | str value) fields, empty for
 * most nodes.  Readers that know no field skip the whole string, so a
 * field never makes an older dvalin refuse a tree.
 */
static int put_extension(buf *b, const tree_node *n)
{
	if (!(n->type == NODE_FILE && n->device))
		return buf_put_varint(b, 0);
	buf _cleanup_(buf_releasep) val = BUF_INIT;
	buf _cleanup_(buf_releasep) ext = BUF_INIT;
	int rc = buf_put_varint(&val, n->rdev);
	rc = rc ?: buf_put_varint(&ext, TREE_EXT_DEVICE);
	rc = rc ?: buf_put_str(&ext, val.data, val.len);
	return rc ?: buf_put_str(b, ext.data, ext.len);
}

/* The known fields of an extension; unknown ones are skipped. */
static int decode_extension(tree_node *n, const uint8_t *p, size_t len)
{
	reader r;
	reader_init(&r, p, len);
	while (reader_ok(&r) && reader_left(&r)) {
		uint64_t tag = reader_varint(&r);
		size_t vl;
		const uint8_t *v = reader_str(&r, &vl, len);
		if (!reader_ok(&r))
			break;
		if (tag == TREE_EXT_DEVICE) {
			reader vr;
			reader_init(&vr, v, vl);
			n->rdev = reader_varint(&vr);
			if (n->type != NODE_FILE || n->device || !reader_ok(&vr) || reader_left(&vr))
				return -DV_ECORRUPT;
			n->device = 1;
		}
	}
	return reader_ok(&r) ? 0 : -DV_ECORRUPT;
}

int tree_writer_add(tree_writer *w, const tree_node *n)
{
	buf *b = &w->body;
	int rc = 0;
	if (n->name_len == 0 || n->name_len > TREE_NAME_MAX)
		return -EINVAL;
	if (w->has_last && tree_name_cmp(w->last_name.data, w->last_name.len, n->name, n->name_len) >= 0)
		return -EINVAL;
	w->last_name.len = 0;
	if ((rc = buf_append(&w->last_name, n->name, n->name_len)) < 0)
		return rc;
	w->has_last = 1;
	rc = rc ?: buf_put_str(b, n->name, n->name_len);
	rc = rc ?: buf_put_u8(b, n->type);
	rc = rc ?: buf_put_varint(b, n->mode);
	rc = rc ?: buf_put_varint(b, n->uid);
	rc = rc ?: buf_put_varint(b, n->gid);
	rc = rc ?: buf_put_str(b, n->user, n->user_len);
	rc = rc ?: buf_put_str(b, n->group, n->group_len);
	rc = rc ?: buf_put_svarint(b, n->mtime);
	rc = rc ?: buf_put_varint(b, n->mtime_ns);
	rc = rc ?: buf_put_svarint(b, n->ctime);
	rc = rc ?: buf_put_varint(b, n->ctime_ns);
	rc = rc ?: buf_put_varint(b, n->dev);
	rc = rc ?: buf_put_varint(b, n->ino);
	rc = rc ?: buf_put_varint(b, n->nlink);
	rc = rc ?: buf_put_varint(b, n->size);
	switch (n->type) {
	case NODE_FILE:
		rc = rc ?: buf_put_varint(b, n->nsegs);
		for (size_t i = 0; !rc && i < n->nsegs; i++) {
			rc = buf_put_varint(b, n->segs[i].len);
			rc = rc ?: buf_put_varint(b, n->segs[i].ref);
		}
		break;
	case NODE_DIR:
		rc = rc ?: buf_put_varint(b, n->subtree);
		break;
	case NODE_SYMLINK:
		rc = rc ?: buf_put_str(b, n->target, n->target_len);
		break;
	case NODE_CHR:
	case NODE_BLK:
		rc = rc ?: buf_put_varint(b, n->rdev);
		break;
	}
	if (n->xattrs_len)
		rc = rc ?: buf_append(b, n->xattrs, n->xattrs_len);
	else
		rc = rc ?: buf_put_varint(b, 0);
	rc = rc ?: put_extension(b, n);
	if (rc == 0)
		w->count++;
	return rc;
}

int tree_writer_finish(tree_writer *w, buf *out)
{
	int rc;
	out->len = 0;
	if (w->children.len == 0 && (rc = buf_put_le32(&w->children, 0)) < 0)
		return rc;
	rc = buf_append(out, w->children.data, w->children.len);
	rc = rc ?: buf_put_u8(out, TREE_VERSION);
	rc = rc ?: buf_put_varint(out, w->count);
	rc = rc ?: buf_append(out, w->body.data, w->body.len);
	w->children.len = 0;
	w->body.len = 0;
	w->nchildren = 0;
	w->count = 0;
	w->has_last = 0;
	if (w->slots)
		memset(w->slots, 0, w->slot_cap * sizeof(*w->slots));
	return rc;
}

void tree_writer_release(tree_writer *w)
{
	buf_release(&w->children);
	buf_release(&w->body);
	buf_release(&w->last_name);
	free(w->slots);
	w->slots = NULL;
	w->slot_cap = 0;
}

static int valid_type(unsigned t)
{
	return t >= NODE_FILE && t <= NODE_SOCK;
}

static int decode_node(reader *r, tree_node *n, uint32_t nchildren)
{
	memset(n, 0, sizeof(*n));
	n->name = reader_str(r, &n->name_len, TREE_NAME_MAX);
	n->type = reader_u8(r);
	uint64_t mode = reader_varint(r), uid = reader_varint(r), gid = reader_varint(r);
	n->user = reader_str(r, &n->user_len, 256);
	n->group = reader_str(r, &n->group_len, 256);
	n->mtime = reader_svarint(r);
	uint64_t mns = reader_varint(r);
	n->ctime = reader_svarint(r);
	uint64_t cns = reader_varint(r);
	n->dev = reader_varint(r);
	n->ino = reader_varint(r);
	n->nlink = reader_varint(r);
	n->size = reader_varint(r);
	if (!reader_ok(r) || n->name_len == 0 || !valid_type(n->type) || mode > 07777 ||
	    uid > UINT32_MAX || gid > UINT32_MAX || mns >= 1000000000 || cns >= 1000000000)
		return -DV_ECORRUPT;
	n->mode = (uint32_t)mode;
	n->uid = (uint32_t)uid;
	n->gid = (uint32_t)gid;
	n->mtime_ns = (uint32_t)mns;
	n->ctime_ns = (uint32_t)cns;
	uint64_t ref, total = 0;
	switch (n->type) {
	case NODE_FILE: {
		uint64_t ns = reader_varint(r);
		/* each segment takes at least 2 bytes: bound before allocating */
		if (!reader_ok(r) || ns > reader_left(r) / 2)
			return -DV_ECORRUPT;
		n->nsegs = (size_t)ns;
		n->segs = ns ? calloc((size_t)ns, sizeof(*n->segs)) : NULL;
		if (ns && !n->segs)
			return -ENOMEM;
		for (size_t i = 0; i < n->nsegs; i++) {
			n->segs[i].len = reader_varint(r);
			ref = reader_varint(r);
			if (ref > nchildren || n->segs[i].len == 0 ||
			    __builtin_add_overflow(total, n->segs[i].len, &total))
				return -DV_ECORRUPT;
			n->segs[i].ref = (uint32_t)ref;
		}
		if (total != n->size)
			return -DV_ECORRUPT;
		break;
	}
	case NODE_DIR:
		ref = reader_varint(r);
		if (ref == 0 || ref > nchildren)
			return -DV_ECORRUPT;
		n->subtree = (uint32_t)ref;
		break;
	case NODE_SYMLINK:
		n->target = reader_str(r, &n->target_len, TREE_TARGET_MAX);
		if (n->target_len == 0)
			return -DV_ECORRUPT;
		break;
	case NODE_CHR:
	case NODE_BLK:
		n->rdev = reader_varint(r);
		break;
	}
	/* xattrs: keep the encoded form, after checking it parses */
	const uint8_t *xstart = r->p;
	uint64_t nx = reader_varint(r);
	if (!reader_ok(r) || nx > MAX_XATTRS)
		return -DV_ECORRUPT;
	for (uint64_t i = 0; i < nx; i++) {
		size_t l;
		reader_str(r, &l, 255);
		reader_str(r, &l, XATTR_VALUE_MAX);
	}
	if (!reader_ok(r))
		return -DV_ECORRUPT;
	if (nx) {
		n->xattrs = xstart;
		n->xattrs_len = (size_t)(r->p - xstart);
	}
	size_t extlen;
	const uint8_t *ext = reader_str(r, &extlen, 1 << 20);
	if (!reader_ok(r))
		return -DV_ECORRUPT;
	return extlen ? decode_extension(n, ext, extlen) : 0;
}

int tree_decode(tree *t, buf *plain)
{
	memset(t, 0, sizeof(*t));
	t->plain = *plain;
	*plain = (buf)BUF_INIT;
	reader r;
	reader_init(&r, t->plain.data, t->plain.len);
	uint32_t nc = reader_le32(&r);
	if (!reader_ok(&r) || nc > reader_left(&r) / 32)
		goto corrupt;
	t->children = reader_bytes(&r, (size_t)nc * 32);
	t->nchildren = nc;
	uint8_t version = reader_u8(&r);
	uint64_t count = reader_varint(&r);
	if (!reader_ok(&r) || version != TREE_VERSION || count > reader_left(&r) / 16)
		goto corrupt;
	t->nodes = count ? calloc((size_t)count, sizeof(*t->nodes)) : NULL;
	if (count && !t->nodes) {
		tree_release(t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		int rc = decode_node(&r, &t->nodes[i], nc);
		t->n = i + 1;
		if (rc == -ENOMEM) {
			tree_release(t);
			return rc;
		}
		if (rc < 0)
			goto corrupt;
		if (i > 0 && tree_name_cmp(t->nodes[i - 1].name, t->nodes[i - 1].name_len,
				      t->nodes[i].name, t->nodes[i].name_len) >= 0)
			goto corrupt;
	}
	if (reader_left(&r) != 0)
		goto corrupt;
	return 0;
corrupt:
	tree_release(t);
	return -DV_ECORRUPT;
}

void tree_release(tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->nodes[i].segs);
	free(t->nodes);
	buf_release(&t->plain);
	memset(t, 0, sizeof(*t));
}

const uint8_t *tree_child(const tree *t, uint32_t ref)
{
	if (ref == 0 || ref > t->nchildren)
		return NULL;
	return t->children + 32 * (size_t)(ref - 1);
}

long tree_find(const tree *t, const void *name, size_t len)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = tree_name_cmp(t->nodes[mid].name, t->nodes[mid].name_len, name, len);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int tree_name_safe(const uint8_t *name, size_t len)
{
	if (len == 0 || memchr(name, '/', len) || memchr(name, 0, len))
		return 0;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}
