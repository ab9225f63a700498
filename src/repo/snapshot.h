/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshot: the record of one backup.
 *
 * File: magic | le32 version | le32 0 | root tree id | sealed body.  The
 * root tree id is plaintext (so keyless GC and sync can walk from it); the
 * body (time, host, paths, tags, parent, statistics) is sealed with the
 * header as associated data.  The body is a list of tag-length-value
 * fields, so later versions can add fields old readers skip.  A
 * snapshot's id is the SHA-256 of its file.
 */
#ifndef DV_REPO_SNAPSHOT_H
#define DV_REPO_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"
#include "../core/crypto.h"

typedef struct {
	uint64_t files_new, files_changed, files_unchanged, dirs;
	uint64_t bytes_read, bytes_added, total_files, total_bytes, errors;
} snapshot_stats;

typedef struct {
	uint8_t id[32];
	uint8_t tree[32];
	int64_t time;       /* seconds since the epoch */
	uint32_t time_nsec;
	int32_t tz_offset;  /* seconds east of UTC at backup time */
	char *host, *user;
	char **paths;
	size_t npaths;
	char **tags;
	size_t ntags;
	int has_parent;
	uint8_t parent[32];
	snapshot_stats stats;
	/* set by repair: paths whose lost contents were replaced by holes */
	char **damaged;
	size_t ndamaged;
} snapshot;

/* Paths and tags per snapshot, each. */
#define SNAPSHOT_MAX_LIST 4096
#define SNAPSHOT_MAX_DAMAGED 100000

snapshot *snapshot_new(void);
void snapshot_free(snapshot *s);

/* Encodes the whole file; fills s->id. */
int snapshot_encode(buf *out, snapshot *s, const crypto_keys *k);
/* Decodes a whole file; id is computed from the bytes. */
int snapshot_decode(snapshot **out, const uint8_t *p, size_t n, const crypto_keys *k);
/*
 * Keyless: the root tree id of a snapshot file (the header is checked
 * for magic and version; it is authenticated only by snapshot_decode).
 */
int snapshot_decode_header(const uint8_t *p, size_t n, uint8_t tree[32]);
/* RFC 3339 with offset, e.g. 2026-11-23T08:15:00+01:00. */
void snapshot_format_time(char out[40], const snapshot *s);
/* Parses "YYYY-MM-DD HH:MM:SS" (local time) into seconds and offset. */
int snapshot_parse_time(const char *str, int64_t *out_time, int32_t *out_tz);

#endif
