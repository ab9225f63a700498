/* SPDX-License-Identifier: BSD-2-Clause */
#include "index.h"
#include "format.h"
#include "pack.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/strlist.h"
#include "../core/checksum.h"
#include "../core/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
	bytes b;
	char *name;
	uint64_t base; /* position of the first entry in the set */
	uint32_t npacks, nblobs;
	const uint8_t *fanout, *packs, *entries;
} index_file;

/*
 * One entry of the merged view: the first 8 bytes of an id (as two
 * big-endian halves, so the order is memcmp's) and its position in the
 * set, which names the file and the entry.  12 bytes, no padding.
 */
typedef struct {
	uint32_t hi, lo, pos;
} merged_entry;

typedef struct {
	merged_entry *e; /* sorted by (hi, lo), then newest file first */
	size_t n;
	uint32_t *fan;   /* (1 << bits) + 1 starts, by the top bits of hi */
	unsigned bits;
} merged_view;

/* In-memory entry of a blob added in this session. */
typedef struct {
	uint8_t id[32];
	uint32_t slot, offset, stored_len, raw_len;
	uint8_t type, used, written;
} mem_entry;

struct index_set {
	index_file *files;
	size_t nfiles, files_cap;
	uint64_t file_entries; /* entries in all files */
	char **damaged;        /* files skipped by a tolerant load */
	size_t ndamaged;
	int tolerant;
	mem_entry *tab; /* open addressing, capacity a power of two */
	size_t tab_cap, tab_n;
	/* the places in tab of the entries not written yet, so that writing
	 * an index file every few packs costs what is new, not the whole tab */
	size_t *fresh;
	size_t nfresh, capfresh;
	uint8_t (*slots)[32];
	uint8_t *slot_stored;
	size_t nslots;
	merged_view merged; /* index_set_merge(); emptied when files change */
	char (*own)[80]; /* the index files index_set_write wrote */
	size_t nown, capown;
};

static void merged_release(merged_view *m)
{
	free(m->e);
	free(m->fan);
	memset(m, 0, sizeof(*m));
}

int index_set_new(index_set **out)
{
	index_set *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

void index_set_free(index_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nfiles; i++) {
		bytes_release(&s->files[i].b);
		free(s->files[i].name);
	}
	free(s->files);
	merged_release(&s->merged);
	strlist_free(s->damaged, s->ndamaged);
	free(s->tab);
	free(s->fresh);
	free(s->slots);
	free(s->slot_stored);
	free(s->own);
	free(s);
}

size_t index_set_file_count(const index_set *s)
{
	return s->nfiles;
}

uint64_t index_set_pack_count_max(const index_set *s)
{
	uint64_t n = s->nslots;
	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].npacks;
	return n;
}

