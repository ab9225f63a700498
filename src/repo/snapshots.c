/* SPDX-License-Identifier: BSD-2-Clause */
#include "snapshots.h"
#include "repo_internal.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void snapshot_file_name(char out[80], const char *dir, const uint8_t id[32])
{
	char hex[65];
	hex_encode(hex, id, 32);
	snprintf(out, 80, "%s/%s", dir, hex);
}

/* How often a commit stopped by a deletion notice reads it again. */
#define NOTICE_POLL_MS 100

/*
 * 1 after waiting a moment when the deletion notice still names a pack
 * this snapshot relies on and the wait is not used up: a prune's notice
 * names every pack of its ripe records until it has marked, and it
 * returns to the index any pack a committed snapshot uses (a backup that
 * read that returned index relies on it).  Called and returning with
 * r->lock held; the lease's refresher keeps the lease live meanwhile.
 */
static int notice_wait(repo *r, int *waited, int failed)
{
	char msg[900];
	snprintf(msg, sizeof(msg), "%s", err_msg(failed));
	if (*waited >= lease_notice_wait_ns() / (NOTICE_POLL_MS * 1000000LL) ||
	    relied_notice_names(&r->relied, r->be) != 1) {
		err_set(failed, "%s", msg); /* reading the notice cleared it */
		return 0;
	}
	pthread_mutex_unlock(&r->lock);
	struct timespec ts = { 0, NOTICE_POLL_MS * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&r->lock);
	++*waited;
	err_clear();
	return 1;
}

/*
 * The commit check (docs/concurrency.md).  A prune deletes what it
 * condemned only after every lease older than the condemnation is gone:
 * ours must still count, before the snapshot file is written and after,
 * when every prune that marks from then on sees it; and every pack the
 * snapshot relies on must still be there both times.  A failure after
 * writing removes the snapshot again.
 */
static int commit_file(repo *r, const uint8_t id[32], const uint8_t *p, size_t n)
{
	char name[80];
	snapshot_file_name(name, "snapshots", id);
	const char *hex = name + 10; /* after "snapshots/" */
	const char *who = r->lease ? lease_kind(r->lease) : "process";
	int rc = 0;
	idmap gone = IDMAP_INIT;
	pthread_mutex_lock(&r->lock);
	int written = 0;
	int waited = 0;
	for (int pass = 0; rc == 0 && pass < 2; pass++) {
		if (r->lease)
			rc = lease_confirm(r->lease);
		rc = rc ?: relied_check_noting(&r->relied, r->be, who, index_set_pack_count_max(r->index),
					       &gone);
		if (rc == -ESTALE && notice_wait(r, &waited, rc)) {
			/* the same check again, later: as safe as the first */
			idmap_release(&gone);
			rc = 0;
			pass--;
			continue;
		}
		if (rc == 0 && pass == 0)
			written = (rc = backend_put(r->be, name, BACKEND_META, p, n)) == 0;
	}
	if (rc < 0) {
		char msg[900];
		snprintf(msg, sizeof(msg), "%s", err_msg(rc));
		int d = written ? backend_remove(r->be, name) : 0;
		/* no index file of ours may go on naming a pack that is
		 * gone: the next run would rely on it and fail the same way */
		int w = gone.n ? index_set_withdraw(r->index, r->be, &gone) : 0;
		if (w < 0)
			log_warn("%s; the index files this %s wrote may name deleted packs: run 'dvalin repair index'",
				 err_msg(w), who);
		rc = d < 0 && d != -ENOENT
			     ? err_set(rc, "%s; snapshot '%s' was written and could not be removed again: delete it", msg, hex)
			     : err_set(rc, "%s; the snapshot was not saved", msg);
	}
	pthread_mutex_unlock(&r->lock);
	idmap_release(&gone);
	return rc;
}

int repo_save_snapshot(repo *r, snapshot *s)
{
	buf _cleanup_(buf_releasep) b = BUF_INIT;
	int rc = snapshot_encode(&b, s, &r->keys);
	return rc ?: commit_file(r, s->id, b.data, b.len);
}

