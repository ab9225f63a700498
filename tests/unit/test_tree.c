/* SPDX-License-Identifier: BSD-2-Clause */
#include "harness.h"
#include "archive/tree.h"
#include "base/err.h"

static tree_node node(const char *name, int type)
{
	tree_node n;
	memset(&n, 0, sizeof(n));
	n.name = (const uint8_t *)name;
	n.name_len = strlen(name);
	n.type = (uint8_t)type;
	n.mode = 0644;
	n.user = (const uint8_t *)"root";
	n.user_len = 4;
	n.mtime = -86400 * 365; /* before 1970 */
	n.mtime_ns = 123456789;
	return n;
}

/* A tree with one node of every type; plaintext into out. */
static void build(buf *out)
{
	tree_writer w = TREE_WRITER_INIT;
	uint8_t a[32], b[32];
	memset(a, 0xaa, 32);
	memset(b, 0xbb, 32);
	tree_node n = node("blk", NODE_BLK);
	n.rdev = 0x0801;
	REQUIRE(tree_writer_add(&w, &n) == 0);
	n = node("dir", NODE_DIR);
	REQUIRE(tree_writer_ref(&w, b, &n.subtree) == 0);
	REQUIRE(tree_writer_add(&w, &n) == 0);
	n = node("file", NODE_FILE);
	tree_seg segs[3] = { { 100, 0 }, { 50, 0 }, { 4096, 0 } };
	REQUIRE(tree_writer_ref(&w, a, &segs[0].ref) == 0);
	REQUIRE(tree_writer_ref(&w, a, &segs[2].ref) == 0); /* same id: same ref */
	n.segs = segs;
	n.nsegs = 3;
	n.size = 100 + 50 + 4096;
	buf x = BUF_INIT;
	REQUIRE(tree_xattrs_add(&x, "user.k", 6, "v\0v", 3) == 0);
	REQUIRE(tree_xattrs_add(&x, "system.posix_acl_access", 23, "acl", 3) == 0);
	n.xattrs = x.data;
	n.xattrs_len = x.len;
	REQUIRE(tree_writer_add(&w, &n) == 0);
	n = node("link\nwith newline \xff", NODE_SYMLINK);
	n.target = (const uint8_t *)"../../etc/passwd";
	n.target_len = 16;
	REQUIRE(tree_writer_add(&w, &n) == 0);
	/* out of order and duplicates are refused */
	n = node("a", NODE_FIFO);
	CHECK(tree_writer_add(&w, &n) == -EINVAL);
	n = node("link\nwith newline \xff", NODE_FIFO);
	CHECK(tree_writer_add(&w, &n) == -EINVAL);
	n = node("z", NODE_FIFO);
	REQUIRE(tree_writer_add(&w, &n) == 0);
	REQUIRE(tree_writer_finish(&w, out) == 0);
	buf_release(&x);
	tree_writer_release(&w);
}

TEST(tree_round_trip_every_type)
{
	buf p = BUF_INIT;
	build(&p);
	REQUIRE(p.len > 0);
	tree t = TREE_INIT;
	REQUIRE(tree_decode(&t, &p) == 0);
	CHECK(t.n == 5 && t.nchildren == 2);
	CHECK(t.nodes[0].type == NODE_BLK && t.nodes[0].rdev == 0x0801);
	CHECK(t.nodes[1].type == NODE_DIR && tree_child(&t, t.nodes[1].subtree)[0] == 0xbb);
	const tree_node *f = &t.nodes[2];
	CHECK(f->nsegs == 3 && f->segs[1].ref == 0 && f->segs[0].ref == f->segs[2].ref);
	CHECK(f->size == 4246 && f->mtime == -86400 * 365 && f->mtime_ns == 123456789);
	tree_xattr_iter it;
	const uint8_t *k, *v;
	size_t kl, vl;
	tree_xattr_iter_init(&it, f);
	CHECK(tree_xattr_next(&it, &k, &kl, &v, &vl) == 1 && kl == 6 && vl == 3 && v[1] == 0);
	CHECK(tree_xattr_next(&it, &k, &kl, &v, &vl) == 1 && kl == 23);
	CHECK(tree_xattr_next(&it, &k, &kl, &v, &vl) == 0);
	CHECK(t.nodes[3].target_len == 16);
	CHECK(tree_find(&t, "file", 4) == 2 && tree_find(&t, "nope", 4) == -1);
	CHECK(tree_find(&t, "z", 1) == 4);
	tree_release(&t);
}

