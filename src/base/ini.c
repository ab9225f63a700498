/* SPDX-License-Identifier: BSD-2-Clause */
#include "ini.h"
#include "buf.h"
#include "err.h"
#include "fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims s in place (it is NUL-terminated) and returns the first non-blank. */
static char *trim(char *s)
{
	while (is_space(*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		*--e = 0;
	return s;
}

/* A callback's error, with the position in front of its message. */
static int at(int rc, const char *name, int line)
{
	return err_set(rc, "%s:%d: %s", name, line, err_msg(rc));
}

/* section: the current section name, a buffer as large as a line */
static int parse_line(char *l, int no, const char *name, const ini_handler *h, char *section)
{
	l = trim(l);
	if (!*l || *l == '#' || *l == ';')
		return 0;
	int rc = 0;
	err_clear(); /* so a callback that sets no message gets a generic one */
	if (*l == '[') {
		char *end = strchr(l, ']');
		if (!end)
			return err_set(-EINVAL, "%s:%d: '[' without ']'", name, no);
		char *rest = trim(end + 1);
		if (*rest && *rest != '#' && *rest != ';')
			return err_set(-EINVAL, "%s:%d: unexpected '%s' after the section name", name, no, rest);
		*end = 0;
		char *s = trim(l + 1);
		if (!*s)
			return err_set(-EINVAL, "%s:%d: empty section name", name, no);
		memcpy(section, s, strlen(s) + 1); /* a substring of a line: it fits */
		if (h->section && (rc = h->section(h->ud, section, no)) < 0)
			return at(rc, name, no);
		return 0;
	}
	char *eq = strchr(l, '=');
	if (!eq)
		return err_set(-EINVAL, "%s:%d: expected '[section]' or 'key = value'", name, no);
	*eq = 0;
	char *key = trim(l), *val = trim(eq + 1);
	if (!*key)
		return err_set(-EINVAL, "%s:%d: a value without a key", name, no);
	if (h->value && (rc = h->value(h->ud, section, key, val, no)) < 0)
		return at(rc, name, no);
	return 0;
}

int ini_parse(const char *text, size_t n, const char *name, const ini_handler *h)
{
	if (n > INI_MAX_FILE)
		return err_set(-EFBIG, "%s: larger than %zu bytes", name, INI_MAX_FILE);
	static const char bom[] = "\xef\xbb\xbf";
	size_t pos = n >= 3 && memcmp(text, bom, 3) == 0 ? 3 : 0;
	/* both fit a line and its NUL: the section is a line's substring */
	char line[INI_MAX_LINE + 1], section[INI_MAX_LINE + 1] = "";
	int no = 0;
	while (pos < n) {
		no++;
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - start) : n - pos;
		pos += len + (nl != NULL);
		if (len > INI_MAX_LINE)
			return err_set(-EINVAL, "%s:%d: line longer than %d bytes", name, no, INI_MAX_LINE);
		if (memchr(start, 0, len))
			return err_set(-EINVAL, "%s:%d: NUL byte (not a text file?)", name, no);
		memcpy(line, start, len);
		line[len] = 0;
		int rc = parse_line(line, no, name, h, section);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ini_parse_file(const char *path, const char *what, const ini_handler *h)
{
	buf b = BUF_INIT;
	int rc = fsio_read_file(AT_FDCWD, path, &b, INI_MAX_FILE);
	if (rc == -EFBIG)
		rc = err_set(rc, "%s: larger than %zu bytes", path, INI_MAX_FILE);
	else if (rc < 0)
		rc = err_sys(rc, "cannot read %s '%s'", what, path);
	else
		rc = ini_parse(b.len ? (const char *)b.data : "", b.len, path, h);
	buf_release(&b);
	return rc;
}
