/* SPDX-License-Identifier: BSD-2-Clause */
#include "crypto.h"
#include "../base/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

int crypto_random(void *out, size_t n)
{
	return RAND_bytes(out, (int)n) == 1 ? 0 : -EIO;
}

void crypto_sha256(uint8_t out[32], const void *p, size_t n)
{
	SHA256(p, n, out);
}

void crypto_hmac(uint8_t out[32], const uint8_t key[32], const void *p, size_t n)
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, 32, p, n, out, &len);
}

void crypto_derive(uint8_t *out, size_t n, const uint8_t key[32], const char *label)
{
	size_t ll = strlen(label);
	uint8_t msg[256];
	uint8_t block[32];
	if (ll > sizeof(msg) - 4)
		ll = sizeof(msg) - 4;
	memcpy(msg, label, ll);
	for (uint32_t ctr = 0; n > 0; ctr++) {
		msg[ll] = (uint8_t)(ctr >> 24);
		msg[ll + 1] = (uint8_t)(ctr >> 16);
		msg[ll + 2] = (uint8_t)(ctr >> 8);
		msg[ll + 3] = (uint8_t)ctr;
		crypto_hmac(block, key, msg, ll + 4);
		size_t take = n < 32 ? n : 32;
		memcpy(out, block, take);
		out += take;
		n -= take;
	}
	crypto_wipe(block, sizeof(block));
}

static const char aead_label[] = "dvalin-aead-v1";

static void subkey(uint8_t out[32], const uint8_t key[32], const uint8_t *nonce)
{
	uint8_t msg[sizeof(aead_label) - 1 + 16];
	memcpy(msg, aead_label, sizeof(aead_label) - 1);
	memcpy(msg + sizeof(aead_label) - 1, nonce, 16);
	crypto_hmac(out, key, msg, sizeof(msg));
}

static int gcm(int enc, uint8_t *out, const uint8_t sk[32], const uint8_t *iv,
	       const void *aad, size_t aad_len, const uint8_t *in, size_t n, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ok = 0, len;
	if (!c)
		return -ENOMEM;
	if (n > INT32_MAX || aad_len > INT32_MAX)
		goto out;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, sk, iv, enc) != 1)
		goto out;
	if (aad_len && EVP_CipherUpdate(c, NULL, &len, aad, (int)aad_len) != 1)
		goto out;
	if (n && EVP_CipherUpdate(c, out, &len, in, (int)n) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &len) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -DV_EBADKEY;
}

int crypto_seal(uint8_t *out, const uint8_t key[32], const void *aad, size_t aad_len,
		const void *plain, size_t n)
{
	uint8_t sk[32];
	int r = crypto_random(out, CRYPTO_NONCE_LEN);
	if (r < 0)
		return r;
	subkey(sk, key, out);
	r = gcm(1, out + CRYPTO_NONCE_LEN, sk, out + 16, aad, aad_len, plain, n,
		out + CRYPTO_NONCE_LEN + n);
	crypto_wipe(sk, sizeof(sk));
	return r < 0 ? -EIO : 0;
}

int crypto_open(uint8_t *out, const uint8_t key[32], const void *aad, size_t aad_len,
		const void *sealed, size_t n)
{
	const uint8_t *s = sealed;
	uint8_t sk[32], tag[16];
	if (n < CRYPTO_OVERHEAD)
		return -DV_ECORRUPT;
	size_t plen = n - CRYPTO_OVERHEAD;
	memcpy(tag, s + CRYPTO_NONCE_LEN + plen, 16);
	subkey(sk, key, s);
	int r = gcm(0, out, sk, s + 16, aad, aad_len, s + CRYPTO_NONCE_LEN, plen, tag);
	crypto_wipe(sk, sizeof(sk));
	return r;
}

int crypto_scrypt(uint8_t out[32], const char *pass, size_t pass_len, const uint8_t *salt,
		  size_t salt_len, unsigned log_n, unsigned r, unsigned p)
{
	if (log_n < 10 || log_n > 22 || r < 1 || r > 32 || p < 1 || p > 16)
		return -EINVAL;
	uint64_t n = (uint64_t)1 << log_n;
	/* scrypt needs 128*N*r bytes; allow that plus slack. */
	uint64_t maxmem = 128 * n * r * p + (64u << 20);
	if (EVP_PBE_scrypt(pass, pass_len, salt, salt_len, n, r, p, maxmem, out, 32) != 1)
		return -ENOMEM;
	return 0;
}

void crypto_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* ---------- reusable per-thread contexts ---------- */

struct crypto_ctx {
	EVP_MAC_CTX *id;  /* HMAC under the id key */
	EVP_MAC_CTX *sub; /* HMAC under the encryption key: AEAD subkeys */
	EVP_CIPHER_CTX *gcm;
};

