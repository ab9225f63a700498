/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshot: the record of one backup.
 *
 * File: magic | le32 version | le32 P | root tree id | P bytes of
 * plaintext fields | sealed body.  The root tree id is plaintext (so
 * keyless GC and sync can walk from it); so are, from version 2 on, the
 * snapshot's time and three keyed group ids (of its host, its set of
 * paths, its set of tags), so that a retention policy can run without the
 * key (forget --no-key).  The body (time, host, paths, tags, parent,
 * statistics) is sealed with the whole header as associated data, and a
 * keyed decode checks that the plaintext fields agree with it.  Body and
 * plaintext fields are lists of tag-length-value fields, so later versions
 * can add fields old readers skip.  Version 1 files (no plaintext fields)
 * are read as ever.  A snapshot's id is the SHA-256 of its file.
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
	/* the walk (field 9): when it started on the real clock, whatever
	 * time says (--time), and a digest of what it leaves out; a change
	 * journal (docs/journal.md) is checked against them */
	int has_walk;
	int64_t walk_start;
	uint32_t walk_start_nsec;
	uint8_t walk_opts[32];
} snapshot;

/* The keyed group ids in a version 2 header (docs/format.md, "Snapshots"). */
enum { SNAPSHOT_GROUP_HOST, SNAPSHOT_GROUP_PATHS, SNAPSHOT_GROUP_TAGS, SNAPSHOT_GROUPS };

/*
 * What a snapshot file says without the key.  has_plain is 0 for a
 * version 1 file: it carries no time and no group ids, so a keyless
 * policy cannot place it (and never removes it).
 */
typedef struct {
	uint8_t id[32];   /* SHA-256 of the file */
	uint8_t tree[32]; /* the root tree */
	unsigned version;
	int has_plain;
	int64_t time;
	uint32_t time_nsec;
	int32_t tz_offset;
	uint8_t group[SNAPSHOT_GROUPS][32];
} snapshot_header;

/* Paths and tags per snapshot, each. */
#define SNAPSHOT_MAX_LIST 4096
#define SNAPSHOT_MAX_DAMAGED 100000

snapshot *snapshot_new(void);
void snapshot_free(snapshot *s);

/* Encodes the whole file (the current version); fills s->id. */
int snapshot_encode(buf *out, snapshot *s, const crypto_keys *k);
/*
 * Decodes a whole file; id is computed from the bytes.  A version 2 file
 * whose plaintext time or group ids disagree with its body is corrupt.
 */
int snapshot_decode(snapshot **out, const uint8_t *p, size_t n, const crypto_keys *k);
/*
 * Keyless: what the header of a snapshot file says, and out->id.  The
 * header is checked for magic, version and well-formed plaintext fields;
 * it is authenticated only by snapshot_decode.  -DV_EFORMAT for a version
 * this reader does not know, -DV_ECORRUPT otherwise.
 */
int snapshot_decode_header(const uint8_t *p, size_t n, snapshot_header *out);
/*
 * The keyed group ids of a snapshot: HMAC-SHA-256 under a key derived
 * from the id key, of its host, of its set of paths and of its set of
 * tags (sets: order and duplicates do not matter).  Equal ids mean equal
 * values; without the key they say nothing else.  0 or -ENOMEM.
 */
int snapshot_group_ids(uint8_t out[SNAPSHOT_GROUPS][32], const snapshot *s, const crypto_keys *k);
/* RFC 3339 with offset, e.g. 2026-11-23T08:15:00+01:00. */
void snapshot_format_time(char out[40], const snapshot *s);
/* Parses "YYYY-MM-DD HH:MM:SS" (local time) into seconds and offset. */
int snapshot_parse_time(const char *str, int64_t *out_time, int32_t *out_tz);

#endif
