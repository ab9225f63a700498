/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * s3: one object per repository file, its key the name below the
 * URL's prefix (docs/s3.md).  The operations, in S3 requests:
 *
 *   put       PUT, or above the part size a multipart upload (initiate,
 *             PUT each part, complete; aborted on any failure).  Either
 *             way the object appears whole or not at all: no temporary
 *             name is needed.
 *   get       GET; get_range a GET with a Range (and a HEAD for an
 *             empty range, which must still say whether the file exists)
 *   open_read HEAD, for the size and the ETag; each read is then a
 *             ranged GET with If-Match: ETag, so a handle reads the
 *             version it opened or fails with -ESTALE, never a mix.
 *             BACKEND_WHOLE without a size: no HEAD, the first read
 *             GETs the whole object (its ETag from that answer)
 *   put_stat  PUT; the time from the Date of its answer
 *   copy_to_fd  one GET streamed into the file
 *   stat      HEAD (Last-Modified, whole seconds: see below)
 *   list      ListObjectsV2 pages of 1,000 keys with their sizes
 *   remove    HEAD (S3 deletes a missing key without complaint; the
 *             contract wants -ENOENT), then DELETE; remove_batch one
 *             DeleteObjects per 1,000 names
 *
 * Every request carries x-amz-content-sha256: the SHA-256 of the body
 * (of the empty string for requests without one), so the server checks
 * what it stored against what we signed, and a body damaged on the way
 * is refused (and sent again) instead of stored.  It costs one SHA-256
 * pass over the stored bytes, which are the compressed data: about 0.15
 * s of one core for the 260 MB of a first backup of the Linux sources.
 * RGW refuses curl's signature without this header (UNSIGNED-PAYLOAD
 * would do for it, but would give up that check).
 *
 * Modification times: S3 gives Last-Modified in whole seconds of the
 * server's clock.  stat reports the last nanosecond of that second, a
 * time never earlier than the real one: every use of a storage time in
 * the lease and prune rules (docs/concurrency.md) is "recent enough to
 * protect", so rounding up errs on the protective side.
 */
#include "s3.h"
#include "awscred.h"
#include "httpc.h"
#include "objcache.h"
#include "s3loc.h"
#include "s3xml.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/crypto.h"

#include <openssl/evp.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include "../base/fsio.h"
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 1024
#define URL_MAX (KEY_MAX + 2048 + 512)
#define LIST_PAGE_MAX ((size_t)16 << 20)
#define SMALL_BODY_MAX ((size_t)1 << 20)
#define MAX_PARTS 10000
/* copies of objects read piece by piece (objcache.h): disk, not heap */
#define CACHE_BUDGET ((uint64_t)256 << 20)
/* a read this large is a request of its own, never worth a whole copy */
#define DIRECT_READ_MIN ((size_t)1 << 20)

/* SHA-256 of the empty string: the payload hash of requests without a body */
static const char EMPTY_SHA256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

typedef struct {
	backend base;
	s3loc loc;
	httpc *http;
	char access_key[129];
	char key_source[320];
	char token_hdr[4200]; /* "x-amz-security-token: ..." or "" */
	char server[300];     /* scheme://host[:port], for messages */
	objcache *cache;
	/* 1 once an answer showed that the bucket exists and these keys may
	 * use it (docs/s3.md, "Objects and requests": no HEAD of the bucket
	 * at opening; the first failure that could mean a missing bucket or
	 * wrong keys looks at the bucket then) */
	atomic_int bucket_seen;
} s3_backend;

static s3_backend *S(backend *b)
{
	return (s3_backend *)b;
}

/* ---------- requests ---------- */

typedef struct {
	const char *method;
	int kind;           /* BACKEND_REQ_* */
	const char *key;    /* object key; NULL: the bucket */
	const char *query;  /* canonical (httpc_query_add), or NULL */
	const char *extra[4]; /* more header lines, NULL-terminated */
	const void *body;
	size_t body_len;
	int ranged;
	uint64_t off;
	size_t len;
	void *dst;
	size_t dst_len;
	int (*sink)(void *ud, uint64_t off, const void *p, size_t n);
	void *sink_ud;
	size_t body_cap;
	const char *what;   /* "read 'name'" */
} s3_call;

/* S3 codes that mean "send it again": a body that arrived damaged or too slowly. */
static int s3_transient(void *ud, const httpc_resp *r)
{
	(void)ud;
	if (httpc_status_is_transient(r->status))
		return 1;
	if (r->status != 400 || !r->body.len)
		return 0;
	s3xml_error e;
	if (s3xml_parse_error(&e, r->body.data, r->body.len) != 1)
		return 0;
	return strcmp(e.code, "RequestTimeout") == 0 || strcmp(e.code, "XAmzContentSHA256Mismatch") == 0 ||
	       strcmp(e.code, "BadDigest") == 0 || strcmp(e.code, "IncompleteBody") == 0;
}

