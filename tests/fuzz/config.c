/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the config file.  What config_decode() accepts must be
 * chunker parameters the chunker can run with: the target cuts a buffer
 * with them and checks every cut lies within min and max.  Each input is
 * also tried with its checksum recomputed, to get past it.
 */
#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "core/checksum.h"
#include "core/chunker.h"
#include "repo/format.h"
#include "repo/config.h"

static void one(const uint8_t *p, size_t n)
{
	static uint8_t data[1 << 16];
	static chunker c;
	repo_config cfg;
	if (config_decode(&cfg, p, n) < 0) {
		err_clear();
		return;
	}
	FUZZ_CHECK(chunker_params_is_valid(&cfg.chunker));
	uint64_t gear[256];
	for (size_t i = 0; i < 256; i++)
		gear[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
	chunker_init(&c, &cfg.chunker, gear);
	/* The data repeats the input, so cut points depend on it. */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = p[i % n] ^ (uint8_t)(i >> 8);
	for (size_t off = 0; off < sizeof(data);) {
		size_t left = sizeof(data) - off;
		size_t cut = chunker_cut(&c, data + off, left);
		FUZZ_CHECK(cut > 0 && cut <= left && cut <= cfg.chunker.max);
		FUZZ_CHECK(cut >= cfg.chunker.min || cut == left);
		off += cut;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	if (size != CONFIG_LEN)
		return 0;
	uint8_t fixed[CONFIG_LEN];
	memcpy(fixed, data, size);
	checksum128(fixed + CONFIG_LEN - 16, fixed, CONFIG_LEN - 16);
	one(fixed, size);
	return 0;
}
