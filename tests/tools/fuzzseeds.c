/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzzseeds: turns a real repository into seed inputs for the fuzz
 * targets that cannot take its files as they are (tests/fuzz/
 * make-seeds.sh copies the others):
 *
 *   OUT/tree/           the plaintext of every tree blob
 *   OUT/snapshot_file/  every snapshot, re-sealed with the fixed fuzz keys
 *   OUT/snapshot_body/  the plaintext body of each
 *   OUT/blob/           tree blobs and a few data blobs as the blob target
 *                       takes them: u8 type | le32 length | region | inner
 *   OUT/gcrec/          condemned-pack records naming the repository's packs
 *   OUT/lease/          a lease of each kind
 *
 * Every object is written by dvalin's own encoders.  Files are named by
 * the SHA-256 of their contents.  The password comes from
 * $DVALIN_PASSWORD.  Usage: fuzzseeds REPO OUT
 */
#include "../fuzz/fuzz.h"

#include "base/err.h"
#include "base/hex.h"
#include "core/blob.h"
#include "repo/format.h"
#include "repo/gcrec.h"
#include "repo/lease.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"

#include <errno.h>
#include <sys/stat.h>

static const char *out_dir;

static int put(const char *kind, const void *p, size_t n)
{
	uint8_t h[32];
	char hex[65], path[4096];
	crypto_sha256(h, p, n);
	hex_encode(hex, h, 32);
	snprintf(path, sizeof(path), "%s/%s", out_dir, kind);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return err_sys(-errno, "cannot create '%s'", path);
	snprintf(path, sizeof(path), "%s/%s/%.40s", out_dir, kind, hex);
	FILE *f = fopen(path, "wb");
	if (!f)
		return err_sys(-errno, "cannot create '%s'", path);
	int ok = fwrite(p, 1, n, f) == n;
	ok &= fclose(f) == 0;
	return ok ? 0 : err_sys(-EIO, "cannot write '%s'", path);
}

struct ctx {
	repo *r;
	blob_ctx *fuzz_blob;
	crypto_keys keys;
	size_t ndata;
	uint8_t (*packs)[32];
	size_t npacks;
};

/* The blob target's input for a plaintext: seal it as dvalin does, then
 * open the seal again to get the inner plaintext it holds. */
static int put_blob(struct ctx *c, int type, const buf *plain)
{
	uint8_t id[32];
	buf stored = BUF_INIT, aad = BUF_INIT, in = BUF_INIT;
	size_t region = type == BLOB_TREE ? 4 + (size_t)le32_get(plain->data) * 32 : 0;
	blob_id(id, c->fuzz_blob, plain->data, plain->len);
	int r = blob_seal(c->fuzz_blob, &stored, type, id, plain->data, plain->len);
	r = r ?: fuzz_blob_aad(&aad, type, id, stored.data, region);
	size_t inner = stored.len - region - CRYPTO_OVERHEAD;
	r = r ?: buf_put_u8(&in, type == BLOB_TREE);
	r = r ?: buf_put_le32(&in, (uint32_t)plain->len);
	r = r ?: buf_append(&in, stored.data, region);
	r = r ?: buf_reserve(&in, inner);
	r = r ?: crypto_open(in.data + in.len, c->keys.enc, aad.data, aad.len, stored.data + region,
			     stored.len - region);
	if (r == 0) {
		in.len += inner;
		r = put("blob", in.data, in.len);
	}
	buf_release(&stored);
	buf_release(&aad);
	buf_release(&in);
	return r;
}

static int pack_seen(struct ctx *c, const uint8_t *pack)
{
	for (size_t i = 0; i < c->npacks; i++)
		if (memcmp(c->packs[i], pack, 32) == 0)
			return 1;
	return 0;
}

