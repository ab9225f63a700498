/* SPDX-License-Identifier: BSD-2-Clause */
#include "paperkey.h"
#include "../base/err.h"
#include "../base/hex.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(crypto_keys) % 16 == 0, "paper key lines hold 16 bytes");

static const char header[] = "dvalin paper key, version ";

/* The check of line `no`: the first two bytes of SHA-256 over a label, the number and the bytes. */
static unsigned line_check(unsigned no, const uint8_t b[16])
{
	uint8_t in[32], h[32];
	memcpy(in, "dvalin-paper-v1", 15);
	in[15] = (uint8_t)no;
	memcpy(in + 16, b, 16);
	crypto_sha256(h, in, sizeof(in));
	return (unsigned)h[0] << 8 | h[1];
}

static uint32_t whole_check(const uint8_t repo_id[32], const crypto_keys *k)
{
	uint8_t in[32 + sizeof(crypto_keys)], h[32];
	memcpy(in, repo_id, 32);
	memcpy(in + 32, k, sizeof(*k));
	crypto_sha256(h, in, sizeof(in));
	crypto_wipe(in, sizeof(in));
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

int paperkey_encode(buf *out, const uint8_t repo_id[32], const crypto_keys *k)
{
	char hex[65], line[128];
	const uint8_t *kb = (const uint8_t *)k;
	hex_encode(hex, repo_id, 32);
	int n = snprintf(line, sizeof(line), "%s1\nrepository %s\n", header, hex);
	int rc = buf_append(out, line, (size_t)n);
	for (unsigned i = 0; rc == 0 && i < PAPERKEY_LINES; i++) {
		const uint8_t *b = kb + 16 * i;
		n = snprintf(line, sizeof(line), "%2u ", i + 1);
		for (int g = 0; g < 8; g++)
			n += snprintf(line + n, sizeof(line) - (size_t)n, " %02x%02x", b[2 * g], b[2 * g + 1]);
		n += snprintf(line + n, sizeof(line) - (size_t)n, "  %04x\n", line_check(i + 1, b));
		rc = buf_append(out, line, (size_t)n);
	}
	n = snprintf(line, sizeof(line), "check %08x\n", (unsigned)whole_check(repo_id, k));
	rc = rc ?: buf_append(out, line, (size_t)n);
	crypto_wipe(line, sizeof(line));
	return rc;
}

/* The next line of text[*pos..n) without surrounding blanks, lower-cased, in out. */
static int next_line(const char *text, size_t n, size_t *pos, char *out, size_t cap)
{
	while (*pos < n) {
		size_t s = *pos, e = s;
		while (e < n && text[e] != '\n')
			e++;
		*pos = e < n ? e + 1 : e;
		while (s < e && isspace((unsigned char)text[s]))
			s++;
		while (e > s && isspace((unsigned char)text[e - 1]))
			e--;
		if (s == e)
			continue;
		/* lower case, every run of blanks one space */
		size_t l = 0;
		for (size_t i = s; i < e && l < cap - 1; i++) {
			unsigned char ch = (unsigned char)text[i];
			if (isspace(ch) && l && out[l - 1] == ' ')
				continue;
			out[l++] = isspace(ch) ? ' ' : (char)tolower(ch);
		}
		out[l] = 0;
		return 1;
	}
	return 0;
}

/* Hex digits of s (blanks skipped) into out, exactly n bytes; -1 otherwise. */
static int hex_run(const char *s, uint8_t *out, size_t n)
{
	char digits[2 * 64 + 1];
	size_t k = 0;
	for (; *s && k < sizeof(digits) - 1; s++) {
		if (isspace((unsigned char)*s))
			continue;
		if (!isxdigit((unsigned char)*s))
			return -1;
		digits[k++] = *s;
	}
	digits[k] = 0;
	if (*s || k != 2 * n)
		return -1;
	return hex_decode(out, digits, n) < 0 ? -1 : 0;
}

int paperkey_decode(const char *text, size_t n, uint8_t repo_id[32], crypto_keys *k)
{
	if (n > PAPERKEY_MAX_TEXT)
		return err_set(-DV_ECORRUPT, "not a paper key: more than %d bytes", PAPERKEY_MAX_TEXT);
	char line[256];
	size_t pos = 0;
	int found = 0;
	while (!found && next_line(text, n, &pos, line, sizeof(line)))
		found = strncmp(line, header, sizeof(header) - 1) == 0;
	if (!found)
		return err_set(-DV_ECORRUPT, "not a paper key: no line '%s1'", header);
	if (strcmp(line + sizeof(header) - 1, "1") != 0)
		return err_set(-DV_EFORMAT, "paper key of version %.20s: this dvalin reads version 1",
			       line + sizeof(header) - 1);
	if (!next_line(text, n, &pos, line, sizeof(line)) || strncmp(line, "repository ", 11) ||
	    hex_run(line + 11, repo_id, 32) < 0)
		return err_set(-DV_ECORRUPT, "paper key: the line after the first must be 'repository' and 64 hex digits");
	uint8_t *kb = (uint8_t *)k;
	int rc = 0;
	for (unsigned i = 0; rc == 0 && i < PAPERKEY_LINES; i++) {
		unsigned no, check;
		int used = 0;
		char body[200];
		if (!next_line(text, n, &pos, line, sizeof(line)))
			rc = err_set(-DV_ECORRUPT, "paper key: line %u of %zu is missing", i + 1, PAPERKEY_LINES);
		else if (sscanf(line, "%u %n", &no, &used) != 1 || no != i + 1)
			rc = err_set(-DV_ECORRUPT, "paper key: expected line %u, found '%.40s'", i + 1, line);
		if (rc < 0)
			break;
		/* the last group of four digits is the check; the rest the bytes */
		snprintf(body, sizeof(body), "%s", line + used);
		char *last = strrchr(body, ' ');
		if (!last || sscanf(last + 1, "%4x", &check) != 1 || strlen(last + 1) != 4) {
			rc = err_set(-DV_ECORRUPT, "paper key: line %u has no check (four hex digits at its end)", i + 1);
			break;
		}
		*last = 0;
		if (hex_run(body, kb + 16 * i, 16) < 0)
			rc = err_set(-DV_ECORRUPT, "paper key: line %u must hold 32 hex digits before its check", i + 1);
		else if (line_check(i + 1, kb + 16 * i) != check)
			rc = err_set(-DV_ECORRUPT, "paper key: line %u does not match its check (a typo in that line?)", i + 1);
		crypto_wipe(body, sizeof(body));
	}
	uint32_t whole;
	if (rc == 0 && (!next_line(text, n, &pos, line, sizeof(line)) ||
			sscanf(line, "check %8x", &whole) != 1 || strlen(line) != 14))
		rc = err_set(-DV_ECORRUPT, "paper key: the last line must be 'check' and 8 hex digits");
	if (rc == 0 && whole != whole_check(repo_id, k))
		rc = err_set(-DV_ECORRUPT, "paper key: the check of the whole does not match (the repository line?)");
	crypto_wipe(line, sizeof(line));
	if (rc < 0)
		crypto_wipe(k, sizeof(*k));
	return rc;
}
