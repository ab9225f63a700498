/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * remote: a repository on a dvalin server, over the protocol of
 * docs/http-api.md, with libcurl.  Two transports, one client:
 *
 *   https://HOST[:PORT]/REPO   TLS, a token (DVALIN_TOKEN, DVALIN_TOKEN_FILE),
 *                              the server's key pinned (DVALIN_FINGERPRINT)
 *                              or its certificate checked against the
 *                              system's trust store
 *   http://HOST:PORT/REPO      the same without TLS (a server on loopback)
 *   ssh://[USER@]HOST[:PORT]/PATH
 *                              the same requests over the stdin and stdout of
 *                              `ssh HOST dvalin serve --stdio PATH`: each HTTP
 *                              connection is one ssh process, which libcurl
 *                              talks to through a socket pair
 *                              (DVALIN_SSH_COMMAND replaces "ssh")
 *
 * Connections persist: a pool of libcurl handles, each keeping its
 * connection, one request at a time each, so several threads upload and
 * download at once.  Transient failures are retried with exponential
 * backoff for DVALIN_RETRY_SECONDS (default 120); refusals never are.  A
 * connection on which nothing moves for DVALIN_STALL_SECONDS (default 60)
 * is given up.  Reads through a handle (restore, check) go through a
 * small shared cache of aligned blocks, so that many small blobs read one
 * after another cost one request per block, not one each.
 *
 * Flags: BACKEND_REMOTE | BACKEND_ATOMIC_REPLACE (the server renames).
 */
#ifndef DV_BACKEND_REMOTE_H
#define DV_BACKEND_REMOTE_H

#include "backend.h"

/* rest: what follows "https:", "http:" or "ssh:" in the URL. */
int remote_backend_open_https(backend **out, const char *rest, unsigned flags);
int remote_backend_open_http(backend **out, const char *rest, unsigned flags);
int remote_backend_open_ssh(backend **out, const char *rest, unsigned flags);

#endif
