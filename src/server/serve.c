/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * serve: the router.  Every request goes through on_headers(), before its
 * body: the path is checked (raw: no %-decoding), the client
 * authenticated, the right its request needs looked up in route.c and
 * compared with what it holds; only then does a handler run.  Requests
 * without a body are answered there and then; a PUT takes its body into
 * a temporary file (store.h) and is answered by on_body_done() once the
 * upload has been checked against its name and put in place.
 */
#include "serve.h"
#include "datadir.h"
#include "ratelimit.h"
#include "readlease.h"
#include "store.h"
#include "token.h"
#include "../backend/backend.h"
#include "../base/buf.h"
#include "../base/checked.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/log.h"
#include "../http/http.h"
#include "../repo/layout.h"
#include "../repo/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVER_VERSION "dvalin 0.1.0"
#define PROTO_HEADER "Dvalin-Protocol"
#define STDIO_REPO "-"

struct server {
	server_opts o;
	datadir *dd;       /* server run */
	store *stdio_repo; /* serve --stdio */
	http_server *http;
	ratelimit limits;
	char principal_stdio[96];
};

/* Who is asking, and what they may do. */
typedef struct {
	char id[96];    /* lease owner: "token:<selector>" or "ssh:<name>" */
	char name[112]; /* for messages and logs: "token 'nightly'" */
	char token[TOKEN_NAME_MAX + 1]; /* the token's name ("" over ssh) */
	char repo[TOKEN_NAME_MAX + 1]; /* "" : every repository */
	server_right right;
} principal;

typedef enum { R_ROOT, R_REPO, R_LIST, R_FILE } req_target;

/* A request in progress (the HTTP module's per-request state). */
typedef struct {
	server *srv;
	principal who;
	char repo[TOKEN_NAME_MAX + 1];
	char name[BACKEND_NAME_MAX + 1];
	layout_kind kind;
	store *st;              /* owned unless it is the stdio repository */
	int own_store;
	store_upload *up;       /* PUT */
	uint64_t expect;        /* PUT: Content-Length */
	int write_error;        /* PUT: a write to the temporary file failed */
	int discard;            /* PUT of a content-addressed file that exists */
	unsigned commit_flags;
	int record_owner;       /* a new lease: note who made it */
	int lease_gate;         /* PUT: the body must pass readlease_check() */
	int replaces;           /* PUT: the file exists */
	buf body;               /* PUT with lease_gate: the body (a lease, <= 1 KiB) */
} req;

static void req_done(void *p)
{
	req *q = p;
	store_upload_free(q->up);
	buf_release(&q->body);
	if (q->own_store)
		store_free(q->st);
	free(q);
}

/* ---------- answers ---------- */

static void log_refusal(http_req *r, const req *q, int status, const char *code, const char *msg)
{
	char peer[64];
	http_peer(r, peer);
	log_warn("%s %s from %s (%s): %d %s: %s", http_method(r), http_path(r), peer,
		 q && q->who.name[0] ? q->who.name : "not authenticated", status, code, msg);
}

static int add_proto(http_req *r)
{
	char v[16];
	snprintf(v, sizeof(v), "%d", SERVER_PROTOCOL);
	return http_add_header(r, PROTO_HEADER, v);
}

/* An error answer; logged unless it is an everyday one (a missing file). */
__attribute__((format(printf, 5, 6)))
static int fail(http_req *r, const req *q, int status, const char *code, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status != 404 && status != 412) /* everyday answers: a missing file, a replaced one */
		log_refusal(r, q, status, code, msg);
	add_proto(r);
	return http_send_error(r, status, code, "%s", msg);
}

/* The answer for a store error on name. */
static int fail_errno(http_req *r, const req *q, int e, const char *doing)
{
	switch (e) {
	case -ENOENT:
	case -ENOTDIR:
		return fail(r, q, 404, "not-found", "no file '%s' in repository '%s'", q->name, q->repo);
	case -ENOSPC:
	case -EDQUOT:
		return fail(r, q, 507, "no-space", "the server's disk is full: cannot store '%s'", q->name);
	case -EEXIST:
		return fail(r, q, 409, "exists", "'%s' was created by someone else meanwhile", q->name);
	case -DV_ECORRUPT:
		return fail(r, q, 422, "bad-content", "'%s' was refused: %s", q->name, err_msg(e));
	case -EFBIG:
		return fail(r, q, 413, "too-large", "'%s' is larger than any %s (%" PRIu64 " bytes)",
			    q->name, layout_kind_name(q->kind), layout_max_size(q->kind));
	default:
		return fail(r, q, 500, "io", "cannot %s '%s' in repository '%s': %s", doing, q->name,
			    q->repo, err_str(e));
	}
}

