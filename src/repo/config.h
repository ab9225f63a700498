/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config: the repository's config file (docs/format.md "config"): its
 * random id and the chunker parameters, plaintext and checksummed.  A
 * pure codec, so unit tests and fuzzers call it directly.
 */
#ifndef DV_REPO_CONFIG_H
#define DV_REPO_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "../core/chunker.h"
#include "format.h"

typedef struct {
	uint8_t id[32];
	chunker_params chunker;
} repo_config;

void config_encode(uint8_t out[CONFIG_LEN], const repo_config *c);
/* 0, -DV_EFORMAT (another format version) or -DV_ECORRUPT; no message. */
int config_decode(repo_config *c, const uint8_t *p, size_t n);

#endif
