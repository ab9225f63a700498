/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * key: key files, which hold the repository's random master keys wrapped
 * under a key stretched from a passphrase with scrypt.
 *
 * File: magic | le32 version | u8 kdf | u8 log2(N) | u8 r | u8 p |
 *       salt[32] | crypto_seal(kdf output, aad = header, master keys).
 * A wrong passphrase fails authentication: -DV_EBADKEY.
 */
#ifndef DV_REPO_KEY_H
#define DV_REPO_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"
#include "../core/crypto.h"

typedef struct {
	unsigned log_n, r, p;
} key_params;

#define KEY_PARAMS_INIT { 15, 8, 1 }

int key_encode(buf *out, const crypto_keys *k, const char *pass, const key_params *kp);
int key_decode(crypto_keys *out, const uint8_t *p, size_t n, const char *pass);

#endif