static int s3_do(s3_backend *s, const s3_call *c, httpc_resp *resp)
{
	char url[URL_MAX];
	int r = s3loc_url(&s->loc, c->key, url, sizeof(url));
	if (r == 0 && c->query && *c->query) {
		size_t n = strlen(url);
		if (strlen(c->query) + 2 > sizeof(url) - n)
			r = -ENAMETOOLONG;
		else
			snprintf(url + n, sizeof(url) - n, "?%s", c->query);
	}
	if (r < 0)
		return err_set(r, "%s: cannot %s: URL too long", s->base.location, c->what);
	char sha[32 + 64 + 1], hash_hdr[128];
	if (c->body_len) {
		uint8_t d[32];
		crypto_sha256(d, c->body, c->body_len);
		hex_encode(sha, d, 32);
	} else {
		memcpy(sha, EMPTY_SHA256, sizeof(EMPTY_SHA256));
	}
	snprintf(hash_hdr, sizeof(hash_hdr), "x-amz-content-sha256: %s", sha);
	const char *hdrs[8];
	size_t nh = 0;
	hdrs[nh++] = hash_hdr;
	if (s->token_hdr[0])
		hdrs[nh++] = s->token_hdr;
	for (size_t i = 0; i < 4 && c->extra[i]; i++)
		hdrs[nh++] = c->extra[i];
	hdrs[nh] = NULL;
	httpc_req req = { c->method, c->kind, url, hdrs, c->body, c->body_len, c->ranged, c->off, c->len,
			  c->dst, c->dst_len, c->sink, c->sink_ud, c->body_cap, c->what };
	int rc = httpc_do(s->http, &req, resp, s3_transient, s);
	if (rc == 0 && resp->status >= 200 && resp->status < 300)
		atomic_store(&s->bucket_seen, 1);
	return rc;
}

static int check_bucket(s3_backend *s, int create);

/* The message of a missing bucket, the same whichever request found it. */
static int no_bucket(s3_backend *s)
{
	return err_set(-DV_ENOTFOUND, "bucket '%s' does not exist on %s (init creates it)", s->loc.bucket,
		       s->server);
}

/* The error an answer means, with its message (s3_fail, which see). */
static int fail_msg(s3_backend *s, const httpc_resp *r, const s3xml_error *e, const char *op,
		    const char *name)
{
	const char *loc = s->base.location, *code = e->code;
	char subject[1400];
	if (name)
		snprintf(subject, sizeof(subject), "'%s/%s'", loc, name);
	else
		snprintf(subject, sizeof(subject), "'%s'", loc);
	char detail[340] = "";
	if (e->message[0])
		snprintf(detail, sizeof(detail), ": %s", e->message);
	long st = r->status;
	/* not -ENOENT: that would say the file is missing, not the bucket */
	if (strcmp(code, "NoSuchBucket") == 0)
		return no_bucket(s);
	if ((st == 301 || st == 400) && r->region[0] && strcmp(r->region, s->loc.region) != 0)
		return err_set(-EINVAL, "bucket '%s' is in region '%s', not '%s': set AWS_REGION=%s or add ?region=%s to the URL",
			       s->loc.bucket, r->region, s->loc.region, r->region, r->region);
	if (st == 404)
		return err_set(-ENOENT, "cannot %s %s: no such file", op, subject);
	if (strcmp(code, "InvalidAccessKeyId") == 0)
		return err_set(-EACCES, "cannot %s %s: the server does not know access key '%s' (from %s)",
			       op, subject, s->access_key, s->key_source);
	if (strcmp(code, "SignatureDoesNotMatch") == 0)
		return err_set(-EACCES, "cannot %s %s: the server refused the signature: is the secret key of access key '%s' (from %s) right?",
			       op, subject, s->access_key, s->key_source);
	if (strcmp(code, "RequestTimeTooSkewed") == 0) {
		if (r->date > 0)
			return err_set(-EACCES, "cannot %s %s: this host's clock is %+lld s off the server's (S3 allows 15 minutes): set the clock (NTP)",
				       op, subject, (long long)(r->local_time - r->date));
		return err_set(-EACCES, "cannot %s %s: this host's clock and the server's differ by more than 15 minutes: set the clock (NTP)",
			       op, subject);
	}
	if (strcmp(code, "QuotaExceeded") == 0)
		return err_set(-EDQUOT, "cannot %s %s: quota exceeded%s", op, subject, detail);
	if (strcmp(code, "EntityTooLarge") == 0)
		return err_set(-EFBIG, "cannot %s %s: too large for the server%s", op, subject, detail);
	if (st == 403)
		return err_set(-EACCES, "cannot %s %s: access denied to access key '%s' (from %s)%s", op,
			       subject, s->access_key, s->key_source, detail);
	if (st == 412)
		return err_set(-ESTALE, "cannot %s %s: it was replaced while being read", op, subject);
	if (st == 416)
		return err_set(-ENODATA, "cannot %s %s: read past the end", op, subject);
	if (st == 0)
		return err_set(-EIO, "cannot %s %s: no HTTP response", op, subject);
	return err_set(-EIO, "cannot %s %s: HTTP %ld%s%s%s", op, subject, st, code[0] ? " " : "", code,
		       detail);
}

/*
 * The error a non-success response means, with its message.  op and
 * name say what failed ("read", "config"); name may be NULL (the bucket).
 * An answer without an S3 error code (a HEAD has no body) that could mean
 * a missing bucket, wrong keys or another region, before any answer
 * showed the bucket usable, is explained by looking at the bucket: the
 * opening costs no request of its own, and a mistake is still said
 * plainly.
 */
static int s3_fail(s3_backend *s, const httpc_resp *r, const char *op, const char *name)
{
	s3xml_error e;
	memset(&e, 0, sizeof(e));
	if (r->body.len && s3xml_parse_error(&e, r->body.data, r->body.len) != 1)
		memset(&e, 0, sizeof(e));
	long st = r->status;
	if (!e.code[0] && (st == 301 || st == 400 || st == 403 || st == 404) &&
	    !atomic_load(&s->bucket_seen) && !r->region[0]) {
		int rc = check_bucket(s, 0);
		if (rc < 0)
			return rc;
	}
	return fail_msg(s, r, &e, op, name);
}

/* A time as stat gives it: the end of its second (see the top of this file). */
static int64_t storage_time(int64_t ns)
{
	return ns > 0 ? ns / 1000000000 * 1000000000 + 999999999 : 0;
}

/* storage_time of a whole second (a Date or Last-Modified header), which a
 * server may send from any century: saturated, never overflowing. */
