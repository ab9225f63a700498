/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * index_builder in bounded memory: a builder that spills sorted runs to a
 * file (a budget of a few entries) writes the same bytes under the same
 * name as one that holds every entry in RAM, and as index_write_entries
 * (the encoder of a whole in-memory table) for the same entries.
 */
#include "harness.h"
#include "backend/backend.h"
#include "core/crypto.h"
#include "repo/format.h"
#include "repo/index.h"

#define NPACKS 300

typedef struct {
	uint8_t id[32], pack[32];
	uint32_t offset, stored, raw;
	int type;
} added;

/*
 * n entries over NPACKS packs in no order; every 5th repeats an earlier
 * id with the same place (a blob named by two index files), every 11th
 * with another pack and offset (a blob stored twice): the entry added
 * first must win.  Returns how many entries conflict that way.
 */
static size_t make_entries(added *a, size_t n, uint64_t seed)
{
	size_t conflicts = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = test_rand(&seed);
		added *x = &a[i];
		memset(x, 0, sizeof(*x));
		if (i > 10 && i % 5 == 0) {
			*x = a[r % i];
		} else if (i > 10 && i % 11 == 0) {
			*x = a[r % i];
			x->pack[0] = (uint8_t)(x->pack[0] + 1);
			x->offset += 4096;
			conflicts++;
		} else {
			crypto_sha256(x->id, &r, sizeof(r));
			uint32_t p = (uint32_t)(test_rand(&seed) % NPACKS);
			crypto_sha256(x->pack, &p, sizeof(p));
			x->offset = (uint32_t)(r >> 40);
			x->stored = 1 + (uint32_t)(r % 9000);
			x->raw = x->stored + 7;
			x->type = 1 + (int)(r % 2);
		}
	}
	return conflicts;
}

static int add_all(index_builder *b, const added *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = index_builder_add(b, a[i].id, a[i].pack, a[i].offset, a[i].stored, a[i].raw,
					  a[i].type);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The bytes stored under name. */
static int stored(backend *be, const char *name, bytes *out)
{
	return backend_get(be, name, BACKEND_META, out);
}

static void same_file(backend *be, const char *a, const char *b)
{
	CHECK(strcmp(a, b) == 0);
	bytes x = BYTES_INIT, y = BYTES_INIT;
	REQUIRE(stored(be, a, &x) == 0);
	if (stored(be, b, &y) == 0) {
		CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
		bytes_release(&y);
	} else {
		CHECK(!"second file missing");
	}
	CHECK(index_validate(x.data, x.len) == 0);
	bytes_release(&x);
}

static void spilled_case(size_t n, size_t budget)
{
	backend *be;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	added *a = calloc(n, sizeof(*a));
	REQUIRE(a);
	size_t conflicts = make_entries(a, n, 0x5eed0000 + n);
	CHECK(conflicts > 0 || n < 100);

	char tiny[80], ram[80];
	index_builder t = INDEX_BUILDER_INIT;
	t.budget = budget;
	REQUIRE(add_all(&t, a, n) == 0);
	CHECK(n <= budget || t.nruns > 0); /* it did spill */
	CHECK(t.n <= budget);
	REQUIRE(index_builder_write(&t, be, tiny) == 0);
	CHECK(tiny[0] != 0);

	index_builder u = INDEX_BUILDER_INIT;
	u.in_ram = 1;
	REQUIRE(add_all(&u, a, n) == 0);
	CHECK(u.nruns == 0 && u.n == n);
	REQUIRE(index_builder_write(&u, be, ram) == 0);
	same_file(be, tiny, ram);

	/* the whole table encoded at once, as prune wrote it before: packs
	 * numbered by first appearance, and of equal ids the entry added
	 * first (what a stable sort keeps) */
	index_entry *e = calloc(n, sizeof(*e));
	uint8_t(*packs)[32] = calloc(n, 32);
	REQUIRE(e && packs);
	size_t np = 0, k = 0;
	for (size_t i = 0; i < n; i++) {
		size_t p = 0;
		while (p < np && memcmp(packs[p], a[i].pack, 32) != 0)
			p++;
		if (p == np)
			memcpy(packs[np++], a[i].pack, 32);
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = memcmp(a[j].id, a[i].id, 32) == 0;
		if (seen)
			continue;
		memcpy(e[k].id, a[i].id, 32);
		e[k].pack = (uint32_t)p;
		e[k].offset = a[i].offset;
		e[k].stored_len = a[i].stored;
		e[k].raw_len = a[i].raw;
		e[k].type = (uint8_t)a[i].type;
		k++;
	}
	CHECK(k < n || n < 100); /* duplicates were dropped */
	char whole[80];
	REQUIRE(index_write_entries(be, e, k, (const uint8_t(*)[32])packs, np, whole) == 0);
	same_file(be, tiny, whole);
	free(e);
	free(packs);

	/* a builder is empty again after a write, and can be used again */
	CHECK(t.n == 0 && t.nruns == 0 && t.npacks == 0);
	REQUIRE(add_all(&t, a, n) == 0);
	REQUIRE(index_builder_write(&t, be, tiny) == 0);
	same_file(be, tiny, ram);
	index_builder_release(&t);
	index_builder_release(&u);
	free(a);
	backend_free(be);
}

TEST(builder_spilling_runs_writes_the_same_bytes)
{
	spilled_case(5000, 7);    /* hundreds of runs */
	spilled_case(5000, 1);    /* a run per entry */
	spilled_case(5000, 1000); /* a few runs and a rest in RAM */
	spilled_case(5000, 5000); /* exactly the budget: one run at the write */
	spilled_case(3, 2);
}

TEST(builder_of_nothing_writes_nothing)
{
	backend *be;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	index_builder b = INDEX_BUILDER_INIT;
	char name[80] = "x";
	CHECK(index_builder_write(&b, be, name) == 0 && name[0] == 0);
	index_builder_release(&b);
	backend_free(be);
}

TEST(builder_budget_reads_dvalin_index_memory)
{
	unsetenv("DVALIN_INDEX_MEMORY");
	size_t dflt = index_builder_budget();
	CHECK(dflt == ((size_t)16 << 20) / (sizeof(index_entry) + sizeof(void *)));
	setenv("DVALIN_INDEX_MEMORY", "4K", 1);
	CHECK(index_builder_budget() == 4096 / (sizeof(index_entry) + sizeof(void *)));
	setenv("DVALIN_INDEX_MEMORY", "2m", 1);
	CHECK(index_builder_budget() == ((size_t)2 << 20) / (sizeof(index_entry) + sizeof(void *)));
	setenv("DVALIN_INDEX_MEMORY", "1", 1);
	CHECK(index_builder_budget() == 1); /* at least one entry */
	setenv("DVALIN_INDEX_MEMORY", "12Q", 1);
	CHECK(index_builder_budget() == dflt);
	setenv("DVALIN_INDEX_MEMORY", "-5", 1);
	CHECK(index_builder_budget() == dflt);
	setenv("DVALIN_INDEX_MEMORY", "99999999999999999999G", 1);
	CHECK(index_builder_budget() == dflt);
	unsetenv("DVALIN_INDEX_MEMORY");
}