static int each_blob(void *ud, const uint8_t *id, const index_loc *loc)
{
	struct ctx *c = ud;
	buf plain = BUF_INIT;
	int r = 0;
	if (loc->pack_id && !pack_seen(c, loc->pack_id)) {
		void *v = realloc(c->packs, (c->npacks + 1) * 32);
		if (!v)
			return -ENOMEM;
		c->packs = v;
		memcpy(c->packs[c->npacks++], loc->pack_id, 32);
	}
	if (loc->type == BLOB_DATA && (c->ndata >= 8 || loc->raw_len > 65536))
		return 0;
	r = repo_load_blob(c->r, loc->type, id, &plain);
	if (r == 0 && loc->type == BLOB_TREE)
		r = put("tree", plain.data, plain.len);
	if (r == 0)
		r = put_blob(c, loc->type, &plain);
	c->ndata += loc->type == BLOB_DATA;
	buf_release(&plain);
	return r;
}

static int snapshots(struct ctx *c)
{
	snapshot **v;
	size_t n, damaged;
	int r = repo_load_snapshots(c->r, &v, &n, &damaged);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++) {
		buf file = BUF_INIT;
		r = snapshot_encode(&file, v[i], &c->keys);
		r = r ?: put("snapshot_file", file.data, file.len);
		/* the header is 48 bytes and the plaintext fields (le32 at 12) */
		size_t hlen = r == 0 ? SNAPSHOT_HEADER_LEN + le32_get(file.data + 12) : 0;
		size_t blen = file.len - hlen - CRYPTO_OVERHEAD;
		uint8_t *body = r == 0 ? malloc(blen + 1) : NULL;
		if (r == 0 && !body)
			r = -ENOMEM;
		r = r ?: crypto_open(body, c->keys.enc, file.data, hlen, file.data + hlen,
				     file.len - hlen);
		r = r ?: put("snapshot_body", body, blen);
		free(body);
		buf_release(&file);
	}
	repo_free_snapshots(v, n);
	return r;
}

static int records(struct ctx *c)
{
	gc_record rec = { "gc/0", 0, c->packs, c->npacks };
	buf b = BUF_INIT;
	int r = 0;
	int64_t times[] = { 0, lease_now_ns() };
	for (size_t i = 0; r == 0 && i < 2; i++) {
		rec.time_ns = times[i];
		rec.npacks = i ? c->npacks : (c->npacks > 0);
		r = gc_record_encode(&b, &rec);
		r = r ?: put("gcrec", b.data, b.len);
	}
	buf_release(&b);
	static const char *const kinds[] = { "backup", "read", "prune", "repair" };
	for (size_t i = 0; r == 0 && i < 4; i++) {
		lease_info l;
		char text[1024];
		memset(&l, 0, sizeof(l));
		snprintf(l.kind, sizeof(l.kind), "%s", kinds[i]);
		snprintf(l.host, sizeof(l.host), "%s", i & 1 ? "nas" : "backup-host.example.org");
		l.pid = 1000 + (long)i;
		l.start_ns = lease_now_ns() - (int64_t)i * 600000000000;
		l.refresh_ns = l.start_ns + (int64_t)i * 300000000000;
		int n = lease_format(text, sizeof(text), &l);
		r = n < 0 ? n : put("lease", text, (size_t)n);
	}
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fuzzseeds REPO OUT\n");
		return 2;
	}
	const char *pass = getenv("DVALIN_PASSWORD");
	struct ctx c = { 0 };
	out_dir = argv[2];
	fuzz_keys(&c.keys);
	backend *be;
	int r = backend_open(argv[1], 0, &be);
	r = r ?: repo_open(&c.r, be, pass ? pass : "", 3); /* takes be over */
	r = r ?: blob_ctx_new(&c.fuzz_blob, &c.keys, 3);
	r = r ?: index_set_foreach(repo_index(c.r), each_blob, &c);
	r = r ?: snapshots(&c);
	r = r ?: records(&c);
	if (r < 0)
		fprintf(stderr, "fuzzseeds: %s\n", err_msg(r));
	free(c.packs);
	blob_ctx_free(c.fuzz_blob);
	repo_free(c.r);
	return r < 0;
}