int index_validate(const uint8_t *p, size_t n)
{
	size_t min = INDEX_HEADER_LEN + INDEX_FANOUT_LEN + INDEX_TRAILER_LEN;
	if (n < min || memcmp(p, INDEX_MAGIC, MAGIC_LEN) != 0 ||
	    memcmp(p + n - MAGIC_LEN, INDEX_END_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	if (le32_get(p + 8) != FORMAT_VERSION)
		return -DV_EFORMAT;
	uint64_t npacks = le32_get(p + 12), nblobs = le32_get(p + 16);
	if (n != min + npacks * 32 + nblobs * INDEX_ENTRY_LEN)
		return -DV_ECORRUPT;
	uint8_t c[16];
	checksum128(c, p, n - INDEX_TRAILER_LEN);
	if (memcmp(c, p + n - INDEX_TRAILER_LEN, 16) != 0)
		return -DV_ECORRUPT;
	const uint8_t *fan = p + INDEX_HEADER_LEN;
	const uint8_t *ent = fan + INDEX_FANOUT_LEN + npacks * 32;
	uint32_t prev = 0;
	for (int i = 0; i < 256; i++) {
		uint32_t v = le32_get(fan + 4 * i);
		if (v < prev || v > nblobs)
			return -DV_ECORRUPT;
		/* Every entry counted in bucket i must start with byte i. */
		for (uint32_t k = prev; k < v; k++)
			if (ent[(size_t)k * INDEX_ENTRY_LEN] != i)
				return -DV_ECORRUPT;
		prev = v;
	}
	if (prev != nblobs)
		return -DV_ECORRUPT;
	for (uint64_t k = 0; k < nblobs; k++) {
		const uint8_t *e = ent + k * INDEX_ENTRY_LEN;
		if (k > 0 && memcmp(e - INDEX_ENTRY_LEN, e, 32) >= 0)
			return -DV_ECORRUPT;
		if (le32_get(e + 32) >= npacks || (e[48] != 1 && e[48] != 2) || le32_get(e + 40) == 0)
			return -DV_ECORRUPT;
	}
	return 0;
}

struct load_ctx {
	index_set *s;
	const index_set *skip; /* files already loaded there are left out */
};

static int not_loaded(void *ud, const backend_entry *e)
{
	const index_set *skip = ((struct load_ctx *)ud)->skip;
	for (size_t i = 0; skip && i < skip->nfiles; i++)
		if (strcmp(skip->files[i].name, e->name) == 0)
			return 0;
	return 1;
}

static int load_one(void *ud, const char *name, int r, bytes *b)
{
	struct load_ctx *lc = ud;
	index_set *s = lc->s;
	if (r < 0)
		return r;
	r = index_validate(b->data, b->len);
	if (r < 0 && s->tolerant)
		return strlist_add(&s->damaged, &s->ndamaged, name);
	if (r < 0)
		return err_set(r == -DV_EFORMAT ? r : -DV_ECORRUPT, "index file '%s' is %s", name,
			       r == -DV_EFORMAT ? "of an unsupported version" : "damaged");
	index_file *f;
	if ((r = array_reserve(&s->files, &s->files_cap, s->nfiles + 1, sizeof(*f))) < 0)
		return r;
	merged_release(&s->merged); /* it covers the files it was built from */
	f = &s->files[s->nfiles];
	if (!(f->name = strdup(name)))
		return -ENOMEM;
	s->nfiles++;
	f->b = *b;
	*b = (bytes)BYTES_INIT;
	f->npacks = le32_get(f->b.data + 12);
	f->nblobs = le32_get(f->b.data + 16);
	f->fanout = f->b.data + INDEX_HEADER_LEN;
	f->packs = f->fanout + INDEX_FANOUT_LEN;
	f->entries = f->packs + (size_t)f->npacks * 32;
	f->base = s->file_entries;
	s->file_entries += f->nblobs;
	/*
	 * Validation touched every page; let the kernel drop them from our
	 * resident set (they stay in the page cache) so memory stays flat.
	 * Only for file mappings, which the load asks for on every backend:
	 * on heap memory this would zero the data.
	 */
	if (f->b.file_mapped && f->b.len > 65536) {
		uintptr_t start = ((uintptr_t)f->b.data + 4095) & ~(uintptr_t)4095;
		uintptr_t end = ((uintptr_t)f->b.data + f->b.len) & ~(uintptr_t)4095;
		if (end > start)
			madvise((void *)start, end - start, MADV_DONTNEED);
	}
	return 0;
}

static void drop_files(index_set *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		bytes_release(&s->files[i].b);
		free(s->files[i].name);
	}
	s->nfiles = 0;
	s->file_entries = 0;
	merged_release(&s->merged);
	strlist_free(s->damaged, s->ndamaged);
	s->damaged = NULL;
	s->ndamaged = 0;
}

int index_set_load_new(index_set *s, backend *be, const index_set *skip)
{
	struct load_ctx lc = { s, skip };
	/*
	 * A prune replaces index files while others read them: it writes the
	 * new file before deleting the old, so a file that vanished between
	 * listing and opening means the listing is stale: list again.
	 */
	for (int attempt = 0;; attempt++) {
		int r = backend_fetch_dir(be, "index", BACKEND_META, BACKEND_FETCH_MAPPED, not_loaded,
					  load_one, &lc);
		if (r != -ENOENT || attempt == 10)
			return r;
		drop_files(s);
		err_clear();
	}
}

int index_set_load(index_set *s, backend *be)
{
	return index_set_load_new(s, be, NULL);
}

int index_set_load_tolerant(index_set *s, backend *be)
{
	s->tolerant = 1;
	int r = index_set_load(s, be);
	s->tolerant = 0;
	return r;
}

void index_set_damaged(const index_set *s, char ***names, size_t *n)
{
	*names = s->damaged;
	*n = s->ndamaged;
}

const char *index_set_file_name(const index_set *s, size_t i)
{
	return s->files[i].name;
}

uint64_t index_set_positions(const index_set *s)
{
	return s->file_entries + s->tab_cap;
}

static void entry_loc(const index_file *f, uint32_t k, index_loc *out)
{
	const uint8_t *e = f->entries + (size_t)k * INDEX_ENTRY_LEN;
	out->pack_id = f->packs + (size_t)le32_get(e + 32) * 32;
	out->offset = le32_get(e + 36);
	out->stored_len = le32_get(e + 40);
	out->raw_len = le32_get(e + 44);
	out->type = e[48];
	out->pos = f->base + k;
}

static void mem_loc(const index_set *s, const mem_entry *m, index_loc *out)
{
	/* NULL until the blob's pack is stored: a pack being written has no id */
	out->pack_id = m->slot == INDEX_PENDING || !s->slot_stored[m->slot] ? NULL : s->slots[m->slot];
	out->offset = m->offset;
	out->stored_len = m->stored_len;
	out->raw_len = m->raw_len;
	out->type = m->type;
	out->pos = s->file_entries + (uint64_t)(m - s->tab);
}

int index_set_foreach(const index_set *s, index_foreach_fn fn, void *ud)
{
	index_loc loc;
	for (size_t i = 0; i < s->nfiles; i++) {
		const index_file *f = &s->files[i];
		for (uint32_t k = 0; k < f->nblobs; k++) {
			entry_loc(f, k, &loc);
			int r = fn(ud, f->entries + (size_t)k * INDEX_ENTRY_LEN, &loc);
			if (r)
				return r;
		}
	}
	for (size_t i = 0; i < s->tab_cap; i++) {
		const mem_entry *m = &s->tab[i];
		if (!m->used || m->slot == INDEX_PENDING || !s->slot_stored[m->slot])
			continue;
		mem_loc(s, m, &loc);
		int r = fn(ud, m->id, &loc);
		if (r)
			return r;
	}
	return 0;
}

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int entry_cmp(const index_file *f, uint32_t i, const uint8_t id[32])
{
	return memcmp(f->entries + (size_t)i * INDEX_ENTRY_LEN, id, 32);
}

/*
 * Ids are keyed hashes, uniformly spread: the position of an id within its
 * fan-out bucket is predicted from its next 8 bytes, and the search
 * gallops out from the guess.  Probes stay within a page or two instead of
 * the ~16 scattered pages of a plain binary search.
 */
static int file_lookup(const index_file *f, const uint8_t id[32], index_loc *out)
{
	uint32_t lo = id[0] ? le32_get(f->fanout + 4 * (id[0] - 1)) : 0;
	uint32_t hi = le32_get(f->fanout + 4 * id[0]);
	if (lo >= hi)
		return -DV_ENOTFOUND;
	uint32_t g = lo + (uint32_t)(((unsigned __int128)be64_at(id + 1) * (hi - lo)) >> 64);
	int c = entry_cmp(f, g, id);
	if (c > 0) { /* the id is below g: gallop down */
		uint32_t step = 1, b = g;
		while (b - lo > step && entry_cmp(f, b - step, id) > 0) {
			b -= step;
			step *= 2;
		}
		hi = b;
		lo = b - lo > step ? b - step : lo;
	} else if (c < 0) { /* above g: gallop up */
		uint32_t step = 1, a = g + 1;
		while (hi - a > step && entry_cmp(f, a + step - 1, id) < 0) {
			a += step;
			step *= 2;
		}
		lo = a;
		hi = hi - a > step ? a + step : hi;
	} else {
		lo = g;
		hi = g + 1;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		c = entry_cmp(f, mid, id);
		if (c == 0) {
			entry_loc(f, mid, out);
			return 0;
		}
		if (c > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -DV_ENOTFOUND;
}

static mem_entry *tab_find(const index_set *s, const uint8_t id[32])
{
	if (!s->tab_cap)
		return NULL;
	size_t mask = s->tab_cap - 1;
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		mem_entry *e = &s->tab[i];
		if (!e->used || memcmp(e->id, id, 32) == 0)
			return e;
	}
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int merged_cmp(const void *a, const void *b)
{
	const merged_entry *x = a, *y = b;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	/* a later file has higher positions: it comes first, as in the file loop */
	return x->pos > y->pos ? -1 : x->pos < y->pos;
}

/* The file holding position pos (files are in position order). */
static const index_file *file_at(const index_set *s, uint64_t pos)
{
	size_t lo = 0, hi = s->nfiles;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->files[mid].base <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return &s->files[lo];
}

int index_set_merge(index_set *s)
{
	merged_view m = { 0 };
	merged_release(&s->merged);
	if (s->nfiles < 2 || s->file_entries > UINT32_MAX)
		return 0; /* nothing to gain, or positions that do not fit */
	m.n = (size_t)s->file_entries;
	m.bits = m.n > (1u << 16) ? 16 : 8;
	m.e = malloc(m.n * sizeof(*m.e));
	m.fan = calloc(((size_t)1 << m.bits) + 1, sizeof(*m.fan));
	if (!m.e || !m.fan) {
		merged_release(&m);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		const index_file *f = &s->files[i];
		for (uint32_t j = 0; j < f->nblobs; j++, k++) {
			const uint8_t *id = f->entries + (size_t)j * INDEX_ENTRY_LEN;
			m.e[k] = (merged_entry){ be32_at(id), be32_at(id + 4), (uint32_t)(f->base + j) };
		}
	}
	qsort(m.e, m.n, sizeof(*m.e), merged_cmp);
	/* fan[b] = the first entry whose top bits are b or more */
	for (size_t i = 0, b = 0; b <= ((size_t)1 << m.bits); b++) {
		while (i < m.n && (m.e[i].hi >> (32 - m.bits)) < b)
			i++;
		m.fan[b] = (uint32_t)i;
	}
	s->merged = m;
	return 0;
}

/* The files' entry for id through the merged view. */
static int merged_lookup(const index_set *s, const uint8_t id[32], index_loc *out)
{
	const merged_view *m = &s->merged;
	uint32_t hi = be32_at(id), lo32 = be32_at(id + 4);
	size_t top = hi >> (32 - m->bits), lo = m->fan[top], end = m->fan[top + 1];
	while (lo < end) { /* the first entry not below (hi, lo32) */
		size_t mid = lo + (end - lo) / 2;
		const merged_entry *e = &m->e[mid];
		if (e->hi < hi || (e->hi == hi && e->lo < lo32))
			lo = mid + 1;
		else
			end = mid;
	}
	/* equal prefixes: newest file first; the whole id decides */
	for (; lo < m->n && m->e[lo].hi == hi && m->e[lo].lo == lo32; lo++) {
		const index_file *f = file_at(s, m->e[lo].pos);
		uint32_t j = (uint32_t)(m->e[lo].pos - f->base);
		if (entry_cmp(f, j, id) == 0) {
			entry_loc(f, j, out);
			return 0;
		}
	}
	return -DV_ENOTFOUND;
}

int index_set_lookup(const index_set *s, const uint8_t id[32], index_loc *out)
{
	mem_entry *m = tab_find(s, id);
	if (m && m->used) {
		mem_loc(s, m, out);
		return 0;
	}
	if (s->merged.e)
		return merged_lookup(s, id, out);
	for (size_t i = s->nfiles; i-- > 0;)
		if (file_lookup(&s->files[i], id, out) == 0)
			return 0;
	return -DV_ENOTFOUND;
}

int index_add_pack_table(index_set *s, backend *be, const uint8_t pack[32])
{
	pack_entry *e = NULL;
	size_t n = 0;
	uint32_t slot;
	int rc = pack_read_table(be, pack, &e, &n);
	if (rc == -ENOENT)
		return 0; /* already deleted */
	rc = rc ?: index_set_pack_slot(s, &slot);
	if (rc == 0)
		index_set_pack_stored(s, slot, pack);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = index_set_add(s, e[i].id, e[i].type, slot, (uint32_t)e[i].offset,
				   e[i].stored_len, e[i].raw_len);
	free(e);
	return rc;
}

int index_set_pack_slot(index_set *s, uint32_t *out_slot)
{
	uint8_t(*slots)[32] = realloc(s->slots, (s->nslots + 1) * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	s->slots = slots;
	uint8_t *st = realloc(s->slot_stored, s->nslots + 1);
	if (!st)
		return -ENOMEM;
	s->slot_stored = st;
	memset(s->slots[s->nslots], 0, 32);
	s->slot_stored[s->nslots] = 0;
	*out_slot = (uint32_t)s->nslots++;
	return 0;
}

int index_set_session_packs(const index_set *s, idmap *out)
{
	for (size_t i = 0; i < s->nslots; i++) {
		idmap_slot *slot;
		int r = s->slot_stored[i] ? idmap_put(out, s->slots[i], &slot, NULL) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

void index_set_pack_stored(index_set *s, uint32_t slot, const uint8_t id[32])
{
	memcpy(s->slots[slot], id, 32);
	s->slot_stored[slot] = 1;
}

static int tab_grow(index_set *s)
{
	size_t cap = s->tab_cap ? s->tab_cap * 2 : 1024;
	mem_entry *old = s->tab;
	size_t old_cap = s->tab_cap;
	s->tab = calloc(cap, sizeof(*s->tab));
	if (!s->tab) {
		s->tab = old;
		return -ENOMEM;
	}
	s->tab_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			*tab_find(s, old[i].id) = old[i];
	free(old);
	/* the same entries at new places (as many as before: room enough) */
	s->nfresh = 0;
	for (size_t i = 0; i < cap; i++)
		if (s->tab[i].used && !s->tab[i].written)
			s->fresh[s->nfresh++] = i;
	return 0;
}

int index_set_add(index_set *s, const uint8_t id[32], int type, uint32_t slot, uint32_t offset,
		  uint32_t stored_len, uint32_t raw_len)
{
	if ((s->tab_n + 1) * 10 > s->tab_cap * 7) {
		int r = tab_grow(s);
		if (r < 0)
			return r;
	}
	mem_entry *e = tab_find(s, id);
	if (e->used)
		return 0;
	int r = array_reserve(&s->fresh, &s->capfresh, s->nfresh + 1, sizeof(*s->fresh));
	if (r < 0)
		return r;
	s->fresh[s->nfresh++] = (size_t)(e - s->tab);
	memcpy(e->id, id, 32);
	e->slot = slot;
	e->offset = offset;
	e->stored_len = stored_len;
	e->raw_len = raw_len;
	e->type = (uint8_t)type;
	e->used = 1;
	e->written = 0;
	s->tab_n++;
	return 0;
}

void index_set_place(index_set *s, const uint8_t id[32], uint32_t slot, uint32_t offset,
		     uint32_t stored_len)
{
	mem_entry *e = tab_find(s, id);
	if (e && e->used) {
		e->slot = slot;
		e->offset = offset;
		e->stored_len = stored_len;
	}
}

/* Entries whose pack is stored and that no index file holds yet. */
static int writable(const index_set *s, const mem_entry *m)
{
	return m->used && !m->written && m->slot != INDEX_PENDING && s->slot_stored[m->slot];
}

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(((const index_entry *)a)->id, ((const index_entry *)b)->id, 32);
}

int index_encode(buf *out, index_entry *e, size_t n, const uint8_t (*packs)[32], size_t npacks)
{
	if (n > UINT32_MAX / 2 || npacks > UINT32_MAX / 2)
		return -EFBIG;
	qsort(e, n, sizeof(*e), cmp_entry);
	size_t total = INDEX_HEADER_LEN + INDEX_FANOUT_LEN + npacks * 32 + n * INDEX_ENTRY_LEN +
		       INDEX_TRAILER_LEN;
	out->len = 0;
	int r = buf_reserve(out, total);
	if (r < 0)
		return r;
	uint8_t *p = out->data;
	memset(p, 0, total);
	memcpy(p, INDEX_MAGIC, MAGIC_LEN);
	le32_put(p + 8, FORMAT_VERSION);
	le32_put(p + 12, (uint32_t)npacks);
	le32_put(p + 16, (uint32_t)n);
	uint8_t *fan = p + INDEX_HEADER_LEN;
	uint32_t counts[256] = { 0 };
	for (size_t i = 0; i < n; i++)
		counts[e[i].id[0]]++;
	uint32_t acc = 0;
	for (int i = 0; i < 256; i++) {
		acc += counts[i];
		le32_put(fan + 4 * i, acc);
	}
	memcpy(fan + INDEX_FANOUT_LEN, packs, npacks * 32);
	uint8_t *ent = fan + INDEX_FANOUT_LEN + npacks * 32;
	for (size_t i = 0; i < n; i++) {
		uint8_t *q = ent + i * INDEX_ENTRY_LEN;
		memcpy(q, e[i].id, 32);
		le32_put(q + 32, e[i].pack);
		le32_put(q + 36, e[i].offset);
		le32_put(q + 40, e[i].stored_len);
		le32_put(q + 44, e[i].raw_len);
		q[48] = e[i].type;
	}
	uint8_t *tr = p + total - INDEX_TRAILER_LEN;
	checksum128(tr, p, total - INDEX_TRAILER_LEN);
	memcpy(tr + 16, INDEX_END_MAGIC, MAGIC_LEN);
	out->len = total;
	return 0;
}

int index_write_entries(backend *be, index_entry *e, size_t n, const uint8_t (*packs)[32],
			size_t npacks, char out_name[80])
{
	char name[80];
	if (out_name)
		out_name[0] = 0;
	if (n == 0)
		return 0;
	qsort(e, n, sizeof(*e), cmp_entry);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || memcmp(e[k - 1].id, e[i].id, 32) != 0)
			e[k++] = e[i];
	buf _cleanup_(buf_releasep) out = BUF_INIT;
	int r = index_encode(&out, e, k, packs, npacks);
	if (r < 0)
		return r;
	uint8_t h[32];
	char hex[65];
	crypto_sha256(h, out.data, out.len);
	hex_encode(hex, h, 32);
	snprintf(name, sizeof(name), "index/%s", hex);
	if (out_name)
		memcpy(out_name, name, sizeof(name));
	return backend_put(be, name, BACKEND_META, out.data, out.len);
}

/* The i-th entry a file written now may hold: of the fresh ones for a new
 * file, of the whole table for a rewrite. */
static mem_entry *candidate(index_set *s, int rewrite, size_t i)
{
	return rewrite ? &s->tab[i] : &s->tab[s->fresh[i]];
}

static int selected(const index_set *s, const mem_entry *m, int rewrite, const idmap *drop)
{
	if (!rewrite)
		return writable(s, m);
	return m->used && m->written && m->slot != INDEX_PENDING && s->slot_stored[m->slot] &&
	       !idmap_get(drop, s->slots[m->slot]);
}

/*
 * Entries of stored packs as one index file: those not yet written
 * (rewrite 0), or those written before whose pack drop does not name
 * (rewrite 1).  Its name goes into *out_name ("" when nothing).
 */
static int write_entries(index_set *s, backend *be, int rewrite, const idmap *drop,
			 char out_name[80])
{
	size_t n = 0;
	out_name[0] = 0;
	for (size_t i = 0, end = rewrite ? s->tab_cap : s->nfresh; i < end; i++)
		if (selected(s, candidate(s, rewrite, i), rewrite, drop))
			n++;
	if (n == 0)
		return 0;
	_cleanup_free_ index_entry *e = malloc(n * sizeof(*e));
	_cleanup_free_ uint32_t *remap = malloc(s->nslots * sizeof(*remap));
	_cleanup_free_ uint8_t(*packs)[32] = malloc(s->nslots * 32);
	if (!e || !remap || !packs)
		return -ENOMEM;
	size_t np = 0, k = 0;
	for (size_t i = 0; i < s->nslots; i++)
		remap[i] = UINT32_MAX;
	for (size_t i = 0, end = rewrite ? s->tab_cap : s->nfresh; i < end; i++) {
		mem_entry *m = candidate(s, rewrite, i);
		if (!selected(s, m, rewrite, drop))
			continue;
		if (remap[m->slot] == UINT32_MAX) {
			remap[m->slot] = (uint32_t)np;
			memcpy(packs[np++], s->slots[m->slot], 32);
		}
		memcpy(e[k].id, m->id, 32);
		e[k].pack = remap[m->slot];
		e[k].offset = m->offset;
		e[k].stored_len = m->stored_len;
		e[k].raw_len = m->raw_len;
		e[k].type = m->type;
		k++;
	}
	int r = array_reserve(&s->own, &s->capown, s->nown + 1, sizeof(*s->own));
	return r ?: index_write_entries(be, e, n, (const uint8_t(*)[32])packs, np, out_name);
}

int index_set_write(index_set *s, backend *be)
{
	char name[80];
	int r = write_entries(s, be, 0, NULL, name);
	if (r < 0 || !name[0])
		return r;
	memcpy(s->own[s->nown++], name, sizeof(name));
	/* what was written leaves the list; entries of packs still being written stay */
	size_t k2 = 0;
	for (size_t i = 0; i < s->nfresh; i++) {
		mem_entry *m = &s->tab[s->fresh[i]];
		if (writable(s, m))
			m->written = 1;
		else
			s->fresh[k2++] = s->fresh[i];
	}
	s->nfresh = k2;
	return 0;
}

int index_set_withdraw(index_set *s, backend *be, const idmap *packs)
{
	char name[80];
	int r = write_entries(s, be, 1, packs, name);
	/* the new file stands before the old ones go: what they name
	 * otherwise is indexed throughout */
	for (size_t i = 0; r == 0 && i < s->nown; i++) {
		if (strcmp(s->own[i], name) == 0)
			continue;
		r = backend_remove(be, s->own[i]);
		if (r == -ENOENT) /* consolidated by a prune meanwhile */
			r = 0;
	}
	if (r < 0)
		return r;
	s->nown = 0;
	if (name[0])
		memcpy(s->own[s->nown++], name, sizeof(name));
	return 0;
}

int index_builder_add(index_builder *b, const uint8_t id[32], const uint8_t pack[32],
		      uint32_t offset, uint32_t stored_len, uint32_t raw_len, int type)
{
	idmap_slot *s;
	int created;
	int r = idmap_put(&b->pos, pack, &s, &created);
	if (r == 0 && created) {
		r = array_reserve(&b->packs, &b->cappacks, b->npacks + 1, 32);
		if (r == 0) {
			memcpy(b->packs[b->npacks], pack, 32);
			s->val = b->npacks++;
		}
	}
	r = r ?: array_reserve(&b->e, &b->cap, b->n + 1, sizeof(*b->e));
	if (r < 0)
		return r;
	index_entry *e = &b->e[b->n++];
	memcpy(e->id, id, 32);
	e->pack = (uint32_t)s->val;
	e->offset = offset;
	e->stored_len = stored_len;
	e->raw_len = raw_len;
	e->type = (uint8_t)type;
	return 0;
}

int index_builder_write(index_builder *b, backend *be, char out_name[80])
{
	int r = index_write_entries(be, b->e, b->n, (const uint8_t(*)[32])b->packs, b->npacks,
				    out_name);
	b->n = 0;
	b->npacks = 0;
	idmap_release(&b->pos);
	return r;
}

void index_builder_release(index_builder *b)
{
	free(b->e);
	free(b->packs);
	idmap_release(&b->pos);
	memset(b, 0, sizeof(*b));
}
