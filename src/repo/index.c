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
#include "../base/fsio.h"
#include "../backend/spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
	bytes b;
	char *name;
	uint64_t base; /* position of the first entry in the set */
	uint32_t npacks, nblobs;
	const uint8_t *fanout, *entries;
	/* a copy of the file's pack ids: every lookup's answer points into
	 * it, and a touch of the mapping can make the whole file resident */
	uint8_t *packs;
} index_file;

/*
 * A merged lookup run: the entries of files [first, end) of the set in
 * one sorted table, so that a lookup searches one table instead of every
 * file (a lookup that misses in 25 files cost 25 searches: half of an
 * unchanged re-backup of a million files was memcmp there).  A run lives
 * in an unlinked local file (spill_file_open), written with pwrite and
 * read through a mapping: page cache, not heap.  Records (RUN_REC bytes):
 *   id[32] | le32 file | le32 entry | le32 pack (in that file's list) |
 *   le32 offset | le32 stored | le32 raw | type | 3 pad
 * An id in several files appears once, with the newest file's entry, as
 * a search of the files newest first would find it.
 */
#define RUN_REC 60
/* at most this many files make a new run (merge_runs); runs merge when
 * the newer is at least half the size of the older (so there are
 * O(log n) of them) */
#define RUN_MIN_FILES 4
#define RUN_MAX 12

typedef struct {
	const uint8_t *p; /* mapped (read for merges; searched if small) */
	size_t len;
	int fd;           /* the unlinked file, for pread */
	uint64_t n;
	uint64_t fan[256]; /* records whose first id byte is <= i */
	uint64_t *sparse;  /* first 8 id bytes (big-endian) of each block */
	uint64_t nblocks, serial;
	size_t first, end;
} index_run;

/*
 * Resident memory.  A lookup touches a page of a file or run; over a
 * backup of millions of files a mapping would make every page of the
 * index resident (60 bytes per blob), and on ext4 one random touch maps
 * about 120 pages at once (large folios), so dropping pages now and then
 * cannot bound it cheaply.  So a run larger than RUN_MAP_MAX is not
 * searched through its mapping: a sparse array in the heap (the first 8
 * id bytes of every block of RUN_BLOCK_RECS records, 1 byte per
 * blob) names the one block that can hold an id, and blocks are read
 * with pread into a cache of INDEX_CACHE_BYTES shared by the set's runs
 * (a miss costs a pread from the page cache, about 2 us here).  Files
 * that no run covers are searched through their mappings; they are kept
 * small: more than RUN_MAP_MAX of them are covered by a run too.
 * Lookups of a backup's chunks are spread evenly over the index, so a
 * cache of c bytes hits about c / (60 bytes per blob) of the time
 * whatever its size: 4 MiB, not more (16 MiB was a sixth of a 1M-file
 * backup's peak for a hit rate of a quarter); and 1 MiB of mapped runs,
 * as each resident mapping counts in full.
 */
#define RUN_MAP_MAX ((size_t)1 << 20)
#define RUN_BLOCK_RECS 8
#define RUN_BLOCK (RUN_BLOCK_RECS * RUN_REC) /* 480 bytes: 8 cache lines */
#define INDEX_CACHE_BYTES ((size_t)4 << 20)
#define CACHE_SLOTS (INDEX_CACHE_BYTES / RUN_BLOCK)

typedef struct {
	uint64_t tag[CACHE_SLOTS]; /* run serial << 40 | block + 1; 0: empty */
	uint8_t *data;             /* CACHE_SLOTS blocks, mapped on first use */
	uint64_t reads, hits;
} block_cache;

/* Pack ids of slots live in fixed blocks that never move, so a lookup's
 * pack_id stays valid while other threads add packs. */
#define SLOT_BLOCK 1024

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
	uint8_t (**slot_blocks)[32];
	uint8_t *slot_stored;
	size_t nslots;
	index_run *runs; /* oldest first; they cover files [0, covered) */
	size_t nruns, covered;
	uint64_t run_serial;
	block_cache *cache; /* changed by lookups, which take the set as const */
	char (*own)[80]; /* the index files index_set_write wrote */
	size_t nown, capown;
};

static uint8_t *slot_id(const index_set *s, size_t slot)
{
	return s->slot_blocks[slot / SLOT_BLOCK][slot % SLOT_BLOCK];
}

static void run_release(index_run *r)
{
	if (r->len)
		munmap((void *)r->p, r->len);
	if (r->fd >= 0)
		close(r->fd);
	free(r->sparse);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

static void drop_runs(index_set *s)
{
	for (size_t i = 0; i < s->nruns; i++)
		run_release(&s->runs[i]);
	free(s->runs);
	s->runs = NULL;
	s->nruns = 0;
	s->covered = 0;
}

int index_set_new(index_set **out)
{
	index_set *s = calloc(1, sizeof(*s));
	if (!s || !(s->cache = calloc(1, sizeof(*s->cache)))) {
		free(s);
		return -ENOMEM;
	}
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
		free(s->files[i].packs);
	}
	free(s->files);
	strlist_free(s->damaged, s->ndamaged);
	free(s->tab);
	for (size_t i = 0; i < (s->nslots + SLOT_BLOCK - 1) / SLOT_BLOCK; i++)
		free(s->slot_blocks[i]);
	free(s->slot_blocks);
	free(s->slot_stored);
	free(s->own);
	drop_runs(s);
	if (s->cache->data)
		munmap(s->cache->data, CACHE_SLOTS * RUN_BLOCK);
	free(s->cache);
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

static void merge_runs(index_set *s);

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

/* Drops the pages of [p, p + n) from the resident set (file mappings only:
 * on heap memory this would zero the data); they stay in the page cache. */
static void drop_pages(const uint8_t *p, size_t n)
{
	uintptr_t start = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)4095;
	if (end > start)
		madvise((void *)start, end - start, MADV_DONTNEED);
}

