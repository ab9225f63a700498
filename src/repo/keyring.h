/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keyring: the key files of a repository (`dvalin key`).  Each key file
 * wraps the same master keys under its own passphrase (key.h), so keys
 * can be added and removed without touching any data, and the master
 * keys themselves can be written on paper (paperkey.h) and imported back
 * into a new key file when every passphrase is lost.
 *
 * Safety: the key that opened the handle and the last usable key are
 * never removed; a key is added before one is removed (passwd); an
 * imported paper key must name this repository and open its snapshots
 * and their trees (a wrong key file would otherwise let backups write
 * under keys nothing else can read).
 */
#ifndef DV_REPO_KEYRING_H
#define DV_REPO_KEYRING_H

#include <stddef.h>

#include "../base/buf.h"
#include "key.h"
#include "repo.h"

typedef struct {
	char name[80];  /* keys/<SHA-256 of the file> */
	key_params kdf;
	int current;    /* it opened this handle */
} keyring_entry;

/* The usable key files, cheapest first (*out owned by the caller). */
int keyring_list(repo *r, keyring_entry **out, size_t *out_n);
/* The key file that opened r ("" when keyless). */
const char *keyring_current(const repo *r);
/* Stores a new key file for pass (r opened with a key); its name in out_name. */
int keyring_add(repo *r, const char *pass, const key_params *kp, char out_name[80]);
/*
 * Removes the key file whose hex name starts with prefix: -EPERM for the
 * current one (unless passwd: a new key was just added) or the last
 * usable one, -DV_ENOTFOUND, -DV_EAMBIG.
 */
int keyring_remove(repo *r, const char *prefix, int passwd, char out_name[80]);
/* The paper text of r's master keys (r opened with a key). */
int keyring_export(repo *r, buf *out);
/*
 * A paper key's text into a new key file for pass, on a handle opened
 * without a key: checked as the header says first.
 */
int keyring_import(repo *r, const char *text, size_t n, const char *pass, const key_params *kp,
		   char out_name[80]);

#endif
