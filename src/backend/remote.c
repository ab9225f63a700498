/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * remote: the client of docs/http-api.md (remote.h says what it offers).
 *
 * Every operation is one request (a listing may be long), made by
 * perform(): a libcurl handle from the pool, the request, the answer's
 * status mapped to the contract's codes (backend.h), retries with backoff
 * for what is transient.  A handle keeps its connection, so requests on a
 * pool of handles reuse a handful of TLS connections (or ssh processes).
 */
#include "remote.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTOCOL 1
#define USER_AGENT "dvalin/0.1.0"
#define POOL_HTTPS 8         /* handles (connections) at most */
#define POOL_SSH 4           /* each one an ssh process: fewer */
#define RETRY_DEFAULT_S 120
#define RETRY_FIRST_S 5      /* before the server ever answered: a wrong address, not an outage */
#define STALL_DEFAULT_S 60
#define ERRBODY_MAX 8192
#define LIST_LINE_MAX 4096
#define BLOCK ((size_t)1 << 20) /* the read-ahead unit of handles */
#define BLOCKS 24               /* 24 MiB of blocks at most */
#define DIRECT_MIN ((size_t)256 << 10) /* reads this large skip the blocks */

extern char **environ;

/* ---------- the backend ---------- */

typedef struct {
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
} handle;

#define SAID_MAX 300 /* the end of what an ssh wrote on its stderr */

typedef struct {
	int fd;   /* libcurl's end */
	pid_t pid; /* its ssh; 0 until ssh_prereq() starts it, -1 if that failed */
	int lfd;  /* the listener it connects to, until accepted; else -1 */
	int efd;  /* its stderr, read by us (non-blocking), or -1 */
	char said[SAID_MAX];
	size_t said_len;
} ssh_child;

/* A block of a file read through handles, shared by every handle of the backend. */
typedef struct {
	char name[BACKEND_NAME_MAX + 1];
	char etag[80];
	uint64_t index;
	uint8_t *data;
	size_t len;
	int state; /* 0 empty, 1 loading, 2 ready */
	unsigned refs;
	uint64_t used; /* for LRU */
} block;

typedef struct {
	backend base;
	char *base_url;        /* ".../REPO/" */
	char *auth;            /* "Authorization: Bearer ..." or NULL */
	char *pin;             /* "sha256//..." or NULL */
	const char *cred;      /* "DVALIN_" or "DVALIN_FROM_": where auth and pin came from */
	int ssh;
	char **ssh_argv;       /* the command that gives one connection */
	size_t ssh_argc;
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock;  /* pool, children, blocks */
	pthread_cond_t cond;
	handle *idle[POOL_HTTPS];
	size_t nidle, nhandles, max_handles;
	ssh_child kids[POOL_HTTPS * 2];
	size_t nkids;
	ssh_child zombies[64]; /* closed connections whose ssh has not been reaped */
	size_t nzombies;
	char ssh_said[SAID_MAX]; /* the last line of the last ssh that ended saying something */
	int ssh_status;          /* its exit status; -1: none since the last request */
	int answered;          /* the server has answered once */
	long retry_s, stall_s;
	char rights[16];
	block blocks[BLOCKS];
	uint64_t clock;
	backend_requests counts; /* every attempt, under lock: what --json reports */
} remote;

static remote *R(backend *b)
{
	return (remote *)b;
}

static long env_seconds(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return def;
	long s = strtol(v, &end, 10);
	return *end || s < 0 || s > 86400 ? def : s;
}

/* ---------- ssh connections ---------- */

/*
 * Reads what k's ssh wrote on its stderr so far, keeping the end.  What
 * ssh and the far side's dvalin say is not the user's terminal's: the one
 * line that matters (why a connection ended) goes into the client's own
 * error; the rest is noise on a healthy connection (locked).
 */
static void drain_said(ssh_child *k)
{
	char b[4096];
	ssize_t n;
	while (k->efd >= 0 && (n = read(k->efd, b, sizeof(b))) > 0) {
		size_t m = (size_t)n;
		if (m >= SAID_MAX) {
			memcpy(k->said, b + m - (SAID_MAX - 1), SAID_MAX - 1);
			k->said_len = SAID_MAX - 1;
		} else {
			if (k->said_len + m >= SAID_MAX) {
				size_t drop = k->said_len + m - (SAID_MAX - 1);
				memmove(k->said, k->said + drop, k->said_len - drop);
				k->said_len -= drop;
			}
			memcpy(k->said + k->said_len, b, m);
			k->said_len += m;
		}
	}
}

/* The last non-empty line of what k's ssh said, into rb->ssh_said with its status (locked). */
static void note_said(remote *rb, ssh_child *k, int status)
{
	drain_said(k);
	size_t end = k->said_len;
	while (end && (k->said[end - 1] == '\n' || k->said[end - 1] == '\r' || k->said[end - 1] == ' '))
		end--;
	size_t start = end;
	while (start && k->said[start - 1] != '\n')
		start--;
	if (end > start) {
		const char *line = k->said + start;
		size_t n = end - start;
		if (n > 8 && memcmp(line, "dvalin: ", 8) == 0) { /* the far side's own prefix */
			line += 8;
			n -= 8;
		}
		snprintf(rb->ssh_said, sizeof(rb->ssh_said), "%.*s", (int)n, line);
		for (char *p = rb->ssh_said; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		rb->ssh_status = status;
	}
}

/* Reaps exited ssh processes, noting what they said (locked). */
static void reap(remote *rb)
{
	for (size_t i = 0; i < rb->nzombies;) {
		ssh_child *z = &rb->zombies[i];
		int st = 0;
		pid_t w = waitpid(z->pid, &st, WNOHANG);
		if (w == 0) {
			drain_said(z); /* a full pipe must not hold it up */
			i++;
			continue;
		}
		if (w > 0)
			note_said(rb, z, WIFEXITED(st) ? WEXITSTATUS(st) : 255);
		if (z->efd >= 0)
			close(z->efd);
		*z = rb->zombies[--rb->nzombies];
	}
}

/* A closed connection's ssh is reaped later; its stderr with it (locked). */
static void bury(remote *rb, ssh_child *k)
{
	if (k->pid > 0 && rb->nzombies < ARRAY_SIZE(rb->zombies)) {
		rb->zombies[rb->nzombies++] = *k;
	} else if (k->efd >= 0) {
		close(k->efd);
	}
	k->efd = -1;
}

/*
 * A new connection to an ssh process running `dvalin serve --stdio`.
 * libcurl 7.88 connect()s every socket it opens, even one its sockopt
 * callback calls already connected (curl issue 10626, fixed in 8.0), so
 * a socket pair cannot be handed over.  Instead libcurl gets a fresh
 * socket and the address of a listener of ours on loopback (a port the
 * kernel picks), connects to it, and ssh_prereq(), called before the
 * first request on the connection, accepts and gives the accepted end to a
 * new ssh as its stdin and stdout.  (TCP, not a Unix socket: libcurl
 * reuses only connections whose peer address it can print, and an
 * abstract Unix name prints empty.  Anyone local may connect to the
 * listener too: ssh_prereq() accepts only libcurl's own socket.)
 */
static curl_socket_t ssh_open(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
	remote *rb = ud;
	(void)purpose;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l < 0)
		return CURL_SOCKET_BAD;
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0 || len > sizeof(addr->addr)) {
		close(l);
		return CURL_SOCKET_BAD;
	}
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0) {
		close(l);
		return CURL_SOCKET_BAD;
	}
	pthread_mutex_lock(&rb->lock);
	reap(rb);
	int ok = rb->nkids < ARRAY_SIZE(rb->kids);
	if (ok)
		rb->kids[rb->nkids++] = (ssh_child){ .fd = c, .pid = 0, .lfd = l, .efd = -1 };
	pthread_mutex_unlock(&rb->lock);
	if (!ok) {
		close(l);
		close(c);
		return CURL_SOCKET_BAD;
	}
	addr->family = AF_INET;
	addr->socktype = SOCK_STREAM;
	addr->protocol = IPPROTO_TCP;
	addr->addrlen = len;
	memcpy(&addr->addr, &sa, len);
	return c;
}