static int64_t storage_second(int64_t sec)
{
	if (sec >= INT64_MAX / 1000000000)
		return INT64_MAX;
	return storage_time(sec > 0 ? sec * 1000000000 : 0);
}

static int ok_status(long st)
{
	return st >= 200 && st < 300;
}

static int key_of(s3_backend *s, const char *name, char out[KEY_MAX + 1])
{
	int r = s3loc_key(&s->loc, name, out, KEY_MAX + 1);
	return r < 0 ? err_set(r, "name '%s' too long for '%s'", name, s->base.location) : 0;
}

/* ---------- put ---------- */

/* One PUT; *date (when not NULL) the server's clock in its answer, -1 if it sent none. */
static int put_single(s3_backend *s, const char *key, const char *name, const void *p, size_t n,
		      int64_t *date)
{
	char what[300];
	snprintf(what, sizeof(what), "write '%s'", name);
	s3_call c = { .method = "PUT", .kind = BACKEND_REQ_PUT, .key = key, .body = p,
		      .body_len = n, .what = what };
	httpc_resp r = HTTPC_RESP_INIT;
	int rc = s3_do(s, &c, &r);
	if (rc == 0 && !ok_status(r.status))
		rc = s3_fail(s, &r, "write", name);
	if (date)
		*date = r.date;
	httpc_resp_release(&r);
	return rc;
}

/* An ETag as S3 sends it: quoted hex (and '-' for multipart): safe in XML as it is. */
static int etag_is_plain(const char *t)
{
	if (!*t)
		return 0;
	for (; *t; t++)
		if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
		      *t == '"' || *t == '-'))
			return 0;
	return 1;
}

static void abort_upload(s3_backend *s, const char *key, const char *name, const char *upload_id)
{
	char q[600] = "", what[300];
	snprintf(what, sizeof(what), "abort the upload of '%s'", name);
	if (httpc_query_add(q, sizeof(q), "uploadId", upload_id) < 0)
		return;
	s3_call c = { .method = "DELETE", .kind = BACKEND_REQ_DELETE, .key = key, .query = q,
		      .what = what };
	httpc_resp r = HTTPC_RESP_INIT;
	/* best effort: an upload left behind is invisible (docs/s3.md) */
	s3_do(s, &c, &r);
	httpc_resp_release(&r);
}

static int put_multipart(s3_backend *s, const char *key, const char *name, const uint8_t *p,
			 size_t n)
{
	uint64_t part = s->loc.part_size;
	if (n / part >= MAX_PARTS)
		part = n / (MAX_PARTS - 1); /* S3 allows 10,000 parts */
	size_t nparts = (size_t)((n + part - 1) / part);
	char what[300], upload_id[512];
	snprintf(what, sizeof(what), "start uploading '%s'", name);
	httpc_resp r = HTTPC_RESP_INIT;
	s3_call c = { .method = "POST", .kind = BACKEND_REQ_POST, .key = key, .query = "uploads=",
		      .body_cap = SMALL_BODY_MAX, .what = what };
	int rc = s3_do(s, &c, &r);
	if (rc == 0 && !ok_status(r.status))
		rc = s3_fail(s, &r, "write", name);
	if (rc == 0 && s3xml_parse_upload_id(upload_id, sizeof(upload_id), r.body.data, r.body.len) < 0)
		rc = err_set(-EIO, "cannot write '%s/%s': no upload id in the server's answer",
			     s->base.location, name);
	if (rc < 0) {
		httpc_resp_release(&r);
		return rc;
	}
	buf done = BUF_INIT;
	rc = buf_append(&done, "<CompleteMultipartUpload>", 25);
	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		char q[700] = "", num[24];
		snprintf(num, sizeof(num), "%zu", i + 1);
		rc = httpc_query_add(q, sizeof(q), "partNumber", num);
		rc = rc ?: httpc_query_add(q, sizeof(q), "uploadId", upload_id);
		if (rc < 0) {
			rc = err_set(rc, "cannot write '%s/%s': upload id too long", s->base.location, name);
			break;
		}
		uint64_t off = (uint64_t)i * part;
		size_t len = (size_t)(n - off < part ? n - off : part);
		snprintf(what, sizeof(what), "write part %zu of '%s'", i + 1, name);
		s3_call pc = { .method = "PUT", .kind = BACKEND_REQ_PUT, .key = key, .query = q,
			       .body = p + off, .body_len = len, .what = what };
		rc = s3_do(s, &pc, &r);
		if (rc == 0 && !ok_status(r.status))
			rc = s3_fail(s, &r, "write", name);
		if (rc == 0 && !etag_is_plain(r.etag))
			rc = err_set(-EIO, "cannot write '%s/%s': part %zu got no usable ETag",
				     s->base.location, name, i + 1);
		if (rc == 0) {
			char x[300];
			int xn = snprintf(x, sizeof(x), "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
					  i + 1, r.etag);
			rc = buf_append(&done, x, (size_t)xn);
		}
	}
	rc = rc ?: buf_append(&done, "</CompleteMultipartUpload>", 26);
	if (rc == 0) {
		char q[600] = "";
		httpc_query_add(q, sizeof(q), "uploadId", upload_id);
		snprintf(what, sizeof(what), "complete the upload of '%s'", name);
		s3_call cc = { .method = "POST", .kind = BACKEND_REQ_POST, .key = key, .query = q,
			       .extra = { "Content-Type: application/xml" }, .body = done.data,
			       .body_len = done.len, .body_cap = SMALL_BODY_MAX, .what = what };
		rc = s3_do(s, &cc, &r);
		if (rc == 0 && !ok_status(r.status))
			rc = s3_fail(s, &r, "write", name);
		s3xml_error e;
		/* a 200 that is an <Error> all the same */
		int cr = rc == 0 ? s3xml_parse_complete(&e, r.body.data, r.body.len) : 0;
		if (cr == 1)
			rc = err_set(-EIO, "cannot write '%s/%s': completing the upload failed: %s %s",
				     s->base.location, name, e.code, e.message);
		else if (cr < 0)
			rc = err_set(-EIO, "cannot write '%s/%s': the server's answer to completing the upload is not XML",
				     s->base.location, name);
	}
	buf_release(&done);
	httpc_resp_release(&r);
	if (rc < 0)
		abort_upload(s, key, name, upload_id);
	return rc;
}

