/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the two snapshot targets check on a snapshot file, sealed with the
 * fixed fuzz keys: snapshot_decode() either refuses it or gives a
 * snapshot whose id is the SHA-256 of the file, whose time formats, and
 * which encodes and decodes back to the same fields (unknown fields are
 * dropped, repeated single fields keep their last value).
 */
#ifndef DV_TEST_FUZZ_SNAPSHOT_H
#define DV_TEST_FUZZ_SNAPSHOT_H

#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "repo/format.h"
#include "repo/snapshot.h"

static void same_list(char **a, size_t na, char **b, size_t nb)
{
	FUZZ_CHECK(na == nb);
	for (size_t i = 0; i < na; i++)
		FUZZ_CHECK(strcmp(a[i], b[i]) == 0);
}

static void fuzz_snapshot_file(const uint8_t *p, size_t n)
{
	crypto_keys k;
	snapshot *s = NULL, *s2 = NULL;
	snapshot_header hd;
	uint8_t h[32];
	buf enc = BUF_INIT;
	fuzz_keys(&k);
	int hr = snapshot_decode_header(p, n, &hd);
	if (snapshot_decode(&s, p, n, &k) < 0)
		goto out;
	FUZZ_CHECK(hr == 0 && memcmp(hd.tree, s->tree, 32) == 0);
	crypto_sha256(h, p, n);
	FUZZ_CHECK(memcmp(h, s->id, 32) == 0 && memcmp(h, hd.id, 32) == 0);
	/* a plaintext time decoded with the key is the body's */
	FUZZ_CHECK(!hd.has_plain || (hd.time == s->time && hd.tz_offset == s->tz_offset));
	char when[40];
	snapshot_format_time(when, s);
	FUZZ_CHECK(snapshot_encode(&enc, s, &k) == 0);
	FUZZ_CHECK(snapshot_decode(&s2, enc.data, enc.len, &k) == 0);
	/* what we write always carries the plaintext fields, and they agree */
	FUZZ_CHECK(snapshot_decode_header(enc.data, enc.len, &hd) == 0 && hd.has_plain &&
		   hd.time == s->time && hd.time_nsec == s->time_nsec);
	FUZZ_CHECK(memcmp(s2->tree, s->tree, 32) == 0 && s2->time == s->time &&
		   s2->time_nsec == s->time_nsec && s2->tz_offset == s->tz_offset);
	FUZZ_CHECK(strcmp(s2->host, s->host) == 0 && strcmp(s2->user, s->user) == 0);
	same_list(s->paths, s->npaths, s2->paths, s2->npaths);
	same_list(s->tags, s->ntags, s2->tags, s2->ntags);
	same_list(s->damaged, s->ndamaged, s2->damaged, s2->ndamaged);
	FUZZ_CHECK(s2->has_parent == s->has_parent &&
		   (!s->has_parent || memcmp(s2->parent, s->parent, 32) == 0));
	FUZZ_CHECK(memcmp(&s2->stats, &s->stats, sizeof(s->stats)) == 0);
out:
	err_clear();
	buf_release(&enc);
	snapshot_free(s);
	snapshot_free(s2);
}

#endif
