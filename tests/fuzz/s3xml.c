/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: S3's XML answers (backend/s3xml.c), which come from a
 * server dvalin does not control.  Every parser runs on every input:
 * a listing's keys are NUL-free C strings within S3's key length and
 * arrive in the count the page says; a truncated page has a token; an
 * error's code and message are printable ASCII; an upload id fits.
 */
#include "fuzz.h"

#include "backend/s3xml.h"
#include "base/err.h"

static int on_key(void *ud, const char *key, uint64_t size, int64_t mtime_ns)
{
	uint64_t *n = ud;
	(void)mtime_ns;
	FUZZ_CHECK(strlen(key) <= S3XML_KEY_MAX);
	FUZZ_CHECK(size <= ((uint64_t)1 << 62));
	(*n)++;
	return 0;
}

static void printable(const char *s)
{
	for (; *s; s++)
		FUZZ_CHECK(*s >= 0x20 && *s <= 0x7e);
}

static int on_delete_error(void *ud, const char *key, const char *code, const char *message)
{
	(void)ud;
	FUZZ_CHECK(strlen(key) <= S3XML_KEY_MAX);
	printable(code);
	printable(message);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	s3xml_page page;
	uint64_t n = 0;
	if (s3xml_parse_list(&page, data, size, on_key, &n) == 0) {
		FUZZ_CHECK(n <= page.keys);
		FUZZ_CHECK(!page.truncated || page.next_token[0]);
		FUZZ_CHECK(strlen(page.next_token) < sizeof(page.next_token));
	}
	s3xml_error e;
	if (s3xml_parse_error(&e, data, size) == 1) {
		printable(e.code);
		printable(e.message);
	}
	char id[256];
	if (s3xml_parse_upload_id(id, sizeof(id), data, size) == 0)
		FUZZ_CHECK(id[0] && strlen(id) < sizeof(id));
	if (s3xml_parse_complete(&e, data, size) == 1) {
		printable(e.code);
		printable(e.message);
	}
	s3xml_parse_delete(data, size, on_delete_error, NULL);
	char text[64];
	size_t t = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, t);
	text[t] = 0;
	int64_t ns;
	if (s3xml_parse_time(text, &ns) == 0)
		FUZZ_CHECK(ns >= 0);
	err_clear();
	return 0;
}