static int s3_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	s3_backend *s = S(b);
	char key[KEY_MAX + 1];
	(void)hint;
	int rc = key_of(s, name, key);
	if (rc < 0)
		return rc;
	objcache_forget(s->cache, name);
	if (n > s->loc.part_size)
		return put_multipart(s, key, name, p, n);
	return put_single(s, key, name, p, n, NULL);
}

static int s3_stat(backend *b, const char *name, backend_stat_t *out);

/*
 * The Date of the PUT's answer for the time of the write: the server's
 * clock in whole seconds, as Last-Modified would say it, taken as the
 * last nanosecond of its second like every storage time here (below).
 * The write happened before the answer, so this errs late, the
 * protective side.  A lease taken costs a PUT, not a PUT and a HEAD.
 */
static int s3_put_stat(backend *b, const char *name, backend_hint hint, const void *p, size_t n,
		       backend_stat_t *out, int *written)
{
	s3_backend *s = S(b);
	char key[KEY_MAX + 1];
	int64_t date = -1;
	int rc = key_of(s, name, key);
	if (rc == 0 && n > s->loc.part_size)
		rc = s3_put(b, name, hint, p, n);
	else if (rc == 0) {
		objcache_forget(s->cache, name);
		rc = put_single(s, key, name, p, n, &date);
	}
	if (rc < 0)
		return rc;
	*written = 1;
	if (date <= 0)
		return s3_stat(b, name, out);
	out->size = n;
	out->mtime_ns = storage_second(date);
	return 0;
}

/* ---------- reads ---------- */

static void free_bytes(void *priv, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	free(priv);
}

static int s3_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	s3_backend *s = S(b);
	char key[KEY_MAX + 1], what[300];
	(void)hint;
	int rc = key_of(s, name, key);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "read '%s'", name);
	s3_call c = { .method = "GET", .kind = BACKEND_REQ_GET, .key = key, .body_cap = BUF_CAP,
		      .what = what };
	httpc_resp r = HTTPC_RESP_INIT;
	rc = s3_do(s, &c, &r);
	if (rc == 0 && !ok_status(r.status))
		rc = s3_fail(s, &r, "read", name);
	if (rc == 0 && r.has_length && r.content_length != r.body.len)
		rc = err_set(-EIO, "cannot read '%s/%s': got %zu of %llu bytes", b->location, name,
			     r.body.len, (unsigned long long)r.content_length);
	if (rc < 0) {
		httpc_resp_release(&r);
		return rc;
	}
	*out = (bytes)BYTES_INIT;
	out->len = r.body.len;
	if (r.body.len) {
		uint8_t *d = buf_steal(&r.body);
		out->data = d;
		out->priv = d;
		out->release = free_bytes;
	} else {
		out->data = (const uint8_t *)"";
	}
	httpc_resp_release(&r);
	return 0;
}

/* HEAD of name: size, Last-Modified and ETag in r. */
static int head(s3_backend *s, const char *name, const char *op, httpc_resp *r)
{
	char key[KEY_MAX + 1], what[300];
	int rc = key_of(s, name, key);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "%s '%s'", op, name);
	s3_call c = { .method = "HEAD", .kind = BACKEND_REQ_HEAD, .key = key, .what = what };
	rc = s3_do(s, &c, r);
	if (rc == 0 && !ok_status(r->status))
		rc = s3_fail(s, r, op, name);
	if (rc == 0 && !r->has_length)
		rc = err_set(-EIO, "cannot %s '%s/%s': the server sent no size", op, s->base.location, name);
	return rc;
}

/*
 * A ranged GET of n > 0 bytes at off into p; if_match ("If-Match: ..."
 * or NULL) pins the version.  -ENODATA when the object is shorter.
 */
static int ranged_get(s3_backend *s, const char *key, const char *name, const char *if_match,
		      uint64_t off, void *p, size_t n)
{
	char what[300];
	snprintf(what, sizeof(what), "read '%s'", name);
	s3_call c = { .method = "GET", .kind = BACKEND_REQ_GET, .key = key,
		      .extra = { if_match }, .ranged = 1, .off = off, .len = n, .dst = p,
		      .dst_len = n, .what = what };
	httpc_resp r = HTTPC_RESP_INIT;
	int rc = s3_do(s, &c, &r);
	if (rc == 0 && !ok_status(r.status))
		rc = s3_fail(s, &r, "read", name);
	if (rc == 0 && r.dst_got != n) {
		if (r.has_total && r.range_total < off + n)
			rc = -ENODATA;
		else
			rc = err_set(-EIO, "cannot read '%s/%s': got %zu of %zu bytes", s->base.location,
				     name, r.dst_got, n);
	}
	httpc_resp_release(&r);
	return rc;
}

static int s3_get_range(backend *b, const char *name, backend_hint hint, uint64_t off, void *p,
			size_t n)
{
	s3_backend *s = S(b);
	(void)hint;
	if (off + n < off)
		return -ENODATA;
	if (n == 0) {
		/* nothing to read, but the file must exist and be long enough */
		httpc_resp r = HTTPC_RESP_INIT;
		int rc = head(s, name, "read", &r);
		if (rc == 0 && r.content_length < off)
			rc = -ENODATA;
		httpc_resp_release(&r);
		return rc;
	}
	char key[KEY_MAX + 1];
	int rc = key_of(s, name, key);
	return rc ?: ranged_get(s, key, name, NULL, off, p, n);
}

