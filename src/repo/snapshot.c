/* SPDX-License-Identifier: BSD-2-Clause */
#include "snapshot.h"
#include "format.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/reader.h"
#include "../base/strlist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	F_TIME = 1,
	F_HOST = 2,
	F_USER = 3,
	F_PATH = 4,
	F_TAG = 5,
	F_PARENT = 6,
	F_STATS = 7,
	F_DAMAGED = 8,
	F_WALK = 9,
};

#define MAX_STR 65536

snapshot *snapshot_new(void)
{
	return calloc(1, sizeof(snapshot));
}

void snapshot_free(snapshot *s)
{
	if (!s)
		return;
	free(s->host);
	free(s->user);
	strlist_free(s->paths, s->npaths);
	strlist_free(s->tags, s->ntags);
	strlist_free(s->damaged, s->ndamaged);
	free(s);
}

static int put_field(buf *b, unsigned tag, const buf *val)
{
	int r = buf_put_varint(b, tag);
	return r < 0 ? r : buf_put_str(b, val->data, val->len);
}

static int put_strfield(buf *b, unsigned tag, const char *s)
{
	int r = buf_put_varint(b, tag);
	return r < 0 ? r : buf_put_str(b, s, strlen(s));
}

static int encode_body(buf *b, const snapshot *s)
{
	buf _cleanup_(buf_releasep) v = BUF_INIT;
	int r = 0;
	r = r ?: buf_put_svarint(&v, s->time);
	r = r ?: buf_put_varint(&v, s->time_nsec);
	r = r ?: buf_put_svarint(&v, s->tz_offset);
	r = r ?: put_field(b, F_TIME, &v);
	r = r ?: put_strfield(b, F_HOST, s->host ? s->host : "");
	r = r ?: put_strfield(b, F_USER, s->user ? s->user : "");
	for (size_t i = 0; !r && i < s->npaths; i++)
		r = put_strfield(b, F_PATH, s->paths[i]);
	for (size_t i = 0; !r && i < s->ntags; i++)
		r = put_strfield(b, F_TAG, s->tags[i]);
	for (size_t i = 0; !r && i < s->ndamaged; i++)
		r = put_strfield(b, F_DAMAGED, s->damaged[i]);
	if (!r && s->has_parent) {
		r = buf_put_varint(b, F_PARENT);
		r = r ?: buf_put_str(b, s->parent, 32);
	}
	if (!r && s->has_walk) {
		v.len = 0;
		r = buf_put_svarint(&v, s->walk_start);
		r = r ?: buf_put_varint(&v, s->walk_start_nsec);
		r = r ?: buf_append(&v, s->walk_opts, 32);
		r = r ?: put_field(b, F_WALK, &v);
	}
	v.len = 0;
	const snapshot_stats *st = &s->stats;
	uint64_t vals[] = { st->files_new, st->files_changed, st->files_unchanged, st->dirs,
			    st->bytes_read, st->bytes_added, st->total_files, st->total_bytes,
			    st->errors };
	for (size_t i = 0; !r && i < ARRAY_SIZE(vals); i++)
		r = buf_put_varint(&v, vals[i]);
	r = r ?: put_field(b, F_STATS, &v);
	return r;
}

/* Plaintext header fields (version 2): their tags, as in the body. */
enum { P_TIME = 1, P_GROUPS = 2 };

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* HMAC(gk, label | 0 | each distinct value of the set, sorted: le32 length | bytes). */
static int group_id(uint8_t out[32], const uint8_t gk[32], const char *label, char *const *v,
		    size_t n)
{
	buf _cleanup_(buf_releasep) b = BUF_INIT;
	_cleanup_free_ const char **sorted = malloc((n ? n : 1) * sizeof(*sorted));
	int r = sorted ? buf_append(&b, label, strlen(label) + 1) : -ENOMEM;
	if (r == 0 && n) {
		memcpy(sorted, v, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_str);
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (i && strcmp(sorted[i - 1], sorted[i]) == 0)
			continue;
		size_t len = strlen(sorted[i]);
		r = buf_put_le32(&b, (uint32_t)len);
		r = r ?: buf_append(&b, sorted[i], len);
	}
	if (r == 0)
		crypto_hmac(out, gk, b.data, b.len);
	return r;
}

