/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * s3xml: the XML documents S3 answers with, parsed by expat.  Pure: bytes
 * in (a response body, untrusted), values out.
 *
 * Why expat: S3 bodies are small flat documents read once, where a
 * stream parser and a handful of element paths suffice (a DOM of a
 * 1,000-key listing would be built only to be walked once); expat is
 * small, is in every distribution, protects against entity expansion
 * ("billion laughs") by default since 2.4, and never loads external
 * entities unless asked.  A document type declaration is refused
 * outright: S3 never sends one.
 *
 * Caps: a document is at most S3XML_MAX_DOC bytes, elements nest at most
 * 16 deep, an element's text is at most S3XML_MAX_TEXT bytes; beyond
 * that, or on malformed XML, a parser returns -EBADMSG.
 */
#ifndef DV_BACKEND_S3XML_H
#define DV_BACKEND_S3XML_H

#include <stddef.h>
#include <stdint.h>

#define S3XML_MAX_DOC ((size_t)16 << 20)
#define S3XML_MAX_TEXT 4096
#define S3XML_KEY_MAX 1024

/* An <Error>: Code and Message, control characters replaced by '?'. */
typedef struct {
	char code[64];
	char message[256];
} s3xml_error;

/*
 * The Code and Message of an <Error> document: 1 when p is one, 0 when it
 * is some other well-formed document, -EBADMSG when it is not XML.
 */
int s3xml_parse_error(s3xml_error *out, const void *p, size_t n);

/* One <Contents> of a listing: the key (URL-decoded), its size, LastModified (0 if absent). */
typedef int (*s3xml_key_fn)(void *ud, const char *key, uint64_t size, int64_t mtime_ns);

typedef struct {
	int truncated;        /* IsTruncated: another page follows */
	char next_token[1025]; /* NextContinuationToken */
	uint64_t keys;        /* <Contents> seen */
} s3xml_page;

/*
 * A ListObjectsV2 page (<ListBucketResult>, keys URL-encoded as asked
 * with encoding-type=url): fn for each key, in document order; a non-zero
 * return of fn stops and is returned.  -EBADMSG for anything malformed
 * (a key that does not decode, a size that is not a number, a truncated
 * page without a token).
 */
int s3xml_parse_list(s3xml_page *out, const void *p, size_t n, s3xml_key_fn fn, void *ud);

/* The UploadId of an <InitiateMultipartUploadResult> into out (size bytes). */
int s3xml_parse_upload_id(char *out, size_t size, const void *p, size_t n);

/*
 * The answer to CompleteMultipartUpload, which S3 may send with status
 * 200 and still be an <Error>: 0 for a <CompleteMultipartUploadResult>
 * (its ETag may be empty: RGW 16.2), 1 with *err filled for an <Error>.
 */
int s3xml_parse_complete(s3xml_error *err, const void *p, size_t n);

/*
 * A <DeleteResult>: fn(ud, key, code, message) for each <Error> in it
 * (keys that were not deleted); <Deleted> entries are passed over.
 */
typedef int (*s3xml_delete_error_fn)(void *ud, const char *key, const char *code,
				     const char *message);
int s3xml_parse_delete(const void *p, size_t n, s3xml_delete_error_fn fn, void *ud);

/* "2026-12-02T00:02:40.597Z" (ISO 8601 UTC, as S3 lists) into ns since 1970: 0 or -EINVAL. */
int s3xml_parse_time(const char *s, int64_t *out_ns);

#endif