/*
 * A handle: the object's size and ETag from the HEAD that opened it (or
 * from the cached copy it found), and that copy once it has one.  The
 * first small read of a data file is a ranged GET of just those bytes
 * (one blob of a pack: a single-file restore fetches no more than it
 * needs); a second one, or the first of a metadata file (a tree pack,
 * read tree by tree), fetches the whole object into the cache and reads
 * from there.  A BACKEND_WHOLE handle fetches it whole at the first read.
 */
typedef struct {
	s3_backend *s;
	uint64_t size;
	char etag[OBJCACHE_TAG_MAX + 1];
	char if_match[190]; /* "If-Match: <etag>", or "" */
	char key[KEY_MAX + 1];
	char name[BACKEND_NAME_MAX + 1];
	objcache_entry *copy;
	unsigned reads;
	backend_hint hint;
	int deferred; /* no request yet: size and ETag come with the first read */
} s3_file;

/* The handle's version: the size and ETag of a HEAD. */
static int open_version(s3_file *f)
{
	httpc_resp r = HTTPC_RESP_INIT;
	int rc = head(f->s, f->name, "open", &r);
	f->size = r.content_length;
	memcpy(f->etag, r.etag, sizeof(f->etag));
	httpc_resp_release(&r);
	return rc;
}

static void pin_version(s3_file *f)
{
	if (f->etag[0])
		snprintf(f->if_match, sizeof(f->if_match), "If-Match: %s", f->etag);
}

static void take_copy_version(s3_file *f)
{
	f->size = objcache_entry_size(f->copy);
	snprintf(f->etag, sizeof(f->etag), "%s", objcache_entry_tag(f->copy));
	pin_version(f);
}

/*
 * BACKEND_WHOLE without a size wanted (a restore reading a data pack)
 * makes no request here: the first read GETs the whole object, and its
 * answer has the size and the ETag a HEAD would have said.  One request
 * per pack instead of a HEAD, a ranged GET and a whole GET, and another
 * HEAD for every other thread that reads the pack.
 */
static int s3_open_read(backend *b, const char *name, backend_hint hint, void **out,
			uint64_t *out_size)
{
	s3_backend *s = S(b);
	s3_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->s = s;
	f->hint = hint;
	snprintf(f->name, sizeof(f->name), "%s", name);
	int rc = key_of(s, name, f->key);
	if (rc == 0 && objcache_find(s->cache, name, &f->copy))
		take_copy_version(f); /* a copy this process fetched: no request */
	else if (rc == 0 && hint == BACKEND_WHOLE && !out_size)
		f->deferred = 1;
	else if (rc == 0)
		rc = open_version(f);
	if (rc < 0) {
		free(f);
		return rc;
	}
	pin_version(f);
	if (out_size)
		*out_size = f->size;
	*out = f;
	return 0;
}

struct fill_to {
	int fd;
	uint64_t cap; /* more is -EFBIG */
	int write_rc; /* the local write's failure */
};

static int fill_sink(void *ud, uint64_t off, const void *p, size_t n)
{
	struct fill_to *t = ud;
	if (off > t->cap || n > t->cap - off)
		return -EFBIG;
	int r = fsio_pwrite_all(t->fd, p, n, (off_t)off);
	if (r < 0)
		t->write_rc = r;
	return r;
}

/* The whole object into fd, at the handle's version if it has one; r is the answer. */
static int fetch_whole(s3_file *f, struct fill_to *to, httpc_resp *r)
{
	char what[300];
	snprintf(what, sizeof(what), "read '%s'", f->name);
	s3_call c = { .method = "GET", .kind = BACKEND_REQ_GET, .key = f->key,
		      .extra = { f->if_match[0] ? f->if_match : NULL }, .sink = fill_sink,
		      .sink_ud = to, .what = what };
	int rc = s3_do(f->s, &c, r);
	if (rc == 0 && !ok_status(r->status))
		rc = s3_fail(f->s, r, "read", f->name);
	if (rc == 0 && r->has_length && r->content_length != r->dst_got)
		rc = err_set(-EIO, "cannot read '%s/%s': got %zu of %llu bytes", f->s->base.location,
			     f->name, r->dst_got, (unsigned long long)r->content_length);
	return rc;
}

/* The whole object, at the handle's version, into fd (objcache_fill_fn). */
static int fill_copy(void *ud, int fd, uint64_t size)
{
	s3_file *f = ud;
	struct fill_to to = { fd, size, 0 };
	httpc_resp r = HTTPC_RESP_INIT;
	int rc = fetch_whole(f, &to, &r);
	if (rc == 0 && r.dst_got != size)
		rc = err_set(-EIO, "cannot read '%s/%s': got %zu of %llu bytes", f->s->base.location,
			     f->name, r.dst_got, (unsigned long long)size);
	httpc_resp_release(&r);
	return rc;
}

/* The whole object, whatever its version, into fd (objcache_fill_any_fn);
 * -EFBIG, without a message, if it is too large for the cache. */
static int fill_any(void *ud, int fd, uint64_t *size, char *tag)
{
	s3_file *f = ud;
	struct fill_to to = { fd, objcache_size_max(f->s->cache), 0 };
	httpc_resp r = HTTPC_RESP_INIT;
	int rc = fetch_whole(f, &to, &r);
	if (rc == 0) {
		*size = r.dst_got;
		snprintf(tag, OBJCACHE_TAG_MAX + 1, "%s", r.etag);
	}
	httpc_resp_release(&r);
	return rc;
}