static int send_json(http_req *r, const char *body)
{
	add_proto(r);
	return http_send(r, 200, "application/json", body, strlen(body));
}

/* ---------- paths ---------- */

/*
 * "/REPO/", "/REPO/DIR/" or "/REPO/NAME": the repository and what
 * follows it.  Paths are raw (the server takes no %-escapes, so an
 * encoded slash cannot hide), names must be backend names of the layout.
 */
static int parse_path(const char *path, req *q, req_target *t)
{
	if (strcmp(path, "/") == 0) {
		*t = R_ROOT;
		return 0;
	}
	if (path[0] != '/' || strchr(path, '%') || strlen(path) > 1 + TOKEN_NAME_MAX + 1 + BACKEND_NAME_MAX + 1)
		return -EINVAL;
	const char *p = path + 1, *slash = strchr(p, '/');
	if (!slash || (size_t)(slash - p) > TOKEN_NAME_MAX)
		return -EINVAL;
	memcpy(q->repo, p, (size_t)(slash - p));
	q->repo[slash - p] = 0;
	if (strcmp(q->repo, STDIO_REPO) != 0 && !token_name_is_valid(q->repo))
		return -EINVAL;
	const char *rest = slash + 1;
	size_t n = strlen(rest);
	if (n == 0) {
		*t = R_REPO;
		return 0;
	}
	if (rest[n - 1] == '/') {
		memcpy(q->name, rest, n - 1);
		q->name[n - 1] = 0;
		*t = R_LIST;
	} else {
		memcpy(q->name, rest, n + 1);
		*t = R_FILE;
	}
	q->kind = LAYOUT_KINDS;
	return backend_name_is_valid(q->name) ? 0 : -EINVAL;
}

/* Names of a repository are names of its layout (a scratch store takes any). */
static int in_layout(req *q, req_target t)
{
	if (store_is_scratch(q->st))
		return 1;
	if (t == R_LIST)
		return layout_is_dir(q->name);
	return t != R_FILE || layout_kind_of(q->name, &q->kind) == 0;
}

/* ---------- authentication ---------- */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* 0 and q->who, or an answer already sent (1). */
static int authenticate(server *s, http_req *r, req *q)
{
	if (!s->dd) { /* serve --stdio: ssh has authenticated the client */
		snprintf(q->who.id, sizeof(q->who.id), "%s", s->principal_stdio);
		snprintf(q->who.name, sizeof(q->who.name), "ssh client '%s'", s->o.client_name ? s->o.client_name : "ssh");
		q->who.right = s->o.rights;
		return 0;
	}
	char peer[64];
	http_peer(r, peer);
	int64_t wait = ratelimit_wait(&s->limits, peer, now_s());
	if (wait > 0) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%" PRId64, wait);
		http_add_header(r, "Retry-After", ra);
		fail(r, q, 429, "rate-limited", "too many failed authentications from %s: try again in %" PRId64 " s",
		     peer, wait);
		return 1;
	}
	const char *auth = http_header(r, "Authorization");
	char why[160] = "no token given (Authorization: Bearer ...)";
	int rc = -EACCES;
	token_info t;
	if (auth && strncmp(auth, "Bearer ", 7) == 0) {
		datadir_lock(s->dd);
		rc = token_check(datadir_db(s->dd), auth + 7, now_s(), &t, why, sizeof(why));
		datadir_unlock(s->dd);
	}
	if (rc == -EACCES) {
		ratelimit_fail(&s->limits, peer, now_s());
		http_add_header(r, "WWW-Authenticate", "Bearer realm=\"dvalin\"");
		fail(r, q, 401, "unauthorized", "%s", why);
		return 1;
	}
	if (rc < 0) {
		fail(r, q, 500, "io", "cannot check the token: %s", err_msg(rc));
		return 1;
	}
	snprintf(q->who.id, sizeof(q->who.id), "token:%s", t.selector);
	snprintf(q->who.name, sizeof(q->who.name), "token '%s'", t.name);
	snprintf(q->who.token, sizeof(q->who.token), "%s", t.name);
	snprintf(q->who.repo, sizeof(q->who.repo), "%s", t.repo);
	q->who.right = t.right;
	return 0;
}

