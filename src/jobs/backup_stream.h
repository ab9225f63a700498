/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backup_stream: a backup of one stream (backup --stdin, --stdin-from-
 * command) stored as a regular file at a chosen path, so that ls, dump,
 * restore and parent matching treat it like any file.
 *
 * The stream goes through the ingest pipeline (archive/ingest.h): memory
 * stays bounded whatever its length (one buffer, the seal pool's queue,
 * and the chunk list at 41 bytes per chunk), and successive dumps of
 * mostly equal contents share their chunks.  The directories on the way
 * to the stored path exist only in the snapshot: they are made with mode
 * 0755, the caller's ids and the snapshot's time.  The file gets the mode
 * asked for (backup: 0600), the caller's ids and the time the stream ended.
 *
 * A command (argv, no shell) is started with stdin and stderr those of
 * dvalin and its stdout read as the stream.  Its exit status decides:
 * anything but 0, or death by a signal, is a failure and no tree is
 * written, so no snapshot of a truncated dump is ever made; so is a read
 * error of the stream.  dvalin's own failure ends the command (SIGTERM).
 */
#ifndef DV_JOBS_BACKUP_STREAM_H
#define DV_JOBS_BACKUP_STREAM_H

#include <stdint.h>

#include "../archive/ingest.h"
#include "../repo/repo.h"
#include "../repo/snapshot.h"

typedef struct {
	repo *r;
	ingest *ingest;
	const char *path;            /* the stored path: backup_stream_path() */
	uint32_t mode;               /* permission bits of the file */
	const char *const *command;  /* argv of the command, or NULL: read fd */
	int fd;                      /* the stream without a command (stdin) */
	int64_t time;                /* the directories' mtime */
} backup_stream_params;

typedef struct {
	uint64_t bytes;    /* the stream's length */
	int status;        /* the command's exit status (128 + signal); -1: no command */
} backup_stream_result;

/*
 * The stored path for a name given by the user: absolute ("/" is added
 * to a relative one), with empty components dropped; "." and ".."
 * components, names longer than TREE_NAME_MAX and depths beyond
 * TREE_MAX_DEPTH are refused.  *out is freed by the caller.
 */
int backup_stream_path(const char *name, char **out);

/*
 * Reads the stream to its end and writes the trees from "/" down to its
 * file; the root tree id goes to out_root, the counts to *st.  A negative
 * return (the command failed, the stream could not be read, the
 * repository failed) leaves only unreferenced blobs.
 */
int backup_stream(const backup_stream_params *p, uint8_t out_root[32], snapshot_stats *st,
		  backup_stream_result *res);

#endif
