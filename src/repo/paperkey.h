/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * paperkey: a repository's master keys as text a person can print, keep
 * in a drawer and type back in (`dvalin key export` / `key import`); the
 * format is in docs/format.md, "Paper keys".
 *
 *     dvalin paper key, version 1
 *     repository 0f1e2d3c...  (the config's id, 64 hex digits)
 *      1  0f1e 2d3c 4b5a 6978 8796 a5b4 c3d2 e1f0  7a3c
 *      ...                     (six lines of 16 key bytes, 4-digit check)
 *     check 9f8e7d6c
 *
 * Each line carries a checksum of its number and bytes, so a typo is
 * found and placed on its line; the last line checks the whole.  Reading
 * is forgiving about case, blanks and text around the block, strict about
 * everything in it.  Pure: no I/O.
 */
#ifndef DV_REPO_PAPERKEY_H
#define DV_REPO_PAPERKEY_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"
#include "../core/crypto.h"

#define PAPERKEY_LINES (sizeof(crypto_keys) / 16)
/* Text longer than this is not a paper key (a file given by mistake). */
#define PAPERKEY_MAX_TEXT 65536

/* Appends the text (with a trailing newline) to out. */
int paperkey_encode(buf *out, const uint8_t repo_id[32], const crypto_keys *k);
/*
 * Reads the text: 0 and the repository id and keys, or -DV_ECORRUPT with a
 * one-line message saying which line is wrong, -DV_EFORMAT for another
 * version.
 */
int paperkey_decode(const char *text, size_t n, uint8_t repo_id[32], crypto_keys *k);

#endif
