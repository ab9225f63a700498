/* SPDX-License-Identifier: BSD-2-Clause */
/* Raw-value decoding, rules with and without a previous reading, zpool text. */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/disks/disks.h"
#include "../../src/disks/smart.h"
#include "../../src/disks/zpool.h"
#include "../../src/base/num.h"

#include <math.h>

TEST(raw_values_are_decoded)
{
	smart_attr a = { 0 };
	a.raw = 304;
	CHECK(smart_attr_count(&a) == 304);
	a.raw = 17180131332ULL; /* Seagate 188: 0x0004_0004_0004, smartctl did not decode */
	snprintf(a.raw_str, sizeof(a.raw_str), "17180131332");
	CHECK(smart_attr_count(&a) == 4);
	a.raw = 370475030; /* 190 "22 (Min/Max 21/22)" */
	snprintf(a.raw_str, sizeof(a.raw_str), "22 (Min/Max 21/22)");
	CHECK(smart_attr_count(&a) == 22);
}

static int prev_five(void *ud, const char *key, uint64_t *out)
{
	(void)ud;
	if (strcmp(key, "ata.5") != 0)
		return -DV_ENOTFOUND;
	*out = 5;
	return 0;
}

static smart_reading one_attr(int id, uint64_t raw)
{
	smart_reading r;
	memset(&r, 0, sizeof(r));
	r.kind = DISK_ATA;
	r.rotational = 1;
	r.last_selftest_hours = -1;
	r.attrs = calloc(1, sizeof(*r.attrs));
	r.nattrs = 1;
	r.attrs[0].id = id;
	r.attrs[0].value = r.attrs[0].worst = 100;
	r.attrs[0].thresh = 10;
	r.attrs[0].raw = raw;
	snprintf(r.attrs[0].raw_str, sizeof(r.attrs[0].raw_str), "%llu", (unsigned long long)raw);
	return r;
}

TEST(counter_rules_warning_level_and_growth)
{
	disk_report rep;
	smart_reading r = one_attr(5, 6);
	REQUIRE(disks_evaluate(&r, NULL, NULL, &rep) == 0);
	CHECK(rep.verdict == SEV_WARNING && rep.n == 1);
	disk_report_release(&rep);
	REQUIRE(disks_evaluate(&r, prev_five, NULL, &rep) == 0);
	CHECK(rep.verdict == SEV_FAILING && strstr(rep.v[0].message, "grew from 5 to 6"));
	disk_report_release(&rep);
	r.attrs[0].raw = 100;
	REQUIRE(disks_evaluate(&r, NULL, NULL, &rep) == 0);
	CHECK(rep.verdict == SEV_FAILING);
	disk_report_release(&rep);
	smart_reading_release(&r);

	r = one_attr(199, 3); /* CRC errors: the cable, never failing */
	REQUIRE(disks_evaluate(&r, NULL, NULL, &rep) == 0);
	CHECK(rep.verdict == SEV_WARNING && strstr(rep.v[0].message, "cable"));
	disk_report_release(&rep);
	smart_reading_release(&r);
}

TEST(json_parse_rejects_garbage_and_keeps_going)
{
	smart_reading r;
	CHECK(smart_parse(&r, "", 0) < 0);
	CHECK(smart_parse(&r, "{\"a\":1}", 7) < 0);
	CHECK(smart_parse(&r, "{[", 2) < 0);
	CHECK(smart_parse(&r, "hello\nworld\n", 12) < 0);
	const char *ok = "{\"smart_status\":{\"passed\":false},\"device\":{\"name\":\"/dev/x\",\"protocol\":\"ATA\"}}";
	REQUIRE(smart_parse(&r, ok, strlen(ok)) == 0);
	CHECK(r.has_passed && !r.passed && strcmp(r.device, "/dev/x") == 0);
	disk_report rep;
	REQUIRE(disks_evaluate(&r, NULL, NULL, &rep) == 0);
	CHECK(rep.verdict == SEV_FAILING);
	disk_report_release(&rep);
	smart_reading_release(&r);
}