int snapshot_group_ids(uint8_t out[SNAPSHOT_GROUPS][32], const snapshot *s, const crypto_keys *k)
{
	uint8_t gk[32];
	char *host = s->host ? s->host : "";
	crypto_derive(gk, sizeof(gk), k->mac, "dvalin-group-v1");
	int r = group_id(out[SNAPSHOT_GROUP_HOST], gk, "host", &host, 1);
	r = r ?: group_id(out[SNAPSHOT_GROUP_PATHS], gk, "paths", s->paths, s->npaths);
	r = r ?: group_id(out[SNAPSHOT_GROUP_TAGS], gk, "tags", s->tags, s->ntags);
	crypto_wipe(gk, sizeof(gk));
	return r;
}

/* The version 2 plaintext fields: the time and the group ids. */
static int encode_plain(buf *b, const snapshot *s, const crypto_keys *k)
{
	buf _cleanup_(buf_releasep) v = BUF_INIT;
	uint8_t g[SNAPSHOT_GROUPS][32];
	int r = 0;
	r = r ?: buf_put_svarint(&v, s->time);
	r = r ?: buf_put_varint(&v, s->time_nsec);
	r = r ?: buf_put_svarint(&v, s->tz_offset);
	r = r ?: put_field(b, P_TIME, &v);
	r = r ?: snapshot_group_ids(g, s, k);
	r = r ?: buf_put_varint(b, P_GROUPS);
	r = r ?: buf_put_str(b, g, sizeof(g));
	return r;
}

int snapshot_encode(buf *out, snapshot *s, const crypto_keys *k)
{
	/* never write what snapshot_decode would refuse */
	if (s->npaths > SNAPSHOT_MAX_LIST || s->ntags > SNAPSHOT_MAX_LIST)
		return err_set(-E2BIG, "too many paths or tags (at most %d each)", SNAPSHOT_MAX_LIST);
	if (s->ndamaged > SNAPSHOT_MAX_DAMAGED)
		return err_set(-E2BIG, "too many damaged paths to record (at most %d)", SNAPSHOT_MAX_DAMAGED);
	buf _cleanup_(buf_releasep) body = BUF_INIT;
	buf _cleanup_(buf_releasep) h = BUF_INIT;
	int r = encode_body(&body, s);
	r = r ?: buf_reserve(&h, SNAPSHOT_HEADER_LEN);
	if (r < 0)
		return r;
	memset(h.data, 0, SNAPSHOT_HEADER_LEN);
	h.len = SNAPSHOT_HEADER_LEN;
	if ((r = encode_plain(&h, s, k)) < 0)
		return r;
	memcpy(h.data, SNAPSHOT_MAGIC, MAGIC_LEN);
	le32_put(h.data + 8, SNAPSHOT_VERSION);
	le32_put(h.data + 12, (uint32_t)(h.len - SNAPSHOT_HEADER_LEN));
	memcpy(h.data + 16, s->tree, 32);
	out->len = 0;
	if ((r = buf_reserve(out, h.len + body.len + CRYPTO_OVERHEAD)) < 0)
		return r;
	memcpy(out->data, h.data, h.len);
	r = crypto_seal(out->data + h.len, k->enc, h.data, h.len, body.data, body.len);
	if (r < 0)
		return r;
	out->len = h.len + body.len + CRYPTO_OVERHEAD;
	crypto_sha256(s->id, out->data, out->len);
	return 0;
}

static int dup_str(char **out, const uint8_t *p, size_t n)
{
	if (memchr(p, 0, n))
		return -DV_ECORRUPT;
	*out = strndup((const char *)p, n);
	return *out ? 0 : -ENOMEM;
}

/*
 * Decodes one field into s.  A field either fails leaving s as it was, or
 * succeeds: values are decoded into locals and stored last, so no member
 * ever points at freed memory, whatever a hostile body repeats.  Fields
 * that hold one value (time, host, user, parent, statistics) may appear
 * once; a second one is corrupt rather than a silent override (*seen
 * has one bit per tag).
 */