/* Accepts libcurl's connection on k's listener: the socket, -EAGAIN if it is not there yet. */
static int ssh_accept(const ssh_child *k)
{
	struct sockaddr_in mine, peer;
	socklen_t ml = sizeof(mine);
	if (getsockname(k->fd, (struct sockaddr *)&mine, &ml) < 0)
		return -errno;
	for (;;) {
		socklen_t pl = sizeof(peer);
		int a = accept4(k->lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		if (a < 0 && errno == EINTR)
			continue;
		if (a < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (pl == ml && peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr)
			return a;
		close(a); /* someone else's connection */
	}
}

/* Spawns the ssh for one accepted connection: its pid (its stderr in *efd, or -1), or -1. */
static pid_t ssh_spawn(remote *rb, int fd, int *efd)
{
	int ep[2] = { -1, -1 };
	*efd = -1;
	if (pipe2(ep, O_CLOEXEC) == 0) {
		fcntl(ep[0], F_SETFL, O_NONBLOCK);
		fcntl(ep[0], F_SETPIPE_SZ, 1 << 20); /* room for a chatty far side between drains */
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
	if (ep[1] >= 0)
		posix_spawn_file_actions_adddup2(&fa, ep[1], STDERR_FILENO);
	/* the child must not die of a SIGPIPE we ignore, nor keep our signals blocked */
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int rc = posix_spawnp(&pid, rb->ssh_argv[0], &fa, &at, rb->ssh_argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (ep[1] >= 0)
		close(ep[1]);
	if (rc != 0 && ep[0] >= 0)
		close(ep[0]);
	else
		*efd = ep[0];
	return rc == 0 ? pid : -1;
}

/*
 * Before a request: every connection libcurl has finished connecting gets
 * its ssh.  The caller's own connection is among them (its connect() to
 * the listener returned); another thread's may not be yet (accept says
 * EAGAIN) and is left to that thread's turn.
 */
static int ssh_prereq(void *ud, char *ip, char *local_ip, int port, int local_port)
{
	remote *rb = ud;
	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	int rc = CURL_PREREQFUNC_OK;
	pthread_mutex_lock(&rb->lock);
	for (size_t i = 0; i < rb->nkids; i++) {
		ssh_child *k = &rb->kids[i];
		drain_said(k);
		if (k->lfd < 0)
			continue;
		int a = ssh_accept(k);
		if (a == -EAGAIN)
			continue;
		close(k->lfd);
		k->lfd = -1;
		k->pid = a < 0 ? -1 : ssh_spawn(rb, a, &k->efd);
		if (a >= 0)
			close(a);
		if (k->pid < 0)
			rc = CURL_PREREQFUNC_ABORT; /* libcurl says the request was aborted */
	}
	pthread_mutex_unlock(&rb->lock);
	return rc;
}

/* The connection is done: its ssh sees the end of its stdin and exits. */
static int ssh_close(void *ud, curl_socket_t fd)
{
	remote *rb = ud;
	close(fd);
	pthread_mutex_lock(&rb->lock);
	for (size_t i = 0; i < rb->nkids; i++) {
		if (rb->kids[i].fd != fd)
			continue;
		if (rb->kids[i].lfd >= 0)
			close(rb->kids[i].lfd);
		bury(rb, &rb->kids[i]);
		rb->kids[i] = rb->kids[--rb->nkids];
		break;
	}
	reap(rb);
	pthread_mutex_unlock(&rb->lock);
	return 0;
}

/* ---------- handles ---------- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
	(void)h;
	(void)a;
	pthread_mutex_lock(&((remote *)ud)->share_lock[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
	(void)h;
	pthread_mutex_unlock(&((remote *)ud)->share_lock[d]);
}

static handle *handle_new(remote *rb)
{
	handle *w = calloc(1, sizeof(*w));
	if (!w || !(w->h = curl_easy_init())) {
		free(w);
		return NULL;
	}
	CURL *h = w->h;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, rb->share);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, rb->stall_s);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (rb->pin) {
		/* the pin is the whole trust: issuer, dates and names do not matter */
		curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, rb->pin);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (rb->ssh) {
		curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, ssh_open);
		curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, rb);
		curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, ssh_prereq);
		curl_easy_setopt(h, CURLOPT_PREREQDATA, rb);
		curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, ssh_close);
		curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, rb);
	} else {
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	}
	return w;
}

static void handle_free(handle *w)
{
	if (w) {
		curl_easy_cleanup(w->h);
		free(w);
	}
}

/* A handle of the pool; waits while all are in use. */
static handle *take_handle(remote *rb)
{
	pthread_mutex_lock(&rb->lock);
	while (!rb->nidle && rb->nhandles >= rb->max_handles)
		pthread_cond_wait(&rb->cond, &rb->lock);
	handle *w = NULL;
	if (rb->nidle) {
		w = rb->idle[--rb->nidle];
	} else {
		rb->nhandles++;
		pthread_mutex_unlock(&rb->lock);
		if (!(w = handle_new(rb))) {
			pthread_mutex_lock(&rb->lock);
			rb->nhandles--;
			pthread_cond_signal(&rb->cond);
		} else {
			return w;
		}
	}
	pthread_mutex_unlock(&rb->lock);
	return w;
}

