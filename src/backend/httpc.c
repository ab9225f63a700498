/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * httpc: one curl easy handle per request in flight, taken from a pool
 * and put back afterwards (curl_easy_reset keeps its connection), and a
 * curl share of DNS results and TLS sessions between them, so a new
 * handle resumes a TLS session instead of a full handshake.  Each
 * attempt of a request is a fresh response: headers of an interim
 * "100 Continue" and of failed attempts are dropped.
 */
#include "httpc.h"
#include "retry.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX 32

struct httpc {
	char *location;
	char *sigv4;
	char *userpwd;
	int loopback;
	pthread_mutex_t lock; /* guards the pool */
	CURL *pool[POOL_MAX];
	size_t npool;
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	_Atomic uint64_t counts[BACKEND_REQ_KINDS];
	_Atomic uint64_t sent, received; /* body bytes */
	_Atomic uint64_t seed;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *ud)
{
	httpc *h = ud;
	(void)c;
	(void)access;
	pthread_mutex_lock(&h->share_lock[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *ud)
{
	httpc *h = ud;
	(void)c;
	pthread_mutex_unlock(&h->share_lock[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

int httpc_new(httpc **out, const httpc_opts *o)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return err_set(-EIO, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
	httpc *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_lock[i], NULL);
	h->loopback = o->loopback;
	h->location = strdup(o->location);
	h->sigv4 = o->aws_sigv4 ? strdup(o->aws_sigv4) : NULL;
	h->userpwd = o->userpwd ? strdup(o->userpwd) : NULL;
	h->share = curl_share_init();
	h->seed = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)h << 16);
	if (!h->location || (o->aws_sigv4 && !h->sigv4) || (o->userpwd && !h->userpwd) || !h->share) {
		httpc_free(h);
		return -ENOMEM;
	}
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = h;
	return 0;
}

void httpc_free(httpc *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->npool; i++)
		curl_easy_cleanup(h->pool[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	if (h->userpwd)
		explicit_bzero(h->userpwd, strlen(h->userpwd));
	free(h->userpwd);
	free(h->sigv4);
	free(h->location);
	pthread_mutex_destroy(&h->lock);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_lock[i]);
	free(h);
}

static CURL *acquire(httpc *h)
{
	CURL *c = NULL;
	pthread_mutex_lock(&h->lock);
	if (h->npool)
		c = h->pool[--h->npool];
	pthread_mutex_unlock(&h->lock);
	if (c)
		curl_easy_reset(c);
	else
		c = curl_easy_init();
	return c;
}

static void release(httpc *h, CURL *c)
{
	pthread_mutex_lock(&h->lock);
	if (h->npool < POOL_MAX) {
		h->pool[h->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	if (c)
		curl_easy_cleanup(c);
}

void httpc_counts(httpc *h, backend_requests *out)
{
	for (size_t i = 0; i < BACKEND_REQ_KINDS; i++)
		out->n[i] = h->counts[i];
	out->bytes_sent = h->sent;
	out->bytes_received = h->received;
}

int httpc_status_is_transient(long status)
{
	return status == 408 || status == 429 || status == 500 || (status >= 502 && status <= 599);
}

void httpc_resp_release(httpc_resp *r)
{
	buf_release(&r->body);
	*r = (httpc_resp)HTTPC_RESP_INIT;
}

/* ---------- one attempt ---------- */

struct xfer {
	const httpc_req *req;
	httpc_resp *resp;
	size_t sent;     /* of the request body */
	int overflow;    /* the body was longer than allowed */
	int sink_rc;     /* what the sink failed with */
};

static size_t read_body(char *dst, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t want = size * nmemb, left = x->req->body_len - x->sent;
	size_t n = want < left ? want : left;
	memcpy(dst, (const uint8_t *)x->req->body + x->sent, n);
	x->sent += n;
	return n;
}

static int seek_body(void *ud, curl_off_t off, int origin)
{
	struct xfer *x = ud;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t write_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	httpc_resp *r = x->resp;
	size_t n = size * nmemb;
	int ok = r->status >= 200 && r->status < 300;
	if (ok && x->req->sink) {
		if ((x->sink_rc = x->req->sink(x->req->sink_ud, r->dst_got, p, n)) != 0)
			return 0;
		r->dst_got += n;
		return n;
	}
	if (ok && x->req->dst) {
		if (n > x->req->dst_len - r->dst_got) {
			x->overflow = 1;
			return 0;
		}
		memcpy((uint8_t *)x->req->dst + r->dst_got, p, n);
		r->dst_got += n;
		return n;
	}
	size_t cap = ok ? x->req->body_cap : HTTPC_ERROR_BODY_MAX;
	if (n > cap - r->body.len) {
		x->overflow = 1;
		return 0;
	}
	/* one allocation for a body of known size, not doublings */
	if (!r->body.len && r->has_length && r->content_length <= cap &&
	    buf_reserve(&r->body, (size_t)r->content_length) < 0)
		return 0;
	return buf_append(&r->body, p, n) == 0 ? n : 0;
}

/* Copies the value of a header line (after "Name:") without spaces and CR/LF. */
static void header_value(char *out, size_t size, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, v, n);
	out[n] = 0;
}

static int header_is(const char *line, size_t n, const char *name, const char **value, size_t *vn)
{
	size_t l = strlen(name);
	if (n <= l || line[l] != ':' || strncasecmp(line, name, l) != 0)
		return 0;
	*value = line + l + 1;
	*vn = n - l - 1;
	return 1;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	httpc_resp *r = x->resp;
	size_t n = size * nmemb;
	char v[256];
	const char *val;
	size_t vn;
	if (n > 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget the last one's headers */
		buf body = r->body;
		body.len = 0;
		*r = (httpc_resp)HTTPC_RESP_INIT;
		r->body = body;
		const char *sp = memchr(line, ' ', n);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->local_time = (int64_t)time(NULL);
		return n;
	}
	if (header_is(line, n, "content-length", &val, &vn)) {
		header_value(v, sizeof(v), val, vn);
		char *end;
		unsigned long long len = strtoull(v, &end, 10);
		r->has_length = *v && !*end;
		r->content_length = len;
	} else if (header_is(line, n, "content-range", &val, &vn)) {
		header_value(v, sizeof(v), val, vn);
		const char *slash = strchr(v, '/');
		if (strncasecmp(v, "bytes ", 6) == 0 && slash && slash[1] >= '0' && slash[1] <= '9') {
			char *end;
			unsigned long long t = strtoull(slash + 1, &end, 10);
			r->has_total = !*end;
			r->range_total = t;
		}
	} else if (header_is(line, n, "etag", &val, &vn)) {
		header_value(r->etag, sizeof(r->etag), val, vn);
	} else if (header_is(line, n, "last-modified", &val, &vn)) {
		header_value(v, sizeof(v), val, vn);
		time_t t = curl_getdate(v, NULL);
		r->last_modified = t < 0 ? -1 : (int64_t)t;
	} else if (header_is(line, n, "date", &val, &vn)) {
		header_value(v, sizeof(v), val, vn);
		time_t t = curl_getdate(v, NULL);
		r->date = t < 0 ? -1 : (int64_t)t;
	} else if (header_is(line, n, "x-amz-bucket-region", &val, &vn)) {
		header_value(r->region, sizeof(r->region), val, vn);
	} else if (header_is(line, n, "retry-after", &val, &vn)) {
		header_value(v, sizeof(v), val, vn);
		char *end;
		long s = strtol(v, &end, 10);
		if (*v && !*end && s > 0 && s < 3600)
			r->retry_after_ns = (int64_t)s * 1000000000;
	}
	return n;
}

static int setup(httpc *h, CURL *c, const httpc_req *req, struct xfer *x, struct curl_slist *hdr)
{
	CURLcode e = CURLE_OK;
#define SET(opt, val) \
	do { \
		if (e == CURLE_OK) \
			e = curl_easy_setopt(c, opt, val); \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, "dvalin");
	SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* a transfer slower than 1 byte/s for a minute has stalled */
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, 60L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_SHARE, h->share);
	if (h->loopback)
		SET(CURLOPT_NOPROXY, "*");
	if (h->sigv4) {
		SET(CURLOPT_AWS_SIGV4, h->sigv4);
		SET(CURLOPT_USERPWD, h->userpwd);
	}
	SET(CURLOPT_HTTPHEADER, hdr);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, write_body);
	SET(CURLOPT_WRITEDATA, x);
	if (strcmp(req->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_READFUNCTION, read_body);
		SET(CURLOPT_READDATA, x);
		SET(CURLOPT_SEEKFUNCTION, seek_body);
		SET(CURLOPT_SEEKDATA, x);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		SET(CURLOPT_CUSTOMREQUEST, req->method);
	}
	char range[64];
	if (req->ranged) {
		snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)req->range_off,
			 (unsigned long long)(req->range_off + req->range_len - 1));
		SET(CURLOPT_RANGE, range); /* copied by curl */
	}
