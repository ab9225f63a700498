/* SPDX-License-Identifier: BSD-2-Clause */
#include "quote.h"
#include "../base/utf8.h"

#include <stdio.h>
#include <string.h>

const char *quote_path(buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	out->len = 0;
	for (size_t i = 0; i < n; i++) {
		char esc[5];
		unsigned char c = s[i];
		if (c == '\n')
			buf_append(out, "\\n", 2);
		else if (c == '\t')
			buf_append(out, "\\t", 2);
		else if (c == '\\')
			buf_append(out, "\\\\", 2);
		else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			buf_append(out, esc, 4);
		} else
			buf_append(out, &c, 1);
	}
	if (buf_put_u8(out, 0) < 0)
		return "(out of memory)";
	return (const char *)out->data;
}

/* 1 when a listing must quote these bytes (see quote_listing). */
static int needs_quotes(const uint8_t *s, size_t n)
{
	if (n && s[0] == '"')
		return 1;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_len(s + i, n - i, &cp);
		if (l == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			return 1;
		i += l;
	}
	return 0;
}

const char *quote_listing(buf *out, const void *p, size_t n)
{
	const uint8_t *s = p;
	out->len = 0;
	if (!needs_quotes(s, n)) {
		if (buf_append(out, s, n) < 0 || buf_put_u8(out, 0) < 0)
			return "(out of memory)";
		return (const char *)out->data;
	}
	int rc = buf_put_u8(out, '"');
	for (size_t i = 0; rc == 0 && i < n;) {
		uint32_t cp;
		size_t l = utf8_len(s + i, n - i, &cp);
		char esc[8];
		if (l == 0 || cp < 0x20 || cp == 0x7f) {
			uint8_t c = s[i];
			if (c == '\n')
				snprintf(esc, sizeof(esc), "\\n");
			else if (c == '\t')
				snprintf(esc, sizeof(esc), "\\t");
			else if (c == '\r')
				snprintf(esc, sizeof(esc), "\\r");
			else
				snprintf(esc, sizeof(esc), "\\x%02x", c);
			rc = buf_append(out, esc, strlen(esc));
			i++;
			continue;
		}
		if (cp >= 0x80 && cp < 0xa0) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			rc = buf_append(out, esc, strlen(esc));
		} else if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			rc = buf_append(out, esc, 2);
		} else {
			rc = buf_append(out, s + i, l);
		}
		i += l;
	}
	rc = rc ?: buf_put_u8(out, '"');
	rc = rc ?: buf_put_u8(out, 0);
	return rc < 0 ? "(out of memory)" : (const char *)out->data;
}