/* ---------- handlers of requests without a body ---------- */

static int repo_info(http_req *r, req *q)
{
	char body[1024];
	size_t at = (size_t)snprintf(body, sizeof(body), "{\"protocol\": %d, \"server\": \"%s\", \"repository\": ",
				     SERVER_PROTOCOL, SERVER_VERSION);
	http_json_string(body, sizeof(body), &at, q->repo);
	at += (size_t)snprintf(body + at, sizeof(body) - at, ", \"rights\": \"%s\", \"token\": ",
			       route_right_name(q->who.right));
	http_json_string(body, sizeof(body), &at, q->who.token);
	int has = store_has(q->st, "config");
	snprintf(body + at, sizeof(body) - at, ", \"config\": %s}\n", has == 1 ? "true" : "false");
	return send_json(r, body);
}

/* "bytes=A-B" -> off, len (inclusive B); -EINVAL for anything else. */
static int parse_range(const char *h, uint64_t *off, uint64_t *len)
{
	unsigned long long a, b;
	int n = 0;
	if (sscanf(h, "bytes=%llu-%llu%n", &a, &b, &n) != 2 || h[n] || b < a || strchr(h, ','))
		return -EINVAL;
	*off = a;
	*len = b - a + 1;
	return 0;
}

static int get_file(http_req *r, req *q)
{
	int fd;
	struct stat st;
	int rc = store_open_file(q->st, q->name, &fd, &st);
	if (rc < 0)
		return fail_errno(r, q, rc, "read");
	char etag[80], mt[32];
	store_etag(etag, &st);
	snprintf(mt, sizeof(mt), "%" PRId64, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	const char *im = http_header(r, "If-Match");
	if (im && strcmp(im, etag) != 0) {
		close(fd);
		return fail(r, q, 412, "changed", "'%s' was replaced since it was opened", q->name);
	}
	uint64_t size = (uint64_t)st.st_size, off = 0, len = size;
	int status = 200;
	const char *range = http_header(r, "Range");
	if (range && strcmp(http_method(r), "GET") == 0) {
		if (parse_range(range, &off, &len) < 0) {
			close(fd);
			return fail(r, q, 400, "bad-request", "unsupported range '%.60s' (one range, both ends)", range);
		}
		if (off >= size) {
			close(fd);
			char cr[48];
			snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
			http_add_header(r, "Content-Range", cr);
			return fail(r, q, 416, "range", "'%s' has %" PRIu64 " bytes: nothing at %" PRIu64,
				    q->name, size, off);
		}
		if (len > size - off)
			len = size - off;
		char cr[80];
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1, size);
		http_add_header(r, "Content-Range", cr);
		status = 206;
	}
	add_proto(r);
	http_add_header(r, "ETag", etag);
	http_add_header(r, "Dvalin-Mtime", mt);
	http_add_header(r, "Accept-Ranges", "bytes");
	return http_send_fd(r, status, "application/octet-stream", fd, off, len);
}

static int delete_file(http_req *r, req *q)
{
	int rc = store_remove(q->st, q->name);
	if (rc < 0)
		return fail_errno(r, q, rc, "remove");
	if (q->srv->o.log_requests)
		log_info("%s removed '%s' from '%s'", q->who.name, q->name, q->repo);
	return send_json(r, "{}\n");
}

/* A listing, streamed as lines of JSON. */
typedef struct {
	store_walk *w;
	store *st;
	int own_store;
	uint64_t count;
	int ended;
	char line[BACKEND_NAME_MAX * 6 + 64]; /* pending bytes not yet handed out */
	size_t len, at;
} lister;

static void lister_free(void *p)
{
	lister *l = p;
	store_walk_free(l->w);
	if (l->own_store)
		store_free(l->st);
	free(l);
}