static void give_handle(remote *rb, handle *w)
{
	pthread_mutex_lock(&rb->lock);
	rb->idle[rb->nidle++] = w;
	pthread_cond_signal(&rb->cond);
	pthread_mutex_unlock(&rb->lock);
}

/* ---------- requests ---------- */

enum { SINK_DROP, SINK_BUF, SINK_MEM };

typedef struct {
	/* the request */
	const char *method;    /* GET HEAD PUT DELETE */
	const char *name;      /* after the base URL */
	const void *up;
	size_t up_len, up_at;
	int ranged;
	uint64_t roff, rlen;
	const char *if_match;
	/* where a successful answer's body goes */
	int sink;
	buf *b;
	size_t b_max;
	uint8_t *mem;
	size_t mem_len, mem_at;
	/* the answer */
	long status;
	int proto;             /* -1: no header */
	char etag[80];
	int64_t mtime;
	uint64_t clen;
	int have_clen;
	buf err;               /* the body of a refusal */
	int overflow;
} rq;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	rq *q = ud;
	size_t len = size * n;
	char line[256];
	size_t l = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, p, l);
	line[l] = 0;
	while (l && (line[l - 1] == '\r' || line[l - 1] == '\n'))
		line[--l] = 0;
	if (strncmp(line, "HTTP/", 5) == 0) { /* a new answer (after 100 Continue) */
		q->proto = -1;
		q->etag[0] = 0;
		q->have_clen = 0;
		return len;
	}
	char *colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = 0;
	const char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcasecmp(line, "Dvalin-Protocol") == 0)
		q->proto = atoi(v);
	else if (strcasecmp(line, "ETag") == 0)
		snprintf(q->etag, sizeof(q->etag), "%s", v);
	else if (strcasecmp(line, "Dvalin-Mtime") == 0)
		q->mtime = strtoll(v, NULL, 10);
	else if (strcasecmp(line, "Content-Length") == 0) {
		q->clen = strtoull(v, NULL, 10);
		q->have_clen = 1;
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	rq *q = ud;
	size_t len = size * n;
	if (q->status == 0 || q->status >= 300) {
		if (q->err.len + len <= ERRBODY_MAX && buf_append(&q->err, p, len) < 0)
			return 0;
		return len;
	}
	if (q->sink == SINK_MEM) {
		if (len > q->mem_len - q->mem_at) {
			q->overflow = 1;
			return 0;
		}
		memcpy(q->mem + q->mem_at, p, len);
		q->mem_at += len;
	} else if (q->sink == SINK_BUF) {
		if (q->b->len + len > q->b_max) {
			q->overflow = 1;
			return 0;
		}
		if (buf_append(q->b, p, len) < 0)
			return 0;
	}
	return len;
}

/* The status must be known before the body: curl has it once the headers are in. */
typedef struct {
	rq *q;
	CURL *h;
} body_ctx;

static size_t on_body_status(char *p, size_t size, size_t n, void *ud)
{
	body_ctx *c = ud;
	if (c->q->status == 0)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->q->status);
	return on_body(p, size, n, c->q);
}

static size_t on_upload(char *out, size_t size, size_t n, void *ud)
{
	rq *q = ud;
	size_t want = size * n, left = q->up_len - q->up_at;
	size_t k = want < left ? want : left;
	memcpy(out, (const uint8_t *)q->up + q->up_at, k);
	q->up_at += k;
	return k;
}

static int seek_upload(void *ud, curl_off_t off, int origin)
{
	rq *q = ud;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > q->up_len)
		return CURL_SEEKFUNC_FAIL;
	q->up_at = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* The server's message from a JSON error body, else a reason from the status. */
static void refusal_text(const rq *q, char *out, size_t cap)
{
	json_error_t je;
	json_t *j = q->err.len ? json_loadb((const char *)q->err.data, q->err.len, 0, &je) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	if (m)
		snprintf(out, cap, "%s", m);
	else
		snprintf(out, cap, "the server answered %ld", q->status);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	json_decref(j);
}

/* The contract's code for an answer's status (docs/http-api.md, "Errors"). */
static int status_code(long st, int *transient)
{
	*transient = st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
	switch (st) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	case 412:
		return -ESTALE;
	case 413:
		return -EFBIG;
	case 416:
		return -ENODATA;
	case 422:
		return -DV_ECORRUPT;
	case 429:
	case 503:
		return -EAGAIN;
	case 507:
		return -ENOSPC;
	case 400:
	case 405:
	case 411:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static int transient_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reset_answer(rq *q)
{
	q->status = 0;
	q->proto = -1;
	q->etag[0] = 0;
	q->mtime = 0;
	q->have_clen = 0;
	q->err.len = 0;
	q->overflow = 0;
	q->up_at = 0;
	q->mem_at = 0;
	if (q->b)
		q->b->len = 0;
}

/* Counts one attempt by kind, with its body bytes (a listing is a GET of "DIR/"). */
static void count_attempt(remote *rb, const rq *q, CURL *h)
{
	int kind = strcmp(q->method, "PUT") == 0	? BACKEND_REQ_PUT
		   : strcmp(q->method, "HEAD") == 0	? BACKEND_REQ_HEAD
		   : strcmp(q->method, "DELETE") == 0 ? BACKEND_REQ_DELETE
		   : q->name[0] && q->name[strlen(q->name) - 1] == '/' ? BACKEND_REQ_LIST
								      : BACKEND_REQ_GET;
	curl_off_t up = 0, down = 0;
	curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down);
	pthread_mutex_lock(&rb->lock);
	rb->counts.n[kind]++;
	rb->counts.bytes_sent += up > 0 ? (uint64_t)up : 0;
	rb->counts.bytes_received += down > 0 ? (uint64_t)down : 0;
	pthread_mutex_unlock(&rb->lock);
}

static int remote_requests(backend *b, backend_requests *out)
{
	remote *rb = R(b);
	pthread_mutex_lock(&rb->lock);
	*out = rb->counts;
	pthread_mutex_unlock(&rb->lock);
	return 1;
}

