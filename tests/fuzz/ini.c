/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the INI reader shared by the configuration files (alerts
 * today, the daemon's next).  What the callbacks receive must be what the
 * syntax promises (a section name non-empty and trimmed, a key non-empty,
 * trimmed and without '=', a trimmed value, line numbers that grow), and
 * writing the callbacks' sequence back as INI text and parsing that again
 * must give the same sequence.
 */
#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/ini.h"

typedef struct {
	buf text; /* the sequence, written back as INI */
	int last_line;
	int in_section;
} seq;

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void trimmed(const char *s, int may_be_empty)
{
	size_t n = strlen(s);
	FUZZ_CHECK(may_be_empty || n > 0);
	FUZZ_CHECK(n == 0 || (!blank(s[0]) && !blank(s[n - 1])));
	FUZZ_CHECK(!strchr(s, '\n'));
}

static int on_section(void *ud, const char *section, int line)
{
	seq *q = ud;
	trimmed(section, 0);
	FUZZ_CHECK(!strchr(section, ']') && line > q->last_line);
	q->last_line = line;
	q->in_section = 1;
	int r = buf_append(&q->text, "[", 1);
	r = r ?: buf_append(&q->text, section, strlen(section));
	return r ?: buf_append(&q->text, "]\n", 2);
}

static int on_value(void *ud, const char *section, const char *key, const char *value, int line)
{
	seq *q = ud;
	trimmed(key, 0);
	trimmed(value, 1);
	FUZZ_CHECK(!strchr(key, '=') && key[0] != '[' && key[0] != '#' && key[0] != ';');
	FUZZ_CHECK(line > q->last_line && (q->in_section || section[0] == 0));
	q->last_line = line;
	int r = buf_append(&q->text, key, strlen(key));
	r = r ?: buf_append(&q->text, " = ", 3);
	r = r ?: buf_append(&q->text, value, strlen(value));
	return r ?: buf_append(&q->text, "\n", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	seq a = { BUF_INIT, 0, 0 }, b = { BUF_INIT, 0, 0 };
	ini_handler ha = { on_section, on_value, &a }, hb = { on_section, on_value, &b };
	/* a comment first: a key that is a byte order mark must not become one */
	if (buf_append(&a.text, "#\n", 2) < 0 || buf_append(&b.text, "#\n", 2) < 0)
		goto out;
	if (ini_parse((const char *)data, size, "fuzz", &ha) == 0) {
		FUZZ_CHECK(ini_parse((const char *)a.text.data, a.text.len, "again", &hb) == 0);
		FUZZ_CHECK(a.text.len == b.text.len &&
			   (!a.text.len || memcmp(a.text.data, b.text.data, a.text.len) == 0));
	}
out:
	err_clear();
	buf_release(&a.text);
	buf_release(&b.text);
	return 0;
}