int repo_put_snapshot_file(repo *r, const uint8_t *p, size_t n, uint8_t out_id[32])
{
	snapshot_header h;
	int rc = snapshot_decode_header(p, n, &h);
	if (rc < 0)
		return err_set(rc, "not a snapshot file this dvalin can store (%s)",
			       rc == -DV_EFORMAT ? "unsupported version" : "damaged header");
	memcpy(out_id, h.id, 32);
	return commit_file(r, h.id, p, n);
}

/* Decodes a snapshot file, whose name must be the id its bytes hash to. */
static int decode_file(repo *r, const char *name, const bytes *b, snapshot **out)
{
	uint8_t want[32];
	const char *base = strrchr(name, '/') + 1;
	snapshot *s = NULL;
	int rc = snapshot_decode(&s, b->data, b->len, &r->keys);
	if (rc == 0 && (hex_decode(want, base, 32) < 0 || memcmp(want, s->id, 32) != 0))
		rc = -DV_ECORRUPT;
	if (rc < 0) {
		snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Counts a file that failed with rc as damaged (the message names the first); 0 to go on. */
static int skip_damaged(size_t *count, const char *name, int rc)
{
	if (rc == -ENOMEM)
		return rc;
	if ((*count)++ == 0)
		err_set(-DV_ECORRUPT, "snapshot file '%s' is damaged or unreadable", name);
	return 0;
}

struct snap_list {
	repo *r;
	snapshot **v;
	size_t n, cap, damaged;
};

static int add_snap(void *ud, const char *name, int rc, bytes *b)
{
	struct snap_list *l = ud;
	snapshot *s = NULL;
	rc = rc ?: decode_file(l->r, name, b, &s);
	if (rc < 0)
		return skip_damaged(&l->damaged, name, rc);
	if ((rc = array_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v))) < 0) {
		snapshot_free(s);
		return rc;
	}
	l->v[l->n++] = s;
	return 0;
}

static int cmp_time(const void *a, const void *b)
{
	const snapshot *x = *(snapshot *const *)a, *y = *(snapshot *const *)b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->time_nsec != y->time_nsec)
		return x->time_nsec < y->time_nsec ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

int repo_load_snapshots(repo *r, snapshot ***out, size_t *out_n, size_t *out_damaged)
{
	if (r->keyless)
		return err_set(-DV_EBADKEY, "snapshots of '%s' cannot be read without the key", repo_location(r));
	struct snap_list l = { r, NULL, 0, 0, 0 };
	int rc = backend_fetch_dir(r->be, "snapshots", BACKEND_META, BACKEND_FETCH_SKIP_MISSING, NULL,
				   add_snap, &l);
	if (rc < 0) {
		repo_free_snapshots(l.v, l.n);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_time);
	*out = l.v;
	*out_n = l.n;
	if (out_damaged)
		*out_damaged = l.damaged;
	return 0;
}

void repo_free_snapshots(snapshot **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snapshot_free(list[i]);
	free(list);
}

struct headers_ctx {
	repo_header_fn fn;
	void *ud;
	size_t damaged;
};

static int header_one(void *ud, const char *name, int rc, bytes *b)
{
	struct headers_ctx *c = ud;
	snapshot_header h;
	uint8_t want[32];
	const char *base = strrchr(name, '/') + 1;
	rc = rc ?: snapshot_decode_header(b->data, b->len, &h);
	if (rc == 0 && (hex_decode(want, base, 32) < 0 || memcmp(want, h.id, 32) != 0))
		rc = -DV_ECORRUPT;
	if (rc < 0)
		return skip_damaged(&c->damaged, name, rc);
	return c->fn(c->ud, &h);
}

int repo_list_snapshot_headers(repo *r, repo_header_fn fn, void *ud, size_t *out_damaged)
{
	struct headers_ctx c = { fn, ud, 0 };
	int rc = backend_fetch_dir(r->be, "snapshots", BACKEND_META, BACKEND_FETCH_SKIP_MISSING, NULL,
				   header_one, &c);
	if (out_damaged)
		*out_damaged = c.damaged;
	return rc;
}