/* One attempt: the curl code, and q's answer. */
static CURLcode attempt(remote *rb, handle *w, rq *q)
{
	CURL *h = w->h;
	char url[1024], range[64], im[128];
	struct curl_slist *hdr = NULL;
	snprintf(url, sizeof(url), "%s%s", rb->base_url, q->name);
	hdr = curl_slist_append(hdr, "Dvalin-Protocol: 1");
	if (rb->auth)
		hdr = curl_slist_append(hdr, rb->auth);
	if (q->if_match) {
		snprintf(im, sizeof(im), "If-Match: %s", q->if_match);
		hdr = curl_slist_append(hdr, im);
	}
	if (!hdr)
		return CURLE_OUT_OF_MEMORY;
	body_ctx bc = { q, h };
	w->errbuf[0] = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_status);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &bc);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L); /* resets method, upload, nobody */
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(h, CURLOPT_RANGE, NULL);
	if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(q->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, q);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_upload);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, q);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->up_len);
	} else if (strcmp(q->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	if (q->ranged) {
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, q->roff, q->roff + q->rlen - 1);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	CURLcode cc = curl_easy_perform(h);
	/* some of libcurl's messages end in a space or a newline: it goes in the middle of ours */
	for (size_t l = strlen(w->errbuf); l && (w->errbuf[l - 1] == ' ' || w->errbuf[l - 1] == '\n');)
		w->errbuf[--l] = 0;
	if (q->status == 0)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->status);
	count_attempt(rb, q, h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	return cc;
}

/*
 * After a connection over ssh failed: waits a little for the closed
 * connections' ssh processes to end (one that ends because the far side
 * refused has said why by then), and takes what the last one said: 1 and
 * its line in out if it ended with a failure, with *refused set when the
 * far side's command (not ssh itself, which exits 255) failed.
 */
static int ssh_said(remote *rb, char *out, size_t cap, int *refused)
{
	int got = 0;
	pthread_mutex_lock(&rb->lock);
	for (int tries = 0; tries < 100; tries++) { /* 1 s at most */
		reap(rb);
		if (!rb->nzombies)
			break;
		pthread_mutex_unlock(&rb->lock);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&rb->lock);
	}
	if (rb->ssh_status > 0 && rb->ssh_said[0]) {
		*refused = rb->ssh_status != 255;
		snprintf(out, cap, "%s%s", *refused ? "the server refused: " : "", rb->ssh_said);
		got = 1;
	}
	rb->ssh_status = -1; /* told once */
	pthread_mutex_unlock(&rb->lock);
	return got;
}

/*
 * Why an attempt timed out, in the user's terms: libcurl's "Operation too
 * slow. Less than 1 bytes/sec transferred" says neither what stalled nor
 * which setting bounds it.  An attempt that got as far as sending the
 * request stalled in the middle; one that did not never connected.
 */
static void timeout_text(remote *rb, handle *w, char *out, size_t cap)
{
	curl_off_t pre = 0;
	curl_easy_getinfo(w->h, CURLINFO_PRETRANSFER_TIME_T, &pre);
	if (pre > 0)
		snprintf(out, cap, "the server stopped answering: nothing moved for %ld s (a stalled server or network; DVALIN_STALL_SECONDS)",
			 rb->stall_s);
	else
		snprintf(out, cap, "timed out connecting (%s)", w->errbuf[0] ? w->errbuf : "no answer");
}

/*
 * Makes the request, retrying what is transient; 0 for an answer of 2xx
 * (q holds it), else the contract's code with a message: "cannot DOING
 * 'LOCATION/NAME': REASON".
 */
static int perform(remote *rb, rq *q, const char *doing, const char *what)
{
	double start = now_s(), delay = 0.25;
	char reason[700] = "";
	int attempts = 0, rc;
	for (;;) {
		attempts++;
		reset_answer(q);
		handle *w = take_handle(rb);
		if (!w)
			return -ENOMEM;
		CURLcode cc = attempt(rb, w, q);
		int transient = 0;
		if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && q->status >= 300)) {
			pthread_mutex_lock(&rb->lock);
			rb->answered = 1;
			pthread_mutex_unlock(&rb->lock);
			rc = 0;
			if (q->proto < 0) {
				snprintf(reason, sizeof(reason), "not a dvalin server (an answer %ld without a Dvalin-Protocol header)",
					 q->status);
				rc = -EPROTO;
			} else if (q->proto != PROTOCOL) {
				snprintf(reason, sizeof(reason), "the server speaks dvalin protocol %d, this client %d: upgrade the older side",
					 q->proto, PROTOCOL);
				rc = -EPROTO;
			} else if (q->status >= 300) {
				rc = status_code(q->status, &transient);
				refusal_text(q, reason, sizeof(reason));
				/* a DELETE repeated after a lost answer: the first one did it */
				if (rc == -ENOENT && attempts > 1 && strcmp(q->method, "DELETE") == 0)
					rc = 0;
			}
		} else if (cc == CURLE_WRITE_ERROR && q->overflow) {
			snprintf(reason, sizeof(reason), "the server sent more than was asked for");
			rc = -EIO;
		} else if (cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
			snprintf(reason, sizeof(reason), "the server's public key is not the pinned one (%sFINGERPRINT): is this the right server?",
				 rb->cred);
			rc = -EACCES;
		} else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
			snprintf(reason, sizeof(reason), "%s (a self-signed server needs %sFINGERPRINT: 'dvalin server fingerprint' prints it)",
				 w->errbuf[0] ? w->errbuf : curl_easy_strerror(cc), rb->cred);
			rc = -EACCES;
		} else if (cc == CURLE_OPERATION_TIMEDOUT) {
			timeout_text(rb, w, reason, sizeof(reason));
			rc = -ETIMEDOUT;
			transient = 1;
		} else {
			/* curl's text names the library call; the user needs to hear the connection broke */
			int broke = cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
				    cc == CURLE_PARTIAL_FILE || cc == CURLE_SSL_CONNECT_ERROR;
			snprintf(reason, sizeof(reason), "%s%s%s", broke ? "the connection to the server broke (" : "",
				 w->errbuf[0] ? w->errbuf : curl_easy_strerror(cc), broke ? ")" : "");
			rc = cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EAGAIN;
			transient = transient_curl(cc);
			if (!transient)
				rc = -EIO;
			int refused = 0;
			if (rb->ssh && broke && ssh_said(rb, reason, sizeof(reason), &refused) && refused) {
				rc = -EIO; /* `dvalin serve` would not serve: asking again changes nothing */
				transient = 0;
			}
		}
		give_handle(rb, w);
		if (rc == 0 || !transient)
			break;
		pthread_mutex_lock(&rb->lock);
		double budget = rb->answered ? (double)rb->retry_s
					     : (double)(rb->retry_s < RETRY_FIRST_S ? rb->retry_s : RETRY_FIRST_S);
		pthread_mutex_unlock(&rb->lock);
		double elapsed = now_s() - start;
		if (elapsed + delay > budget) {
			char more[96];
			snprintf(more, sizeof(more), " (%d attempt%s in %.0f s)", attempts, attempts == 1 ? "" : "s",
				 elapsed);
			size_t l = strlen(reason);
			snprintf(reason + l, sizeof(reason) - l, "%s", more);
			break;
		}
		struct timespec ts = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };
		nanosleep(&ts, NULL);
		delay = delay * 2 > 10 ? 10 : delay * 2;
	}
	if (rc < 0)
		return err_set(rc, "cannot %s '%s/%s': %s", doing, rb->base.location, what, reason);
	return 0;
}

