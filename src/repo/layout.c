/* SPDX-License-Identifier: BSD-2-Clause */
#include "layout.h"
#include "config.h"
#include "format.h"
#include "gcrec.h"
#include "index.h"
#include "key.h"
#include "lease.h"
#include "pack.h"
#include "snapshot.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/blob.h"
#include "../core/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One row per kind: its directory and the hex digits of its names. */
static const struct {
	const char *dir;  /* NULL: the file "config" */
	size_t hex;       /* name length in hex digits */
	const char *what;
	int immutable;
} kinds[LAYOUT_KINDS] = {
	[LAYOUT_CONFIG] = { NULL, 0, "config", 0 },
	[LAYOUT_KEY] = { "keys", 64, "key", 1 },
	[LAYOUT_PACK] = { "data", 64, "pack", 1 },
	[LAYOUT_INDEX] = { "index", 64, "index", 1 },
	[LAYOUT_SNAPSHOT] = { "snapshots", 64, "snapshot", 1 },
	[LAYOUT_LEASE] = { "locks", 16, "lease", 0 },
	[LAYOUT_GCREC] = { "gc", 32, "gc record", 0 },
	[LAYOUT_PROTECTED] = { "protected", 64, "protection mark", 0 },
};

/* n lower-case hex digits at s. */
static int hex_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Exactly n lower-case hex digits and the end of the string. */
static int is_hex(const char *s, size_t n)
{
	return hex_digits(s, n) && s[n] == 0;
}

int layout_kind_of(const char *name, layout_kind *out)
{
	if (strcmp(name, "config") == 0) {
		*out = LAYOUT_CONFIG;
		return 0;
	}
	for (int k = LAYOUT_KEY; k < LAYOUT_KINDS; k++) {
		size_t dl = strlen(kinds[k].dir);
		if (strncmp(name, kinds[k].dir, dl) != 0 || name[dl] != '/')
			continue;
		const char *base = name + dl + 1;
		if (k == LAYOUT_PACK) {
			/* packs fan out: data/ab/ab12...; strncmp, not memcmp: the name
			 * may end right after "data/ab/" */
			if (!hex_digits(base, 2) || base[2] != '/' || strncmp(base, base + 3, 2) != 0)
				return -DV_ENOTFOUND;
			base += 3;
		}
		if (!is_hex(base, kinds[k].hex))
			return -DV_ENOTFOUND;
		*out = (layout_kind)k;
		return 0;
	}
	return -DV_ENOTFOUND;
}

int layout_is_dir(const char *dir)
{
	for (int k = LAYOUT_KEY; k < LAYOUT_KINDS; k++)
		if (strcmp(dir, kinds[k].dir) == 0)
			return 1;
	/* data/ab */
	return strncmp(dir, "data/", 5) == 0 && is_hex(dir + 5, 2);
}

const char *layout_kind_name(layout_kind k)
{
	return k < LAYOUT_KINDS ? kinds[k].what : "file";
}

int layout_is_immutable(layout_kind k)
{
	return k < LAYOUT_KINDS && kinds[k].immutable;
}

uint64_t layout_max_size(layout_kind k)
{
	switch (k) {
	case LAYOUT_CONFIG:
		return CONFIG_LEN;
	case LAYOUT_KEY:
		return KEY_FILE_LEN;
	case LAYOUT_PACK:
		/* a pack is closed once past its target size: the last blob
		 * may be of the largest size, and the table of the most blobs */
		return PACK_TARGET_SIZE + BLOB_MAX_RAW + (1 << 20) +
		       (uint64_t)PACK_MAX_BLOBS * PACK_ENTRY_LEN + PACK_TRAILER_LEN;
	case LAYOUT_INDEX:
		/* the one file a prune writes for every blob: 80 million blobs */
		return (uint64_t)4 << 30;
	case LAYOUT_SNAPSHOT:
		return (uint64_t)64 << 20;
	case LAYOUT_LEASE:
		return 1024;
	case LAYOUT_GCREC:
		return GCREC_HEADER_LEN + (uint64_t)GCREC_MAX_PACKS * 32 + 16;
	case LAYOUT_PROTECTED:
	case LAYOUT_KINDS:
		break;
	}
	return 0;
}

/* The SHA-256 of the n bytes at p is the hex of name's last component. */
static int named_by_hash(const char *name, const uint8_t *p, size_t n)
{
	uint8_t d[32];
	char h[65];
	crypto_sha256(d, p, n);
	hex_encode(h, d, 32);
	return strcmp(strrchr(name, '/') + 1, h) == 0;
}

int layout_check(const char *name, const uint8_t *p, size_t n)
{
	layout_kind k;
	if (layout_kind_of(name, &k) < 0)
		return err_set(-DV_ENOTFOUND, "no repository file has this name");
	if (n > layout_max_size(k))
		return err_set(-DV_ECORRUPT, "larger than any %s (%llu bytes)", kinds[k].what,
			       (unsigned long long)layout_max_size(k));
	int r = 0;
	switch (k) {
	case LAYOUT_CONFIG: {
		repo_config c;
		r = config_decode(&c, p, n);
		break;
	}
	case LAYOUT_KEY: {
		key_file kf;
		char why[400];
		if (key_file_check(&kf, name, p, n, why, sizeof(why)) < 0)
			return err_set(-DV_ECORRUPT, "not a key file dvalin would use, or not named by its SHA-256");
		return 0;
	}
	case LAYOUT_PACK: {
		uint8_t id[32];
		if (hex_decode(id, strrchr(name, '/') + 1, 32) < 0)
			return -DV_ECORRUPT;
		return pack_verify(id, p, n);
	}
	case LAYOUT_INDEX:
		if (!named_by_hash(name, p, n))
			return err_set(-DV_ECORRUPT, "the SHA-256 of its contents is not its name");
		r = index_validate(p, n);
		break;
	case LAYOUT_SNAPSHOT: {
		snapshot_header h;
		if (!named_by_hash(name, p, n))
			return err_set(-DV_ECORRUPT, "the SHA-256 of its contents is not its name");
		/* the body is sealed: only the header can be checked without the key */
		r = n > SNAPSHOT_HEADER_LEN + CRYPTO_OVERHEAD ? snapshot_decode_header(p, n, &h)
							       : -DV_ECORRUPT;
		break;
	}
	case LAYOUT_LEASE: {
		lease_info li;
		r = lease_parse(&li, (const char *)p, n);
		break;
	}
	case LAYOUT_GCREC: {
		gc_record g = { "", 0, NULL, 0 };
		r = gc_record_decode(&g, p, n);
		free(g.packs);
		break;
	}
	case LAYOUT_PROTECTED:
		r = n == 0 ? 0 : -DV_ECORRUPT;
		break;
	case LAYOUT_KINDS:
		break;
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return err_set(-DV_ECORRUPT, "not a well-formed %s of format version %d", kinds[k].what,
			       FORMAT_VERSION);
	return 0;
}

static int policy_keeps(void *ud, const char *name, backend_hint hint)
{
	layout_kind k;
	(void)ud;
	if (layout_kind_of(name, &k) < 0 || !layout_is_immutable(k))
		return 0;
	/* data packs are read once (restore) and are most of a repository */
	return k != LAYOUT_PACK || hint == BACKEND_META;
}

static int policy_verify(void *ud, const char *name, const uint8_t *p, size_t n)
{
	(void)ud;
	return layout_check(name, p, n);
}

const cache_policy layout_cache_policy = { policy_keeps, policy_verify, NULL };
