/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * listfile: the files behind --exclude-file, --iexclude-file and the
 * --files-from family, read as restic reads them:
 *
 *   patterns  one per line, surrounding blanks trimmed, empty lines and
 *             lines starting with '#' skipped, $VAR and ${VAR} replaced by
 *             the environment (--exclude-file, --files-from);
 *   verbatim  one per line, exactly (only empty lines skipped): names may
 *             start with '#' or a blank (--files-from-verbatim);
 *   raw       separated by NUL bytes, exactly, as find -print0 writes
 *             them (--files-from-raw).
 *
 * "-" is standard input.  A file is capped at CLI_LIST_MAX_BYTES.
 */
#include "cli.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/strlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $VAR and ${VAR} from the environment (an unset one is empty, as in restic). */
static int expand_env(buf *out, const char *s, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n;) {
		if (s[i] != '$' || i + 1 == n) {
			rc = buf_append(out, s + i, 1);
			i++;
			continue;
		}
		size_t a = i + 1, b;
		int braced = s[a] == '{';
		if (braced)
			a++;
		for (b = a; b < n && (isalnum((unsigned char)s[b]) || s[b] == '_'); b++)
			;
		if (b == a || (braced && (b == n || s[b] != '}'))) {
			rc = buf_append(out, s + i, 1); /* not a variable: a plain '$' */
			i++;
			continue;
		}
		char name[256];
		size_t l = b - a < sizeof(name) - 1 ? b - a : sizeof(name) - 1;
		memcpy(name, s + a, l);
		name[l] = 0;
		const char *v = getenv(name);
		if (v)
			rc = buf_append(out, v, strlen(v));
		i = b + (braced ? 1 : 0);
	}
	return rc;
}

static int add_item(char ***list, size_t *n, int mode, const char *s, size_t len)
{
	if (mode == CLI_LIST_PATTERNS) {
		while (len && isspace((unsigned char)s[0])) {
			s++;
			len--;
		}
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		if (len == 0 || s[0] == '#')
			return 0;
	} else if (mode == CLI_LIST_VERBATIM) {
		if (len && s[len - 1] == '\r')
			len--; /* a file written on Windows */
	}
	if (len == 0)
		return 0;
	buf b = BUF_INIT;
	int rc = mode == CLI_LIST_PATTERNS ? expand_env(&b, s, len) : buf_append(&b, s, len);
	rc = rc ?: buf_put_u8(&b, 0);
	if (rc == 0 && strlen((const char *)b.data) != b.len - 1)
		rc = -EINVAL; /* a NUL inside a line: not a name */
	rc = rc ?: strlist_add(list, n, (const char *)b.data);
	buf_release(&b);
	return rc;
}

int cli_read_list(const char *path, int mode, char ***list, size_t *n)
{
	int is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "re");
	if (!f)
		return err_sys(-errno, "cannot read '%s'", path);
	buf b = BUF_INIT;
	char chunk[65536];
	size_t got;
	int rc = 0;
	while (rc == 0 && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + got > CLI_LIST_MAX_BYTES)
			rc = err_set(-E2BIG, "'%s' is larger than %d MiB", path, CLI_LIST_MAX_BYTES >> 20);
		else
			rc = buf_append(&b, chunk, got);
	}
	if (rc == 0 && ferror(f))
		rc = err_sys(-EIO, "cannot read '%s'", path);
	if (!is_stdin)
		fclose(f);
	char sep = mode == CLI_LIST_RAW ? '\0' : '\n';
	for (size_t i = 0; rc == 0 && i < b.len;) {
		const char *s = (const char *)b.data + i;
		const char *e = memchr(s, sep, b.len - i);
		size_t len = e ? (size_t)(e - s) : b.len - i;
		rc = add_item(list, n, mode, s, len);
		if (rc == -EINVAL)
			rc = err_set(-DV_EUSAGE, "'%s' holds a NUL byte in a line (use --files-from-raw for NUL-separated names)",
				     path);
		i += len + 1;
	}
	buf_release(&b);
	return rc;
}
