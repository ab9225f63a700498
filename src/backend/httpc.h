/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * httpc: HTTP requests for remote backends, through libcurl: a pool of
 * curl handles (so connections are reused) that any thread may use at
 * once, retries of transient failures (retry.h), request counts by kind
 * (backend.h), and the response headers a backend acts on, parsed.
 *
 * Signing is libcurl's: with aws_sigv4 set, every request is signed with
 * AWS Signature Version 4 (CURLOPT_AWS_SIGV4) using userpwd.  curl signs
 * the URL's query exactly as given, so a caller gives it in canonical
 * form (names sorted, values strictly percent-encoded: httpc_query_add).
 *
 * HTTPS verifies the server against the system trust store (libcurl's
 * default); redirects are not followed; a proxy from the environment is
 * used except for loopback addresses.
 *
 * A request is retried when no response came (connection refused or
 * reset, a timeout, a stalled transfer: under 1 byte/s for 60 s) or when
 * the caller's classifier calls the response transient (the default:
 * 408, 429 and 5xx except 501).  Retries after the first seconds of an
 * outage are announced on stderr, one line each, so a long wait is
 * never silent.  Any other response, whatever its status, is returned to
 * the caller to interpret.
 */
#ifndef DV_BACKEND_HTTPC_H
#define DV_BACKEND_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "../base/buf.h"

typedef struct httpc httpc;

typedef struct {
	const char *location; /* for messages: "s3:https://host/bucket" */
	const char *aws_sigv4; /* "aws:amz:REGION:s3", or NULL for unsigned requests */
	const char *userpwd;   /* "key:secret" for the signature */
	int loopback;          /* the server is on this host: no proxy */
} httpc_opts;

int httpc_new(httpc **out, const httpc_opts *o);
/* NULL-safe; no request may be running. */
void httpc_free(httpc *h);

#define HTTPC_ERROR_BODY_MAX ((size_t)64 << 10)

typedef struct {
	const char *method; /* "GET", "PUT", "HEAD", "POST", "DELETE" */
	int kind;           /* BACKEND_REQ_*: the counter it adds to */
	const char *url;    /* with the query in canonical form */
	const char *const *headers; /* NULL-terminated "Name: value", or NULL */
	const void *body;   /* PUT and POST: body_len bytes */
	size_t body_len;
	int ranged;         /* ask for range_len bytes at range_off (range_len > 0) */
	uint64_t range_off;
	size_t range_len;
	void *dst;          /* a 2xx body goes here (at most dst_len bytes; more is an error) */
	size_t dst_len;
	/* or to sink, piece by piece at increasing offsets (from 0 again
	 * when a retry starts over); non-zero from it fails the request */
	int (*sink)(void *ud, uint64_t off, const void *p, size_t n);
	void *sink_ud;
	size_t body_cap;    /* else into resp->body, at most this many bytes */
	const char *what;   /* for messages: "read 'index/ab…'" */
} httpc_req;

typedef struct {
	long status;
	buf body;            /* the body, unless it went to dst (error bodies: capped) */
	size_t dst_got;      /* bytes written to dst or sink */
	int has_length;
	uint64_t content_length;
	int has_total;
	uint64_t range_total; /* Content-Range: bytes A-B/TOTAL (or * /TOTAL) */
	char etag[160];      /* as sent, quotes included; "" if none */
	int64_t last_modified; /* seconds since 1970, -1 if absent */
	int64_t date;          /* the server's clock (Date), -1 if absent */
	int64_t local_time;    /* ours when the response headers came, seconds */
	int64_t retry_after_ns;
	char region[64];     /* x-amz-bucket-region (S3's answer for a bucket elsewhere) */
} httpc_resp;

#define HTTPC_RESP_INIT { 0, BUF_INIT, 0, 0, 0, 0, 0, "", -1, -1, 0, 0, "" }

/* 1 if the response is transient (retry it), 0 if it is the answer. */
typedef int (*httpc_transient_fn)(void *ud, const httpc_resp *r);

/* The default classifier: 408, 429, 500, 502-599. */
int httpc_status_is_transient(long status);

/*
 * Performs req, retrying as described above, and fills *resp (released
 * first) with the response that ended it: 0 whatever its status.  A
 * negative code when no usable response came: -EAGAIN (the server did
 * not answer within the retry budget, or stayed transient), -EINTR (a
 * stop was asked meanwhile), -EIO (TLS verification failed, a body
 * larger than asked for, a protocol error), -ENOMEM; the message names
 * the location, req->what and the reason.  transient may be NULL (the
 * default classifier).
 */
int httpc_do(httpc *h, const httpc_req *req, httpc_resp *resp, httpc_transient_fn transient,
	     void *ud);

void httpc_resp_release(httpc_resp *r);

/* The counts so far (any thread). */
void httpc_counts(httpc *h, backend_requests *out);

/*
 * Appends "name=value" to a query in canonical form: value
 * percent-encoded (everything but A-Z a-z 0-9 - _ . ~), '&' between
 * parameters.  Callers add parameters in name order.  -ENAMETOOLONG when
 * it does not fit.
 */
int httpc_query_add(char *q, size_t size, const char *name, const char *value);

#endif
