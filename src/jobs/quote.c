/* SPDX-License-Identifier: BSD-2-Clause */
#include "quote.h"

#include <stdio.h>

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
