/* SPDX-License-Identifier: BSD-2-Clause */
#include "http.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_BODY ((size_t)64 << 10)
#define MAX_PEM ((size_t)1 << 20)
#define STREAM_BLOCK ((size_t)64 << 10)

struct http_server {
	struct MHD_Daemon *d;
	http_config c;
	int fd, port, tls, is_unix;
	char what[64], listen[300], unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char priorities[256];
	buf cert, key;
};

struct http_req {
	http_server *s;
	struct MHD_Connection *c;
	const char *method;
	char *path;
	buf body;
	int too_large, answered;
	http_body_fn sink; /* the body's taker (http_take_body), or NULL: buffered */
	void *sink_ud;
	void *state;       /* the application's (http_set_state) */
	void (*state_done)(void *state);
	char *hname[HTTP_MAX_HEADERS], *hvalue[HTTP_MAX_HEADERS];
	size_t nh;
};

#define DEFAULT_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* ---------- addresses ---------- */

typedef struct {
	struct sockaddr_storage sa;
	socklen_t len;
	int loopback;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} address;

static int parse_listen(const char *listen, address *a)
{
	memset(a, 0, sizeof(*a));
	if (!listen || !*listen)
		return err_set(-EINVAL, "empty listen address");
	if (strncmp(listen, "unix:", 5) == 0) {
		const char *p = listen + 5;
		if (*p != '/')
			return err_set(-EINVAL, "listen address '%s': a Unix socket needs an absolute path", listen);
		if (strlen(p) >= sizeof(a->unix_path))
			return err_set(-EINVAL, "listen address '%s': the socket path is too long", listen);
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, p, strlen(p) + 1);
		memcpy(a->unix_path, p, strlen(p) + 1);
		a->len = sizeof(*un);
		a->loopback = 1;
		return 0;
	}
	char host[128];
	const char *colon;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			return err_set(-EINVAL, "listen address '%s': want [IPv6]:PORT", listen);
		if ((size_t)(close - listen - 1) >= sizeof(host))
			return err_set(-EINVAL, "listen address '%s': host too long", listen);
		memcpy(host, listen + 1, (size_t)(close - listen - 1));
		host[close - listen - 1] = 0;
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return err_set(-EINVAL, "listen address '%s': want HOST:PORT (127.0.0.1:8080)", listen);
		if ((size_t)(colon - listen) >= sizeof(host))
			return err_set(-EINVAL, "listen address '%s': host too long", listen);
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = 0;
	}
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		return err_set(-EINVAL, "listen address '%s': port must be 0..65535", listen);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->sa;
	if (!host[0] || strcmp(host, "*") == 0) {
		v4->sin_family = AF_INET;
		v4->sin_addr.s_addr = htonl(INADDR_ANY);
		v4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*v4);
	} else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*v4);
		a->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*v6);
		a->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
	} else {
		return err_set(-EINVAL, "listen address '%s': '%s' is not an IP address (or localhost)",
			       listen, host);
	}
	return 0;
}

int http_listen_check(const char *listen, int *loopback)
{
	address a;
	int rc = parse_listen(listen, &a);
	if (rc == 0 && loopback)
		*loopback = a.loopback;
	return rc;
}

static int open_listener(http_server *s, const address *a)
{
	int fam = ((const struct sockaddr *)&a->sa)->sa_family;
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(-errno, "cannot listen on '%s' for the %s", s->listen, s->what);
	int one = 1;
	if (fam != AF_UNIX) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* inherited by accepted sockets: MHD writes an answer's headers and
		 * body as separate TLS records, and Nagle's algorithm would hold
		 * the second back for the client's delayed ACK (milliseconds per
		 * request) */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (fam == AF_UNIX) {
		/* a socket file left by a previous run; never anything else */
		struct stat st;
		if (lstat(a->unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(a->unix_path);
	}
	mode_t old = fam == AF_UNIX ? umask(0177) : 0;
	int b = bind(fd, (const struct sockaddr *)&a->sa, a->len);
	int e = errno;
	if (fam == AF_UNIX)
		umask(old);
	if (b < 0 || listen(fd, 64) < 0) {
		e = b < 0 ? e : errno;
		close(fd);
		return err_sys(-e, "cannot listen on '%s' for the %s", s->listen, s->what);
	}
	if (fam == AF_UNIX) {
		memcpy(s->unix_path, a->unix_path, sizeof(s->unix_path));
		s->is_unix = 1;
	} else {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);
		if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
			s->port = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
						      : ((struct sockaddr_in6 *)&got)->sin6_port);
	}
	s->fd = fd;
	return 0;
}