struct roots_ctx {
	repo_root_fn fn;
	void *ud;
};

static int root_one(void *ud, const snapshot_header *h)
{
	struct roots_ctx *c = ud;
	return c->fn(c->ud, h->id, h->tree);
}

int repo_list_snapshot_roots(repo *r, repo_root_fn fn, void *ud, size_t *out_damaged)
{
	struct roots_ctx c = { fn, ud };
	return repo_list_snapshot_headers(r, root_one, &c, out_damaged);
}

struct header_list {
	snapshot_header *v;
	size_t n, cap;
};

static int add_header(void *ud, const snapshot_header *h)
{
	struct header_list *l = ud;
	int rc = array_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	if (rc == 0)
		l->v[l->n++] = *h;
	return rc;
}

/* Those without a plaintext time first (by id), then oldest first. */
static int cmp_header(const void *a, const void *b)
{
	const snapshot_header *x = a, *y = b;
	if (x->has_plain != y->has_plain)
		return x->has_plain ? 1 : -1;
	if (x->has_plain && x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->has_plain && x->time_nsec != y->time_nsec)
		return x->time_nsec < y->time_nsec ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

int repo_load_snapshot_headers(repo *r, snapshot_header **out, size_t *out_n, size_t *out_damaged)
{
	struct header_list l = { NULL, 0, 0 };
	int rc = repo_list_snapshot_headers(r, add_header, &l, out_damaged);
	if (rc < 0) {
		free(l.v);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_header);
	*out = l.v;
	*out_n = l.n;
	return 0;
}

struct unreadable_ctx {
	repo *r;
	size_t removed;
};

static int remove_if_unreadable(void *ud, const char *name, int rc, bytes *b)
{
	struct unreadable_ctx *c = ud;
	snapshot *s = NULL;
	rc = rc ?: decode_file(c->r, name, b, &s);
	snapshot_free(s);
	if (rc == 0 || rc == -ENOMEM)
		return rc;
	rc = backend_remove(c->r->be, name);
	if (rc == 0)
		c->removed++;
	return rc == -ENOENT ? 0 : rc;
}

int repo_remove_unreadable_snapshots(repo *r, size_t *removed)
{
	struct unreadable_ctx c = { r, 0 };
	int rc = r->keyless ? -DV_EBADKEY
			    : backend_fetch_dir(r->be, "snapshots", BACKEND_META,
						BACKEND_FETCH_SKIP_MISSING, NULL, remove_if_unreadable, &c);
	*removed = c.removed;
	return rc;
}

int repo_set_protected(repo *r, const uint8_t id[32], int on)
{
	char name[80];
	snapshot_file_name(name, "protected", id);
	if (on)
		return backend_put(r->be, name, BACKEND_META, "", 0);
	int rc = backend_remove(r->be, name);
	return rc == -ENOENT ? 0 : rc;
}

static int add_protected(void *ud, const backend_entry *e)
{
	uint8_t id[32];
	const char *base = strrchr(e->name, '/') + 1;
	idmap_slot *s;
	if (strlen(base) != 64 || hex_decode(id, base, 32) < 0)
		return 0;
	return idmap_put(ud, id, &s, NULL);
}

int repo_load_protected(repo *r, idmap *out)
{
	return backend_list(r->be, "protected", add_protected, out);
}

int repo_forget_snapshot(repo *r, const uint8_t id[32])
{
	char name[80];
	uint64_t sz;
	snapshot_file_name(name, "protected", id);
	if (backend_size(r->be, name, &sz) == 0)
		return err_set(-EPERM, "snapshot '%.8s' is protected; run 'dvalin unprotect %.8s' first",
			       name + 10, name + 10);
	snapshot_file_name(name, "snapshots", id);
	return backend_remove(r->be, name);
}
