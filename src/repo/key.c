/* SPDX-License-Identifier: BSD-2-Clause */
#include "key.h"
#include "format.h"
#include "../base/checked.h"
#include "../base/err.h"
#include "../base/hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int key_params_ok(const key_params *kp)
{
	return kp->log_n >= KEY_LOG_N_MIN && kp->log_n <= KEY_LOG_N_MAX && kp->r >= 1 &&
	       kp->r <= KEY_R_MAX && kp->p >= 1 && kp->p <= KEY_P_MAX;
}

uint64_t key_params_cost(const key_params *kp)
{
	/* a reported (over-cap) log_n may be up to 255: clamped, saturated */
	unsigned log_n = kp->log_n < 63 ? kp->log_n : 63;
	return sat_mul_u64(sat_mul_u64((uint64_t)1 << log_n, kp->r), kp->p);
}

int key_header(key_params *out, const uint8_t *p, size_t n)
{
	if (n != KEY_FILE_LEN || memcmp(p, KEY_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	if (le32_get(p + 8) != FORMAT_VERSION || p[12] != KEY_KDF_SCRYPT)
		return -DV_EFORMAT;
	out->log_n = p[13];
	out->r = p[14];
	out->p = p[15];
	if (out->log_n < KEY_LOG_N_MIN || out->r < 1 || out->p < 1)
		return -DV_ECORRUPT; /* no writer makes these */
	return key_params_ok(out) ? 0 : -E2BIG;
}

void key_file_name(char out[80], const uint8_t *p, size_t n)
{
	uint8_t h[32];
	char hex[65];
	crypto_sha256(h, p, n);
	hex_encode(hex, h, 32);
	snprintf(out, 80, "keys/%s", hex);
}

int key_file_check(key_file *out, const char *name, const uint8_t *p, size_t n, char *why,
		   size_t why_cap)
{
	key_params kp;
	char want[80];
	int rc = key_header(&kp, p, n);
	if (rc == -E2BIG)
		snprintf(why, why_cap, "key file '%s' asks for a costlier scrypt than dvalin writes (N=2^%u, r=%u, p=%u; at most N=2^%d, r=%d, p=%d); skipped without running it",
			 name, kp.log_n, kp.r, kp.p, KEY_LOG_N_MAX, KEY_R_MAX, KEY_P_MAX);
	else if (rc == -DV_EFORMAT)
		snprintf(why, why_cap, "key file '%s' has a version or KDF this dvalin does not know; skipped", name);
	else if (rc < 0)
		snprintf(why, why_cap, "key file '%s' is damaged (not a key file of %zu bytes); skipped",
			 name, (size_t)KEY_FILE_LEN);
	if (rc < 0)
		return rc;
	key_file_name(want, p, n);
	if (strcmp(want, name) != 0) {
		snprintf(why, why_cap, "key file '%s' is not named by its SHA-256 (renamed or damaged: its contents belong under '%s'); skipped",
			 name, want);
		return -DV_ECORRUPT;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->cost = key_params_cost(&kp);
	memcpy(out->file, p, KEY_FILE_LEN);
	return 0;
}

static int cmp_key_file(const void *a, const void *b)
{
	const key_file *x = a, *y = b;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return strcmp(x->name, y->name);
}

void key_files_sort(key_file *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_key_file);
}

int key_encode(buf *out, const crypto_keys *k, const char *pass, const key_params *kp)
{
	uint8_t h[KEY_HEADER_LEN] = { 0 }, wrap[32];
	if (!key_params_ok(kp))
		return err_set(-EINVAL, "scrypt parameters N=2^%u, r=%u, p=%u are outside 2^%d..2^%d, r <= %d, p <= %d",
			       kp->log_n, kp->r, kp->p, KEY_LOG_N_MIN, KEY_LOG_N_MAX, KEY_R_MAX, KEY_P_MAX);
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
	key_params kp;
	/* nothing in the header is authenticated before the KDF has run:
	 * its cost is capped first */
	int r = key_header(&kp, p, n);
	if (r < 0)
		return r;
	r = crypto_scrypt(wrap, pass, strlen(pass), p + 16, 32, kp.log_n, kp.r, kp.p);
	if (r == -EINVAL)
		return -DV_ECORRUPT;
	if (r < 0)
		return r;
	r = crypto_open((uint8_t *)out, wrap, p, KEY_HEADER_LEN, p + KEY_HEADER_LEN, n - KEY_HEADER_LEN);
	crypto_wipe(wrap, sizeof(wrap));
	return r;
}