/* Adds a validated index file image to the set (taking b). */
static int add_file(index_set *s, const char *name, bytes *b)
{
	index_file *f;
	int r;
	if ((r = array_reserve(&s->files, &s->files_cap, s->nfiles + 1, sizeof(*f))) < 0)
		return r;
	f = &s->files[s->nfiles];
	memset(f, 0, sizeof(*f));
	uint32_t npacks = le32_get(b->data + 12);
	const uint8_t *packs = b->data + INDEX_HEADER_LEN + INDEX_FANOUT_LEN;
	if (!(f->name = strdup(name)) || !(f->packs = malloc(npacks ? (size_t)npacks * 32 : 1))) {
		free(f->name);
		return -ENOMEM;
	}
	memcpy(f->packs, packs, (size_t)npacks * 32);
	s->nfiles++;
	f->b = *b;
	*b = (bytes)BYTES_INIT;
	f->npacks = npacks;
	f->nblobs = le32_get(f->b.data + 16);
	f->fanout = f->b.data + INDEX_HEADER_LEN;
	f->entries = packs + (size_t)npacks * 32;
	f->base = s->file_entries;
	s->file_entries += f->nblobs;
	/*
	 * Validation touched every page; let the kernel drop them from our
	 * resident set (they stay in the page cache) so memory stays flat.
	 * Only for file mappings, which the load asks for on every backend.
	 */
	if (f->b.file_mapped && f->b.len > 65536)
		drop_pages(f->b.data, f->b.len);
	return 0;
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
	return add_file(s, name, b);
}

static void drop_files(index_set *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		bytes_release(&s->files[i].b);
		free(s->files[i].name);
		free(s->files[i].packs);
	}
	s->nfiles = 0;
	s->file_entries = 0;
	drop_runs(s);
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
		if (r == 0)
			merge_runs(s);
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
	out->pack_id = m->slot == INDEX_PENDING || !s->slot_stored[m->slot] ? NULL : slot_id(s, m->slot);
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

/*
 * Ids are keyed hashes, uniformly spread: the position of an id within its
 * fan-out bucket [lo, hi) of a sorted table (records of stride bytes, each
 * starting with its id) is predicted from its next 8 bytes, and the search
 * gallops out from the guess.  Probes stay within a page or two instead of
 * the ~16 scattered pages of a plain binary search.
 */