TEST(zpool_text_depths_sections_and_counters)
{
	const char *t = "  pool: p\n state: ONLINE\nconfig:\n\n\tNAME STATE READ WRITE CKSUM\n"
			"\tp ONLINE 0 0 0\n\t  mirror-0 ONLINE 0 0 0\n\t    a ONLINE 0 0 2.72K\n"
			"\t    b ONLINE 0 0 0\n\tspares\n\t  c AVAIL\n\nerrors: No known data errors\n";
	zpool_status s;
	REQUIRE(zpool_parse(&s, t, strlen(t)) == 0);
	REQUIRE(s.n == 1 && s.v[0].nrows == 5);
	zpool_row *r = s.v[0].rows;
	CHECK(r[0].depth == 0 && r[1].depth == 1 && r[2].depth == 2 && r[2].ck == 2785);
	CHECK(r[4].section == 3 && r[4].depth == 1 && r[4].leaf);
	CHECK(!r[1].leaf && r[2].leaf);
	zpool_status_release(&s);
	CHECK(zpool_parse(&s, "nothing here\n", 13) < 0);
}

TEST(zpool_counts_every_suffix_saturate_and_refuse_garbage)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 },
		{ "12", 12 },
		{ "1023", 1023 },
		{ "1K", 1024 },
		{ "2.72K", 2785 }, /* 2.72 * 1024, floored */
		{ "1.5M", 1572864 },
		{ "3G", 3ULL << 30 },
		{ "1.25T", 5ULL << 38 },
		{ "1P", 1ULL << 50 },
		{ "2.5P", 5ULL << 49 },
		{ "1E", 1ULL << 60 },
		{ "15.99E", 18435214858663483146ULL }, /* 15 * 2^60 + 0.99 * 2^60 */
		{ "16E", UINT64_MAX },   /* 2^64: saturates */
		{ "99999E", UINT64_MAX },
		{ "99999999999999999999999999", UINT64_MAX },
		{ "0.000000000000000001E", 1 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 7;
		int rc = zpool_parse_count(ok[i].s, &v);
		if (rc != 0 || v != ok[i].v)
			fprintf(stderr, "  '%s' -> %d %llu\n", ok[i].s, rc, (unsigned long long)v);
		CHECK(rc == 0 && v == ok[i].v);
	}
	static const char *const bad[] = { "", "nan", "NaN", "inf", "-1", "+1", "1e5", "0x10", "1.",
					   ".5", "1.5X", "1KB", "k", " 1", "1 ", "1,5K", "1.2.3",
					   "1.0000000000000000001", "E" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 7;
		int rc = zpool_parse_count(bad[i], &v);
		if (rc == 0)
			fprintf(stderr, "  '%s' accepted as %llu\n", bad[i], (unsigned long long)v);
		CHECK(rc < 0);
	}
}

TEST(zpool_garbage_counters_are_unparsable_words_are_not_counters)
{
	const char *head = "  pool: p\n state: ONLINE\nconfig:\n\n\tNAME STATE READ WRITE CKSUM\n"
			   "\tp ONLINE 0 0 0\n";
	char t[512];
	zpool_status s;
	snprintf(t, sizeof(t), "%s\t  a ONLINE 0 0 nan\n", head);
	CHECK(zpool_parse(&s, t, strlen(t)) < 0);
	snprintf(t, sizeof(t), "%s\t  a ONLINE 0 0 1e999\n", head);
	CHECK(zpool_parse(&s, t, strlen(t)) < 0);
	snprintf(t, sizeof(t), "%s\t  a ONLINE 1234567890123456789012345678901234567890123456789012345678901234567890 0 0\n", head);
	CHECK(zpool_parse(&s, t, strlen(t)) < 0);
	/* a spare in use prints words where counters would be */
	snprintf(t, sizeof(t), "%s\t  a ONLINE 0 0 7.5E\n\tspares\n\t  b INUSE currently in use\n", head);
	REQUIRE(zpool_parse(&s, t, strlen(t)) == 0);
	CHECK(s.v[0].nrows == 3 && s.v[0].rows[1].ck == 15ULL << 59 && s.v[0].rows[2].ck == 0);
	zpool_status_release(&s);
}

TEST(zpool_json_counts_saturate_and_refuse_garbage)
{
	char t[512];
	zpool_status s;
#define ZJSON(count) "{\"pools\":{\"p\":{\"state\":\"ONLINE\",\"vdevs\":{\"p\":{\"name\":\"p\"," \
			 "\"state\":\"ONLINE\",\"read_errors\":%s,\"write_errors\":\"0\"," \
			 "\"checksum_errors\":0}}}}}", count
	snprintf(t, sizeof(t), ZJSON("1e300"));
	REQUIRE(zpool_parse(&s, t, strlen(t)) == 0);
	CHECK(s.v[0].nrows == 1 && s.v[0].rows[0].rd == UINT64_MAX);
	zpool_status_release(&s);
	snprintf(t, sizeof(t), ZJSON("\"2.5P\""));
	REQUIRE(zpool_parse(&s, t, strlen(t)) == 0);
	CHECK(s.v[0].rows[0].rd == 5ULL << 49);
	zpool_status_release(&s);
	static const char *const bad[] = { "-1", "1.5", "\"nan\"", "\"-3\"", "true", "[1]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(t, sizeof(t), ZJSON(bad[i]));
		CHECK(zpool_parse(&s, t, strlen(t)) < 0);
	}
}

