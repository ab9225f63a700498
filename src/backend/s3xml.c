/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * s3xml: one small walker over expat's events and a function per
 * document.  The walker keeps the path of element names from the root
 * and the text of the current element; each document's parser is a
 * callback run at the end of every element, which looks at the path and
 * takes the text it wants.  Names longer than any S3 uses are cut (they
 * then match nothing); text beyond the cap, depth beyond the cap and a
 * document type declaration stop the parse with -EBADMSG.
 */
#include "s3xml.h"
#include "../base/checked.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/num.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEPTH_MAX 16
#define NAME_MAX_ 48

typedef struct walker walker;
struct walker {
	XML_Parser xp;
	char names[DEPTH_MAX][NAME_MAX_];
	int depth; /* elements open */
	char text[S3XML_MAX_TEXT + 1];
	size_t tlen;
	int (*end)(walker *w); /* at the end of each element; depth counts it */
	void *ud;
	int rc;
};

static void stop(walker *w, int rc)
{
	if (w->rc == 0)
		w->rc = rc;
	XML_StopParser(w->xp, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	walker *w = ud;
	(void)attrs;
	if (w->depth >= DEPTH_MAX) {
		stop(w, -EBADMSG);
		return;
	}
	snprintf(w->names[w->depth++], NAME_MAX_, "%s", name);
	w->tlen = 0;
	w->text[0] = 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	walker *w = ud;
	(void)name; /* expat checks that it matches the start */
	int r = w->end(w);
	if (r != 0) {
		stop(w, r);
		return;
	}
	w->depth--;
	w->tlen = 0;
	w->text[0] = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	walker *w = ud;
	if (len < 0 || (size_t)len > S3XML_MAX_TEXT - w->tlen) {
		stop(w, -EBADMSG);
		return;
	}
	memcpy(w->text + w->tlen, s, (size_t)len);
	w->tlen += (size_t)len;
	w->text[w->tlen] = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	stop(ud, -EBADMSG);
}

static int walk(const void *p, size_t n, int (*end)(walker *), void *ud)
{
	if (n > S3XML_MAX_DOC)
		return -EBADMSG;
	walker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	XML_Parser xp = XML_ParserCreate("UTF-8");
	if (!xp) {
		free(w);
		return -ENOMEM;
	}
	w->xp = xp;
	w->end = end;
	w->ud = ud;
	XML_SetUserData(xp, w);
	XML_SetElementHandler(xp, on_start, on_end);
	XML_SetCharacterDataHandler(xp, on_text);
	XML_SetStartDoctypeDeclHandler(xp, on_doctype);
	int ok = XML_Parse(xp, p, (int)n, XML_TRUE) == XML_STATUS_OK;
	int rc = w->rc ? w->rc : ok ? 0 : -EBADMSG;
	XML_ParserFree(xp);
	free(w);
	return rc;
}

/* Whether the open elements are exactly the names given (NULL-terminated). */
static int at(const walker *w, ...)
{
	va_list ap;
	va_start(ap, w);
	int i = 0, ok = 1;
	for (const char *s; (s = va_arg(ap, const char *));) {
		if (i >= w->depth || strcmp(w->names[i], s) != 0)
			ok = 0;
		i++;
	}
	va_end(ap);
	return ok && i == w->depth;
}

/* Copies text into out, control characters (and non-ASCII bytes) as '?'. */
static void clean_copy(char *out, size_t size, const char *text)
{
	size_t i = 0;
	for (; text[i] && i + 1 < size; i++)
		out[i] = (unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e ? '?' : text[i];
	out[i] = 0;
}

/* ---------- <Error> ---------- */

struct err_ctx {
	s3xml_error *e;
	int is_error;
};

static int error_end(walker *w)
{
	struct err_ctx *c = w->ud;
	if (w->depth == 1)
		c->is_error = strcmp(w->names[0], "Error") == 0;
	else if (at(w, "Error", "Code", NULL))
		clean_copy(c->e->code, sizeof(c->e->code), w->text);
	else if (at(w, "Error", "Message", NULL))
		clean_copy(c->e->message, sizeof(c->e->message), w->text);
	return 0;
}

int s3xml_parse_error(s3xml_error *out, const void *p, size_t n)
{
	memset(out, 0, sizeof(*out));
	struct err_ctx c = { out, 0 };
	int r = walk(p, n, error_end, &c);
	return r < 0 ? r : c.is_error;
}

/* ---------- ListObjectsV2 ---------- */

/* URL-decodes s in place ('+' is a space, as S3 encodes); -EINVAL on a bad escape or a NUL. */
static int url_decode(char *s)
{
	char *o = s;
	for (const char *i = s; *i; i++) {
		if (*i == '+') {
			*o++ = ' ';
		} else if (*i == '%') {
			int h = hex_digit_value(i[1]), l = h < 0 ? -1 : hex_digit_value(i[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -EINVAL;
			*o++ = (char)(h << 4 | l);
			i += 2;
		} else {
			*o++ = *i;
		}
	}
	*o = 0;
	return 0;
}

static int days_from_civil(int64_t y, unsigned m, unsigned d, int64_t *out)
{
	/* H. Hinnant's algorithm: exact for the proleptic Gregorian calendar */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*out = era * 146097 + (int64_t)doe - 719468;
	return 0;
}

int s3xml_parse_time(const char *s, int64_t *out_ns)
{
	unsigned Y, M, D, h, m, sec;
	int n = 0;
	if (sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2u%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19)
		return -EINVAL;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -EINVAL;
	const char *p = s + n;
	int64_t frac = 0, scale = 100000000;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	int64_t days;
	days_from_civil(Y, M, D, &days);
	/* a year past 2262 has no nanosecond count in 64 bits: not a time S3 gives */
	int64_t secs = days * 86400 + h * 3600 + m * 60 + sec, ns;
	if (checked_mul(&ns, secs, (int64_t)1000000000) < 0 || checked_add(out_ns, ns, frac) < 0)
		return -EINVAL;
	return 0;
}

struct list_ctx {
	s3xml_page *page;
	s3xml_key_fn fn;
	void *ud;
	char key[S3XML_KEY_MAX + 1];
	int key_ok, has_key, has_size;
	uint64_t size;
	int64_t mtime_ns;
};

static int list_end(walker *w)
{
	struct list_ctx *c = w->ud;
	if (w->depth == 1)
		return strcmp(w->names[0], "ListBucketResult") == 0 ? 0 : -EBADMSG;
	if (at(w, "ListBucketResult", "IsTruncated", NULL)) {
		c->page->truncated = strcmp(w->text, "true") == 0;
	} else if (at(w, "ListBucketResult", "NextContinuationToken", NULL)) {
		if (w->tlen >= sizeof(c->page->next_token))
			return -EBADMSG;
		memcpy(c->page->next_token, w->text, w->tlen + 1);
	} else if (at(w, "ListBucketResult", "Contents", "Key", NULL)) {
		c->has_key = 1;
		c->key_ok = w->tlen <= S3XML_KEY_MAX;
		if (c->key_ok) {
			memcpy(c->key, w->text, w->tlen + 1);
			c->key_ok = url_decode(c->key) == 0;
		}
	} else if (at(w, "ListBucketResult", "Contents", "Size", NULL)) {
		const char *end;
		if (num_parse_u64(w->text, &end, &c->size) < 0 || *end || c->size > ((uint64_t)1 << 62))
			return -EBADMSG;
		c->has_size = 1;
	} else if (at(w, "ListBucketResult", "Contents", "LastModified", NULL)) {
		if (s3xml_parse_time(w->text, &c->mtime_ns) < 0)
			c->mtime_ns = 0;
	} else if (at(w, "ListBucketResult", "Contents", NULL)) {
		if (!c->has_key || !c->has_size)
			return -EBADMSG;
		c->page->keys++;
		int r = c->key_ok ? c->fn(c->ud, c->key, c->size, c->mtime_ns) : 0;
		c->has_key = c->has_size = 0;
		c->mtime_ns = 0;
		return r;
	}
	return 0;
}

int s3xml_parse_list(s3xml_page *out, const void *p, size_t n, s3xml_key_fn fn, void *ud)
{
	memset(out, 0, sizeof(*out));
	struct list_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->page = out;
	c->fn = fn;
	c->ud = ud;
	int r = walk(p, n, list_end, c);
	free(c);
	if (r == 0 && out->truncated && !out->next_token[0])
		r = -EBADMSG; /* a next page we could not ask for */
	return r;
}

/* ---------- multipart uploads ---------- */

struct text_ctx {
	const char *root, *leaf;
	char *out;
	size_t size;
	int allow_empty, found, root_ok;
};

static int text_end(walker *w)
{
	struct text_ctx *c = w->ud;
	if (w->depth == 1)
		c->root_ok = strcmp(w->names[0], c->root) == 0;
	else if (at(w, c->root, c->leaf, NULL)) {
		if ((w->tlen == 0 && !c->allow_empty) || w->tlen >= c->size)
			return -EBADMSG;
		memcpy(c->out, w->text, w->tlen + 1);
		c->found = 1;
	}
	return 0;
}

int s3xml_parse_upload_id(char *out, size_t size, const void *p, size_t n)
{
	struct text_ctx c = { "InitiateMultipartUploadResult", "UploadId", out, size, 0, 0, 0 };
	int r = walk(p, n, text_end, &c);
	if (r == 0 && (!c.root_ok || !c.found))
		r = -EBADMSG;
	return r;
}

int s3xml_parse_complete(s3xml_error *err, const void *p, size_t n)
{
	int r = s3xml_parse_error(err, p, n);
	if (r != 0)
		return r; /* an <Error>, or not XML */
	/* an empty or absent ETag is fine (RGW 16.2 sends <ETag></ETag>) */
	char etag[256];
	struct text_ctx c = { "CompleteMultipartUploadResult", "ETag", etag, sizeof(etag), 1, 0, 0 };
	r = walk(p, n, text_end, &c);
	return r < 0 ? r : c.root_ok ? 0 : -EBADMSG;
}

/* ---------- DeleteObjects ---------- */

struct del_ctx {
	s3xml_delete_error_fn fn;
	void *ud;
	char key[S3XML_KEY_MAX + 1];
	s3xml_error e;
	int root_ok;
};

static int del_end(walker *w)
{
	struct del_ctx *c = w->ud;
	if (w->depth == 1) {
		c->root_ok = strcmp(w->names[0], "DeleteResult") == 0;
	} else if (at(w, "DeleteResult", "Error", "Key", NULL)) {
		if (w->tlen > S3XML_KEY_MAX)
			return -EBADMSG;
		memcpy(c->key, w->text, w->tlen + 1);
	} else if (at(w, "DeleteResult", "Error", "Code", NULL)) {
		clean_copy(c->e.code, sizeof(c->e.code), w->text);
	} else if (at(w, "DeleteResult", "Error", "Message", NULL)) {
		clean_copy(c->e.message, sizeof(c->e.message), w->text);
	} else if (at(w, "DeleteResult", "Error", NULL)) {
		int r = c->fn(c->ud, c->key, c->e.code, c->e.message);
		memset(c->key, 0, sizeof(c->key));
		memset(&c->e, 0, sizeof(c->e));
		return r;
	}
	return 0;
}

int s3xml_parse_delete(const void *p, size_t n, s3xml_delete_error_fn fn, void *ud)
{
	struct del_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ud = ud;
	int r = walk(p, n, del_end, c);
	if (r == 0 && !c->root_ok)
		r = -EBADMSG;
	free(c);
	return r;
}
