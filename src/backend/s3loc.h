/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * s3loc: where an S3 repository is, from its URL.  Pure: a string in, a
 * struct out, and the request URLs built from it (s3.c does the I/O).
 *
 *   s3:https://HOST[:PORT]/BUCKET[/PREFIX][?OPTION=VALUE&...]
 *   s3:http://127.0.0.1:PORT/BUCKET[/PREFIX]      (plain HTTP: loopback only)
 *
 * Options:
 *   style=auto|path|virtual  path style (https://host/bucket/key) or
 *                            virtual-host style (https://bucket.host/key);
 *                            auto is virtual for *.amazonaws.com and a
 *                            DNS-compatible bucket without dots, else path
 *                            (what S3-compatible servers accept by default)
 *   region=NAME              overrides AWS_REGION / AWS_DEFAULT_REGION
 *   part-size=SIZE           objects larger than this are uploaded in parts
 *                            of this size (5MiB..5GiB, default 32MiB)
 *
 * Everything the URL names ends up in request URLs as it is, so each part
 * is restricted to characters that need no percent-encoding: the prefix
 * follows the backend's name rules (backend.h), the bucket S3's.
 */
#ifndef DV_BACKEND_S3LOC_H
#define DV_BACKEND_S3LOC_H

#include <stddef.h>
#include <stdint.h>

/* S3 keys are at most 1024 bytes: the prefix leaves room for a name. */
#define S3LOC_PREFIX_MAX (1024 - 1 - 255)
#define S3LOC_PART_MIN ((uint64_t)5 << 20)
#define S3LOC_PART_MAX ((uint64_t)5 << 30)
#define S3LOC_PART_DEFAULT ((uint64_t)32 << 20)

typedef struct {
	int https;
	char host[256];  /* a name, an IPv4 address or "[IPv6]" */
	unsigned port;   /* 0: the scheme's default */
	char bucket[64];
	char prefix[S3LOC_PREFIX_MAX + 1]; /* "" or "a/b": no '/' at either end */
	int virtual_host;                  /* the style, resolved */
	char region[64];                   /* from region=, "" when not given */
	uint64_t part_size;
} s3loc;

/*
 * Parses what follows "s3:".  -DV_EUSAGE with a one-line message naming
 * the part that is wrong.
 */
int s3loc_parse(s3loc *out, const char *url);

/* 1 for localhost, *.localhost, 127.0.0.0/8 and [::1], else 0. */
int s3loc_host_is_loopback(const char *host);

/* 1 if bucket may be a DNS label sequence (virtual-host style), else 0. */
int s3loc_bucket_is_dns(const char *bucket);

/*
 * The URL of key (a backend name, or NULL for the bucket itself) into
 * out: scheme, host (with the bucket in front for virtual-host style),
 * port, path.  -ENAMETOOLONG if it does not fit.
 */
int s3loc_url(const s3loc *l, const char *key, char *out, size_t size);

/* The object key of a backend name: "PREFIX/name", or "name". */
int s3loc_key(const s3loc *l, const char *name, char *out, size_t size);

/* "s3:https://host[:port]/bucket[/prefix]": the location for messages. */
int s3loc_text(const s3loc *l, char *out, size_t size);

#endif