static int table_find(const uint8_t *t, size_t stride, uint64_t lo, uint64_t hi,
		      const uint8_t id[32], uint64_t *out)
{
#define AT(i) memcmp(t + (size_t)(i) * stride, id, 32)
	if (lo >= hi)
		return -DV_ENOTFOUND;
	uint64_t g = lo + (uint64_t)(((unsigned __int128)be64_at(id + 1) * (hi - lo)) >> 64);
	int c = AT(g);
	if (c > 0) { /* the id is below g: gallop down */
		uint64_t step = 1, b = g;
		while (b - lo > step && AT(b - step) > 0) {
			b -= step;
			step *= 2;
		}
		hi = b;
		lo = b - lo > step ? b - step : lo;
	} else if (c < 0) { /* above g: gallop up */
		uint64_t step = 1, a = g + 1;
		while (hi - a > step && AT(a + step - 1) < 0) {
			a += step;
			step *= 2;
		}
		lo = a;
		hi = hi - a > step ? a + step : hi;
	} else {
		*out = g;
		return 0;
	}
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		c = AT(mid);
		if (c == 0) {
			*out = mid;
			return 0;
		}
		if (c > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -DV_ENOTFOUND;
#undef AT
}

static int file_lookup(const index_file *f, const uint8_t id[32], index_loc *out)
{
	uint32_t lo = id[0] ? le32_get(f->fanout + 4 * (id[0] - 1)) : 0;
	uint32_t hi = le32_get(f->fanout + 4 * id[0]);
	uint64_t k;
	if (table_find(f->entries, INDEX_ENTRY_LEN, lo, hi, id, &k) < 0)
		return -DV_ENOTFOUND;
	entry_loc(f, (uint32_t)k, out);
	return 0;
}

static void run_loc(const index_set *s, const uint8_t *e, index_loc *out)
{
	const index_file *f = &s->files[le32_get(e + 32)];
	out->pack_id = f->packs + (size_t)le32_get(e + 40) * 32;
	out->offset = le32_get(e + 44);
	out->stored_len = le32_get(e + 48);
	out->raw_len = le32_get(e + 52);
	out->type = e[56];
	out->pos = f->base + le32_get(e + 36);
}

/* Block b of a large run, from the cache or read into it; NULL on error. */
static const uint8_t *run_block(const index_set *s, const index_run *r, uint64_t b,
				size_t *out_n)
{
	block_cache *c = s->cache;
	uint64_t tag = r->serial << 40 | (b + 1);
	size_t slot = (size_t)((b * 0x9e3779b97f4a7c15ULL + r->serial) % CACHE_SLOTS);
	uint64_t first = b * RUN_BLOCK_RECS;
	*out_n = (size_t)MIN((uint64_t)RUN_BLOCK_RECS, r->n - first);
	if (!c->data) {
		void *d = mmap(NULL, CACHE_SLOTS * RUN_BLOCK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (d == MAP_FAILED)
			return NULL;
		c->data = d;
	}
	uint8_t *d = c->data + slot * RUN_BLOCK;
	if (c->tag[slot] == tag) {
		c->hits++;
		return d;
	}
	c->reads++;
	c->tag[slot] = 0;
	if (fsio_pread_exact(r->fd, d, *out_n * RUN_REC, (off_t)(first * RUN_REC)) < 0)
		return NULL;
	c->tag[slot] = tag;
	return d;
}

static int run_lookup(const index_set *s, const index_run *r, const uint8_t id[32], index_loc *out)
{
	uint64_t k;
	if (!r->sparse) {
		if (table_find(r->p, RUN_REC, id[0] ? r->fan[id[0] - 1] : 0, r->fan[id[0]], id, &k) < 0)
			return -DV_ENOTFOUND;
		run_loc(s, r->p + k * RUN_REC, out);
		return 0;
	}
	/* the last block whose first id is not above the id's first 8 bytes */
	uint64_t q = be64_at(id), lo = 0, hi = r->nblocks;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (r->sparse[mid] <= q)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint64_t b = lo; b-- > 0;) {
		size_t n;
		const uint8_t *blk = run_block(s, r, b, &n);
		if (!blk)
			return -EIO;
		if (table_find(blk, RUN_REC, 0, n, id, &k) == 0) {
			run_loc(s, blk + k * RUN_REC, out);
			return 0;
		}
		/* ids sharing these 8 bytes may have begun in the block before */
		if (r->sparse[b] != q)
			break;
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

int index_set_lookup(const index_set *s, const uint8_t id[32], index_loc *out)
{
	mem_entry *m = tab_find(s, id);
	if (m && m->used) {
		mem_loc(s, m, out);
		return 0;
	}
	/* the files no run covers, newest first, then the runs */
	for (size_t i = s->nfiles; i-- > s->covered;)
		if (file_lookup(&s->files[i], id, out) == 0)
			return 0;
	for (size_t i = s->nruns; i-- > 0;)
		if (run_lookup(s, &s->runs[i], id, out) == 0)
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
	if (s->nslots >= UINT32_MAX - 1)
		return -EFBIG;
	if (s->nslots % SLOT_BLOCK == 0) {
		size_t nb = s->nslots / SLOT_BLOCK;
		uint8_t(**blocks)[32] = realloc(s->slot_blocks, (nb + 1) * sizeof(*blocks));
		if (!blocks)
			return -ENOMEM;
		s->slot_blocks = blocks;
		if (!(blocks[nb] = malloc(SLOT_BLOCK * 32)))
			return -ENOMEM;
	}
	uint8_t *st = realloc(s->slot_stored, s->nslots + 1);
	if (!st)
		return -ENOMEM;
	s->slot_stored = st;
	memset(slot_id(s, s->nslots), 0, 32);
	s->slot_stored[s->nslots] = 0;
	*out_slot = (uint32_t)s->nslots++;
	return 0;
}

int index_set_session_packs(const index_set *s, idmap *out)
{
	for (size_t i = 0; i < s->nslots; i++) {
		idmap_slot *slot;
		int r = s->slot_stored[i] ? idmap_put(out, slot_id(s, i), &slot, NULL) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

size_t index_set_session_entries(const index_set *s)
{
	return s->tab_n;
}

void index_set_pack_stored(index_set *s, uint32_t slot, const uint8_t id[32])
{
	memcpy(slot_id(s, slot), id, 32);
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

/* The header, fan-out and pack ids of an index file (head_len(npacks) bytes at p). */
static size_t head_len(size_t npacks)
{
	return INDEX_HEADER_LEN + INDEX_FANOUT_LEN + npacks * 32;
}

static void put_head(uint8_t *p, const uint32_t counts[256], uint32_t n,
		     const uint8_t (*packs)[32], uint32_t npacks)
{
	memset(p, 0, INDEX_HEADER_LEN);
	memcpy(p, INDEX_MAGIC, MAGIC_LEN);
	le32_put(p + 8, FORMAT_VERSION);
	le32_put(p + 12, npacks);
	le32_put(p + 16, n);
	uint8_t *fan = p + INDEX_HEADER_LEN;
	uint32_t acc = 0;
	for (int i = 0; i < 256; i++) {
		acc += counts[i];
		le32_put(fan + 4 * i, acc);
	}
	memcpy(fan + INDEX_FANOUT_LEN, packs, (size_t)npacks * 32);
}

static void put_entry(uint8_t *q, const index_entry *e)
{
	memcpy(q, e->id, 32);
	le32_put(q + 32, e->pack);
	le32_put(q + 36, e->offset);
	le32_put(q + 40, e->stored_len);
	le32_put(q + 44, e->raw_len);
	q[48] = e->type;
	q[49] = q[50] = q[51] = 0;
}

/* The trailer of an index file whose other len bytes are at p. */
static void put_trailer(uint8_t tr[INDEX_TRAILER_LEN], const uint8_t *p, size_t len)
{
	checksum128(tr, p, len);
	memcpy(tr + 16, INDEX_END_MAGIC, MAGIC_LEN);
}

int index_encode(buf *out, index_entry *e, size_t n, const uint8_t (*packs)[32], size_t npacks)
{
	if (n > UINT32_MAX / 2 || npacks > UINT32_MAX / 2)
		return -EFBIG;
	qsort(e, n, sizeof(*e), cmp_entry);
	size_t total = head_len(npacks) + n * INDEX_ENTRY_LEN + INDEX_TRAILER_LEN;
	out->len = 0;
	int r = buf_reserve(out, total);
	if (r < 0)
		return r;
	uint8_t *p = out->data;
	uint32_t counts[256] = { 0 };
	for (size_t i = 0; i < n; i++)
		counts[e[i].id[0]]++;
	put_head(p, counts, (uint32_t)n, packs, (uint32_t)npacks);
	uint8_t *ent = p + head_len(npacks);
	for (size_t i = 0; i < n; i++)
		put_entry(ent + i * INDEX_ENTRY_LEN, &e[i]);
	put_trailer(p + total - INDEX_TRAILER_LEN, p, total - INDEX_TRAILER_LEN);
	out->len = total;
	return 0;
}

/* Stores an encoded index file under its name, the SHA-256 of its bytes. */
static int put_named(backend *be, const uint8_t *p, size_t n, char out_name[80])
{
	uint8_t h[32];
	char hex[65], name[80];
	crypto_sha256(h, p, n);
	hex_encode(hex, h, 32);
	snprintf(name, sizeof(name), "index/%s", hex);
	if (out_name)
		memcpy(out_name, name, sizeof(name));
	return backend_put(be, name, BACKEND_META, p, n);
}

int index_write_entries(backend *be, index_entry *e, size_t n, const uint8_t (*packs)[32],
			size_t npacks, char out_name[80])
{
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
	return r < 0 ? r : put_named(be, out.data, out.len, out_name);
}

/* ---------- merged lookup runs ---------- */

/* One sorted input of a merge: a file's entries or an older run's records. */
typedef struct {
	const uint8_t *p, *map;
	size_t stride, map_len, dropped;
	uint64_t i, n;
	uint32_t file; /* files: its position; runs: 0 (records carry it) */
	int is_run, droppable;
} msrc;

static uint32_t src_file(const msrc *m)
{
	return m->is_run ? le32_get(m->p + m->i * m->stride + 32) : m->file;
}

/* a before b: the smaller id, and of equal ids the newer file first */
static int src_before(const msrc *a, const msrc *b)
{
	int c = memcmp(a->p + a->i * a->stride, b->p + b->i * b->stride, 32);
	return c < 0 || (c == 0 && src_file(a) > src_file(b));
}

static void heap_down(msrc **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && src_before(h[l], h[m]))
			m = l;
		if (l + 1 < n && src_before(h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		msrc *t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Drops the pages of a source that the merge has read past. */
static void src_drop_read(msrc *m)
{
	if (!m->droppable)
		return;
	size_t upto = (size_t)(m->p + m->i * m->stride - m->map);
	if (upto >= m->dropped + (1u << 20)) {
		drop_pages(m->map + m->dropped, upto - m->dropped);
		m->dropped = upto & ~(size_t)4095;
	}
}

static void put_rec(uint8_t *q, const msrc *m)
{
	const uint8_t *e = m->p + m->i * m->stride;
	if (m->is_run) {
		memcpy(q, e, RUN_REC);
		return;
	}
	memcpy(q, e, 32);
	le32_put(q + 32, m->file);
	le32_put(q + 36, (uint32_t)m->i);
	memcpy(q + 40, e + 32, 16); /* pack, offset, stored, raw */
	q[56] = e[48];
	q[57] = q[58] = q[59] = 0;
}

/*
 * Merges the sources into a new run (a k-way merge through a heap;
 * memory: the heap and a 1 MiB output buffer, whatever the sizes).
 */
static int merge_into(index_run *out, msrc *src, size_t nsrc)
{
	enum { OUTBUF = 1 << 20 };
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	_cleanup_close_ int fd = spill_file_open();
	if (fd < 0)
		return fd;
	uint64_t cap = 0;
	for (size_t i = 0; i < nsrc; i++)
		cap += src[i].n;
	_cleanup_free_ msrc **h = malloc((nsrc ? nsrc : 1) * sizeof(*h));
	_cleanup_free_ uint8_t *ob = malloc(OUTBUF);
	/* the sparse array for as many records as the sources hold, at most */
	_cleanup_free_ uint64_t *sparse = malloc((cap / RUN_BLOCK_RECS + 1) * sizeof(*sparse));
	if (!h || !ob || !sparse)
		return -ENOMEM;
	size_t nh = 0, ol = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < nsrc; i++)
		if (src[i].n)
			h[nh++] = &src[i];
	for (size_t i = nh / 2; i-- > 0;)
		heap_down(h, nh, i);
	uint8_t last[32];
	int have_last = 0, r = 0;
	while (nh) {
		msrc *m = h[0];
		const uint8_t *id = m->p + m->i * m->stride;
		/* equal ids come newest file first: the first one wins */
		if (!have_last || memcmp(last, id, 32) != 0) {
			if (ol + RUN_REC > OUTBUF) {
				if ((r = fsio_pwrite_all(fd, ob, ol, (off_t)(total * RUN_REC - ol))) < 0)
					return r;
				ol = 0;
				for (size_t i = 0; i < nsrc; i++)
					src_drop_read(&src[i]);
			}
			if (total % RUN_BLOCK_RECS == 0)
				sparse[total / RUN_BLOCK_RECS] = be64_at(id);
			put_rec(ob + ol, m);
			ol += RUN_REC;
			memcpy(last, id, 32);
			have_last = 1;
			out->fan[id[0]]++;
			total++;
		}
		if (++m->i == m->n)
			h[0] = h[--nh];
		heap_down(h, nh, 0);
	}
	if (ol && (r = fsio_pwrite_all(fd, ob, ol, (off_t)(total * RUN_REC - ol))) < 0)
		return r;
	for (size_t i = 0; i < nsrc; i++)
		if (src[i].droppable)
			drop_pages(src[i].map, src[i].map_len);
	for (int b = 1; b < 256; b++)
		out->fan[b] += out->fan[b - 1];
	out->n = total;
	if (total == 0)
		return 0;
	void *p = mmap(NULL, total * RUN_REC, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	out->p = p;
	out->len = total * RUN_REC;
	out->nblocks = (total + RUN_BLOCK_RECS - 1) / RUN_BLOCK_RECS;
	if (out->len > RUN_MAP_MAX) {
		/* searched by block through pread: keep the file and the sparse array */
		out->sparse = sparse;
		sparse = NULL;
		out->fd = fd;
		fd = -1;
	}
	return 0;
}

static void file_src(msrc *m, const index_set *s, size_t fi)
{
	const index_file *f = &s->files[fi];
	*m = (msrc){ .p = f->entries, .map = f->b.data, .stride = INDEX_ENTRY_LEN,
		     .map_len = f->b.len, .n = f->nblobs, .file = (uint32_t)fi,
		     .droppable = f->b.file_mapped };
}

static void run_src(msrc *m, const index_run *r)
{
	*m = (msrc){ .p = r->p, .map = r->p, .stride = RUN_REC, .map_len = r->len, .n = r->n,
		     .is_run = 1, .droppable = 1 };
}

static int push_run(index_set *s, const index_run *r)
{
	index_run *v = realloc(s->runs, (s->nruns + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->runs = v;
	v[s->nruns++] = *r;
	return 0;
}

/*
 * Covers the files no run covers with new runs, each of the next
 * RUN_MIN_FILES files or of files above RUN_MAP_MAX bytes together, and
 * after each merges the newest two runs while the newer is at least half
 * the older (or there are too many).  The groups keep a merge's sources
 * few: a source is read through its mapping, and a touched mapping of a
 * file just written can bring in the whole file at once (large folios),
 * so a merge of all 25 index files of a million-file repository made
 * 50 MB of them resident together.  A failure leaves the set as it was:
 * runs only make lookups faster, the files answer them all the same.
 */
static void merge_runs(index_set *s)
{
	for (;;) {
		size_t k = 0, len = 0;
		while (s->covered + k < s->nfiles && k < RUN_MIN_FILES && len <= RUN_MAP_MAX)
			len += s->files[s->covered + k++].b.len;
		if (k < RUN_MIN_FILES && len <= RUN_MAP_MAX)
			return; /* too few to be worth a run yet */
		msrc src[RUN_MIN_FILES];
		index_run r;
		for (size_t i = 0; i < k; i++)
			file_src(&src[i], s, s->covered + i);
		if (merge_into(&r, src, k) < 0)
			return;
		r.first = s->covered;
		r.end = s->covered + k;
		r.serial = ++s->run_serial;
		if (push_run(s, &r) < 0) {
			run_release(&r);
			return;
		}
		s->covered += k;
		while (s->nruns >= 2 && (s->runs[s->nruns - 1].n * 2 >= s->runs[s->nruns - 2].n ||
					 s->nruns > RUN_MAX)) {
			index_run *a = &s->runs[s->nruns - 2], *b = &s->runs[s->nruns - 1], m;
			msrc two[2];
			run_src(&two[0], a);
			run_src(&two[1], b);
			if (merge_into(&m, two, 2) < 0)
				return;
			m.first = a->first;
			m.end = b->end;
			m.serial = ++s->run_serial;
			run_release(a);
			run_release(b);
			*a = m;
			s->nruns--;
		}
	}
}

/* ---------- writing the session's entries ---------- */

/*
 * After index_set_write stored entries as the file name: the file is
 * mapped into the set and the entries leave the in-memory table, so the
 * table holds only the blobs of the last few packs, not every blob of the
 * backup (that was 211 bytes per new blob, 410 MB at 1.6 million files).
 */
static int spill_written(index_set *s, backend *be, const char *name)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].name, name) == 0)
			goto shrink; /* the same entries are loaded already */
	bytes b = BYTES_INIT;
	int r = backend_get_mapped(be, name, BACKEND_META, &b);
	if (r == -ENOENT)
		return r; /* folded away: index_set_write keeps the entries */
	/* it was just written from memory; check it like any other all the same */
	if (r == 0 && index_validate(b.data, b.len) < 0)
		r = err_set(-DV_ECORRUPT, "index file '%s' is damaged", name);
	r = r ?: add_file(s, name, &b);
	bytes_release(&b);
	if (r < 0)
		return r;
	merge_runs(s);
shrink:;
	/* a new table of the entries not written yet */
	size_t keep = 0;
	for (size_t i = 0; i < s->tab_cap; i++)
		keep += s->tab[i].used && !s->tab[i].written;
	size_t cap = 1024;
	while (keep * 10 >= cap * 7)
		cap *= 2;
	mem_entry *old = s->tab, *nt = calloc(cap, sizeof(*nt));
	if (!nt)
		return 0; /* the old table still answers every lookup */
	size_t old_cap = s->tab_cap;
	s->tab = nt;
	s->tab_cap = cap;
	s->tab_n = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].used && !old[i].written) {
			*tab_find(s, old[i].id) = old[i];
			s->tab_n++;
		}
	}
	free(old);
	return 0;
}

int index_set_write(index_set *s, backend *be)
{
	size_t n = 0;
	for (size_t i = 0; i < s->tab_cap; i++)
		if (writable(s, &s->tab[i]))
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
	for (size_t i = 0; i < s->tab_cap; i++) {
		mem_entry *m = &s->tab[i];
		if (!writable(s, m))
			continue;
		if (remap[m->slot] == UINT32_MAX) {
			remap[m->slot] = (uint32_t)np;
			memcpy(packs[np++], slot_id(s, m->slot), 32);
		}
		memcpy(e[k].id, m->id, 32);
		e[k].pack = remap[m->slot];
		e[k].offset = m->offset;
		e[k].stored_len = m->stored_len;
		e[k].raw_len = m->raw_len;
		e[k].type = m->type;
		k++;
	}
	char name[80];
	int r = array_reserve(&s->own, &s->capown, s->nown + 1, sizeof(*s->own));
	r = r ?: index_write_entries(be, e, n, (const uint8_t(*)[32])packs, np, name);
	if (r < 0)
		return r;
	memcpy(s->own[s->nown++], name, sizeof(name));
	for (size_t i = 0; i < s->tab_cap; i++)
		if (writable(s, &s->tab[i]))
			s->tab[i].written = 1;
	r = spill_written(s, be, name);
	if (r == -ENOENT) {
		/*
		 * A concurrent prune read the file, folded it into one of its
		 * own and removed it before we could map it back
		 * (docs/concurrency.md, "Spilled index files").  The blobs are
		 * indexed there, but this set has not loaded that file: had
		 * the entries stayed written, the next spill's shrink would
		 * drop them and later lookups would miss.  So they count as
		 * unwritten again and go into the next file this session
		 * writes too (a duplicate entry is harmless; the next prune
		 * folds it).
		 */
		err_clear();
		for (size_t i = 0; i < s->tab_cap; i++)
			s->tab[i].written = 0;
		return 0;
	}
	return r;
}

static int is_own(const index_set *s, const char *name)
{
	for (size_t i = 0; i < s->nown; i++)
		if (strcmp(s->own[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Writes one index file of the entries of the chosen files of s, less
 * those of packs, and gives its name ("" when nothing is left).
 */
static int write_without(const index_set *s, backend *be, const uint8_t *chosen, const idmap *packs,
			 char name[80])
{
	index_builder b = INDEX_BUILDER_INIT;
	int r = 0;
	for (size_t i = 0; r == 0 && i < s->nfiles; i++) {
		const index_file *f = &s->files[i];
		for (uint32_t k = 0; r == 0 && chosen[i] && k < f->nblobs; k++) {
			index_loc loc;
			entry_loc(f, k, &loc);
			if (!idmap_get(packs, loc.pack_id))
				r = index_builder_add(&b, f->entries + (size_t)k * INDEX_ENTRY_LEN, loc.pack_id,
						      loc.offset, loc.stored_len, loc.raw_len, loc.type);
		}
	}
	name[0] = 0;
	r = r ?: index_builder_write(&b, be, name);
	index_builder_release(&b);
	return r;
}

/* Removes name unless it is keep (the same contents); gone already is fine. */
static int remove_replaced(backend *be, const char *name, const char *keep)
{
	if (strcmp(name, keep) == 0)
		return 0;
	int r = backend_remove(be, name);
	return r == -ENOENT ? 0 : r; /* consolidated by a prune meanwhile */
}

/*
 * The files this session wrote are mapped back into the set (spilled), so
 * their entries are read from there; a file a prune folded away before it
 * was mapped back is not in the set, and its entries are still in the
 * table, unwritten (index_set_write), so none is lost either way.
 */
int index_set_withdraw(index_set *s, backend *be, const idmap *packs)
{
	/* and no later write of this session (the index a failed backup
	 * still writes for what it stored) names them again */
	for (size_t i = 0; i < s->tab_cap; i++) {
		mem_entry *m = &s->tab[i];
		if (m->used && m->slot != INDEX_PENDING && s->slot_stored[m->slot] &&
		    idmap_get(packs, slot_id(s, m->slot)))
			m->written = 1;
	}
	_cleanup_free_ uint8_t *own = calloc(s->nfiles + 1, 1);
	if (!own)
		return -ENOMEM;
	for (size_t i = 0; i < s->nfiles; i++)
		own[i] = (uint8_t)is_own(s, s->files[i].name);
	char name[80];
	int r = write_without(s, be, own, packs, name);
	/* the new file stands before the old ones go: what they name
	 * otherwise is indexed throughout */
	for (size_t i = 0; r == 0 && i < s->nown; i++)
		r = remove_replaced(be, s->own[i], name);
	if (r < 0)
		return r;
	s->nown = 0;
	if (name[0])
		memcpy(s->own[s->nown++], name, sizeof(name));
	return 0;
}

/*
 * Notes in gone, and marks file i chosen, each pack of file i that fails
 * exists; with among, only packs of among are asked about.
 */
static int note_missing(const index_set *s, size_t i, const idmap *among, index_exists_fn exists, void *ud,
			idmap *gone, uint8_t *chosen)
{
	const index_file *f = &s->files[i];
	for (uint32_t k = 0; k < f->npacks; k++) {
		const uint8_t *id = f->packs + (size_t)k * 32;
		idmap_slot *slot;
		if (among && !idmap_get(among, id))
			continue;
		int e = idmap_get(gone, id) ? 0 : exists(ud, id);
		if (e < 0)
			return e;
		if (e == 0) {
			chosen[i] = 1;
			if ((e = idmap_put(gone, id, &slot, NULL)) < 0)
				return e;
		}
	}
	return 0;
}

int index_set_drop_missing(const index_set *s, backend *be, const idmap *among, index_exists_fn exists,
			   void *ud, size_t *rewritten)
{
	_cleanup_free_ uint8_t *chosen = calloc(s->nfiles + 1, 1);
	_cleanup_free_ uint8_t *seen = calloc(s->nfiles + 1, 1);
	idmap gone = IDMAP_INIT;
	int r = chosen && seen ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < s->nfiles; i++)
		r = note_missing(s, i, among, exists, ud, &gone, chosen);
	/* the files rewritten lose every missing pack's entries, not only
	 * among's: one of them may be a file whose owner has replaced it
	 * meanwhile by one without a pack that went earlier */
	for (size_t i = 0; r == 0 && i < s->nfiles; i++)
		r = chosen[i] ? note_missing(s, i, NULL, exists, ud, &gone, seen) : 0;
	size_t n = 0;
	for (size_t i = 0; r == 0 && i < s->nfiles; i++)
		n += chosen[i];
	char name[80];
	r = r ?: n ? write_without(s, be, chosen, &gone, name) : 0;
	for (size_t i = 0; r == 0 && n && i < s->nfiles; i++)
		r = chosen[i] ? remove_replaced(be, s->files[i].name, name) : 0;
	idmap_release(&gone);
	*rewritten = r == 0 ? n : 0;
	return r;
}

/* ---------- building one index file in bounded memory ---------- */

/*
 * index_builder: entries arrive in no order (a prune adds the entries of
 * every index file it keeps, then those of the packs it wrote), and an
 * index file must be one sorted table.  Held in RAM that was ~56 bytes a
 * blob plus the encoded file (0.6 GB at 10 million blobs).  So at most
 * budget entries are held: then they are sorted (stably: of equal ids the
 * one added first stays first) and appended as a run of raw index_entry
 * records to an unlinked spill file.  The write adds the rest as the last
 * run, k-way merges the runs through the file's mapping (pages dropped
 * behind the merge, as for the lookup runs) and streams the encoded
 * entries into a second spill file behind the room for the header, which
 * depends on the merge (counts and fan-out after dropping duplicates) and
 * is written last.  An id in several runs is kept from the oldest run, and
 * within a run from the first added: the entry added first, as a stable
 * sort of all of them in RAM keeps.
 */
#define BUILDER_BUDGET_DEFAULT ((uint64_t)16 << 20)
/* RAM an entry held costs: itself and its pointer in the sort */
#define BUILDER_ENTRY_COST (sizeof(index_entry) + sizeof(index_entry *))
#define BUILDER_OUTBUF ((size_t)1 << 20)

size_t index_builder_budget(void)
{
	uint64_t want = BUILDER_BUDGET_DEFAULT;
	const char *v = getenv("DVALIN_INDEX_MEMORY");
	if (v && *v >= '0' && *v <= '9') {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(v, &end, 10);
		unsigned shift = 0;
		if (*end == 'K' || *end == 'k')
			shift = 10;
		else if (*end == 'M' || *end == 'm')
			shift = 20;
		else if (*end == 'G' || *end == 'g')
			shift = 30;
		end += shift != 0;
		/* anything else (or too large) leaves the default, like the
		 * other DVALIN_ numbers */
		if (errno == 0 && *end == 0 && x <= (UINT64_MAX >> shift))
			want = (uint64_t)x << shift;
	}
	uint64_t n = want / BUILDER_ENTRY_COST;
	/* a run's records are counted in a uint32 index file all the same */
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	return n ? (size_t)n : 1;
}

/* Of equal ids the one added first (lower in the array): a stable order. */
static int cmp_entry_ptr(const void *a, const void *b)
{
	const index_entry *x = *(const index_entry *const *)a, *y = *(const index_entry *const *)b;
	int c = memcmp(x->id, y->id, 32);
	return c ? c : (x > y) - (x < y);
}

/* Appends the entries held in RAM to the spill file as one sorted run. */
static int builder_spill(index_builder *b)
{
	_cleanup_free_ index_entry **v = malloc((b->n ? b->n : 1) * sizeof(*v));
	_cleanup_free_ index_entry *ob = malloc(BUILDER_OUTBUF);
	int r = array_reserve(&b->run_end, &b->capruns, b->nruns + 1, sizeof(*b->run_end));
	if (r < 0)
		return r;
	if (!v || !ob)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		v[i] = &b->e[i];
	qsort(v, b->n, sizeof(*v), cmp_entry_ptr);
	if (b->nruns == 0 && (b->fd = spill_file_open()) < 0)
		return b->fd;
	uint64_t at = b->nruns ? b->run_end[b->nruns - 1] : 0;
	const size_t per = BUILDER_OUTBUF / sizeof(*ob);
	for (size_t i = 0; r == 0 && i < b->n; i += per) {
		size_t k = b->n - i < per ? b->n - i : per;
		for (size_t j = 0; j < k; j++)
			ob[j] = *v[i + j];
		r = fsio_pwrite_all(b->fd, ob, k * sizeof(*ob), (off_t)((at + i) * sizeof(*ob)));
	}
	if (r < 0) {
		if (b->nruns == 0)
			close(b->fd);
		return r;
	}
	b->run_end[b->nruns++] = at + b->n;
	b->n = 0;
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
	if (r == 0 && !b->in_ram) {
		if (!b->budget)
			b->budget = index_builder_budget();
		if (b->n >= b->budget)
			r = builder_spill(b);
		/* grow up to the budget, not past it by a doubling */
		if (r == 0 && b->n == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 1024;
			cap = cap < b->budget ? cap : b->budget;
			index_entry *e = realloc(b->e, cap * sizeof(*e));
			if (!e)
				return -ENOMEM;
			b->e = e;
			b->cap = cap;
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

/* The runs as merge sources, older runs first among equal ids. */
static void builder_sources(const index_builder *b, const uint8_t *map, msrc *src)
{
	for (size_t k = 0; k < b->nruns; k++) {
		uint64_t from = k ? b->run_end[k - 1] : 0;
		const uint8_t *p = map + from * sizeof(index_entry);
		size_t len = (size_t)(b->run_end[k] - from) * sizeof(index_entry);
		/* src_before puts the higher file first among equal ids */
		src[k] = (msrc){ .p = p, .map = p, .stride = sizeof(index_entry), .map_len = len,
				 .n = b->run_end[k] - from, .file = (uint32_t)(b->nruns - 1 - k),
				 .droppable = 1 };
	}
}

/*
 * Merges the runs (mapped at map) into fd as the entries of an index
 * file, from offset at, dropping duplicate ids: *n entries, counts[] of
 * each first byte.  Memory: the heap and a 1 MiB output buffer.
 */
static int builder_merge(const index_builder *b, const uint8_t *map, int fd, off_t at,
			 uint32_t counts[256], uint32_t *n)
{
	_cleanup_free_ msrc *src = calloc(b->nruns, sizeof(*src));
	_cleanup_free_ msrc **h = malloc(b->nruns * sizeof(*h));
	_cleanup_free_ uint8_t *ob = malloc(BUILDER_OUTBUF);
	if (!src || !h || !ob)
		return -ENOMEM;
	builder_sources(b, map, src);
	size_t nh = 0, ol = 0;
	for (size_t i = 0; i < b->nruns; i++)
		if (src[i].n)
			h[nh++] = &src[i];
	for (size_t i = nh / 2; i-- > 0;)
		heap_down(h, nh, i);
	uint64_t total = 0;
	const index_entry *last = NULL;
	int r = 0;
	while (nh) {
		msrc *m = h[0];
		const index_entry *e = (const index_entry *)(const void *)(m->p + m->i * m->stride);
		if (!last || memcmp(last->id, e->id, 32) != 0) {
			if (total >= UINT32_MAX / 2)
				return -EFBIG; /* index_encode's limit */
			if (ol + INDEX_ENTRY_LEN > BUILDER_OUTBUF) {
				if ((r = fsio_pwrite_all(fd, ob, ol, at)) < 0)
					return r;
				at += (off_t)ol;
				ol = 0;
				for (size_t i = 0; i < b->nruns; i++)
					src_drop_read(&src[i]);
			}
			put_entry(ob + ol, e);
			ol += INDEX_ENTRY_LEN;
			counts[e->id[0]]++;
			total++;
		}
		last = e; /* still mapped: pages behind the merge are only dropped */
		if (++m->i == m->n)
			h[0] = h[--nh];
		heap_down(h, nh, 0);
	}
	if (ol && (r = fsio_pwrite_all(fd, ob, ol, at)) < 0)
		return r;
	*n = (uint32_t)total;
	return 0;
}

/*
 * The index file of the builder's runs: merged into a spill file, the
 * header written in front of the entries, the trailer's checksum and the
 * name computed over its mapping, and stored from that mapping.  A put
 * takes the whole object (there is no streamed put for any backend), so
 * the encoded file is read through the mapping: clean page cache that
 * counts in the resident set while it is stored, not heap.
 */
static int builder_store(const index_builder *b, backend *be, char out_name[80])
{
	if (b->npacks > UINT32_MAX / 2)
		return -EFBIG;
	uint64_t nrec = b->run_end[b->nruns - 1];
	if (nrec > SIZE_MAX / sizeof(index_entry))
		return -EFBIG;
	size_t rlen = (size_t)nrec * sizeof(index_entry);
	void *runs = mmap(NULL, rlen, PROT_READ, MAP_SHARED, b->fd, 0);
	if (runs == MAP_FAILED)
		return err_sys(-errno, "cannot map the new index's sorted runs");
	_cleanup_close_ int fd = spill_file_open();
	size_t hl = head_len(b->npacks);
	uint32_t counts[256] = { 0 }, n = 0;
	int r = fd < 0 ? fd : builder_merge(b, runs, fd, (off_t)hl, counts, &n);
	munmap(runs, rlen);
	if (r < 0)
		return r;
	size_t total = hl + (size_t)n * INDEX_ENTRY_LEN + INDEX_TRAILER_LEN;
	_cleanup_free_ uint8_t *head = malloc(hl);
	if (!head)
		return -ENOMEM;
	put_head(head, counts, n, (const uint8_t(*)[32])b->packs, (uint32_t)b->npacks);
	uint8_t tr[INDEX_TRAILER_LEN] = { 0 };
	if ((r = fsio_pwrite_all(fd, head, hl, 0)) < 0 ||
	    (r = fsio_pwrite_all(fd, tr, sizeof(tr), (off_t)(total - sizeof(tr)))) < 0)
		return r;
	uint8_t *p = mmap(NULL, total, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return err_sys(-errno, "cannot map the new index file");
	/* the mapping shows what is written to the file: shared page cache */
	put_trailer(tr, p, total - sizeof(tr));
	r = fsio_pwrite_all(fd, tr, sizeof(tr), (off_t)(total - sizeof(tr)));
	r = r ?: put_named(be, p, total, out_name);
	munmap(p, total);
	return r;
}

int index_builder_write(index_builder *b, backend *be, char out_name[80])
{
	if (out_name)
		out_name[0] = 0;
	int r = 0;
	if (b->n || b->nruns) {
		/* what RAM holds is the newest run */
		r = b->n ? builder_spill(b) : 0;
		r = r ?: builder_store(b, be, out_name);
	}
	if (b->nruns)
		close(b->fd);
	b->nruns = 0;
	b->n = 0;
	b->npacks = 0;
	idmap_release(&b->pos);
	return r;
}

void index_builder_release(index_builder *b)
{
	if (b->nruns)
		close(b->fd);
	free(b->e);
	free(b->packs);
	free(b->run_end);
	idmap_release(&b->pos);
	memset(b, 0, sizeof(*b));
}

/*
 * One run over every file: for a pass that looks up every blob of a
 * repository (sync), one search per lookup instead of one per run.
 * Lookups answer as before (the newest file's entry of an id in
 * several); files loaded afterwards are searched beside the run.
 */
int index_set_merge(index_set *s)
{
	int rc;
	if (s->covered < s->nfiles) {
		size_t k = s->nfiles - s->covered;
		msrc *src = calloc(k, sizeof(*src));
		index_run r;
		if (!src)
			return -ENOMEM;
		for (size_t i = 0; i < k; i++)
			file_src(&src[i], s, s->covered + i);
		rc = merge_into(&r, src, k);
		free(src);
		if (rc < 0)
			return rc;
		r.first = s->covered;
		r.end = s->nfiles;
		r.serial = ++s->run_serial;
		if ((rc = push_run(s, &r)) < 0) {
			run_release(&r);
			return rc;
		}
		s->covered = s->nfiles;
	}
	while (s->nruns >= 2) {
		index_run *a = &s->runs[s->nruns - 2], *b = &s->runs[s->nruns - 1], m;
		msrc two[2];
		run_src(&two[0], a);
		run_src(&two[1], b);
		if ((rc = merge_into(&m, two, 2)) < 0)
			return rc;
		m.first = a->first;
		m.end = b->end;
		m.serial = ++s->run_serial;
		run_release(a);
		run_release(b);
		*a = m;
		s->nruns--;
	}
	/*
	 * A pass that looks up every blob touches every block of the run:
	 * searched through its mapping (60 bytes a blob of page cache,
	 * clean, which the kernel may reclaim and read again), not block by
	 * block through the cache, where a sync made a pread for almost
	 * every lookup (577,000 for 115,000 blobs).
	 */
	if (s->nruns == 1 && s->runs[0].sparse) {
		free(s->runs[0].sparse);
		s->runs[0].sparse = NULL;
	}
	return 0;
}