/* One GET into fd (backend_copy_to_fd): what the metadata cache fetches. */
static int s3_copy_to_fd(backend *b, const char *name, backend_hint hint, int fd,
			 uint64_t *out_size)
{
	s3_file f = { .s = S(b) };
	(void)hint;
	snprintf(f.name, sizeof(f.name), "%s", name);
	int rc = key_of(f.s, name, f.key);
	if (rc < 0)
		return rc;
	struct fill_to to = { fd, UINT64_MAX, 0 };
	httpc_resp r = HTTPC_RESP_INIT;
	rc = fetch_whole(&f, &to, &r);
	if (rc < 0 && to.write_rc)
		rc = err_sys(to.write_rc, "cannot write a local copy of '%s/%s'", f.s->base.location,
			     name);
	if (rc == 0)
		*out_size = r.dst_got;
	httpc_resp_release(&r);
	return rc;
}

/* A deferred open (above), done by the first read. */
static int open_deferred(s3_file *f)
{
	int rc = objcache_load_any(f->s->cache, f->name, fill_any, f, &f->copy);
	if (rc == 0)
		take_copy_version(f);
	else if (rc == -EFBIG) /* too large to keep: read it piece by piece */
		rc = open_version(f);
	if (rc == 0) {
		pin_version(f);
		f->deferred = 0;
	}
	return rc;
}

static int s3_file_read(void *fp, uint64_t off, void *p, size_t n)
{
	s3_file *f = fp;
	s3_backend *s = f->s;
	int rc = f->deferred ? open_deferred(f) : 0;
	if (rc < 0)
		return rc;
	if (off > f->size || n > f->size - off)
		return -ENODATA;
	if (n == 0)
		return 0;
	if (!f->copy && f->etag[0] && objcache_find(s->cache, f->name, &f->copy) &&
	    strcmp(objcache_entry_tag(f->copy), f->etag) != 0) {
		objcache_unpin(s->cache, f->copy); /* a copy of another version */
		f->copy = NULL;
	}
	if (f->copy)
		return objcache_read(f->copy, off, p, n);
	int first = f->reads++ == 0 && f->hint != BACKEND_META;
	if (first || n >= DIRECT_READ_MIN || !f->etag[0] || !objcache_fits(s->cache, f->size))
		return ranged_get(s, f->key, f->name, f->if_match[0] ? f->if_match : NULL, off, p, n);
	rc = objcache_load(s->cache, f->name, f->etag, f->size, fill_copy, f, &f->copy);
	return rc ?: objcache_read(f->copy, off, p, n);
}

static void s3_file_close(void *fp)
{
	s3_file *f = fp;
	objcache_unpin(f->s->cache, f->copy);
	free(f);
}

static int s3_stat(backend *b, const char *name, backend_stat_t *out)
{
	httpc_resp r = HTTPC_RESP_INIT;
	int rc = head(S(b), name, "stat", &r);
	if (rc == 0) {
		int64_t t = r.last_modified > 0 ? r.last_modified : r.date > 0 ? r.date : 1;
		out->size = r.content_length;
		out->mtime_ns = storage_second(t);
	}
	httpc_resp_release(&r);
	return rc;
}

/* ---------- list ---------- */

struct page_keys {
	size_t root; /* bytes of "prefix/" to strip */
	const char *want; /* the listed directory's key + "/" */
	buf names;
	size_t *offs;
	uint64_t *sizes;
	int64_t *mtimes;
	size_t n, cap;
};


static int note_key(void *ud, const char *key, uint64_t size, int64_t mtime_ns)
{
	struct page_keys *k = ud;
	/* only keys of this directory that are valid names: anything else
	 * in the bucket (a console's "folder/" marker, another tool's
	 * files) is not a repository file */
	if (strncmp(key, k->want, strlen(k->want)) != 0 || !backend_name_is_valid(key + k->root))
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		size_t *o = realloc(k->offs, cap * sizeof(*o));
		if (o)
			k->offs = o;
		uint64_t *z = realloc(k->sizes, cap * sizeof(*z));
		if (z)
			k->sizes = z;
		int64_t *t = realloc(k->mtimes, cap * sizeof(*t));
		if (t)
			k->mtimes = t;
		if (!o || !z || !t)
			return -ENOMEM;
		k->cap = cap;
	}
	k->offs[k->n] = k->names.len;
	k->sizes[k->n] = size;
	k->mtimes[k->n] = storage_time(mtime_ns);
	int r = buf_append(&k->names, key + k->root, strlen(key + k->root) + 1);
	if (r == 0)
		k->n++;
	return r;
}