/* ---------- requests ---------- */

static void req_free(http_req *q)
{
	if (!q)
		return;
	if (q->state_done)
		q->state_done(q->state);
	free(q->path);
	buf_release(&q->body);
	for (size_t i = 0; i < q->nh; i++) {
		free(q->hname[i]);
		free(q->hvalue[i]);
	}
	free(q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	req_free(*con_cls);
	*con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	http_server *s = cls;
	http_req *q = *con_cls;
	(void)version;
	if (!q) {
		if (!(q = calloc(1, sizeof(*q))) || !(q->path = strdup(url))) {
			req_free(q);
			return MHD_NO;
		}
		q->s = s;
		q->c = c;
		q->method = method;
		*con_cls = q;
		if (s->c.on_headers) {
			err_clear();
			int rc = s->c.on_headers(s->c.ud, q);
			if (rc < 0)
				log_error("%s: %s %s: %s", s->what, method, q->path, err_msg(rc));
			if (rc < 0 && !q->answered)
				http_send_text(q, 500, "internal error\n");
		}
		return MHD_YES; /* headers only: the body (if any) comes next */
	}
	if (*size) {
		size_t n = *size;
		*size = 0;
		if (q->answered)
			return MHD_YES; /* refused before the body: dropped */
		if (q->sink)
			return q->sink(q->sink_ud, data, n) < 0 ? MHD_NO : MHD_YES;
		if (!q->too_large && q->body.len + n > s->c.max_body)
			q->too_large = 1;
		if (!q->too_large && buf_append(&q->body, data, n) < 0)
			return MHD_NO;
		return MHD_YES;
	}
	if (q->answered)
		return MHD_YES;
	if (buf_put_u8(&q->body, 0) < 0)
		return MHD_NO;
	q->body.len--;
	if (q->too_large) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request body larger than %zu bytes\n", s->c.max_body);
		http_send_text(q, 413, msg);
	} else {
		err_clear();
		int rc = s->c.handler(s->c.ud, q);
		if (rc < 0)
			log_error("%s: %s %s: %s", s->what, method, q->path, err_msg(rc));
		if (!q->answered)
			http_send_text(q, 500, "internal error\n");
	}
	return q->answered ? MHD_YES : MHD_NO;
}

/* MHD's messages come with their own format (it is MHD's logger interface). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	http_server *s = cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	/*
	 * Connections handed over (no_listen: a socket pair) are Unix sockets,
	 * which MHD 0.9.75 learns only by failing to set TCP options on them
	 * (EOPNOTSUPP, which it reports): nothing is wrong, nothing to say.
	 */
	if (s->c.no_listen && (strstr(line, " option to ") || strstr(line, "push the data from buffers")))
		return;
	log_warn("%s: %s", s->what, line);
}
#pragma GCC diagnostic pop

/* Paths are taken as sent (http_config.raw_paths): MHD decodes nothing. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *uri)
{
	(void)cls;
	(void)c;
	return strlen(uri);
}

/* ---------- start and stop ---------- */

static int read_pem(const char *path, buf *out, const char *what, const char *name)
{
	int rc = fsio_read_file(AT_FDCWD, path, out, MAX_PEM);
	if (rc < 0)
		return err_sys(rc, "cannot read the TLS %s '%s' for the %s", name, path, what);
	return buf_put_u8(out, 0);
}