#undef SET
	return e == CURLE_OK ? 0 : err_set(-EIO, "%s: cannot %s: %s", h->location, req->what,
					   curl_easy_strerror(e));
}

/* Whether a transfer that got no response may succeed when tried again. */
static int curl_error_is_transient(CURLcode e)
{
	switch (e) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

int httpc_do(httpc *h, const httpc_req *req, httpc_resp *resp, httpc_transient_fn transient,
	     void *ud)
{
	httpc_resp_release(resp);
	struct curl_slist *hdr = NULL;
	for (const char *const *l = req->headers; l && *l; l++) {
		struct curl_slist *n = curl_slist_append(hdr, *l);
		if (!n) {
			curl_slist_free_all(hdr);
			return -ENOMEM;
		}
		hdr = n;
	}
	retry_policy pol = retry_policy_default();
	retry_state rs;
	retry_start(&rs, &pol, retry_now_ns(), atomic_fetch_add(&h->seed, 0x9E3779B97F4A7C15ULL));
	int rc;
	for (;;) {
		CURL *c = acquire(h);
		if (!c) {
			rc = -ENOMEM;
			break;
		}
		struct xfer x = { req, resp, 0, 0, 0 };
		resp->status = 0;
		resp->dst_got = 0;
		resp->body.len = 0;
		rc = setup(h, c, req, &x, hdr);
		CURLcode e = rc == 0 ? curl_easy_perform(c) : CURLE_OK;
		long sent = 0;
		curl_off_t up = 0, down = 0;
		curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
		curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
		curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
		h->sent += up > 0 ? (uint64_t)up : 0;
		h->received += down > 0 ? (uint64_t)down : 0;
		release(h, c);
		if (rc < 0)
			break;
		if (sent > 0 || resp->status)
			h->counts[req->kind]++;
		char why[160];
		if (e == CURLE_OK) {
			int t = transient ? transient(ud, resp) : httpc_status_is_transient(resp->status);
			if (!t)
				break; /* the answer */
			snprintf(why, sizeof(why), "HTTP %ld", resp->status);
		} else if (x.sink_rc) {
			rc = x.sink_rc < 0 ? x.sink_rc : -EIO;
			break;
		} else if (x.overflow) {
			rc = err_set(-EIO, "%s: cannot %s: the server sent more than was asked for",
				     h->location, req->what);
			break;
		} else if (!curl_error_is_transient(e)) {
			rc = err_set(-EIO, "%s: cannot %s: %s", h->location, req->what, curl_easy_strerror(e));
			break;
		} else {
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(e));
		}
		int64_t now = retry_now_ns();
		int64_t d = retry_next(&rs, now, e == CURLE_OK ? resp->retry_after_ns : 0);
		if (d < 0) {
			rc = err_set(-EAGAIN, "%s: cannot %s: %s (gave up after %u attempts in %.0f s)",
				     h->location, req->what, why, rs.attempts,
				     (double)(now - rs.start_ns) / 1e9);
			break;
		}
		if (interrupt_pending()) {
			rc = err_set(-EINTR, "interrupted");
			break;
		}
		/* an outage, not a blip: say why we wait */
		if (now - rs.start_ns + d > 2000000000)
			log_warn("%s: cannot %s: %s; trying again in %.1f s", h->location, req->what, why,
				 (double)d / 1e9);
		retry_sleep(d);
		if (interrupt_pending()) {
			rc = err_set(-EINTR, "interrupted");
			break;
		}
	}
	curl_slist_free_all(hdr);
	return rc;
}

int httpc_query_add(char *q, size_t size, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(q);
	int w = snprintf(q + n, size - n, "%s%s=", n ? "&" : "", name);
	if (w < 0 || (size_t)w >= size - n)
		return -ENAMETOOLONG;
	n += (size_t)w;
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		int plain = (*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
			    (*v >= '0' && *v <= '9') || *v == '-' || *v == '_' || *v == '.' || *v == '~';
		if (n + (plain ? 1 : 3) >= size)
			return -ENAMETOOLONG;
		if (plain) {
			q[n++] = (char)*v;
		} else {
			q[n++] = '%';
			q[n++] = hex[*v >> 4];
			q[n++] = hex[*v & 15];
		}
	}
	q[n] = 0;
	return 0;
}