static void rq_release(rq *q)
{
	buf_release(&q->err);
}

/* ---------- operations ---------- */

static int remote_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	(void)hint;
	rq q = { .method = "PUT", .name = name, .up = p, .up_len = n };
	int rc = perform(R(b), &q, "write", name);
	rq_release(&q);
	return rc;
}

static void free_bytes(void *priv, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	free(priv);
}

static int remote_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	(void)hint;
	buf body = BUF_INIT;
	rq q = { .method = "GET", .name = name, .sink = SINK_BUF, .b = &body, .b_max = BUF_CAP };
	int rc = perform(R(b), &q, "read", name);
	rq_release(&q);
	if (rc == 0 && q.have_clen && q.clen != body.len)
		rc = err_set(-EIO, "cannot read '%s/%s': the answer was cut short", b->location, name);
	if (rc < 0) {
		buf_release(&body);
		return rc;
	}
	*out = (bytes)BYTES_INIT;
	out->data = body.data ? body.data : (const uint8_t *)"";
	out->len = body.len;
	out->release = free_bytes;
	out->priv = body.data;
	return 0;
}

static int head(remote *rb, const char *name, rq *q)
{
	*q = (rq){ .method = "HEAD", .name = name };
	int rc = perform(rb, q, "open", name);
	rq_release(q);
	if (rc == 0 && !q->have_clen)
		rc = err_set(-EIO, "cannot open '%s/%s': no size in the answer", rb->base.location, name);
	return rc;
}

static int remote_stat(backend *b, const char *name, backend_stat_t *out)
{
	rq q;
	int rc = head(R(b), name, &q);
	if (rc == 0) {
		out->size = q.clen;
		out->mtime_ns = q.mtime;
	}
	return rc;
}

/* Exactly n bytes at off of name (version etag, or any when NULL) into p. */
static int read_range(remote *rb, const char *name, const char *etag, uint64_t off, void *p, size_t n)
{
	rq q = { .method = "GET", .name = name, .ranged = 1, .roff = off, .rlen = n, .if_match = etag,
		 .sink = SINK_MEM, .mem = p, .mem_len = n };
	int rc = perform(rb, &q, "read", name);
	rq_release(&q);
	if (rc == 0 && (q.status != 206 || q.mem_at != n))
		rc = q.mem_at < n ? -ENODATA : err_set(-EIO, "cannot read '%s/%s': not the range asked for",
							 rb->base.location, name);
	return rc;
}

static int remote_get_range(backend *b, const char *name, backend_hint hint, uint64_t off, void *p,
			    size_t n)
{
	(void)hint;
	if (n == 0) { /* nothing to fetch, but off must be inside the file */
		backend_stat_t st;
		int rc = remote_stat(b, name, &st);
		return rc < 0 ? rc : off > st.size ? -ENODATA : 0;
	}
	if (off > UINT64_MAX - n)
		return -ENODATA;
	int rc = read_range(R(b), name, NULL, off, p, n);
	if (rc == -ENODATA)
		return err_set(rc, "cannot read '%s/%s': file is truncated", b->location, name);
	return rc;
}

/* ---------- handles and their blocks ---------- */

typedef struct {
	remote *rb;
	char name[BACKEND_NAME_MAX + 1];
	char etag[80];
	uint64_t size;
} rfile;

static int remote_open_read(backend *b, const char *name, backend_hint hint, void **out,
			    uint64_t *out_size)
{
	(void)hint;
	rq q;
	int rc = head(R(b), name, &q);
	if (rc < 0)
		return rc;
	rfile *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->rb = R(b);
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->etag, sizeof(f->etag), "%s", q.etag);
	f->size = q.clen;
	if (out_size)
		*out_size = q.clen;
	*out = f;
	return 0;
}

/*
 * The block of f at index, fetched once for every reader: a reader that
 * finds it loading waits.  Returned referenced; NULL and *rc on failure.
 */
static block *get_block(rfile *f, uint64_t index, int *rc)
{
	remote *rb = f->rb;
	pthread_mutex_lock(&rb->lock);
	for (;;) {
		block *found = NULL, *victim = NULL;
		for (size_t i = 0; i < BLOCKS && !found; i++) {
			block *k = &rb->blocks[i];
			if (k->state && k->index == index && strcmp(k->name, f->name) == 0 &&
			    strcmp(k->etag, f->etag) == 0)
				found = k;
			/* the victim: an empty block, else the least recently used idle one */
			else if (!k->refs && k->state != 1 &&
				 (!victim || (victim->state && (!k->state || k->used < victim->used))))
				victim = k;
		}
		if (found && found->state == 1) { /* someone fetches it: wait */
			pthread_cond_wait(&rb->cond, &rb->lock);
			continue;
		}
		if (found) {
			found->refs++;
			found->used = ++rb->clock;
			pthread_mutex_unlock(&rb->lock);
			return found;
		}
		if (!victim) { /* every block in use: wait for one */
			pthread_cond_wait(&rb->cond, &rb->lock);
			continue;
		}
		victim->state = 1;
		victim->refs = 1;
		victim->index = index;
		snprintf(victim->name, sizeof(victim->name), "%s", f->name);
		snprintf(victim->etag, sizeof(victim->etag), "%s", f->etag);
		pthread_mutex_unlock(&rb->lock);
		uint64_t off = index * BLOCK;
		size_t len = f->size - off < BLOCK ? (size_t)(f->size - off) : BLOCK;
		if (!victim->data)
			victim->data = malloc(BLOCK);
		*rc = victim->data ? read_range(rb, f->name, f->etag, off, victim->data, len) : -ENOMEM;
		pthread_mutex_lock(&rb->lock);
		victim->len = len;
		victim->state = *rc == 0 ? 2 : 0;
		victim->used = ++rb->clock;
		if (*rc < 0)
			victim->refs = 0;
		pthread_cond_broadcast(&rb->cond);
		pthread_mutex_unlock(&rb->lock);
		return *rc == 0 ? victim : NULL;
	}
}

static void put_block(remote *rb, block *k)
{
	pthread_mutex_lock(&rb->lock);
	k->refs--;
	pthread_cond_broadcast(&rb->cond);
	pthread_mutex_unlock(&rb->lock);
}