int http_server_start(http_server **out, const http_config *c)
{
	http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->c = *c;
	s->fd = -1;
	if (!s->c.max_connections)
		s->c.max_connections = HTTP_DEFAULT_CONNECTIONS;
	if (!s->c.max_per_ip)
		s->c.max_per_ip = HTTP_DEFAULT_PER_IP;
	if (!s->c.timeout_s)
		s->c.timeout_s = HTTP_DEFAULT_TIMEOUT_S;
	if (!s->c.max_body)
		s->c.max_body = DEFAULT_BODY;
	snprintf(s->what, sizeof(s->what), "%s", c->what ? c->what : "HTTP server");
	snprintf(s->listen, sizeof(s->listen), "%s", c->listen ? c->listen : "");
	s->c.listen = s->listen;
	s->c.what = s->what;
	s->c.tls_cert = s->c.tls_key = NULL; /* the caller's strings need not outlive the call */
	snprintf(s->priorities, sizeof(s->priorities), "%s",
		 c->tls_priorities ? c->tls_priorities : DEFAULT_PRIORITIES);
	address a;
	int rc = c->no_listen ? 0 : parse_listen(c->listen, &a);
	if (rc == 0 && !c->tls_cert != !c->tls_key)
		rc = err_set(-EINVAL, "%s: TLS needs both a certificate and a key", s->what);
	if (rc == 0 && c->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			rc = err_set(-ENOTSUP, "%s: this libmicrohttpd has no TLS support", s->what);
		rc = rc ?: read_pem(c->tls_cert, &s->cert, s->what, "certificate");
		rc = rc ?: read_pem(c->tls_key, &s->key, s->what, "key");
		s->tls = rc == 0;
	}
	if (!c->no_listen)
		rc = rc ?: open_listener(s, &a);
	if (rc < 0) {
		http_server_stop(s);
		return rc;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (s->tls)
		flags |= MHD_USE_TLS;
	if (c->no_listen)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	struct MHD_OptionItem opts[20];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s }; /* first */
	if (!c->no_listen)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, s->fd, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, s->c.max_connections, NULL };
	/* MHD counts per IP address only for IP sockets (it refuses others) */
	if (!s->is_unix && !c->no_listen)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->c.max_per_ip, NULL };
	if (c->raw_paths)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_escapes, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, s->c.timeout_s, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 << 10, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL };
	if (s->tls) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert.data };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->key.data };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, s->priorities };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!s->d) {
		rc = err_set(-EIO, "cannot start the %s on '%s'%s", s->what, s->listen,
			     s->tls ? " (is the TLS key and certificate a valid pair?)" : "");
		http_server_stop(s);
		return rc;
	}
	*out = s;
	return 0;
}

void http_server_stop(http_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d); /* joins the connection threads */
	if (s->fd >= 0)
		close(s->fd);
	if (s->is_unix)
		unlink(s->unix_path);
	buf_release(&s->cert);
	if (s->key.data)
		memset(s->key.data, 0, s->key.len);
	buf_release(&s->key);
	free(s);
}

int http_server_port(const http_server *s)
{
	return s->port;
}

int http_server_add_connection(http_server *s, int fd)
{
	struct sockaddr_un un;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	/* MHD closes fd when it refuses it, as when the connection ends; the
	 * whole sockaddr_un, as MHD keeps a copy of that length which
	 * http_peer() reads a struct sockaddr of */
	if (MHD_add_connection(s->d, fd, (const struct sockaddr *)&un, sizeof(un)) != MHD_YES)
		return err_set(-EIO, "the %s cannot take another connection", s->what);
	return 0;
}

/* ---------- request accessors ---------- */

const char *http_method(const http_req *r)
{
	return r->method;
}

const char *http_path(const http_req *r)
{
	return r->path;
}

