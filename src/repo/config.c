/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../core/checksum.h"

#include <string.h>

void config_encode(uint8_t out[CONFIG_LEN], const repo_config *c)
{
	memcpy(out, CONFIG_MAGIC, MAGIC_LEN);
	le32_put(out + 8, FORMAT_VERSION);
	memcpy(out + 12, c->id, 32);
	le32_put(out + 44, c->chunker.min);
	le32_put(out + 48, c->chunker.avg);
	le32_put(out + 52, c->chunker.max);
	checksum128(out + 56, out, 56);
}

int config_decode(repo_config *c, const uint8_t *p, size_t n)
{
	uint8_t ck[16];
	if (n < 12 || memcmp(p, CONFIG_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	if (le32_get(p + 8) != FORMAT_VERSION)
		return -DV_EFORMAT;
	if (n != CONFIG_LEN)
		return -DV_ECORRUPT;
	checksum128(ck, p, 56);
	if (memcmp(ck, p + 56, 16) != 0)
		return -DV_ECORRUPT;
	memcpy(c->id, p + 12, 32);
	c->chunker.min = le32_get(p + 44);
	c->chunker.avg = le32_get(p + 48);
	c->chunker.max = le32_get(p + 52);
	return chunker_params_is_valid(&c->chunker) ? 0 : -DV_ECORRUPT;
}