TEST(tree_decoder_survives_every_truncation_and_bit_flip)
{
	buf p = BUF_INIT;
	build(&p);
	size_t n = p.len;
	uint8_t *orig = malloc(n);
	REQUIRE(orig);
	memcpy(orig, p.data, n);
	buf_release(&p);
	int ok = 0, bad = 0;
	for (size_t len = 0; len < n; len++) {
		buf q = BUF_INIT;
		REQUIRE(buf_append(&q, orig, len) == 0);
		tree t = TREE_INIT;
		CHECK(tree_decode(&t, &q) == -DV_ECORRUPT);
		buf_release(&q);
	}
	for (size_t i = 0; i < n * 8; i++) {
		buf q = BUF_INIT;
		REQUIRE(buf_append(&q, orig, n) == 0);
		q.data[i / 8] ^= (uint8_t)(1u << (i % 8));
		tree t = TREE_INIT;
		int rc = tree_decode(&t, &q);
		CHECK(rc == 0 || rc == -DV_ECORRUPT);
		rc == 0 ? ok++ : bad++;
		tree_release(&t);
		buf_release(&q);
	}
	CHECK(bad > 0);
	free(orig);
}

TEST(empty_tree)
{
	tree_writer w = TREE_WRITER_INIT;
	buf p = BUF_INIT;
	REQUIRE(tree_writer_finish(&w, &p) == 0);
	tree t = TREE_INIT;
	CHECK(tree_decode(&t, &p) == 0 && t.n == 0 && t.nchildren == 0);
	tree_release(&t);
	tree_writer_release(&w);
}

TEST(segment_sizes_must_add_up)
{
	tree_writer w = TREE_WRITER_INIT;
	tree_node n = node("f", NODE_FILE);
	tree_seg s = { 10, 0 };
	n.segs = &s;
	n.nsegs = 1;
	n.size = 11;
	REQUIRE(tree_writer_add(&w, &n) == 0);
	buf p = BUF_INIT;
	REQUIRE(tree_writer_finish(&w, &p) == 0);
	tree t = TREE_INIT;
	CHECK(tree_decode(&t, &p) == -DV_ECORRUPT);
	tree_writer_release(&w);
}

/* A one-node tree: a file holding a block device's contents. */
static void build_device(buf *out, uint64_t rdev)
{
	tree_writer w = TREE_WRITER_INIT;
	uint8_t a[32];
	memset(a, 0xcc, 32);
	tree_node n = node("disk", NODE_FILE);
	tree_seg segs[2] = { { 4096, 0 }, { 1 << 20, 0 } };
	REQUIRE(tree_writer_ref(&w, a, &segs[0].ref) == 0);
	n.segs = segs;
	n.nsegs = 2;
	n.size = 4096 + (1 << 20);
	n.device = 1;
	n.rdev = rdev;
	REQUIRE(tree_writer_add(&w, &n) == 0);
	REQUIRE(tree_writer_finish(&w, out) == 0);
	tree_writer_release(&w);
}

TEST(device_contents_travel_in_the_extension)
{
	buf p = BUF_INIT;
	build_device(&p, 0x0701); /* rdev 1793: varint 0x81 0x0e */
	REQUIRE(p.len > 6);
	/* the node ends: ext length 4 | tag 1 | value length 2 | 0x81 0x0e */
	const uint8_t tail[] = { 4, TREE_EXT_DEVICE, 2, 0x81, 0x0e };
	CHECK(memcmp(p.data + p.len - 5, tail, 5) == 0);
	buf q = BUF_INIT, bad = BUF_INIT;
	REQUIRE(buf_append(&q, p.data, p.len) == 0);
	REQUIRE(buf_append(&bad, p.data, p.len) == 0);
	tree t = TREE_INIT;
	REQUIRE(tree_decode(&t, &p) == 0);
	CHECK(t.nodes[0].type == NODE_FILE && t.nodes[0].device && t.nodes[0].rdev == 0x0701);
	tree_release(&t);
	/* a field this version does not know is skipped */
	q.data[q.len - 4] = 9;
	REQUIRE(tree_decode(&t, &q) == 0);
	CHECK(!t.nodes[0].device && t.nodes[0].rdev == 0);
	tree_release(&t);
	/* a value longer than the extension is damage */
	bad.data[bad.len - 3] = 3;
	CHECK(tree_decode(&t, &bad) == -DV_ECORRUPT);
	/* a file without the flag writes an empty extension, as version 1 always did */
	tree_writer w = TREE_WRITER_INIT;
	tree_node n = node("plain", NODE_FILE);
	REQUIRE(tree_writer_add(&w, &n) == 0);
	REQUIRE(tree_writer_finish(&w, &p) == 0);
	CHECK(p.data[p.len - 1] == 0 && p.data[p.len - 2] == 0);
	tree_writer_release(&w);
	buf_release(&p);
}
