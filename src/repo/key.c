/* SPDX-License-Identifier: BSD-2-Clause */
#include "key.h"
#include "format.h"
#include "../base/err.h"

#include <errno.h>
#include <string.h>

int key_encode(buf *out, const crypto_keys *k, const char *pass, const key_params *kp)
{
	uint8_t h[KEY_HEADER_LEN] = { 0 }, wrap[32];
	memcpy(h, KEY_MAGIC, MAGIC_LEN);
	le32_put(h + 8, FORMAT_VERSION);
	h[12] = KEY_KDF_SCRYPT;
	h[13] = (uint8_t)kp->log_n;
	h[14] = (uint8_t)kp->r;
	h[15] = (uint8_t)kp->p;
	int r = crypto_random(h + 16, 32);
	if (r < 0)
		return r;
	r = crypto_scrypt(wrap, pass, strlen(pass), h + 16, 32, kp->log_n, kp->r, kp->p);
	if (r < 0)
		return r;
	out->len = 0;
	if ((r = buf_reserve(out, sizeof(h) + sizeof(*k) + CRYPTO_OVERHEAD)) < 0)
		goto out;
	memcpy(out->data, h, sizeof(h));
	r = crypto_seal(out->data + sizeof(h), wrap, h, sizeof(h), k, sizeof(*k));
	if (r == 0)
		out->len = sizeof(h) + sizeof(*k) + CRYPTO_OVERHEAD;
out:
	crypto_wipe(wrap, sizeof(wrap));
	return r;
}

int key_decode(crypto_keys *out, const uint8_t *p, size_t n, const char *pass)
{
	uint8_t wrap[32];
	if (n != KEY_HEADER_LEN + sizeof(*out) + CRYPTO_OVERHEAD || memcmp(p, KEY_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	if (le32_get(p + 8) != FORMAT_VERSION || p[12] != KEY_KDF_SCRYPT)
		return -DV_EFORMAT;
	int r = crypto_scrypt(wrap, pass, strlen(pass), p + 16, 32, p[13], p[14], p[15]);
	if (r == -EINVAL)
		return -DV_ECORRUPT;
	if (r < 0)
		return r;
	r = crypto_open((uint8_t *)out, wrap, p, KEY_HEADER_LEN, p + KEY_HEADER_LEN, n - KEY_HEADER_LEN);
	crypto_wipe(wrap, sizeof(wrap));
	return r;
}
