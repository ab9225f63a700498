/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http: the HTTP server plumbing dvalin's services share (the daemon's web
 * UI and local API today, the repository server next): libmicrohttpd set
 * up on a TCP address or a Unix socket, TLS from PEM files, caps on
 * connections, idle time and request bodies, and response helpers.
 *
 * Threads: one per connection (MHD_USE_THREAD_PER_CONNECTION), so a
 * handler may block, for example while it streams a child process's
 * output, without stalling other clients or the caller's own loop.
 * Handlers therefore run concurrently and must be thread-safe.
 *
 * A request reaches the handler once, complete: headers, the query and
 * the body (at most max_body bytes; a larger body is answered 413 by this
 * module and never reaches the handler).  The handler answers with exactly
 * one http_send*() call; if it returns without one, the client gets a 500.
 * A server that takes large uploads also sets on_headers, which sees the
 * request before its body: it may answer at once (a refusal: the body is
 * never read), or take the body piece by piece (http_take_body), which
 * then never sits in memory and is not bound by max_body.
 *
 * Caps (hostile clients are the normal case): max_connections at once,
 * max_per_ip from one address, idle connections closed after timeout_s,
 * request headers within MHD's 32 KiB connection memory, bodies within
 * max_body, at most HTTP_MAX_HEADERS extra response headers.
 */
#ifndef DV_HTTP_HTTP_H
#define DV_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 12

/*
 * The caps when a config leaves them 0: the repository server's defaults
 * (`server run`, docs/http-api.md), where a backup's threads and a
 * backup box behind NAT open many connections from one address.  The
 * daemon's web UI and control socket set their own.
 */
#define HTTP_DEFAULT_CONNECTIONS 128
#define HTTP_DEFAULT_PER_IP 32
#define HTTP_DEFAULT_TIMEOUT_S 60

typedef struct http_server http_server;
typedef struct http_req http_req;

typedef struct {
	/*
	 * "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080", "[::]:8080",
	 * "localhost:8080", or "unix:/path/to/socket" (created 0600; an old
	 * socket file at that path is replaced).  Port 0 picks a free port
	 * (see http_server_port()).
	 */
	const char *listen;
	const char *tls_cert, *tls_key; /* PEM files: both (HTTPS) or neither */
	unsigned max_connections;       /* 0: HTTP_DEFAULT_CONNECTIONS */
	unsigned max_per_ip;            /* 0: HTTP_DEFAULT_PER_IP */
	unsigned timeout_s;             /* idle connections; 0: HTTP_DEFAULT_TIMEOUT_S */
	size_t max_body;                /* 0: 64 KiB */
	/* Answers one request; 0, or <0 (logged, and a 500 if nothing was sent). */
	int (*handler)(void *ud, http_req *r);
	void *ud;
	const char *what;               /* names the server in messages ("web UI") */
	/*
	 * Called once a request's headers are in, before its body (NULL: not
	 * called).  It may answer (an http_send*() call; the handler is then
	 * not called and the body not read: a client that sent "Expect:
	 * 100-continue" never sends it), call http_take_body(), or neither
	 * (the body is buffered as without on_headers).  0, or < 0 (logged).
	 */
	int (*on_headers)(void *ud, http_req *r);
	int raw_paths;                  /* http_path() as sent: no %-decoding */
	const char *tls_priorities;     /* GnuTLS priorities; NULL: TLS 1.2 and 1.3 only */
	/* listen is not used: connections come from http_server_add_connection() */
	int no_listen;
} http_config;

/*
 * Listens and starts serving.  Errors name the address and the reason
 * ("cannot listen on '127.0.0.1:8080' for the web UI: Address already in
 * use"); a TLS key that cannot be read or used is an error too.
 */
int http_server_start(http_server **out, const http_config *c);
/* Stops accepting, waits for the connection threads, frees. NULL-safe. */
void http_server_stop(http_server *s);
/* The port it listens on (0 for a Unix socket). */
int http_server_port(const http_server *s);
/*
 * Serves one more connection on the connected socket fd (taken over, also
 * on failure): one end of a socket pair whose other end carries a pipe
 * (serve --stdio), or an accepted socket.  The peer reads as "local".
 */
