/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * serve: the repository server (docs/http-api.md): the request router on
 * top of src/http/, for both transports.  `dvalin server run` serves the
 * repositories of a data directory over HTTPS with tokens;
 * `dvalin serve --stdio` serves one repository directory over a pipe (an
 * SSH session) with the rights of its command line.  Both go through the
 * same router: path checks, authentication, the rights of route.h before
 * any handler, then the store (store.h).
 *
 * A server's data directory (datadir.h) holds server.db (tokens), tls/
 * (certificate and key) and repos/<name>/ (the repositories).
 *
 * Threads: libmicrohttpd runs one thread per connection; the router and
 * its handlers are thread-safe (the token database behind a mutex).
 */
#ifndef DV_SERVER_SERVE_H
#define DV_SERVER_SERVE_H

#include <stdint.h>

#include "route.h"

#define SERVER_PROTOCOL 1

typedef struct server server;

typedef struct {
	const char *data_dir;           /* server run: the data directory */
	const char *listen;             /* "0.0.0.0:8443", "127.0.0.1:0", ... */
	const char *tls_cert, *tls_key; /* NULL: the data directory's own */
	int no_tls;                     /* plain HTTP: refused beyond loopback */
	unsigned max_connections;       /* 0: HTTP_DEFAULT_CONNECTIONS (128) */
	unsigned max_per_ip;            /* 0: HTTP_DEFAULT_PER_IP (32, --max-per-address) */
	unsigned timeout_s;             /* idle connections; 0: HTTP_DEFAULT_TIMEOUT_S (60) */
	int log_requests;               /* one line per request, not only refusals */
	/* serve --stdio */
	const char *repo_path;          /* the one repository ("-" in requests) */
	server_right rights;            /* what the SSH client may do */
	const char *client_name;        /* names it in logs and as lease owner ("ssh") */
} server_opts;

#define SERVER_OPTS_INIT { NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, RIGHT_ADMIN, "ssh" }

/* Opens the data directory and listens (server run). */
int server_start(server **out, const server_opts *o);
/* The port it listens on. */
int server_port(const server *s);
/* Stops accepting, finishes the requests in progress, frees.  NULL-safe. */
void server_stop(server *s);

/*
 * serve --stdio: serves o->repo_path over the byte streams in_fd/out_fd
 * (an SSH session's stdin and stdout) until the client closes in_fd and
 * every answer is written.  One HTTP connection.
 */
int server_serve_stdio(const server_opts *o, int in_fd, int out_fd);

#endif