static int decode_field(snapshot *s, uint64_t tag, const uint8_t *p, size_t n, unsigned *seen)
{
	reader r;
	char *str = NULL;
	int rc;
	reader_init(&r, p, n);
	if (tag == F_TIME || tag == F_HOST || tag == F_USER || tag == F_PARENT || tag == F_STATS ||
	    tag == F_WALK) {
		if (*seen & (1u << tag))
			return -DV_ECORRUPT;
		*seen |= 1u << tag;
	}
	switch (tag) {
	case F_TIME: {
		int64_t t = reader_svarint(&r);
		uint64_t ns = reader_varint(&r);
		int64_t tz = reader_svarint(&r);
		if (!reader_ok(&r) || ns >= 1000000000u || tz < -86400 || tz > 86400)
			return -DV_ECORRUPT;
		s->time = t;
		s->time_nsec = (uint32_t)ns;
		s->tz_offset = (int32_t)tz;
		return 0;
	}
	case F_HOST:
	case F_USER:
		if ((rc = dup_str(&str, p, n)) < 0)
			return rc;
		*(tag == F_HOST ? &s->host : &s->user) = str;
		return 0;
	case F_PATH:
	case F_TAG:
		if ((rc = dup_str(&str, p, n)) < 0)
			return rc;
		if ((tag == F_PATH ? s->npaths : s->ntags) >= SNAPSHOT_MAX_LIST)
			rc = -DV_ECORRUPT;
		else
			rc = tag == F_PATH ? strlist_add(&s->paths, &s->npaths, str)
					   : strlist_add(&s->tags, &s->ntags, str);
		free(str);
		return rc;
	case F_DAMAGED:
		if ((rc = dup_str(&str, p, n)) < 0)
			return rc;
		rc = s->ndamaged >= SNAPSHOT_MAX_DAMAGED ? -DV_ECORRUPT
							 : strlist_add(&s->damaged, &s->ndamaged, str);
		free(str);
		return rc;
	case F_PARENT:
		if (n != 32)
			return -DV_ECORRUPT;
		memcpy(s->parent, p, 32);
		s->has_parent = 1;
		return 0;
	case F_WALK: {
		int64_t t = reader_svarint(&r);
		uint64_t ns = reader_varint(&r);
		const uint8_t *d = reader_bytes(&r, 32);
		if (!reader_ok(&r) || !d || reader_left(&r) || ns >= 1000000000u)
			return -DV_ECORRUPT;
		s->walk_start = t;
		s->walk_start_nsec = (uint32_t)ns;
		memcpy(s->walk_opts, d, 32);
		s->has_walk = 1;
		return 0;
	}
	case F_STATS: {
		uint64_t v[9] = { 0 };
		size_t k = 0;
		/* fewer values: an older writer; more: a later one */
		for (; k < ARRAY_SIZE(v) && reader_left(&r); k++)
			v[k] = reader_varint(&r);
		if (!reader_ok(&r))
			return -DV_ECORRUPT;
		s->stats = (snapshot_stats){ v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8] };
		return 0;
	}
	default:
		return 0; /* a field from a later version: skip */
	}
}

/* The plaintext fields of a version 2 header into h; both are required. */
static int decode_plain(snapshot_header *h, const uint8_t *p, size_t n)
{
	reader r;
	unsigned seen = 0;
	reader_init(&r, p, n);
	while (reader_ok(&r) && reader_left(&r)) {
		uint64_t tag = reader_varint(&r);
		size_t flen;
		const uint8_t *f = reader_str(&r, &flen, SNAPSHOT_PLAIN_MAX);
		if (!f)
			break;
		if (tag == P_TIME || tag == P_GROUPS) {
			if (seen & (1u << tag))
				return -DV_ECORRUPT;
			seen |= 1u << tag;
		}
		if (tag == P_TIME) {
			reader t;
			reader_init(&t, f, flen);
			int64_t secs = reader_svarint(&t);
			uint64_t ns = reader_varint(&t);
			int64_t tz = reader_svarint(&t);
			if (!reader_ok(&t) || reader_left(&t) || ns >= 1000000000u || tz < -86400 || tz > 86400)
				return -DV_ECORRUPT;
			h->time = secs;
			h->time_nsec = (uint32_t)ns;
			h->tz_offset = (int32_t)tz;
		} else if (tag == P_GROUPS) {
			if (flen != sizeof(h->group))
				return -DV_ECORRUPT;
			memcpy(h->group, f, sizeof(h->group));
		} /* else a field of a later version: skipped */
	}
	if (!reader_ok(&r) || seen != (1u << P_TIME | 1u << P_GROUPS))
		return -DV_ECORRUPT;
	h->has_plain = 1;
	return 0;
}

