/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * repo_internal: the repository handle's fields, shared by the files that
 * implement it (repo.c: opening; session.c: blobs; snapshots.c:
 * snapshots).  Nothing outside src/repo/ includes this.
 */
#ifndef DV_REPO_REPO_INTERNAL_H
#define DV_REPO_REPO_INTERNAL_H

#include <pthread.h>

#include "../base/err.h"
#include "../core/crypto.h"
#include "pack.h"
#include "relied.h"
#include "repo.h"
#include "session.h"

/* One pack under construction; data and tree blobs go to separate packs
 * so that tree packs stay small and are cheap to read for ls and GC. */
typedef struct {
	pack_writer w;
	uint32_t slot;
	int open;
	int copied; /* holds stored bytes of another repository (sync): its name may be an old one */
	int64_t opened_ns; /* retry_now_ns (CLOCK_MONOTONIC): how fast it filled decides whether its buffer is kept */
} open_pack;

/* A pack staged (repo_batch_packs): committed with its batch, then marked stored. */
typedef struct {
	backend_staged *f;
	uint32_t slot;
	int sealed; /* every blob sealed by this process (relied_add_sealed) */
	uint8_t id[32];
} staged_pack;

struct repo {
	backend *be; /* owned */
	repo_config cfg;
	crypto_keys keys;
	char key_name[80]; /* the key file that opened it ("" when keyless) */
	chunker chunker;
	int level;
	repo_session *session; /* the owning thread's (repo_save_blob, ...) */
	int keyless;
	index_set *index;
	/* blobs of condemned packs, loaded on the first index miss: readable
	 * (a snapshot may use one until the next prune returns it), never
	 * used for deduplication */
	index_set *condemned;
	int condemned_loaded;
	lease *lease;
	open_pack packs[2];        /* [0] data, [1] trees */
	unsigned packs_unindexed;  /* stored packs no index file names yet */
	/* Full packs are stored by threads of their own (session.c; an upload
	 * to a server takes far longer than sealing a blob): the number being
	 * stored, signalled when one ends; the first failure and its message,
	 * so that no index or snapshot follows it. */
	unsigned storing;
	pthread_cond_t stored;
	int store_rc;
	err_saved store_err;
	/* a stored data pack's buffer kept for the next one, only while packs
	 * fill fast (session.c, "spare"); whether the last data pack did */
	buf spare;
	int packs_fast;
	uint64_t bytes_added;
	int dry_run; /* repo_set_dry_run: saves are counted, nothing is stored */
	int whole_packs; /* repo_read_packs_whole */
	/* repo_batch_packs: packs are staged and committed together when the
	 * index is due, before the index file that names them is written;
	 * until then their blobs look pending (no pack id) */
	int batch;
	staged_pack *staged;
	size_t nstaged, capstaged;
	/* the packs a new snapshot of this handle may use (relied.h) */
	relied relied;
	/* guards index, condemned, packs, the fields of storing and relied: blobs are
	 * saved from several threads */
	pthread_mutex_t lock;
};

/*
 * The usable files of keys/ (each checked by key_file_check), cheapest
 * first; unusable ones are warned about and counted in *out_skipped.
 * The caller frees *out.
 */
int repo_key_files(backend *be, key_file **out, size_t *out_n, size_t *out_skipped);

#endif
