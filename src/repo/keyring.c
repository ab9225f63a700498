/* SPDX-License-Identifier: BSD-2-Clause */
#include "keyring.h"
#include "paperkey.h"
#include "repo_internal.h"
#include "snapshot.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *keyring_current(const repo *r)
{
	return r->key_name;
}

int keyring_list(repo *r, keyring_entry **out, size_t *out_n)
{
	key_file *v = NULL;
	size_t n = 0, skipped = 0;
	int rc = repo_key_files(r->be, &v, &n, &skipped);
	keyring_entry *e = rc == 0 ? calloc(n ? n : 1, sizeof(*e)) : NULL;
	if (rc == 0 && !e)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		memcpy(e[i].name, v[i].name, sizeof(e[i].name));
		key_header(&e[i].kdf, v[i].file, KEY_FILE_LEN);
		e[i].current = strcmp(v[i].name, r->key_name) == 0;
	}
	free(v);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*out = e;
	*out_n = n;
	return 0;
}

/* Wraps k under pass and stores it; the file is named by its SHA-256. */
static int store_key(repo *r, const crypto_keys *k, const char *pass, const key_params *kp,
		     char out_name[80])
{
	if (!key_params_ok(kp))
		return err_set(-EINVAL, "scrypt parameters beyond what init writes");
	buf _cleanup_(buf_releasep) kf = BUF_INIT;
	int rc = key_encode(&kf, k, pass, kp);
	if (rc < 0)
		return rc;
	key_file_name(out_name, kf.data, kf.len);
	rc = backend_put(r->be, out_name, BACKEND_META, kf.data, kf.len);
	crypto_wipe(kf.data, kf.len);
	return rc;
}

int keyring_add(repo *r, const char *pass, const key_params *kp, char out_name[80])
{
	if (r->keyless)
		return err_set(-EINVAL, "adding a key needs the repository opened with a key");
	return store_key(r, &r->keys, pass, kp, out_name);
}

int keyring_remove(repo *r, const char *prefix, int passwd, char out_name[80])
{
	if (!hex_is_prefix(prefix, 64))
		return err_set(-DV_EUSAGE, "invalid key id '%s' (a prefix of the hex name 'key list' shows)", prefix);
	keyring_entry *v;
	size_t n, hit = SIZE_MAX, hits = 0;
	int rc = keyring_list(r, &v, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (strncasecmp(v[i].name + 5, prefix, strlen(prefix)) == 0) {
			hit = i;
			hits++;
		}
	if (hits == 0)
		rc = err_set(-DV_ENOTFOUND, "no key matches '%s'", prefix);
	else if (hits > 1)
		rc = err_set(-DV_EAMBIG, "key id prefix '%s' is ambiguous", prefix);
	else if (v[hit].current && !passwd)
		rc = err_set(-EPERM, "refusing to remove key '%.8s': it is the one this command was opened with (use another password, or 'key passwd')",
			     v[hit].name + 5);
	else if (n == 1)
		rc = err_set(-EPERM, "refusing to remove key '%.8s': it is the last one", v[hit].name + 5);
	if (rc == 0) {
		memcpy(out_name, v[hit].name, 80);
		rc = backend_remove(r->be, v[hit].name);
	}
	free(v);
	return rc;
}

int keyring_export(repo *r, buf *out)
{
	if (r->keyless)
		return err_set(-EINVAL, "exporting the keys needs the repository opened with a key");
	return paperkey_encode(out, r->cfg.id, &r->keys);
}

/* Up to this many snapshot files are tried when proving an imported key. */
#define IMPORT_PROBES 8

typedef struct {
	repo *r;
	const crypto_keys *k;
	int tried, opened;
	uint8_t tree[32];
} probe_ctx;

static int probe_snapshot(void *ud, const char *name, int rc, bytes *b)
{
	probe_ctx *p = ud;
	(void)name;
	if (rc < 0 || p->opened || p->tried >= IMPORT_PROBES)
		return rc == -ENOMEM ? rc : 0;
	p->tried++;
	snapshot *s = NULL;
	if (snapshot_decode(&s, b->data, b->len, p->k) == 0) {
		memcpy(p->tree, s->tree, 32);
		p->opened = 1;
	}
	snapshot_free(s);
	return 0;
}

/*
 * The keys open a snapshot of r (its encryption key) and that snapshot's
 * root tree re-hashes to its id (the id key).  A repository without
 * snapshots has nothing such a key could get wrong.
 */
static int prove(repo *r, const crypto_keys *k)
{
	probe_ctx p = { r, k, 0, 0, { 0 } };
	int rc = backend_fetch_dir(r->be, "snapshots", BACKEND_META, BACKEND_FETCH_SKIP_MISSING, NULL,
				   probe_snapshot, &p);
	if (rc < 0)
		return rc;
	if (p.tried == 0)
		return 0;
	if (!p.opened)
		return err_set(-DV_EBADKEY, "the paper key does not open the snapshots of this repository (%d tried)",
			       p.tried);
	/* a session of its own, made while r holds the keys: a session's
	 * blob context keys its HMAC and AES-GCM contexts once, when made */
	crypto_keys saved = r->keys;
	r->keys = *k;
	repo_session *sess = NULL;
	buf _cleanup_(buf_releasep) plain = BUF_INIT;
	rc = repo_session_new(&sess, r);
	if (rc == 0)
		rc = repo_session_load(sess, BLOB_TREE, p.tree, &plain, 1);
	repo_session_free(sess);
	r->keys = saved;
	crypto_wipe(&saved, sizeof(saved));
	if (rc == -DV_ECORRUPT || rc == -DV_EBADKEY)
		return err_set(-DV_EBADKEY, "the paper key opens the snapshots but not their data: it is damaged or not this repository's");
	return rc == -DV_ENOTFOUND ? 0 : rc; /* a missing tree is check's business */
}

int keyring_import(repo *r, const char *text, size_t n, const char *pass, const key_params *kp,
		   char out_name[80])
{
	uint8_t id[32];
	crypto_keys k;
	int rc = paperkey_decode(text, n, id, &k);
	if (rc == 0 && memcmp(id, r->cfg.id, 32) != 0) {
		char a[65], b[65];
		hex_encode(a, id, 32);
		hex_encode(b, r->cfg.id, 32);
		rc = err_set(-DV_EBADKEY, "the paper key is for repository %.16s..., not %.16s... ('dvalin cat config' shows the id)",
			     a, b);
	}
	rc = rc ?: prove(r, &k);
	rc = rc ?: store_key(r, &k, pass, kp, out_name);
	crypto_wipe(&k, sizeof(k));
	return rc;
}