static int remote_file_read(void *p, uint64_t off, void *out, size_t n)
{
	rfile *f = p;
	if (off > f->size || n > f->size - off)
		return -ENODATA;
	if (n == 0)
		return 0;
	if (n >= DIRECT_MIN)
		return read_range(f->rb, f->name, f->etag, off, out, n);
	uint8_t *o = out;
	for (uint64_t at = off, end = off + n; at < end;) {
		int rc = 0;
		block *k = get_block(f, at / BLOCK, &rc);
		if (!k)
			return rc;
		size_t in = (size_t)(at % BLOCK);
		size_t take = (size_t)(end - at) < k->len - in ? (size_t)(end - at) : k->len - in;
		memcpy(o, k->data + in, take);
		put_block(f->rb, k);
		o += take;
		at += take;
	}
	return 0;
}

static void remote_file_close(void *p)
{
	free(p);
}

/* ---------- listing ---------- */

/* The names and sizes of a listing, kept until it is known to be complete. */
typedef struct {
	buf names;  /* NUL-terminated names */
	uint64_t *sizes;
	size_t n, cap;
	int ended;
	char bad[200];
} listing;

static int parse_listing(listing *l, const buf *body, const char *dir)
{
	size_t dl = strlen(dir);
	const char *p = (const char *)body->data, *end = p + body->len;
	while (p < end && !l->ended) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return snprintf(l->bad, sizeof(l->bad), "a line without its end"), -EIO;
		if (nl - p > LIST_LINE_MAX)
			return snprintf(l->bad, sizeof(l->bad), "a line too long"), -EIO;
		json_error_t je;
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, &je);
		p = nl + 1;
		if (!j || !json_is_object(j)) {
			json_decref(j);
			return snprintf(l->bad, sizeof(l->bad), "a line that is not JSON"), -EIO;
		}
		const char *name = json_string_value(json_object_get(j, "name"));
		json_t *size = json_object_get(j, "size");
		const char *msg = json_string_value(json_object_get(j, "message"));
		int rc = 0;
		if (json_is_true(json_object_get(j, "end"))) {
			l->ended = 1;
		} else if (msg) {
			snprintf(l->bad, sizeof(l->bad), "%s", msg);
			rc = -EIO;
		} else if (!name || !json_is_integer(size) || json_integer_value(size) < 0 ||
			   strncmp(name, dir, dl) != 0 || name[dl] != '/' || !backend_name_is_valid(name)) {
			snprintf(l->bad, sizeof(l->bad), "an entry that is not a file of '%s'", dir);
			rc = -EIO;
		} else {
			rc = array_reserve(&l->sizes, &l->cap, l->n + 1, sizeof(*l->sizes));
			rc = rc ?: buf_append(&l->names, name, strlen(name) + 1);
			if (rc == 0)
				l->sizes[l->n++] = (uint64_t)json_integer_value(size);
		}
		json_decref(j);
		if (rc < 0)
			return rc;
	}
	if (!l->ended)
		return snprintf(l->bad, sizeof(l->bad), "the listing was cut short"), -EIO;
	return 0;
}

static int remote_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	char path[BACKEND_NAME_MAX + 2];
	snprintf(path, sizeof(path), "%s/", dir);
	buf body = BUF_INIT;
	rq q = { .method = "GET", .name = path, .sink = SINK_BUF, .b = &body, .b_max = BUF_CAP };
	int rc = perform(R(b), &q, "list", dir);
	rq_release(&q);
	listing l;
	memset(&l, 0, sizeof(l));
	if (rc == 0 && (rc = parse_listing(&l, &body, dir)) < 0 && rc != -ENOMEM)
		rc = err_set(rc, "cannot list '%s/%s': %s", b->location, dir, l.bad);
	buf_release(&body);
	/* the callbacks run only now, outside any request: they may call the backend */
	const char *name = (const char *)l.names.data;
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		backend_entry e = { name, l.sizes[i], 0 }; /* protocol 1 lists no times: 0, unknown */
		rc = fn(ud, &e);
		name += strlen(name) + 1;
	}
	buf_release(&l.names);
	free(l.sizes);
	return rc;
}

static int remote_remove(backend *b, const char *name)
{
	rq q = { .method = "DELETE", .name = name };
	int rc = perform(R(b), &q, "remove", name);
	rq_release(&q);
	return rc;
}

static void remote_free(backend *b)
{
	remote *rb = R(b);
	for (size_t i = 0; i < rb->nidle; i++)
		handle_free(rb->idle[i]); /* closes the connections: ssh sees its stdin end */
	if (rb->share)
		curl_share_cleanup(rb->share);
	/* each ssh exits once its stdin ends; one that does not is stopped */
	for (size_t i = 0; i < rb->nkids; i++) {
		close(rb->kids[i].fd);
		if (rb->kids[i].lfd >= 0)
			close(rb->kids[i].lfd);
		bury(rb, &rb->kids[i]);
	}
	for (int tries = 0; rb->nzombies && tries < 200; tries++) {
		reap(rb);
		if (rb->nzombies) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	for (size_t i = 0; i < rb->nzombies; i++) {
		kill(rb->zombies[i].pid, SIGTERM);
		waitpid(rb->zombies[i].pid, NULL, 0);
		if (rb->zombies[i].efd >= 0)
			close(rb->zombies[i].efd);
	}
	for (size_t i = 0; i < BLOCKS; i++)
		free(rb->blocks[i].data);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&rb->share_lock[i]);
	pthread_mutex_destroy(&rb->lock);
	pthread_cond_destroy(&rb->cond);
	if (rb->auth)
		explicit_bzero(rb->auth, strlen(rb->auth));
	free(rb->auth);
	free(rb->pin);
	free(rb->base_url);
	for (size_t i = 0; i < rb->ssh_argc; i++)
		free(rb->ssh_argv[i]);
	free(rb->ssh_argv);
	free(b->location);
	free(rb);
}

static const struct backend_ops remote_ops = {
	.version = BACKEND_OPS_VERSION,
	.put = remote_put,
	.get = remote_get,
	.get_range = remote_get_range,
	.open_read = remote_open_read,
	.file_read = remote_file_read,
	.file_close = remote_file_close,
	.get_mapped = NULL, /* copied through a handle; the cache maps its copies */
	.stat = remote_stat,
	.list = remote_list,
	.remove = remote_remove,
	.requests = remote_requests,
	.mkdir = NULL, /* the server makes directories as files need them */
	.free = remote_free,
};

