/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto: every cryptographic primitive dvalin uses, on OpenSSL libcrypto.
 *
 * - Blob ids are HMAC-SHA-256 under the id key: equal plaintexts dedup,
 *   but ids reveal nothing to whoever lacks the key.
 * - Sealing is AES-256-GCM under a fresh subkey per message:
 *       nonce   = 28 random bytes  (N1 = first 16, N2 = last 12)
 *       subkey  = HMAC-SHA-256(enc_key, "dvalin-aead-v1" || N1)
 *       sealed  = nonce || AES-256-GCM(subkey, iv = N2, aad, plain) || tag
 *   A (key, iv) pair repeats only if all 224 random bits repeat; after
 *   2^48 messages the chance of any repeat is below 2^-128, so nonce
 *   reuse is impossible in practice at any repository size (plain GCM
 *   with 96-bit random nonces is limited to 2^32 messages).
 * - Passphrases are stretched with scrypt; parameters live in the key file.
 *
 * Functions here do no I/O besides reading the kernel's random source.
 */
#ifndef DV_CORE_CRYPTO_H
#define DV_CORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_ID_LEN 32
#define CRYPTO_NONCE_LEN 28
#define CRYPTO_TAG_LEN 16
#define CRYPTO_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)

/* The repository's master keys, generated once at init. */
typedef struct {
	uint8_t enc[CRYPTO_KEY_LEN];   /* content encryption */
	uint8_t mac[CRYPTO_KEY_LEN];   /* blob ids */
	uint8_t chunk[CRYPTO_KEY_LEN]; /* chunker gear table seed */
} crypto_keys;

int crypto_random(void *out, size_t n);
void crypto_sha256(uint8_t out[32], const void *p, size_t n);
void crypto_hmac(uint8_t out[32], const uint8_t key[32], const void *p, size_t n);
/* Expands key into n bytes for a purpose named by label. */
void crypto_derive(uint8_t *out, size_t n, const uint8_t key[32], const char *label);
/*
 * out must have room for n + CRYPTO_OVERHEAD bytes.  plain may be
 * out + CRYPTO_NONCE_LEN (sealing in place); otherwise they must not overlap.
 */
int crypto_seal(uint8_t *out, const uint8_t key[32], const void *aad, size_t aad_len,
		const void *plain, size_t n);
/*
 * Opens n sealed bytes into out (room for n - CRYPTO_OVERHEAD).
 * Returns -DV_EBADKEY when authentication fails, -DV_ECORRUPT when the
 * input is too short to be sealed data.
 */
int crypto_open(uint8_t *out, const uint8_t key[32], const void *aad, size_t aad_len,
		const void *sealed, size_t n);
/* scrypt(pass, salt, N = 2^log_n, r, p) into 32 bytes. */
int crypto_scrypt(uint8_t out[32], const char *pass, size_t pass_len, const uint8_t *salt,
		  size_t salt_len, unsigned log_n, unsigned r, unsigned p);
void crypto_wipe(void *p, size_t n);
/* 1 if the n bytes at a and b are equal, else 0, in time that depends on n alone. */
int crypto_equal(const void *a, const void *b, size_t n);

/*
 * A thread's reusable contexts: HMAC-SHA-256 keyed once with the id key
 * and once with the encryption key (whose per-message subkeys it derives),
 * and one AES-256-GCM context.  The one-shot functions above set all of
 * that up per call, which for a small blob costs more than the hashing
 * and encryption themselves.  One thread at a time; keys are copied into
 * OpenSSL's contexts, not borrowed.  Results are those of crypto_hmac(),
 * crypto_seal() and crypto_open() byte for byte (a unit test checks).
 */
typedef struct crypto_ctx crypto_ctx;

int crypto_ctx_new(crypto_ctx **out, const crypto_keys *keys);
/* NULL-safe. */
void crypto_ctx_free(crypto_ctx *c);
/* HMAC-SHA-256 under the id key (keys->mac). */
void crypto_ctx_id(crypto_ctx *c, uint8_t out[32], const void *p, size_t n);
/*
 * crypto_seal() under keys->enc of the plaintext head[0..hn) || body[0..bn)
 * without joining them first: out gets nonce || ciphertext || tag
 * (hn + bn + CRYPTO_OVERHEAD bytes).  head and body may lie where their
 * ciphertext goes (out + CRYPTO_NONCE_LEN and right after it) or
 * anywhere not overlapping out.
 */
int crypto_ctx_seal(crypto_ctx *c, uint8_t *out, const void *aad, size_t aad_len,
		    const void *head, size_t hn, const void *body, size_t bn);
/* crypto_open() under keys->enc. */
int crypto_ctx_open(crypto_ctx *c, uint8_t *out, const void *aad, size_t aad_len,
		    const void *sealed, size_t n);

#endif