TEST(doubles_convert_without_undefined_behaviour)
{
	uint64_t u = 7;
	int64_t i = 7;
	CHECK(num_u64_of_double(NAN, &u) < 0 && u == 7);
	CHECK(num_u64_of_double(-1, &u) < 0);
	CHECK(num_u64_of_double(1.5, &u) < 0);
	CHECK(num_u64_of_double(-0.0, &u) == 0 && u == 0);
	CHECK(num_u64_of_double(1e300, &u) == 0 && u == UINT64_MAX);
	CHECK(num_u64_of_double(INFINITY, &u) == 0 && u == UINT64_MAX);
	CHECK(num_u64_of_double(18446744073709551616.0, &u) == 0 && u == UINT64_MAX);
	CHECK(num_u64_of_double(18446744073709549568.0, &u) == 0 && u == 18446744073709549568ULL);
	CHECK(num_i64_of_double(NAN, &i) < 0);
	CHECK(num_i64_of_double(-1e300, &i) == 0 && i == INT64_MIN);
	CHECK(num_i64_of_double(9223372036854775808.0, &i) == 0 && i == INT64_MAX);
	CHECK(num_i64_of_double(-9223372036854775808.0, &i) == 0 && i == INT64_MIN);
	CHECK(num_i64_of_double(-42, &i) == 0 && i == -42);
	const char *end;
	CHECK(num_parse_u64("18446744073709551615x", &end, &u) == 0 && u == UINT64_MAX && *end == 'x');
	CHECK(num_parse_u64("18446744073709551616", &end, &u) == 0 && u == UINT64_MAX && !*end);
	CHECK(num_parse_u64("-1", &end, &u) < 0);
}

TEST(smart_json_huge_numbers_do_not_fail_or_wrap)
{
	/* smartctl writes unsigned 64-bit values; 2^64 - 1 must not sink the reading */
	const char *t = "{\"smartctl\":{\"exit_status\":4294967296},\"device\":{\"name\":\"/dev/x\","
			"\"protocol\":\"ATA\"},\"smart_status\":{\"passed\":true},"
			"\"temperature\":{\"current\":4294967336},"
			"\"ata_smart_attributes\":{\"table\":[{\"id\":5,\"name\":\"Reallocated_Sector_Ct\","
			"\"value\":1e30,\"worst\":100,\"thresh\":10,\"raw\":{\"value\":18446744073709551615,"
			"\"string\":\"18446744073709551615\"}}]}}";
	smart_reading r;
	REQUIRE(smart_parse(&r, t, strlen(t)) == 0);
	CHECK(r.has_exit && r.exit_status == INT32_MAX);
	CHECK(r.has_temp && r.temp == INT32_MAX); /* not 40, as a wrap would make it */
	REQUIRE(r.nattrs == 1);
	CHECK(r.attrs[0].raw == UINT64_MAX && r.attrs[0].value == INT32_MAX && r.attrs[0].worst == 100);
	smart_reading_release(&r);
}

TEST(smart_text_huge_numbers_do_not_overflow)
{
	const char *t = "SMART overall-health self-assessment test result: PASSED\n"
			"ID# ATTRIBUTE_NAME          FLAG     VALUE WORST THRESH TYPE      UPDATED  WHEN_FAILED RAW_VALUE\n"
			"  5 Reallocated_Sector_Ct   0x0033   99999999999 100 036 Pre-fail Always - 0\n"
			"194 Temperature_Celsius     0x0022   100 100 000 Old_age Always - 99999999999999 (Min/Max 20/45)\n"
			"999999999999 Bogus          0x0022   100 100 000 Old_age Always - 1\n";
	smart_reading r;
	REQUIRE(smart_parse(&r, t, strlen(t)) == 0);
	REQUIRE(r.nattrs == 2);
	CHECK(r.attrs[0].value == INT32_MAX && r.temp == INT32_MAX);
	smart_reading_release(&r);
}