static ssize_t lister_read(void *p, char *out, size_t max)
{
	lister *l = p;
	size_t done = 0;
	while (done < max) {
		if (l->at < l->len) {
			size_t n = MIN(l->len - l->at, max - done);
			memcpy(out + done, l->line + l->at, n);
			l->at += n;
			done += n;
			continue;
		}
		if (l->ended)
			break;
		const char *name;
		uint64_t size;
		int rc = store_walk_next(l->w, &name, &size);
		size_t at = 0;
		l->at = 0;
		if (rc == 1) {
			at = (size_t)snprintf(l->line, sizeof(l->line), "{\"name\":");
			http_json_string(l->line, sizeof(l->line), &at, name);
			at += (size_t)snprintf(l->line + at, sizeof(l->line) - at, ",\"size\":%" PRIu64 "}\n", size);
			l->count++;
		} else if (rc == 0) {
			at = (size_t)snprintf(l->line, sizeof(l->line), "{\"end\":true,\"count\":%" PRIu64 "}\n",
					      l->count);
			l->ended = 1;
		} else {
			/* the status is sent already: the error travels as the last line,
			 * and a listing without its "end" line is no listing */
			at = (size_t)snprintf(l->line, sizeof(l->line),
					      "{\"error\":\"io\",\"message\":\"cannot list: %s\"}\n", err_str(rc));
			l->ended = 1;
		}
		l->len = at;
	}
	return (ssize_t)done;
}

static int list_dir(http_req *r, req *q)
{
	lister *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	int rc = store_walk_begin(&l->w, q->st, q->name);
	if (rc < 0) {
		free(l);
		return fail_errno(r, q, rc, "list");
	}
	/* the walk outlives the request's state: it takes the store along */
	l->st = q->st;
	l->own_store = q->own_store;
	q->own_store = 0;
	add_proto(r);
	return http_send_stream(r, 200, "application/x-ndjson", -1, lister_read, lister_free, l);
}

/* ---------- uploads ---------- */

static int on_body(void *p, const void *data, size_t n)
{
	req *q = p;
	if (q->discard || q->write_error)
		return 0;
	if (n > q->expect - store_upload_size(q->up)) {
		q->write_error = -EFBIG; /* more than Content-Length: MHD does not let it happen */
		return 0;
	}
	int rc = store_upload_write(q->up, data, n);
	if (rc == 0 && q->lease_gate)
		rc = buf_append(&q->body, data, n);
	if (rc < 0)
		q->write_error = rc;
	return 0;
}

/*
 * A read-only client's lease: the body a read lease (readlease.h), and a
 * refresh one of the lease it replaces.  0, or the answer sent.
 */
static int gate_lease(http_req *r, req *q, int *answered)
{
	buf old = BUF_INIT;
	int rc = 0;
	*answered = 0;
	if (q->replaces) {
		int fd;
		struct stat st;
		rc = store_open_file(q->st, q->name, &fd, &st);
		if (rc == 0) {
			/* a lease on disk passed layout_check: at most 1 KiB */
			uint64_t size = (uint64_t)st.st_size;
			rc = size > layout_max_size(LAYOUT_LEASE) ? -EFBIG : buf_reserve(&old, (size_t)size);
			if (rc == 0 && (rc = fsio_pread_exact(fd, old.data, (size_t)size, 0)) == 0)
				old.len = (size_t)size;
			close(fd);
		}
	}
	char why[200];
	if (rc == 0)
		rc = readlease_check((const char *)q->body.data, q->body.len, q->replaces ? (const char *)old.data : NULL,
				     old.len, lease_now_ns(), sat_add_i64(lease_skew_ns(), LEASE_MTIME_SLACK_NS), why,
				     sizeof(why));
	buf_release(&old);
	if (rc == -EACCES) {
		*answered = 1;
		return fail(r, q, 403, "forbidden", "%s has the right '%s'; it may store a read lease of its own only, and '%s' is not one: %s",
			    q->who.name, route_right_name(q->who.right), q->name, why);
	}
	if (rc < 0) {
		*answered = 1;
		return fail_errno(r, q, rc, "read");
	}
	return 0;
}