static int s3_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	s3_backend *s = S(b);
	char want[KEY_MAX + 2], token[1025] = "";
	int rc = key_of(s, dir, want);
	if (rc < 0)
		return rc;
	size_t wl = strlen(want);
	want[wl] = '/';
	want[wl + 1] = 0;
	struct page_keys k = { s->loc.prefix[0] ? strlen(s->loc.prefix) + 1 : 0, want, BUF_INIT, NULL,
			       NULL, NULL, 0, 0 };
	char what[300];
	snprintf(what, sizeof(what), "list '%s'", dir);
	for (;;) {
		char q[4096] = "";
		if (token[0])
			rc = httpc_query_add(q, sizeof(q), "continuation-token", token);
		rc = rc ?: httpc_query_add(q, sizeof(q), "encoding-type", "url");
		rc = rc ?: httpc_query_add(q, sizeof(q), "list-type", "2");
		rc = rc ?: httpc_query_add(q, sizeof(q), "prefix", want);
		if (rc < 0)
			break;
		s3_call c = { .method = "GET", .kind = BACKEND_REQ_LIST, .query = q,
			      .body_cap = LIST_PAGE_MAX, .what = what };
		httpc_resp r = HTTPC_RESP_INIT;
		rc = s3_do(s, &c, &r);
		if (rc == 0 && !ok_status(r.status))
			rc = s3_fail(s, &r, "list", dir);
		s3xml_page page;
		k.n = 0;
		k.names.len = 0;
		if (rc == 0 && s3xml_parse_list(&page, r.body.data, r.body.len, note_key, &k) < 0)
			rc = err_set(-EIO, "cannot list '%s/%s': the server's answer is not a listing",
				     b->location, dir);
		httpc_resp_release(&r);
		/* the callbacks run outside the parser: they may make requests */
		for (size_t i = 0; rc == 0 && i < k.n; i++) {
			backend_entry e = { (const char *)k.names.data + k.offs[i], k.sizes[i], k.mtimes[i] };
			rc = fn(ud, &e);
		}
		if (rc != 0 || !page.truncated)
			break;
		memcpy(token, page.next_token, sizeof(token));
	}
	buf_release(&k.names);
	free(k.offs);
	free(k.sizes);
	free(k.mtimes);
	return rc;
}

/* ---------- remove ---------- */

static int s3_remove(backend *b, const char *name)
{
	s3_backend *s = S(b);
	char key[KEY_MAX + 1], what[300];
	httpc_resp r = HTTPC_RESP_INIT;
	objcache_forget(s->cache, name);
	int rc = head(s, name, "remove", &r);
	rc = rc ?: key_of(s, name, key);
	if (rc == 0) {
		snprintf(what, sizeof(what), "remove '%s'", name);
		s3_call c = { .method = "DELETE", .kind = BACKEND_REQ_DELETE, .key = key, .what = what };
		rc = s3_do(s, &c, &r);
		if (rc == 0 && !ok_status(r.status) && r.status != 404)
			rc = s3_fail(s, &r, "remove", name);
	}
	httpc_resp_release(&r);
	return rc;
}

/* DeleteObjects takes at most this many keys. */
#define DELETE_BATCH 1000

struct del_err {
	s3_backend *s;
	int rc;
};

static int note_del_error(void *ud, const char *key, const char *code, const char *message)
{
	struct del_err *d = ud;
	if (d->rc == 0)
		d->rc = err_set(strcmp(code, "AccessDenied") == 0 ? -EACCES : -EIO,
				"cannot remove '%s' from '%s': %s %s", key, d->s->base.location, code, message);
	return 0;
}

/* Up to DELETE_BATCH names in one DeleteObjects request. */
static int delete_some(s3_backend *s, const char *const *names, size_t n)
{
	buf body = BUF_INIT;
	char key[KEY_MAX + 1];
	int rc = buf_append(&body, "<Delete><Quiet>true</Quiet>", 27);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		objcache_forget(s->cache, names[i]);
		/* names are of [A-Za-z0-9_.-/]: nothing to escape in XML */
		rc = key_of(s, names[i], key);
		rc = rc ?: buf_append(&body, "<Object><Key>", 13);
		rc = rc ?: buf_append(&body, key, strlen(key));
		rc = rc ?: buf_append(&body, "</Key></Object>", 15);
	}
	rc = rc ?: buf_append(&body, "</Delete>", 9);
	if (rc < 0) {
		buf_release(&body);
		return rc;
	}
	/* S3 requires Content-MD5 on this request (the one use of MD5 here) */
	uint8_t md5[16];
	unsigned len = 0;
	char b64[32], md5_hdr[64];
	if (EVP_Digest(body.data, body.len, md5, &len, EVP_md5(), NULL) != 1 || len != 16) {
		buf_release(&body);
		return err_set(-EIO, "cannot remove files from '%s': MD5 is not available", s->base.location);
	}
	EVP_EncodeBlock((unsigned char *)b64, md5, 16);
	snprintf(md5_hdr, sizeof(md5_hdr), "Content-MD5: %s", b64);
	char what[64];
	snprintf(what, sizeof(what), "remove %zu files", n);
	s3_call c = { .method = "POST", .kind = BACKEND_REQ_POST, .query = "delete=",
		      .extra = { md5_hdr, "Content-Type: application/xml" }, .body = body.data,
		      .body_len = body.len, .body_cap = S3XML_MAX_DOC, .what = what };
	httpc_resp r = HTTPC_RESP_INIT;
	rc = s3_do(s, &c, &r);
	if (rc == 0 && !ok_status(r.status))
		rc = s3_fail(s, &r, "remove files from", NULL);
	if (rc == 0) {
		struct del_err d = { s, 0 };
		if (s3xml_parse_delete(r.body.data, r.body.len, note_del_error, &d) < 0)
			rc = err_set(-EIO, "cannot remove files from '%s': the server's answer is not a DeleteResult",
				     s->base.location);
		else
			rc = d.rc;
	}
	httpc_resp_release(&r);
	buf_release(&body);
	return rc;
}

static int s3_remove_batch(backend *b, const char *const *names, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i += DELETE_BATCH)
		rc = delete_some(S(b), names + i, n - i < DELETE_BATCH ? n - i : DELETE_BATCH);
	return rc;
}

/* ---------- the rest ---------- */

static int s3_requests(backend *b, backend_requests *out)
{
	httpc_counts(S(b)->http, out);
	return 1;
}

static void s3_free(backend *b)
{
	s3_backend *s = S(b);
	httpc_free(s->http);
	objcache_free(s->cache);
	free(s->base.location);
	/* the token is a secret; the access key is in messages anyway */
	explicit_bzero(s->token_hdr, sizeof(s->token_hdr));
	free(s);
}

