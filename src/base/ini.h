/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ini: a small parser for the configuration files of dvalin (the alert
 * channels today, the daemon tomorrow).  Pure: ini_parse() takes bytes
 * and calls back; only ini_parse_file() reads a file.
 *
 * The syntax, one construct per line:
 *
 *   # comment            (also "; comment"; only as a whole line, so a
 *                         value may hold '#' or ';', as passwords do)
 *   [section]            white space inside the brackets is trimmed; after
 *                         the ']' only white space or a comment may follow
 *   key = value          key and value are trimmed; the value may be
 *                         empty and holds everything after the first '='
 *
 * There are no continuation lines and no quoting: a list is written as
 * the same key repeated, and each occurrence is delivered in order.  Keys
 * before the first section belong to the section "" (the caller decides
 * whether that is allowed).  Lines end with "\n" or "\r\n"; a UTF-8 byte
 * order mark at the start is skipped; a NUL byte is an error.
 *
 * Caps (hostile or mistaken input is the normal case): a line is at most
 * INI_MAX_LINE bytes, a file at most INI_MAX_FILE bytes.  Every error,
 * the callbacks' included, is reported as "NAME:LINE: reason".
 */
#ifndef DV_BASE_INI_H
#define DV_BASE_INI_H

#include <stddef.h>

#define INI_MAX_LINE 4096
#define INI_MAX_FILE ((size_t)1 << 20)

typedef struct {
	/*
	 * A "[section]" line.  May be NULL (sections are then only passed to
	 * value).  A negative return stops the parse; its message (err_set)
	 * is prefixed with the file name and line.
	 */
	int (*section)(void *ud, const char *section, int line);
	/* A "key = value" line; same rules. */
	int (*value)(void *ud, const char *section, const char *key, const char *value, int line);
	void *ud;
} ini_handler;

/*
 * Parses n bytes of text; name (a file name) is used in messages.
 * 0, or the first negative code (-EINVAL for a syntax error, -EFBIG for a
 * text over the cap, or what a callback returned).
 */
int ini_parse(const char *text, size_t n, const char *name, const ini_handler *h);
/*
 * Reads path (at most INI_MAX_FILE bytes) and parses it; what names the
 * file in the message when it cannot be read ("cannot read alert
 * configuration '/etc/dvalin/alerts.conf': No such file or directory").
 */
int ini_parse_file(const char *path, const char *what, const ini_handler *h);

#endif