static int begin_put(http_req *r, req *q, const route_ask *ask)
{
	uint64_t len;
	int rc = http_content_length(r, &len);
	if (rc == -ENOENT)
		return fail(r, q, 411, "length-required", "a PUT needs a Content-Length");
	if (rc < 0)
		return fail(r, q, 400, "bad-request", "malformed Content-Length");
	if (len > (q->kind == LAYOUT_KINDS ? BUF_CAP : layout_max_size(q->kind)))
		return fail_errno(r, q, -EFBIG, "store");
	q->expect = len;
	if (q->kind != LAYOUT_KINDS && layout_is_immutable(q->kind) && ask->exists) {
		/* the same name holds the same bytes: nothing to write */
		q->discard = 1;
		return http_take_body(r, on_body, q);
	}
	/* replacing is what the rights allowed: leases, gc records, the config */
	/* a scratch store's files are anybody's to replace, even one made meanwhile */
	q->commit_flags = q->kind == LAYOUT_KINDS || (ask->exists && !layout_is_immutable(q->kind))
				  ? STORE_REPLACE : 0;
	q->record_owner = q->kind == LAYOUT_LEASE && !ask->exists;
	q->replaces = ask->exists;
	rc = store_upload_begin(&q->up, q->st, q->name);
	if (rc < 0)
		return fail_errno(r, q, rc, "store");
	return http_take_body(r, on_body, q);
}

static int finish_put(http_req *r, req *q)
{
	if (q->discard)
		return send_json(r, "{\"stored\": false}\n");
	if (q->write_error)
		return fail_errno(r, q, q->write_error, "store");
	if (store_upload_size(q->up) != q->expect)
		return fail(r, q, 400, "bad-request", "the body of '%s' ended early", q->name);
	if (q->lease_gate) {
		int answered, g = gate_lease(r, q, &answered);
		if (answered)
			return g;
	}
	int rc = store_upload_commit(q->up, q->commit_flags, q->record_owner ? q->who.id : NULL);
	if (rc == -EEXIST && q->kind != LAYOUT_KINDS && layout_is_immutable(q->kind))
		return send_json(r, "{\"stored\": false}\n"); /* another upload of the same bytes won */
	if (rc < 0)
		return fail_errno(r, q, rc, "store");
	if (q->srv->o.log_requests)
		log_info("%s stored '%s' in '%s' (%" PRIu64 " bytes)", q->who.name, q->name, q->repo, q->expect);
	add_proto(r);
	return http_send(r, q->commit_flags & STORE_REPLACE ? 200 : 201, "application/json",
			 "{\"stored\": true}\n", 17);
}

/* ---------- the router ---------- */

/* Fills in what the route table needs to know about the file. */
static int describe(req *q, route_ask *a)
{
	int rc = 0;
	if (a->op != ROUTE_PUT && a->op != ROUTE_DELETE)
		return 0;
	if (a->kind == LAYOUT_LEASE) {
		rc = store_lease_is_own(q->st, q->name, q->who.id);
		a->own = rc == 1;
	}
	if (rc >= 0 && a->op == ROUTE_PUT) {
		rc = store_has(q->st, q->name);
		a->exists = rc == 1;
	}
	if (rc >= 0 && (a->kind == LAYOUT_KEY || a->kind == LAYOUT_CONFIG)) {
		rc = store_has(q->st, "config");
		a->initialised = rc == 1;
	}
	return rc < 0 ? rc : 0;
}

/*
 * Routes a request, answering it unless it is a PUT allowed to proceed
 * (which takes its body).  Called for a PUT once its headers are in, so
 * that a refusal is sent before the body; for everything else once the
 * request is complete, since libmicrohttpd closes a connection answered
 * before that (it cannot know a body will not follow).
 */