static EVP_MAC_CTX *hmac_new(EVP_MAC *mac, const uint8_t key[32])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				OSSL_PARAM_construct_end() };
	EVP_MAC_CTX *m = EVP_MAC_CTX_new(mac);
	if (m && EVP_MAC_init(m, key, 32, params) != 1) {
		EVP_MAC_CTX_free(m);
		m = NULL;
	}
	return m;
}

int crypto_ctx_new(crypto_ctx **out, const crypto_keys *keys)
{
	crypto_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac) {
		c->id = hmac_new(mac, keys->mac);
		c->sub = hmac_new(mac, keys->enc);
	}
	EVP_MAC_free(mac); /* the contexts hold their own references */
	c->gcm = EVP_CIPHER_CTX_new();
	/* the cipher is set once; each message only sets its key and iv */
	if (!c->id || !c->sub || !c->gcm ||
	    EVP_CipherInit_ex(c->gcm, EVP_aes_256_gcm(), NULL, NULL, NULL, 1) != 1) {
		crypto_ctx_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void crypto_ctx_free(crypto_ctx *c)
{
	if (!c)
		return;
	EVP_MAC_CTX_free(c->id);
	EVP_MAC_CTX_free(c->sub);
	EVP_CIPHER_CTX_free(c->gcm);
	free(c);
}

/* One HMAC with a keyed context: re-initialising without a key restarts
 * from the stored key state (no key schedule, no allocation). */
static void mac_once(EVP_MAC_CTX *m, uint8_t out[32], const void *p1, size_t n1, const void *p2,
		     size_t n2)
{
	size_t len = 32;
	EVP_MAC_init(m, NULL, 0, NULL);
	if (n1)
		EVP_MAC_update(m, p1, n1);
	if (n2)
		EVP_MAC_update(m, p2, n2);
	EVP_MAC_final(m, out, &len, 32);
}

void crypto_ctx_id(crypto_ctx *c, uint8_t out[32], const void *p, size_t n)
{
	mac_once(c->id, out, p, n, NULL, 0);
}

/* GCM over up to two pieces of input, with the context's cipher. */
static int gcm_ctx(crypto_ctx *c, int enc, const uint8_t sk[32], const uint8_t *iv,
		   const void *aad, size_t aad_len, const uint8_t *in1, size_t n1,
		   const uint8_t *in2, size_t n2, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *g = c->gcm;
	int len;
	if (n1 > INT32_MAX || n2 > INT32_MAX || aad_len > INT32_MAX)
		return -DV_EBADKEY;
	if (EVP_CipherInit_ex(g, NULL, NULL, sk, iv, enc) != 1)
		return -DV_EBADKEY;
	if (aad_len && EVP_CipherUpdate(g, NULL, &len, aad, (int)aad_len) != 1)
		return -DV_EBADKEY;
	if (n1 && EVP_CipherUpdate(g, out, &len, in1, (int)n1) != 1)
		return -DV_EBADKEY;
	if (n2 && EVP_CipherUpdate(g, out + n1, &len, in2, (int)n2) != 1)
		return -DV_EBADKEY;
	if (!enc && EVP_CIPHER_CTX_ctrl(g, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
		return -DV_EBADKEY;
	if (EVP_CipherFinal_ex(g, out + n1 + n2, &len) != 1)
		return -DV_EBADKEY;
	if (enc && EVP_CIPHER_CTX_ctrl(g, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		return -DV_EBADKEY;
	return 0;
}

int crypto_ctx_seal(crypto_ctx *c, uint8_t *out, const void *aad, size_t aad_len,
		    const void *head, size_t hn, const void *body, size_t bn)
{
	uint8_t sk[32];
	int r = crypto_random(out, CRYPTO_NONCE_LEN);
	if (r < 0)
		return r;
	mac_once(c->sub, sk, aead_label, sizeof(aead_label) - 1, out, 16);
	r = gcm_ctx(c, 1, sk, out + 16, aad, aad_len, head, hn, body, bn, out + CRYPTO_NONCE_LEN,
		    out + CRYPTO_NONCE_LEN + hn + bn);
	crypto_wipe(sk, sizeof(sk));
	return r < 0 ? -EIO : 0;
}

int crypto_ctx_open(crypto_ctx *c, uint8_t *out, const void *aad, size_t aad_len,
		    const void *sealed, size_t n)
{
	const uint8_t *s = sealed;
	uint8_t sk[32], tag[16];
	if (n < CRYPTO_OVERHEAD)
		return -DV_ECORRUPT;
	size_t plen = n - CRYPTO_OVERHEAD;
	memcpy(tag, s + CRYPTO_NONCE_LEN + plen, 16);
	mac_once(c->sub, sk, aead_label, sizeof(aead_label) - 1, s, 16);
	int r = gcm_ctx(c, 0, sk, s + 16, aad, aad_len, s + CRYPTO_NONCE_LEN, plen, NULL, 0, out, tag);
	crypto_wipe(sk, sizeof(sk));
	return r;
}
