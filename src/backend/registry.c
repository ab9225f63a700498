/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * registry: which backend a repository URL names.  One row per scheme,
 * so a new backend is one file beside this one and one row below; the
 * row's open function parses what follows "scheme:" and sets the
 * backend's flags (BACKEND_REMOTE for anything across a network).
 *
 * A URL whose scheme no row knows is a local path when it has no "//"
 * after the colon ("backup:2024" stays a directory, as restic does with
 * its locations), and an error when it has ("https://..." before the
 * HTTPS backend exists must not create a directory called "https:").
 */
#include "backend.h"
#include "local.h"
#include "mem.h"
#include "remote.h"
#include "s3.h"
#include "../base/cleanup.h"
#include "../base/err.h"

#include <ctype.h>
#include <string.h>

/* file:///abs/path, file:/abs/path or file:relative/path */
static int open_file(backend **out, const char *rest, unsigned flags)
{
	if (strncmp(rest, "//", 2) == 0 && rest[2] != '/')
		return err_set(-DV_EUSAGE, "file URL 'file:%s' names a host: use file:///path", rest);
	if (strncmp(rest, "//", 2) == 0)
		rest += 2;
	if (!*rest)
		return err_set(-DV_EUSAGE, "file URL without a path");
	return local_backend_open(out, rest, flags);
}

static const struct backend_scheme {
	const char *name;
	int (*open)(backend **out, const char *rest, unsigned flags);
} schemes[] = {
	{ "file", open_file },
	{ "mem", mem_backend_open },
	{ "s3", s3_backend_open },
	/*
	 * Remote backends, each passing the conformance suite
	 * (tests/unit/backend_conformance.c) by its URL:
	 *   s3     S3-compatible object storage (docs/s3.md)
	 *   https  a dvalin server (docs/http-api.md)
	 *   http   the same without TLS, for a server on loopback
	 *   ssh    the same protocol over an ssh stdio pipe
	 */
	{ "https", remote_backend_open_https },
	{ "http", remote_backend_open_http },
	{ "ssh", remote_backend_open_ssh },
};

/* RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static int looks_like_scheme(const char *s, size_t n)
{
	if (n < 2 || !isalpha((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

int backend_open(const char *url, unsigned flags, backend **out)
{
	size_t n = strcspn(url, ":/");
	if (url[n] == ':' && looks_like_scheme(url, n)) {
		for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
			if (strlen(schemes[i].name) == n && strncasecmp(url, schemes[i].name, n) == 0)
				return schemes[i].open(out, url + n + 1, flags);
		if (strncmp(url + n + 1, "//", 2) == 0)
			return err_set(-DV_EUSAGE, "repository '%s': this dvalin has no backend for '%.*s:'",
				       url, (int)n, url);
	}
	if (!*url)
		return err_set(-DV_EUSAGE, "empty repository location");
	return local_backend_open(out, url, flags);
}