static int route(server *s, http_req *r)
{
	const char *method = http_method(r);
	req *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->srv = s;
	http_set_state(r, q, req_done);
	req_target t;
	if (parse_path(http_path(r), q, &t) < 0)
		return fail(r, q, 400, "bad-request", "not a path of this server: '%.300s'", http_path(r));
	int get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
	int put = strcmp(method, "PUT") == 0, del = strcmp(method, "DELETE") == 0;
	if (t == R_ROOT) {
		if (!get && !head)
			return fail(r, q, 405, "bad-request", "'/' takes GET only");
		char body[128];
		snprintf(body, sizeof(body), "{\"protocol\": %d, \"server\": \"%s\"}\n", SERVER_PROTOCOL,
			 SERVER_VERSION);
		return send_json(r, body);
	}
	const char *proto = http_header(r, PROTO_HEADER);
	char want[16];
	snprintf(want, sizeof(want), "%d", SERVER_PROTOCOL);
	if (!proto || strcmp(proto, want) != 0)
		return fail(r, q, 400, "protocol",
			    "this server speaks dvalin protocol %d; the client %s%s%s", SERVER_PROTOCOL,
			    proto ? "speaks " : "sent no " PROTO_HEADER " header",
			    proto ? proto : "", proto ? ": upgrade the older side" : "");
	if (authenticate(s, r, q))
		return 0;
	if (q->who.repo[0] && strcmp(q->who.repo, q->repo) != 0)
		return fail(r, q, 403, "wrong-repository", "%s is not valid for repository '%s'",
			    q->who.name, q->repo);
	int rc;
	if (s->dd) {
		rc = strcmp(q->repo, STDIO_REPO) == 0 ? -ENOENT : datadir_repo_open(s->dd, q->repo, &q->st);
		q->own_store = rc == 0;
	} else {
		rc = strcmp(q->repo, STDIO_REPO) == 0 ? 0 : -ENOENT;
		q->st = s->stdio_repo;
	}
	if (rc == -ENOENT)
		return fail(r, q, 404, "no-repository", "no repository '%s' on this server%s", q->repo,
			    s->dd ? " (the administrator makes one with 'dvalin server repo add')" : "");
	if (rc < 0)
		return fail(r, q, 500, "io", "cannot open repository '%s': %s", q->repo, err_str(rc));
	if (!in_layout(q, t))
		return fail(r, q, 400, "bad-request", "'%s' is not %s of a dvalin repository", q->name,
			    t == R_LIST ? "a directory" : "a file");

	route_ask ask = { ROUTE_READ, q->kind, 0, 0, 0 };
	if (t == R_REPO || t == R_LIST) {
		if (!get)
			return fail(r, q, 405, "bad-request", "a directory takes GET only");
		ask.op = t == R_REPO ? ROUTE_READ : ROUTE_LIST;
	} else if (get || head) {
		ask.op = ROUTE_READ;
	} else if (put) {
		ask.op = ROUTE_PUT;
	} else if (del) {
		ask.op = ROUTE_DELETE;
	} else {
		return fail(r, q, 405, "bad-request", "method %.16s is not used by this server", method);
	}
	if ((rc = describe(q, &ask)) < 0)
		return fail_errno(r, q, rc, "look at");
	/* the one place rights are decided */
	route_need need = route_right(&ask);
	if (q->who.right < need.right)
		return fail(r, q, 403, "forbidden", "%s has the right '%s'; %s ('%s') needs '%s'%s",
			    q->who.name, route_right_name(q->who.right), need.doing, q->name[0] ? q->name : q->repo,
			    route_right_name(need.right),
			    need.right == RIGHT_PRUNE && s->dd ? " (or run 'dvalin server prune' on the server)" : "");
	q->lease_gate = need.any_body != RIGHT_NONE && q->who.right < need.any_body;
	if (s->o.log_requests)
		log_info("%s %s %s", q->who.name, method, http_path(r));
	switch (t) {
	case R_REPO:
		return repo_info(r, q);
	case R_LIST:
		return list_dir(r, q);
	default:
		break;
	}
	if (get || head)
		return get_file(r, q);
	if (del)
		return delete_file(r, q);
	return begin_put(r, q, &ask);
}

static int on_headers(void *ud, http_req *r)
{
	return strcmp(http_method(r), "PUT") == 0 ? route(ud, r) : 0;
}

/* A complete request: a PUT whose body is in, or any other, routed now. */
static int on_complete(void *ud, http_req *r)
{
	req *q = http_state(r);
	return q ? finish_put(r, q) : route(ud, r);
}

/* ---------- start and stop ---------- */

static http_config http_setup(server *s)
{
	http_config c;
	memset(&c, 0, sizeof(c));
	/* 0: http.h's defaults, which are the server's */
	c.max_connections = s->o.max_connections;
	c.max_per_ip = s->o.max_per_ip;
	c.timeout_s = s->o.timeout_s;
	c.max_body = 64; /* only a PUT has a body, and it goes to http_take_body */
	c.handler = on_complete;
	c.on_headers = on_headers;
	c.ud = s;
	c.what = "repository server";
	c.raw_paths = 1;
	return c;
}