static const struct backend_ops s3_ops = {
	.version = BACKEND_OPS_VERSION,
	.put = s3_put,
	.get = s3_get,
	.get_range = s3_get_range,
	.open_read = s3_open_read,
	.file_read = s3_file_read,
	.file_close = s3_file_close,
	.stat = s3_stat,
	.list = s3_list,
	.remove = s3_remove,
	.remove_batch = s3_remove_batch,
	.mkdir = NULL, /* no directories */
	.free = s3_free,
	.requests = s3_requests,
	.put_stat = s3_put_stat,
	.copy_to_fd = s3_copy_to_fd,
};

/* fail_msg of an answer about the bucket itself (no lazy look: this is it). */
static int fail_answer(s3_backend *s, const httpc_resp *r, const char *op)
{
	s3xml_error e;
	memset(&e, 0, sizeof(e));
	if (r->body.len && s3xml_parse_error(&e, r->body.data, r->body.len) != 1)
		memset(&e, 0, sizeof(e));
	return fail_msg(s, r, &e, op, NULL);
}

/*
 * The bucket exists and these credentials may use it, or the reason why
 * not, in one line; with create, a missing bucket is created.  One HEAD
 * when all is well.  init asks for it at opening (it creates the bucket);
 * every other opening asks only when a failure may mean the bucket
 * (s3_fail), so that a wrong key, a missing bucket or the wrong region
 * is said plainly without a request of its own when all is well.
 */
static int check_bucket(s3_backend *s, int create)
{
	httpc_resp r = HTTPC_RESP_INIT;
	s3_call c = { .method = "HEAD", .kind = BACKEND_REQ_HEAD, .what = "look up the bucket" };
	int rc = s3_do(s, &c, &r);
	if (rc == 0 && r.status == 404 && !create) {
		rc = no_bucket(s);
	} else if (rc == 0 && (r.status == 301 || r.status == 400) && r.region[0]) {
		rc = err_set(-EINVAL, "bucket '%s' is in region '%s', not '%s': set AWS_REGION=%s or add ?region=%s to the URL",
			     s->loc.bucket, r.region, s->loc.region, r.region, r.region);
	} else if (rc == 0 && r.status == 404) {
		/* outside us-east-1 the bucket's region is named in the body */
		char body[256] = "";
		int bn = 0;
		if (strcmp(s->loc.region, "us-east-1") != 0)
			bn = snprintf(body, sizeof(body),
				      "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
				      s->loc.region);
		s3_call pc = { .method = "PUT", .kind = BACKEND_REQ_PUT, .body = body,
			       .body_len = (size_t)bn, .body_cap = SMALL_BODY_MAX,
			       .what = "create the bucket" };
		rc = s3_do(s, &pc, &r);
		if (rc == 0 && !ok_status(r.status)) {
			s3xml_error e;
			if (r.body.len && s3xml_parse_error(&e, r.body.data, r.body.len) == 1 &&
			    strcmp(e.code, "BucketAlreadyOwnedByYou") == 0)
				r.status = 200; /* created meanwhile */
			else
				rc = fail_answer(s, &r, "create the bucket of");
		}
	} else if (rc == 0 && !ok_status(r.status)) {
		/* a HEAD has no body: ask again with a GET to learn why */
		char q[64] = "";
		httpc_query_add(q, sizeof(q), "list-type", "2");
		httpc_query_add(q, sizeof(q), "max-keys", "1");
		s3_call lc = { .method = "GET", .kind = BACKEND_REQ_LIST, .query = q,
			       .body_cap = LIST_PAGE_MAX, .what = "look up the bucket" };
		rc = s3_do(s, &lc, &r);
		if (rc == 0)
			rc = fail_answer(s, &r, "open");
	}
	httpc_resp_release(&r);
	return rc;
}

int s3_backend_open(backend **out, const char *url, unsigned flags)
{
	s3_backend *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	aws_creds cr;
	char loc[1400], sigv4[128], userpwd[400];
	int rc = s3loc_parse(&s->loc, url);
	rc = rc ?: awscred_load(&cr, s->loc.region);
	if (rc < 0) {
		free(s);
		return rc;
	}
	memcpy(s->loc.region, cr.region, sizeof(cr.region));
	memcpy(s->access_key, cr.access_key, sizeof(s->access_key));
	memcpy(s->key_source, cr.source, sizeof(s->key_source));
	if (cr.session_token[0])
		snprintf(s->token_hdr, sizeof(s->token_hdr), "x-amz-security-token: %s", cr.session_token);
	snprintf(s->server, sizeof(s->server), "%s://%s", s->loc.https ? "https" : "http", s->loc.host);
	if (s->loc.port)
		snprintf(s->server + strlen(s->server), sizeof(s->server) - strlen(s->server), ":%u",
			 s->loc.port);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", cr.region);
	snprintf(userpwd, sizeof(userpwd), "%s:%s", cr.access_key, cr.secret_key);
	awscred_wipe(&cr);
	rc = s3loc_text(&s->loc, loc, sizeof(loc));
	httpc_opts ho = { loc, sigv4, userpwd, s3loc_host_is_loopback(s->loc.host) };
	rc = rc ?: httpc_new(&s->http, &ho);
	rc = rc ?: objcache_new(&s->cache, CACHE_BUDGET);
	explicit_bzero(userpwd, sizeof(userpwd));
	rc = rc ?: backend_init(&s->base, &s3_ops, BACKEND_REMOTE | BACKEND_ATOMIC_REPLACE, loc);
	if (flags & BACKEND_OPEN_CREATE)
		rc = rc ?: check_bucket(s, 1);
	if (rc < 0) {
		if (s->base.ops)
			s3_free(&s->base);
		else {
			httpc_free(s->http);
			objcache_free(s->cache);
			free(s);
		}
		return rc;
	}
	*out = &s->base;
	return 0;
}
