/* SPDX-License-Identifier: BSD-2-Clause */
#include "harness.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/reader.h"

TEST(varint_round_trip)
{
	uint64_t vals[] = { 0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX };
	int64_t svals[] = { 0, -1, 1, INT64_MIN, INT64_MAX, -86400 };
	buf b = BUF_INIT;
	for (size_t i = 0; i < 7; i++)
		REQUIRE(buf_put_varint(&b, vals[i]) == 0);
	for (size_t i = 0; i < 6; i++)
		REQUIRE(buf_put_svarint(&b, svals[i]) == 0);
	reader r;
	reader_init(&r, b.data, b.len);
	for (size_t i = 0; i < 7; i++)
		CHECK(reader_varint(&r) == vals[i]);
	for (size_t i = 0; i < 6; i++)
		CHECK(reader_svarint(&r) == svals[i]);
	CHECK(reader_ok(&r) && reader_left(&r) == 0);
	CHECK(reader_varint(&r) == 0 && !reader_ok(&r));
	buf_release(&b);
}

TEST(overlong_varint_is_rejected)
{
	uint8_t p[11];
	memset(p, 0xff, sizeof(p));
	reader r;
	reader_init(&r, p, sizeof(p));
	reader_varint(&r);
	CHECK(!reader_ok(&r));
	size_t l;
	uint8_t s[] = { 5, 'a' };
	reader_init(&r, s, sizeof(s));
	CHECK(reader_str(&r, &l, 100) == NULL && !reader_ok(&r));
}

TEST(buf_cap_is_enforced)
{
	buf b = BUF_INIT;
	CHECK(buf_reserve(&b, BUF_CAP + 1) == -EFBIG);
	CHECK(buf_reserve(&b, SIZE_MAX) == -EFBIG);
}

TEST(json_escapes_and_replaces_invalid_utf8)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	REQUIRE(f);
	json j;
	json_init(&j, f);
	json_obj_begin(&j);
	json_key(&j, "k");
	json_strn(&j, "a\"b\n\xff\xc3\xa9", 7);
	json_key(&j, "n");
	json_int(&j, -5);
	json_obj_end(&j);
	fclose(f);
	CHECK(strcmp(out, "{\"k\":\"a\\\"b\\u000a\\ufffd\xc3\xa9\",\"n\":-5}") == 0);
	free(out);
}