int server_start(server **out, const server_opts *o)
{
	server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	ratelimit_init(&s->limits);
	int rc = datadir_open(&s->dd, o->data_dir, 0);
	int loopback = 0;
	rc = rc ?: http_listen_check(o->listen, &loopback);
	if (rc == 0 && o->no_tls && !loopback)
		rc = err_set(-EINVAL, "refusing to listen on '%s' without TLS: only loopback addresses may go without",
			     o->listen);
	char cert[PATH_MAX], key[PATH_MAX];
	http_config c = http_setup(s);
	c.listen = o->listen;
	if (rc == 0 && !o->no_tls) {
		if (o->tls_cert) {
			c.tls_cert = o->tls_cert;
			c.tls_key = o->tls_key;
		} else if ((rc = datadir_tls_paths(s->dd, cert, key, sizeof(cert))) == 0) {
			c.tls_cert = cert;
			c.tls_key = key;
		}
	}
	rc = rc ?: http_server_start(&s->http, &c);
	if (rc < 0) {
		server_stop(s);
		return rc;
	}
	*out = s;
	return 0;
}

int server_port(const server *s)
{
	return http_server_port(s->http);
}

void server_stop(server *s)
{
	if (!s)
		return;
	http_server_stop(s->http);
	datadir_close(s->dd);
	store_free(s->stdio_repo);
	ratelimit_release(&s->limits);
	free(s);
}

/* ---------- serve --stdio ---------- */

typedef struct {
	int from, to, stop;
} pump_arg;
static pump_arg stdio_in;

/*
 * Copies from -> to until the end of from, or until stop (when >= 0) is
 * readable or closed; then ends the writing side of to.
 */
static void pump(int from, int to, int stop)
{
	char b[64 << 10];
	for (;;) {
		if (stop >= 0) {
			struct pollfd pf[2] = { { from, POLLIN, 0 }, { stop, POLLIN, 0 } };
			int r = poll(pf, 2, -1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 || pf[1].revents)
				break;
		}
		ssize_t n = read(from, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (fsio_write_all(to, b, (size_t)n) < 0)
			break;
	}
	shutdown(to, SHUT_WR); /* fails harmlessly on a pipe */
}

static void *pump_in(void *p)
{
	pump_arg *a = p;
	pump(a->from, a->to, a->stop);
	return NULL;
}

int server_serve_stdio(const server_opts *o, int in_fd, int out_fd)
{
	server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	snprintf(s->principal_stdio, sizeof(s->principal_stdio), "ssh:%s",
		 o->client_name ? o->client_name : "ssh");
	ratelimit_init(&s->limits);
	int sp[2] = { -1, -1 }, wake[2] = { -1, -1 };
	http_config c = http_setup(s);
	c.no_listen = 1;
	c.max_connections = 1;
	c.timeout_s = o->timeout_s ? o->timeout_s : 600;
	int rc = store_open(&s->stdio_repo, o->repo_path);
	if (rc == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		rc = err_sys(-errno, "cannot make a socket pair");
	if (rc == 0 && pipe2(wake, O_CLOEXEC) < 0)
		rc = err_sys(-errno, "cannot make a pipe");
	rc = rc ?: http_server_start(&s->http, &c);
	if (rc == 0) {
		rc = http_server_add_connection(s->http, sp[0]);
		sp[0] = -1; /* MHD's now */
	}
	if (rc == 0) {
		/* a client gone mid-answer must not kill us with SIGPIPE */
		signal(SIGPIPE, SIG_IGN);
		pthread_t t;
		stdio_in = (pump_arg){ in_fd, sp[1], wake[0] };
		if (pthread_create(&t, NULL, pump_in, &stdio_in) != 0) {
			rc = -EAGAIN;
		} else {
			pump(sp[1], out_fd, -1);
			/* MHD closed its end: the connection is over (the client's end
			 * of file, or an idle timeout).  The reader of stdin may still
			 * wait for the client: closing the pipe wakes it.  (Cancelling
			 * it in its read left its frame's sanitizer poison on a stack
			 * the next thread got: a false report under ASan.) */
			close(out_fd);
			close(wake[1]);
			wake[1] = -1;
			pthread_join(t, NULL);
		}
	}
	for (int i = 0; i < 2; i++)
		if (wake[i] >= 0)
			close(wake[i]);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	server_stop(s);
	return rc;
}
