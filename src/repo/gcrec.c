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
	return rc < 0 ? rc : backend_put(be, r->name, BACKEND_META, b.data, b.len);
}

struct load_ctx {
	gc_record *v;
	size_t n, cap, damaged;
	int notice;
};

static int fits_name(void *ud, const backend_entry *e)
{
	struct load_ctx *c = ud;
	if (strcmp(e->name, GC_NOTICE_NAME) == 0) {
		c->notice = 1;
		return 0;
	}
	return strlen(e->name) < sizeof(((gc_record *)NULL)->name);
}

static int load_one(void *ud, const char *name, int r, bytes *b)
{
	struct load_ctx *c = ud;
	gc_record rec;
	memset(&rec, 0, sizeof(rec));
	if (r < 0)
		return r;
	r = gc_record_decode(&rec, b->data, b->len);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (c->damaged++ == 0)
			err_set(-DV_ECORRUPT, "condemned-pack record '%s' is damaged", name);
		return 0;
	}
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	if ((r = array_reserve(&c->v, &c->cap, c->n + 1, sizeof(*c->v))) < 0) {
		free(rec.packs);
		return r;
	}
	c->v[c->n++] = rec;
	return 0;
}

int gc_records_load(backend *be, gc_record **out, size_t *out_n, size_t *out_damaged)
{
	return gc_records_load_noting(be, out, out_n, out_damaged, NULL);
}

int gc_records_load_noting(backend *be, gc_record **out, size_t *out_n, size_t *out_damaged,
			   int *out_notice)
{
	struct load_ctx c = { NULL, 0, 0, 0, 0 };
	int r = backend_fetch_dir(be, "gc", BACKEND_META, BACKEND_FETCH_SKIP_MISSING, fits_name,
				  load_one, &c);
	if (r < 0) {
		gc_records_free(c.v, c.n);
		return r;
	}
	*out = c.v;
	*out_n = c.n;
	if (out_damaged)
		*out_damaged = c.damaged;
	if (out_notice)
		*out_notice = c.notice;
	return 0;
}

int gc_notice_put(backend *be, const uint8_t (*packs)[32], size_t n, int64_t time_ns)
{
	gc_record r = { GC_NOTICE_NAME, time_ns, (uint8_t(*)[32])packs, n };
	return gc_record_put(be, &r);
}

int gc_notice_load(backend *be, idmap *ids)
{
	bytes b = BYTES_INIT;
	gc_record r;
	memset(&r, 0, sizeof(r));
	int rc = backend_get(be, GC_NOTICE_NAME, BACKEND_META, &b);
	if (rc == -ENOENT) {
		err_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = gc_record_decode(&r, b.data, b.len);
	bytes_release(&b);
	/* a notice that cannot be read could name anything */
	if (rc < 0 && rc != -ENOMEM)
		return err_set(-DV_ECORRUPT, "the notice of packs a prune is deleting ('%s') is damaged; the next prune removes it",
			       GC_NOTICE_NAME);
	for (size_t i = 0; rc == 0 && i < r.npacks; i++) {
		idmap_slot *s;
		rc = idmap_put(ids, r.packs[i], &s, NULL);
	}
	free(r.packs);
	return rc;
}

int gc_notice_remove(backend *be)
{
	int rc = backend_remove(be, GC_NOTICE_NAME);
	if (rc == -ENOENT) {
		err_clear();
		rc = 0;
	}
	return rc;
}

int gc_records_add_packs(const gc_record *v, size_t n, backend *be, idmap *ids, index_set *tables)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		for (size_t k = 0; rc == 0 && k < v[i].npacks; k++) {
			idmap_slot *s;
			if (ids)
				rc = idmap_put(ids, v[i].packs[k], &s, NULL);
			if (tables)
				rc = rc ?: index_add_pack_table(tables, be, v[i].packs[k]);
		}
	}
	return rc;
}

int gc_condemned_load(backend *be, idmap *ids, index_set *tables, size_t *out_damaged)
{
	gc_record *v = NULL;
	size_t n = 0, damaged = 0;
	char msg[256] = "";
	int rc = gc_records_load(be, &v, &n, &damaged);
	if (rc < 0)
		return rc;
	/* reading the tables may record other messages; keep the one
	 * naming a damaged record for the caller */
	if (damaged)
		snprintf(msg, sizeof(msg), "%s", err_msg(-DV_ECORRUPT));
	rc = gc_records_add_packs(v, n, be, ids, tables);
	gc_records_free(v, n);
	if (rc == 0 && damaged)
		err_set(-DV_ECORRUPT, "%s", msg);
	if (out_damaged)
		*out_damaged = damaged;
	return rc;
}

void gc_records_free(gc_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].packs);
	free(v);
}
