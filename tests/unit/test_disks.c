/* SPDX-License-Identifier: BSD-2-Clause */
/* Raw-value decoding, rules with and without a previous reading, zpool text. */
#include "harness.h"

#include "../../src/disks/disks.h"
#include "../../src/disks/smart.h"
#include "../../src/disks/zpool.h"

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
		return 0;
	*out = 5;
	return 1;
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
	CHECK(r[0].depth == 0 && r[1].depth == 1 && r[2].depth == 2 && r[2].ck == 2720);
	CHECK(r[4].section == 3 && r[4].depth == 1 && r[4].leaf);
	CHECK(!r[1].leaf && r[2].leaf);
	zpool_status_release(&s);
	CHECK(zpool_parse(&s, "nothing here\n", 13) < 0);
}