const char *http_header(const http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

const char *http_query(const http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_cookie(const http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, name);
}

const char *http_body(const http_req *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.data ? (const char *)r->body.data : "";
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int http_unescape(char *s, int plus_is_space)
{
	char *w = s;
	for (const char *p = s; *p; p++) {
		if (*p == '%') {
			int hi = hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL; /* a NUL would cut the value short unseen */
			*w++ = (char)(hi << 4 | lo);
			p += 2;
		} else {
			*w++ = plus_is_space && *p == '+' ? ' ' : *p;
		}
	}
	*w = 0;
	return 0;
}

int http_form(const http_req *r, const char *name, char *out, size_t cap)
{
	const char *type = http_header(r, "Content-Type");
	if (!type || strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0)
		return 0;
	size_t nl = strlen(name);
	const char *p = http_body(r, NULL);
	while (*p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && p[nl] == '=' && memcmp(p, name, nl) == 0) {
			size_t vl = len - nl - 1;
			if (vl >= cap)
				return -E2BIG;
			memcpy(out, p + nl + 1, vl);
			out[vl] = 0;
			if (http_unescape(out, 1) < 0)
				return -EINVAL;
			return 1;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

void http_peer(const http_req *r, char out[64])
{
	snprintf(out, 64, "local");
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	/* copied out: MHD's pointer need not be aligned for the larger types */
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, ci->client_addr, sizeof(struct sockaddr));
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in in4;
		memcpy(&in4, ci->client_addr, sizeof(in4));
		inet_ntop(AF_INET, &in4.sin_addr, out, 64);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 in6;
		memcpy(&in6, ci->client_addr, sizeof(in6));
		inet_ntop(AF_INET6, &in6.sin6_addr, out, 64);
	}
}

int http_is_tls(const http_req *r)
{
	return r->s->tls;
}

int http_take_body(http_req *r, http_body_fn write, void *ud)
{
	r->sink = write;
	r->sink_ud = ud;
	return 0;
}

void http_set_state(http_req *r, void *state, void (*done)(void *state))
{
	r->state = state;
	r->state_done = done;
}

void *http_state(const http_req *r)
{
	return r->state;
}

int http_content_length(const http_req *r, uint64_t *out)
{
	const char *v = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!v)
		return -ENOENT;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (!*v || *v == '-' || *v == '+' || *end || errno)
		return -EINVAL;
	*out = n;
	return 0;
}

/* ---------- responses ---------- */

int http_add_header(http_req *r, const char *name, const char *value)
{
	if (r->nh >= HTTP_MAX_HEADERS)
		return err_set(-E2BIG, "too many response headers");
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	r->hname[r->nh] = n;
	r->hvalue[r->nh++] = v;
	return 0;
}

static int queue(http_req *r, int status, const char *type, struct MHD_Response *resp)
{
	if (!resp)
		return -ENOMEM;
	if (r->answered) {
		MHD_destroy_response(resp);
		return err_set(-EALREADY, "a second answer to one request");
	}
	if (type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	for (size_t i = 0; i < r->nh; i++)
		MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
	enum MHD_Result ok = MHD_queue_response(r->c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	r->answered = 1; /* even if queueing failed: MHD then closes the connection */
	return ok == MHD_YES ? 0 : err_set(-EIO, "cannot queue the response");
}

int http_send(http_req *r, int status, const char *type, const void *data, size_t len)
{
	return queue(r, status, type,
		     MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY));
}

int http_send_text(http_req *r, int status, const char *text)
{
	return http_send(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

int http_json_string(char *out, size_t cap, size_t *at, const char *s)
{
	size_t i = *at;
	if (i + 2 > cap)
		return -E2BIG;
	out[i++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		size_t n;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			n = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
		} else {
			esc[0] = (char)*p;
			n = 1;
		}
		if (i + n + 2 > cap)
			return -E2BIG;
		memcpy(out + i, esc, n);
		i += n;
	}
	out[i++] = '"';
	out[i] = 0;
	*at = i;
	return 0;
}

int http_send_error(http_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024], body[2600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	size_t at = (size_t)snprintf(body, sizeof(body), "{\"error\": ");
	http_json_string(body, sizeof(body), &at, code);
	at += (size_t)snprintf(body + at, sizeof(body) - at, ", \"message\": ");
	http_json_string(body, sizeof(body), &at, msg);
	snprintf(body + at, sizeof(body) - at, "}\n");
	return http_send(r, status, "application/json", body, strlen(body));
}

int http_send_redirect(http_req *r, const char *location)
{
	int rc = http_add_header(r, "Location", location);
	return rc ?: http_send(r, 303, NULL, "", 0);
}

int http_send_fd(http_req *r, int status, const char *type, int fd, uint64_t off, uint64_t len)
{
	if (off > INT64_MAX) {
		close(fd);
		return -EINVAL;
	}
	struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
	if (!resp) {
		close(fd);
		return -ENOMEM;
	}
	return queue(r, status, type, resp);
}

typedef struct {
	http_read_fn read;
	void (*done)(void *ud);
	void *ud;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *b, size_t max)
{
	stream *st = cls;
	(void)pos;
	ssize_t n = st->read(st->ud, b, max);
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void stream_free(void *cls)
{
	stream *st = cls;
	if (st->done)
		st->done(st->ud);
	free(st);
}

int http_send_stream(http_req *r, int status, const char *type, int64_t size, http_read_fn read,
		     void (*done)(void *ud), void *ud)
{
	stream *st = calloc(1, sizeof(*st));
	if (!st) {
		if (done)
			done(ud);
		return -ENOMEM;
	}
	st->read = read;
	st->done = done;
	st->ud = ud;
	struct MHD_Response *resp = MHD_create_response_from_callback(
		size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size, STREAM_BLOCK, stream_read, st, stream_free);
	if (!resp) {
		stream_free(st);
		return -ENOMEM;
	}
	return queue(r, status, type, resp);
}