/* The header's length (48 + P) after checking magic, version and P. */
static int header_len(const uint8_t *p, size_t n, size_t *out)
{
	if (n < SNAPSHOT_HEADER_LEN + CRYPTO_OVERHEAD || memcmp(p, SNAPSHOT_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	uint32_t version = le32_get(p + 8), plain = le32_get(p + 12);
	if (version != 1 && version != SNAPSHOT_VERSION)
		return -DV_EFORMAT;
	/* version 1 wrote 0 here and never read it */
	if (version == 1)
		plain = 0;
	if (plain > SNAPSHOT_PLAIN_MAX || n - SNAPSHOT_HEADER_LEN - CRYPTO_OVERHEAD < plain)
		return -DV_ECORRUPT;
	*out = SNAPSHOT_HEADER_LEN + plain;
	return 0;
}

int snapshot_decode_header(const uint8_t *p, size_t n, snapshot_header *out)
{
	size_t hlen;
	memset(out, 0, sizeof(*out));
	int rc = header_len(p, n, &hlen);
	if (rc < 0)
		return rc;
	out->version = le32_get(p + 8);
	memcpy(out->tree, p + 16, 32);
	crypto_sha256(out->id, p, n);
	if (out->version >= 2)
		return decode_plain(out, p + SNAPSHOT_HEADER_LEN, hlen - SNAPSHOT_HEADER_LEN);
	return 0;
}

/*
 * A version 2 header must say what the body says, since a keyless policy
 * relies on it: 0 when it does, -DV_ECORRUPT when not.
 */
static int plain_agrees(const snapshot_header *h, const snapshot *s, const crypto_keys *k)
{
	uint8_t g[SNAPSHOT_GROUPS][32];
	if (!h->has_plain)
		return 0;
	if (h->time != s->time || h->time_nsec != s->time_nsec || h->tz_offset != s->tz_offset)
		return -DV_ECORRUPT;
	int rc = snapshot_group_ids(g, s, k);
	if (rc < 0)
		return rc;
	return memcmp(g, h->group, sizeof(g)) == 0 ? 0 : -DV_ECORRUPT;
}

int snapshot_decode(snapshot **out, const uint8_t *p, size_t n, const crypto_keys *k)
{
	snapshot_header h;
	int rc = snapshot_decode_header(p, n, &h);
	if (rc < 0)
		return rc;
	size_t hlen;
	header_len(p, n, &hlen);
	size_t blen = n - hlen - CRYPTO_OVERHEAD;
	_cleanup_free_ uint8_t *body = malloc(blen + 1);
	if (!body)
		return -ENOMEM;
	rc = crypto_open(body, k->enc, p, hlen, p + hlen, n - hlen);
	if (rc < 0)
		return -DV_ECORRUPT;
	snapshot *s = snapshot_new();
	if (!s)
		return -ENOMEM;
	memcpy(s->tree, h.tree, 32);
	memcpy(s->id, h.id, 32);
	reader r;
	unsigned seen = 0;
	reader_init(&r, body, blen);
	while (reader_ok(&r) && reader_left(&r)) {
		uint64_t tag = reader_varint(&r);
		size_t flen;
		const uint8_t *f = reader_str(&r, &flen, MAX_STR);
		if (!f)
			break;
		if ((rc = decode_field(s, tag, f, flen, &seen)) < 0) {
			snapshot_free(s);
			return rc;
		}
	}
	rc = !reader_ok(&r) || !s->host || !s->user ? -DV_ECORRUPT : plain_agrees(&h, s, k);
	if (rc < 0) {
		snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void snapshot_format_time(char out[40], const snapshot *s)
{
	time_t t = (time_t)(s->time + s->tz_offset);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	int off = s->tz_offset, sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(out + n, 40 - n, "%c%02d:%02d", sign, off / 3600, off / 60 % 60);
}

int snapshot_parse_time(const char *str, int64_t *out_time, int32_t *out_tz)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(str, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end || *end)
		return -EINVAL;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	if (t == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mday == 31))
		return -EINVAL;
	*out_time = t;
	*out_tz = (int32_t)tm.tm_gmtoff;
	return 0;
}
