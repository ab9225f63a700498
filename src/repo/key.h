/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * key: key files, which hold the repository's random master keys wrapped
 * under a key stretched from a passphrase with scrypt.
 *
 * File: magic | le32 version | u8 kdf | u8 log2(N) | u8 r | u8 p |
 *       salt[32] | crypto_seal(kdf output, aad = header, master keys).
 * A wrong passphrase fails authentication: -DV_EBADKEY.  Stored as
 * keys/<SHA-256 of the file>.
 */
#ifndef DV_REPO_KEY_H
#define DV_REPO_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "../base/buf.h"
#include "../core/crypto.h"

typedef struct {
	unsigned log_n, r, p;
} key_params;

#define KEY_PARAMS_INIT { 15, 8, 1 }

/*
 * The cap on scrypt parameters: what `init` can write (docs/format.md).
 * The parameters come from the unauthenticated header, so a reader
 * refuses bigger ones before running the KDF: at the cap one attempt
 * costs 4 GiB and a few seconds, above it up to 16 GiB and minutes.
 */
#define KEY_LOG_N_MIN 10
#define KEY_LOG_N_MAX 22
#define KEY_R_MAX 8
#define KEY_P_MAX 1
/* A key file's size: header, sealed master keys. */
#define KEY_FILE_LEN (KEY_HEADER_LEN + sizeof(crypto_keys) + CRYPTO_OVERHEAD)

/* 1 if the parameters are within the cap. */
int key_params_ok(const key_params *kp);
/* The relative cost of one attempt (N * r * p: memory and time). */
uint64_t key_params_cost(const key_params *kp);
/*
 * Reads the parameters of a key file without running the KDF:
 * -DV_ECORRUPT if it is not a key file, -DV_EFORMAT for an unknown
 * version or KDF, -E2BIG when the parameters are above the cap (*out is
 * still filled in, for the message).
 */
int key_header(key_params *out, const uint8_t *p, size_t n);
/* The name a key file is stored under: "keys/" + SHA-256 of its bytes. */
void key_file_name(char out[80], const uint8_t *p, size_t n);

/* A key file found in keys/, usable as far as can be told without the KDF. */
typedef struct {
	char name[80];
	uint64_t cost; /* key_params_cost() */
	uint8_t file[KEY_FILE_LEN];
} key_file;

/*
 * Checks a key file read from storage under name: a key file, within the
 * cap, named by its SHA-256.  0 and *out filled when usable; otherwise a
 * negative code and a one-line reason naming the file in why.
 */
int key_file_check(key_file *out, const char *name, const uint8_t *p, size_t n, char *why,
		   size_t why_cap);
/* Cheapest first, then by name: the order in which key files are tried. */
void key_files_sort(key_file *v, size_t n);

int key_encode(buf *out, const crypto_keys *k, const char *pass, const key_params *kp);
/* key_header's refusals, then -DV_EBADKEY for a wrong passphrase. */
int key_decode(crypto_keys *out, const uint8_t *p, size_t n, const char *pass);

#endif