int http_server_add_connection(http_server *s, int fd);

/*
 * Checks a listen address without opening anything: 0, or -EINVAL with a
 * message saying what is wrong with it.  *loopback is set to 1 when every
 * client must be on this machine (127.0.0.0/8, ::1, a Unix socket).
 */
int http_listen_check(const char *listen, int *loopback);

/* ---------- the request ---------- */

const char *http_method(const http_req *r);   /* "GET", "POST", ... */
const char *http_path(const http_req *r);     /* the path, %-decoded, without the query */
/* A request header (case-insensitive name), or NULL. */
const char *http_header(const http_req *r, const char *name);
/* A query argument (%-decoded), or NULL. */
const char *http_query(const http_req *r, const char *name);
/* A cookie's value, or NULL. */
const char *http_cookie(const http_req *r, const char *name);
/* The body (NUL-terminated after len bytes; never NULL). */
const char *http_body(const http_req *r, size_t *len);
/*
 * A field of an application/x-www-form-urlencoded body, decoded into out
 * (cap bytes with the NUL): 1 found, 0 absent, -E2BIG too long.
 */
int http_form(const http_req *r, const char *name, char *out, size_t cap);
/* "203.0.113.5", "::1" or "local" (a Unix socket). */
void http_peer(const http_req *r, char out[64]);
/* The connection uses TLS. */
int http_is_tls(const http_req *r);

/*
 * From on_headers: the body goes to write(ud, p, n), piece by piece as it
 * arrives, instead of a buffer (write returning < 0 drops the
 * connection); the handler runs after the last piece.
 */
typedef int (*http_body_fn)(void *ud, const void *p, size_t n);
int http_take_body(http_req *r, http_body_fn write, void *ud);
/*
 * The application's state for this request: done(state) runs once when
 * the request ends, answered or abandoned (a connection cut mid-upload),
 * so that whatever it holds (a temporary file) is released on every path.
 */
void http_set_state(http_req *r, void *state, void (*done)(void *state));
void *http_state(const http_req *r);
/* The request's Content-Length: 0 and *out, or -ENOENT without one, -EINVAL if malformed. */
int http_content_length(const http_req *r, uint64_t *out);

/* ---------- the response ---------- */

/* Adds a header to the response the handler is about to send (copied). */
int http_add_header(http_req *r, const char *name, const char *value);
/* Sends status with a copy of len bytes of type (NULL: no Content-Type). */
int http_send(http_req *r, int status, const char *type, const void *data, size_t len);
/* A short text/plain answer (an error page for API clients and people alike). */
int http_send_text(http_req *r, int status, const char *text);
/*
 * An error for API clients: {"error": code, "message": the formatted
 * text} as application/json; the message is made one line (control
 * characters become spaces) and escaped.
 */
int http_send_error(http_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* s as a JSON string (quotes included) appended to out; -E2BIG if it does not fit in cap. */
int http_json_string(char *out, size_t cap, size_t *at, const char *s);
/* 303 See Other to location. */
int http_send_redirect(http_req *r, const char *location);
/*
 * len bytes of the file fd from off (fd is taken over, also on failure,
 * and closed when sent; plain HTTP sends it with sendfile).
 */
int http_send_fd(http_req *r, int status, const char *type, int fd, uint64_t off, uint64_t len);

/*
 * A streamed body: read is called from the connection's thread with a
 * buffer to fill and returns the bytes written (may block until it has
 * some), 0 at the end, <0 to abort the connection.  done is called once
 * when the response is finished or abandoned (NULL: nothing to do).
 * size is the length when known, -1 otherwise (chunked encoding).
 */
typedef ssize_t (*http_read_fn)(void *ud, char *buf, size_t max);
int http_send_stream(http_req *r, int status, const char *type, int64_t size, http_read_fn read,
		     void (*done)(void *ud), void *ud);

/* Percent-decodes s in place ('+' is a space in forms); -EINVAL for a bad escape. */
int http_unescape(char *s, int plus_is_space);

#endif
