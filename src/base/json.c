/* SPDX-License-Identifier: BSD-2-Clause */
#include "json.h"
#include "utf8.h"
#include "hex.h"

#include <inttypes.h>
#include <string.h>

void json_init(json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void before_value(json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0 && j->depth <= JSON_MAX_DEPTH) {
		if (j->need_comma[j->depth - 1])
			fputc(',', j->f);
		j->need_comma[j->depth - 1] = true;
	}
}

static void open_(json *j, char c)
{
	before_value(j);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH)
		j->need_comma[j->depth] = false;
	j->depth++;
}

void json_obj_begin(json *j) { open_(j, '{'); }
void json_arr_begin(json *j) { open_(j, '['); }

void json_obj_end(json *j)
{
	j->depth--;
	fputc('}', j->f);
}

void json_arr_end(json *j)
{
	j->depth--;
	fputc(']', j->f);
}

void json_strn(json *j, const void *s, size_t n)
{
	const uint8_t *p = s;
	before_value(j);
	fputc('"', j->f);
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', j->f);
			fputc(c, j->f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(j->f, "\\u%04x", c);
			i++;
		} else {
			size_t l = utf8_len(p + i, n - i, NULL);
			if (l == 0) {
				fputs("\\ufffd", j->f);
				i++;
			} else {
				fwrite(p + i, 1, l, j->f);
				i += l;
			}
		}
	}
	fputc('"', j->f);
}

void json_str(json *j, const char *s)
{
	json_strn(j, s, strlen(s));
}

void json_key(json *j, const char *k)
{
	json_str(j, k);
	fputc(':', j->f);
	j->after_key = true;
}

void json_int(json *j, int64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRId64, v);
}

void json_raw(json *j, const char *text)
{
	before_value(j);
	size_t n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	fwrite(text, 1, n, j->f);
}

void json_uint(json *j, uint64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_double(json *j, double v)
{
	before_value(j);
	fprintf(j->f, "%.3f", v);
}

void json_bool(json *j, bool v)
{
	before_value(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(json *j)
{
	before_value(j);
	fputs("null", j->f);
}

void json_hex(json *j, const uint8_t *p, size_t n)
{
	char h[2 * 64 + 1];
	if (n > 64)
		n = 64;
	hex_encode(h, p, n);
	json_str(j, h);
}

void json_base64(json *j, const void *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *b = p;
	before_value(j);
	fputc('"', j->f);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)b[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)b[i + 1] << 8;
		if (i + 2 < n)
			v |= b[i + 2];
		char q[4] = { abc[v >> 18], abc[(v >> 12) & 63], i + 1 < n ? abc[(v >> 6) & 63] : '=',
			      i + 2 < n ? abc[v & 63] : '=' };
		fwrite(q, 1, 4, j->f);
	}
	fputc('"', j->f);
}

bool json_is_utf8(const void *s, size_t n)
{
	const uint8_t *p = s;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(p + i, n - i, NULL);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

void json_finish(json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