/* ---------- opening ---------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* {prefix}FINGERPRINT "SHA256:<64 hex>" (colons allowed) or curl's "sha256//BASE64" into a pin. */
static int parse_pin(const char *prefix, const char *fp, char **out)
{
	if (strncmp(fp, "sha256//", 8) == 0)
		return (*out = strdup(fp)) ? 0 : -ENOMEM;
	const char *h = fp;
	if (strncasecmp(h, "SHA256:", 7) == 0)
		h += 7;
	uint8_t d[32];
	size_t n = 0;
	for (const char *p = h; *p; p++) {
		if (*p == ':')
			continue;
		int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
			: *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
		if (v < 0 || n >= 64)
			return err_set(-DV_EUSAGE, "%sFINGERPRINT '%s' is not SHA256: and 64 hex digits", prefix, fp);
		d[n / 2] = (uint8_t)(n % 2 ? d[n / 2] | v : v << 4);
		n++;
	}
	if (n != 64)
		return err_set(-DV_EUSAGE, "%sFINGERPRINT '%s' is not SHA256: and 64 hex digits", prefix, fp);
	char b64[64];
	EVP_EncodeBlock((unsigned char *)b64, d, 32);
	size_t need = 8 + strlen(b64) + 1;
	if (!(*out = malloc(need)))
		return -ENOMEM;
	snprintf(*out, need, "sha256//%s", b64);
	return 0;
}

/*
 * The variables a server's credentials come from: DVALIN_TOKEN,
 * DVALIN_TOKEN_FILE, DVALIN_FINGERPRINT; for the source of a copy
 * (BACKEND_OPEN_SOURCE) DVALIN_FROM_* instead when any of those three is
 * set, so that a sync between two servers sends each only its own token.
 * All or none: a source without its own variables is reached as before.
 */
static const char *cred_prefix(unsigned flags)
{
	static const char *const from[] = { "DVALIN_FROM_TOKEN", "DVALIN_FROM_TOKEN_FILE",
					    "DVALIN_FROM_FINGERPRINT" };
	for (size_t i = 0; (flags & BACKEND_OPEN_SOURCE) && i < ARRAY_SIZE(from); i++)
		if (getenv(from[i]))
			return "DVALIN_FROM_";
	return "DVALIN_";
}

static const char *cred_env(const char *prefix, const char *name)
{
	char var[64];
	snprintf(var, sizeof(var), "%s%s", prefix, name);
	return getenv(var);
}

/* The token from {prefix}TOKEN, else the first line of {prefix}TOKEN_FILE; NULL if neither. */
static int read_token(const char *prefix, char **out)
{
	const char *t = cred_env(prefix, "TOKEN"), *file = cred_env(prefix, "TOKEN_FILE");
	*out = NULL;
	buf b = BUF_INIT;
	if ((!t || !*t) && file && *file) {
		int rc = fsio_read_file(AT_FDCWD, file, &b, 4096);
		if (rc < 0)
			return err_sys(rc, "cannot read %sTOKEN_FILE '%s'", prefix, file);
		size_t n = 0;
		while (n < b.len && b.data[n] != '\n' && b.data[n] != '\r')
			n++;
		if (buf_put_u8(&b, 0) < 0) {
			buf_release(&b);
			return -ENOMEM;
		}
		b.data[n] = 0;
		t = (const char *)b.data;
	}
	int rc = 0;
	if (t && *t) {
		for (const char *p = t; *p; p++)
			if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
				rc = err_set(-DV_EUSAGE, "the token holds a space or control character");
		size_t need = strlen(t) + 32;
		if (rc == 0 && !(*out = malloc(need)))
			rc = -ENOMEM;
		if (rc == 0)
			snprintf(*out, need, "Authorization: Bearer %s", t);
	}
	if (b.data)
		explicit_bzero(b.data, b.len);
	buf_release(&b);
	return rc;
}

