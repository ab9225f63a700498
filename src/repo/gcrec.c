/* SPDX-License-Identifier: BSD-2-Clause */
#include "gcrec.h"
#include "format.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/checksum.h"
#include "../core/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gc_record_name(char out[80])
{
	uint8_t rnd[16];
	char hex[33];
	int r = crypto_random(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	hex_encode(hex, rnd, sizeof(rnd));
	snprintf(out, 80, "gc/%s", hex);
	return 0;
}

int gc_record_encode(buf *out, const gc_record *r)
{
	if (r->npacks > GCREC_MAX_PACKS)
		return -EFBIG;
	size_t total = GCREC_HEADER_LEN + r->npacks * 32 + 16;
	out->len = 0;
	int rc = buf_reserve(out, total);
	if (rc < 0)
		return rc;
	uint8_t *p = out->data;
	memcpy(p, GCREC_MAGIC, MAGIC_LEN);
	le32_put(p + 8, FORMAT_VERSION);
	le32_put(p + 12, (uint32_t)r->npacks);
	le64_put(p + 16, (uint64_t)r->time_ns);
	if (r->npacks)
		memcpy(p + GCREC_HEADER_LEN, r->packs, r->npacks * 32);
	checksum128(p + total - 16, p, total - 16);
	out->len = total;
	return 0;
}

int gc_record_decode(gc_record *r, const uint8_t *p, size_t n)
{
	uint8_t ck[16];
	if (n < GCREC_HEADER_LEN + 16 || memcmp(p, GCREC_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	if (le32_get(p + 8) != FORMAT_VERSION)
		return -DV_EFORMAT;
	uint64_t np = le32_get(p + 12);
	if (np > GCREC_MAX_PACKS || n != GCREC_HEADER_LEN + np * 32 + 16)
		return -DV_ECORRUPT;
	checksum128(ck, p, n - 16);
	if (memcmp(ck, p + n - 16, 16) != 0)
		return -DV_ECORRUPT;
	r->time_ns = (int64_t)le64_get(p + 16);
	r->npacks = (size_t)np;
	r->packs = malloc(np ? np * 32 : 1);
	if (!r->packs)
		return -ENOMEM;
	if (np)
		memcpy(r->packs, p + GCREC_HEADER_LEN, np * 32);
	return 0;
}

int gc_record_put(backend *be, const gc_record *r)
{
	buf _cleanup_(buf_releasep) b = BUF_INIT;
	int rc = gc_record_encode(&b, r);
	return rc < 0 ? rc : backend_put(be, r->name, b.data, b.len);
}

struct load_ctx {
	backend *be;
	gc_record *v;
	size_t n, damaged;
};

static int load_one(void *ud, const char *name)
{
	struct load_ctx *c = ud;
	bytes b = BYTES_INIT;
	gc_record rec;
	memset(&rec, 0, sizeof(rec));
	if (strlen(name) >= sizeof(rec.name))
		return 0;
	int r = backend_get(c->be, name, &b);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = gc_record_decode(&rec, b.data, b.len);
	bytes_release(&b);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (c->damaged++ == 0)
			err_set(-DV_ECORRUPT, "condemned-pack record '%s' is damaged", name);
		return 0;
	}
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	gc_record *v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (!v) {
		free(rec.packs);
		return -ENOMEM;
	}
	c->v = v;
	v[c->n++] = rec;
	return 0;
}

int gc_records_load(backend *be, gc_record **out, size_t *out_n, size_t *out_damaged)
{
	struct load_ctx c = { be, NULL, 0, 0 };
	int r = backend_list(be, "gc", load_one, &c);
	if (r < 0) {
		gc_records_free(c.v, c.n);
		return r;
	}
	*out = c.v;
	*out_n = c.n;
	if (out_damaged)
		*out_damaged = c.damaged;
	return 0;
}

void gc_records_free(gc_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].packs);
	free(v);
}
