/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Paper keys (repo/paperkey.h): what is printed reads back; a typo is
 * placed on its line; text around the block and blanks do not matter.
 */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/repo/paperkey.h"

#include <ctype.h>
#include <stdio.h>

static void sample(uint8_t id[32], crypto_keys *k)
{
	for (int i = 0; i < 32; i++)
		id[i] = (uint8_t)(i * 7 + 1);
	uint8_t *kb = (uint8_t *)k;
	for (size_t i = 0; i < sizeof(*k); i++)
		kb[i] = (uint8_t)(i * 13 + 5);
}

/* The paper text of the sample, NUL-terminated in b. */
static char *sample_text(buf *b, uint8_t id[32], crypto_keys *k)
{
	sample(id, k);
	if (paperkey_encode(b, id, k) < 0 || buf_put_u8(b, 0) < 0)
		return NULL;
	return (char *)b->data;
}

TEST(paperkey_round_trip_with_noise_around)
{
	uint8_t id[32], id2[32];
	crypto_keys k, k2;
	buf b = BUF_INIT;
	const char *text = sample_text(&b, id, &k);
	REQUIRE(text != NULL);
	CHECK(strncmp(text, "dvalin paper key, version 1\nrepository 01080f", 45) == 0);
	REQUIRE(paperkey_decode(text, strlen(text), id2, &k2) == 0);
	CHECK(memcmp(id, id2, 32) == 0 && memcmp(&k, &k2, sizeof(k)) == 0);
	/* upper case, extra blanks, words before and after */
	char noisy[2048];
	size_t n = 0;
	n += (size_t)snprintf(noisy + n, sizeof(noisy) - n, "printed 2026-12-01\n\n");
	for (const char *p = text; *p; p++) {
		if (*p == ' ')
			noisy[n++] = ' '; /* every blank doubled */
		noisy[n++] = isxdigit((unsigned char)*p) ? (char)toupper((unsigned char)*p) : *p;
	}
	n += (size_t)snprintf(noisy + n, sizeof(noisy) - n, "\nkeep it safe\n");
	CHECK(paperkey_decode(noisy, n, id2, &k2) == 0);
	CHECK(memcmp(&k, &k2, sizeof(k)) == 0);
	buf_release(&b);
}

TEST(paperkey_typos_are_placed_on_their_line)
{
	uint8_t id[32], id2[32];
	crypto_keys k, k2;
	buf b = BUF_INIT;
	char *text = sample_text(&b, id, &k);
	REQUIRE(text != NULL);
	/* line 4's first digit */
	char *l4 = strstr(text, "\n 4  ") + 5, was = *l4;
	*l4 = was == '0' ? '1' : '0';
	CHECK(paperkey_decode(text, strlen(text), id2, &k2) == -DV_ECORRUPT);
	CHECK(strstr(err_msg(0), "line 4 does not match its check") != NULL);
	*l4 = was;
	/* the repository line: only the whole check sees it */
	char *rid = strstr(text, "repository ") + 11;
	was = *rid;
	*rid = was == '0' ? '1' : '0';
	CHECK(paperkey_decode(text, strlen(text), id2, &k2) == -DV_ECORRUPT);
	CHECK(strstr(err_msg(0), "check of the whole") != NULL);
	*rid = was;
	/* a missing line, another version */
	char *l6 = strstr(text, "\n 6  ");
	char cut[1024];
	snprintf(cut, sizeof(cut), "%.*s", (int)(l6 - text), text);
	CHECK(paperkey_decode(cut, strlen(cut), id2, &k2) == -DV_ECORRUPT);
	CHECK(strstr(err_msg(0), "line 6 of 6 is missing") != NULL);
	char *v = strstr(text, "version 1");
	v[8] = '2';
	CHECK(paperkey_decode(text, strlen(text), id2, &k2) == -DV_EFORMAT);
	CHECK(paperkey_decode("hello", 5, id2, &k2) == -DV_ECORRUPT);
	buf_release(&b);
}
