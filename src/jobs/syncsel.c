/* SPDX-License-Identifier: BSD-2-Clause */
#include "syncsel.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/idmap.h"
#include "../core/crypto.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int cmp_snap_id(const void *a, const void *b)
{
	return memcmp((*(snapshot *const *)a)->id, (*(snapshot *const *)b)->id, 32);
}

/* Oldest first; without a time (version 1, keyless) first, by id. */
static int cmp_item(const void *a, const void *b)
{
	const syncsel_item *x = a, *y = b;
	if (x->h.has_plain != y->h.has_plain)
		return x->h.has_plain ? 1 : -1;
	if (x->h.has_plain && x->h.time != y->h.time)
		return x->h.time < y->h.time ? -1 : 1;
	if (x->h.has_plain && x->h.time_nsec != y->h.time_nsec)
		return x->h.time_nsec < y->h.time_nsec ? -1 : 1;
	return memcmp(x->h.id, y->h.id, 32);
}

int syncsel_load(repo *r, syncsel_item **out, size_t *out_n, size_t *out_damaged)
{
	snapshot_header *h = NULL;
	snapshot **bodies = NULL;
	size_t n = 0, nb = 0, damaged = 0, dmg_bodies = 0;
	int rc = repo_load_snapshot_headers(r, &h, &n, &damaged);
	if (rc == 0 && !repo_is_keyless(r))
		rc = repo_load_snapshots(r, &bodies, &nb, &dmg_bodies);
	syncsel_item *v = rc == 0 ? calloc(n ? n : 1, sizeof(*v)) : NULL;
	_cleanup_free_ uint8_t *taken = rc == 0 ? calloc(nb ? nb : 1, 1) : NULL;
	if (rc == 0 && (!v || !taken))
		rc = -ENOMEM;
	if (rc == 0 && nb)
		qsort(bodies, nb, sizeof(*bodies), cmp_snap_id);
	size_t k = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		snapshot key, *kp = &key, **hit = NULL;
		memcpy(key.id, h[i].id, 32);
		if (nb)
			hit = bsearch(&kp, bodies, nb, sizeof(*bodies), cmp_snap_id);
		/* with the key, a file whose body does not decode is damaged:
		 * counted once, by the body load, and left out */
		if (!repo_is_keyless(r) && !hit)
			continue;
		v[k].h = h[i];
		if (hit) {
			v[k].s = *hit;
			taken[hit - bodies] = 1;
			/* the body's time holds for version 1 files too */
			v[k].h.time = v[k].s->time;
			v[k].h.time_nsec = v[k].s->time_nsec;
			v[k].h.tz_offset = v[k].s->tz_offset;
			v[k].h.has_plain = 1;
		}
		k++;
	}
	if (!repo_is_keyless(r) && rc == 0)
		damaged = damaged > dmg_bodies ? damaged : dmg_bodies;
	for (size_t i = 0; i < nb; i++)
		if (!taken || !taken[i])
			snapshot_free(bodies[i]);
	free(bodies);
	free(h);
	if (rc < 0) {
		syncsel_free(v, k);
		return rc;
	}
	if (k)
		qsort(v, k, sizeof(*v), cmp_item);
	*out = v;
	*out_n = k;
	if (out_damaged)
		*out_damaged = damaged;
	return 0;
}

void syncsel_free(syncsel_item *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		snapshot_free(v[i].s);
	free(v);
}

int syncsel_needs_key(const sync_opts *o)
{
	const snapsel_filter *f = o->filter;
	return f && (f->nhosts || f->npaths || f->ntags);
}

int syncsel_matches(const snapshot *s, const sync_opts *o)
{
	const snapsel_filter *f = o->filter;
	if (!f)
		return 1;
	/* the host, path and tag rules of every command; sync's ids are its own */
	snapsel_filter only = *f;
	only.nids = 0;
	return snapsel_match(&only, s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The group of latest, host and set of paths, as one id: from the keyed
 * group ids of the header without the key, from the body with it (a
 * hash of the host and the sorted, distinct paths, each with its length).
 */
static int latest_group(uint8_t out[32], const syncsel_item *it)
{
	if (!it->s) {
		crypto_sha256(out, it->h.group, 2 * 32);
		return 0;
	}
	size_t n = it->s->npaths;
	buf _cleanup_(buf_releasep) b = BUF_INIT;
	_cleanup_free_ const char **p = malloc((n ? n : 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p, it->s->paths, n * sizeof(*p));
	qsort(p, n, sizeof(*p), cmp_str);
	int rc = buf_put_str(&b, it->s->host, strlen(it->s->host));
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (i == 0 || strcmp(p[i - 1], p[i]) != 0)
			rc = buf_put_str(&b, p[i], strlen(p[i]));
	if (rc == 0)
		crypto_sha256(out, b.data, b.len);
	return rc;
}

static int select_ids(syncsel_item *v, size_t n, const sync_opts *o)
{
	_cleanup_free_ uint8_t *chosen = calloc(n ? n : 1, 1);
	if (!chosen)
		return -ENOMEM;
	for (size_t k = 0; k < o->nids; k++) {
		const char *spec = o->ids[k];
		size_t hits = 0, hit = 0;
		if (!hex_is_prefix(spec, 64))
			return err_set(-DV_EUSAGE, "invalid snapshot id '%s'", spec);
		for (size_t i = 0; i < n; i++) {
			char hex[65];
			hex_encode(hex, v[i].h.id, 32);
			if (strncasecmp(hex, spec, strlen(spec)) == 0) {
				hit = i;
				hits++;
			}
		}
		if (hits == 0)
			return err_set(-DV_ENOTFOUND, "no snapshot of the source matches '%s'", spec);
		if (hits > 1)
			return err_set(-DV_EAMBIG, "snapshot id prefix '%s' is ambiguous", spec);
		chosen[hit] = 1;
	}
	for (size_t i = 0; i < n; i++)
		v[i].selected &= chosen[i];
	return 0;
}

/* Of the selected, the N newest of each group (items are oldest first). */
static int select_latest(syncsel_item *v, size_t n, int latest)
{
	idmap count = IDMAP_INIT;
	int rc = 0;
	for (size_t i = n; rc == 0 && i-- > 0;) {
		if (!v[i].selected)
			continue;
		if (!v[i].h.has_plain) {
			char hex[65];
			hex_encode(hex, v[i].h.id, 32);
			rc = err_set(-DV_EUSAGE, "snapshot '%.8s' was written before snapshots carried their time in plaintext: --latest needs the password for it",
				     hex);
			break;
		}
		uint8_t g[32];
		idmap_slot *s;
		rc = latest_group(g, &v[i]);
		rc = rc ?: idmap_put(&count, g, &s, NULL);
		if (rc == 0 && s->val++ >= (uint64_t)latest)
			v[i].selected = 0;
	}
	idmap_release(&count);
	return rc;
}

int syncsel_apply(syncsel_item *v, size_t n, const sync_opts *o)
{
	int keyed = n == 0 || v[0].s != NULL;
	if (syncsel_needs_key(o) && !keyed)
		return err_set(-DV_EUSAGE, "--host, --path and --tag need the password of the source: host names, paths and tags are encrypted");
	for (size_t i = 0; i < n; i++)
		v[i].selected = !v[i].s || syncsel_matches(v[i].s, o);
	int rc = o->nids ? select_ids(v, n, o) : 0;
	if (rc == 0 && o->latest > 0)
		rc = select_latest(v, n, o->latest);
	return rc;
}