static remote *remote_new(const char *location)
{
	remote *rb = calloc(1, sizeof(*rb));
	if (!rb)
		return NULL;
	if (backend_init(&rb->base, &remote_ops, BACKEND_REMOTE | BACKEND_ATOMIC_REPLACE, location) < 0) {
		free(rb);
		return NULL;
	}
	rb->cred = "DVALIN_";
	pthread_mutex_init(&rb->lock, NULL);
	pthread_cond_init(&rb->cond, NULL);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&rb->share_lock[i], NULL);
	rb->retry_s = env_seconds("DVALIN_RETRY_SECONDS", RETRY_DEFAULT_S);
	rb->stall_s = env_seconds("DVALIN_STALL_SECONDS", STALL_DEFAULT_S);
	if (rb->stall_s < 1)
		rb->stall_s = 1;
	rb->max_handles = POOL_HTTPS;
	rb->ssh_status = -1;
	pthread_once(&curl_once, curl_init);
	rb->share = curl_share_init();
	if (rb->share) {
		curl_share_setopt(rb->share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(rb->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(rb->share, CURLSHOPT_USERDATA, rb);
		curl_share_setopt(rb->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(rb->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	}
	return rb;
}

/* The first request: the server is a dvalin server of our protocol, the token valid, the repository there. */
static int hello(remote *rb)
{
	buf body = BUF_INIT;
	rq q = { .method = "GET", .name = "", .sink = SINK_BUF, .b = &body, .b_max = 65536 };
	int rc = perform(rb, &q, "open", "");
	rq_release(&q);
	if (rc == 0) {
		json_error_t je;
		json_t *j = json_loadb((const char *)body.data, body.len, 0, &je);
		const char *rights = j ? json_string_value(json_object_get(j, "rights")) : NULL;
		if (!j || json_integer_value(json_object_get(j, "protocol")) != PROTOCOL)
			rc = err_set(-EPROTO, "repository '%s': the server's answer is not dvalin protocol %d",
				     rb->base.location, PROTOCOL);
		else
			snprintf(rb->rights, sizeof(rb->rights), "%s", rights ? rights : "");
		json_decref(j);
	}
	buf_release(&body);
	return rc;
}

/* The end of every open: rc so far, then the first request; rb is freed on failure. */
static int finish_open(remote *rb, int rc, backend **out)
{
	if (rc == 0 && !rb->share)
		rc = -ENOMEM;
	rc = rc ?: hello(rb);
	if (rc < 0) {
		remote_free(&rb->base);
		return rc;
	}
	*out = &rb->base;
	return 0;
}

/* "HOST[:PORT]/REPO" after "//" */
static int open_web(backend **out, const char *rest, unsigned flags, const char *scheme)
{
	const char *prefix = cred_prefix(flags);
	if (strncmp(rest, "//", 2) != 0)
		return err_set(-DV_EUSAGE, "repository URL '%s:%s': want %s://HOST[:PORT]/REPO", scheme, rest, scheme);
	const char *host = rest + 2, *slash = strchr(host, '/');
	if (!slash || slash == host || strchr(host, '@') || strchr(host, '?') || strchr(host, '#'))
		return err_set(-DV_EUSAGE, "repository URL '%s:%s': want %s://HOST[:PORT]/REPO (no user, query or fragment)",
			       scheme, rest, scheme);
	const char *repo = slash + 1;
	size_t rl = strlen(repo);
	while (rl && repo[rl - 1] == '/')
		rl--;
	int ok = rl > 0 && rl <= 64 && repo[0] != '.' && repo[0] != '-';
	for (size_t i = 0; ok && i < rl; i++)
		ok = (repo[i] >= 'a' && repo[i] <= 'z') || (repo[i] >= 'A' && repo[i] <= 'Z') ||
		     (repo[i] >= '0' && repo[i] <= '9') || repo[i] == '_' || repo[i] == '.' || repo[i] == '-';
	if (!ok)
		return err_set(-DV_EUSAGE, "repository URL '%s:%s': '%.*s' is not a repository name", scheme, rest,
			       (int)rl, repo);
	char loc[600];
	snprintf(loc, sizeof(loc), "%s://%.*s/%.*s", scheme, (int)(slash - host), host, (int)rl, repo);
	remote *rb = remote_new(loc);
	if (!rb)
		return -ENOMEM;
	size_t ul = strlen(loc) + 2;
	int rc = (rb->base_url = malloc(ul)) ? 0 : -ENOMEM;
	if (rc == 0)
		snprintf(rb->base_url, ul, "%s/", loc);
	rb->cred = prefix;
	rc = rc ?: read_token(prefix, &rb->auth);
	const char *fp = cred_env(prefix, "FINGERPRINT");
	if (rc == 0 && fp && *fp && strcmp(scheme, "https") == 0)
		rc = parse_pin(prefix, fp, &rb->pin);
	return finish_open(rb, rc, out);
}

int remote_backend_open_https(backend **out, const char *rest, unsigned flags)
{
	return open_web(out, rest, flags, "https");
}

int remote_backend_open_http(backend **out, const char *rest, unsigned flags)
{
	return open_web(out, rest, flags, "http");
}

/* Appends a copy of s to the argument vector. */
static int add_arg(remote *rb, const char *s, size_t n)
{
	char **v = realloc(rb->ssh_argv, (rb->ssh_argc + 2) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	rb->ssh_argv = v;
	if (!(v[rb->ssh_argc] = strndup(s, n)))
		return -ENOMEM;
	v[++rb->ssh_argc] = NULL;
	return 0;
}

/* PATH quoted for the remote shell: '...' with ' as '\''; a leading ~/ stays unquoted. */
static int quote_path(char *out, size_t cap, const char *path)
{
	size_t at = 0;
	if (strncmp(path, "~/", 2) == 0) {
		memcpy(out, "~/", 2);
		at = 2;
		path += 2;
	}
	out[at++] = '\'';
	for (const char *p = path; *p; p++) {
		const char *piece = *p == '\'' ? "'\\''" : NULL;
		size_t n = piece ? 4 : 1;
		if (at + n + 2 > cap)
			return -ENAMETOOLONG;
		memcpy(out + at, piece ? piece : p, n);
		at += n;
	}
	out[at++] = '\'';
	out[at] = 0;
	return 0;
}

int remote_backend_open_ssh(backend **out, const char *rest, unsigned flags)
{
	if (strncmp(rest, "//", 2) != 0)
		return err_set(-DV_EUSAGE, "repository URL 'ssh:%s': want ssh://[USER@]HOST[:PORT]/PATH", rest);
	const char *auth = rest + 2, *slash = strchr(auth, '/');
	if (!slash || slash == auth || !slash[1])
		return err_set(-DV_EUSAGE, "repository URL 'ssh:%s': want ssh://[USER@]HOST[:PORT]/PATH", rest);
	char hostpart[300], port[16] = "";
	size_t hl = (size_t)(slash - auth);
	if (hl >= sizeof(hostpart))
		return err_set(-DV_EUSAGE, "repository URL 'ssh:%s': host too long", rest);
	memcpy(hostpart, auth, hl);
	hostpart[hl] = 0;
	char *colon = strrchr(hostpart, ':');
	if (colon && !strchr(colon, ']')) {
		snprintf(port, sizeof(port), "%s", colon + 1);
		*colon = 0;
		if (!port[0] || strspn(port, "0123456789") != strlen(port))
			return err_set(-DV_EUSAGE, "repository URL 'ssh:%s': bad port", rest);
	}
	if (hostpart[0] == '-' || strpbrk(hostpart, " \t'\"\\;&|`$"))
		return err_set(-DV_EUSAGE, "repository URL 'ssh:%s': bad host", rest);
	/* "/srv/r" is that path; "/~/r" is r in the home directory */
	const char *path = slash;
	if (strncmp(path, "/~/", 3) == 0)
		path++;
	char quoted[1024], cmd[1200];
	if (quote_path(quoted, sizeof(quoted), path) < 0)
		return err_set(-DV_EUSAGE, "repository URL 'ssh:%s': path too long", rest);
	snprintf(cmd, sizeof(cmd), "dvalin serve --stdio%s %s", (flags & BACKEND_OPEN_CREATE) ? " --create" : "",
		 quoted);
	char loc[600];
	snprintf(loc, sizeof(loc), "ssh:%.550s", rest);
	remote *rb = remote_new(loc);
	if (!rb)
		return -ENOMEM;
	rb->ssh = 1;
	rb->max_handles = POOL_SSH;
	int rc = (rb->base_url = strdup("http://127.0.0.1/-/")) ? 0 : -ENOMEM;
	/* DVALIN_SSH_COMMAND, split on spaces, stands for "ssh" */
	const char *sc = getenv("DVALIN_SSH_COMMAND");
	if (!sc || !*sc)
		sc = "ssh";
	for (const char *p = sc; rc == 0 && *p;) {
		size_t n = strcspn(p, " \t");
		if (n)
			rc = add_arg(rb, p, n);
		p += n;
		p += strspn(p, " \t");
	}
	if (rc == 0 && port[0]) {
		rc = add_arg(rb, "-p", 2);
		rc = rc ?: add_arg(rb, port, strlen(port));
	}
	rc = rc ?: add_arg(rb, "--", 2);
	rc = rc ?: add_arg(rb, hostpart, strlen(hostpart));
	rc = rc ?: add_arg(rb, cmd, strlen(cmd));
	return finish_open(rb, rc, out);
}
