/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * datadir: a server's data directory.
 *
 *   server.db        tokens (token.h), SQLite
 *   tls/cert.pem     the certificate `server init` made (or none)
 *   tls/key.pem      its key, 0600
 *   repos/<name>/    one repository each, as a local dvalin repository
 *
 * Repository names follow token_name_is_valid().  Everything the server
 * writes is below this directory, which is 0700 and owned by the user
 * the server runs as.
 *
 * Threads: the database is one connection: datadir_lock() around its use.
 */
#ifndef DV_SERVER_DATADIR_H
#define DV_SERVER_DATADIR_H

#include <stddef.h>

#include "../base/sql.h"
#include "store.h"

typedef struct datadir datadir;

/* Opens path; with create, makes it (and its parts) when missing. */
int datadir_open(datadir **out, const char *path, int create);
void datadir_close(datadir *d);
const char *datadir_path(const datadir *d);
/* The directory's descriptor (for checking its owner). */
int datadir_fd(const datadir *d);
/* "<path>/tls/cert.pem" and "<path>/tls/key.pem". */
int datadir_tls_paths(const datadir *d, char *cert, char *key, size_t cap);

/*
 * A new, empty repository directory: 0, -EEXIST, -EINVAL for a bad name.
 * With scratch, a scratch store (store.h) instead: for testing backends.
 */
int datadir_repo_add(datadir *d, const char *name, int scratch);
/* The store of a repository: 0, or -ENOENT if there is none by that name. */
int datadir_repo_open(datadir *d, const char *name, store **out);
/* "<path>/repos/<name>" (the repository need not exist). */
int datadir_repo_path(const datadir *d, const char *name, char *out, size_t cap);
typedef int (*datadir_repo_fn)(void *ud, const char *name);
/* Every repository, sorted by name. */
int datadir_repo_list(datadir *d, datadir_repo_fn fn, void *ud);

sql_db *datadir_db(datadir *d);
void datadir_lock(datadir *d);
void datadir_unlock(datadir *d);

#endif
