/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The rate limit's rule: steady takes are paced at the rate, a burst of
 * credit and no more is saved by idling, huge sizes and times saturate,
 * and rate strings parse.
 */
#include "harness.h"

#include "base/rate.h"

TEST(takes_are_paced_at_the_rate)
{
	rate_state s = { 1000000, 0, 0 }; /* 1 MB/s */
	int64_t now = 1000000000000LL, waited = 0;
	/* 10 MB in 100 KB takes: about 10 s of waiting, less the burst */
	for (int i = 0; i < 100; i++) {
		int64_t w = rate_delay_ns(&s, now, 100000);
		waited += w;
		now += w;
	}
	CHECK(waited >= 10000000000LL - RATE_BURST_NS - 1000 && waited <= 10000000000LL - RATE_BURST_NS + 1000);
	/* no limit: never a wait */
	rate_state none = { 0, 0, 0 };
	CHECK(rate_delay_ns(&none, now, UINT64_MAX) == 0);
}

TEST(idling_saves_one_burst_and_no_more)
{
	rate_state s = { 1000, 0, 0 };
	int64_t now = 5000000000LL;
	CHECK(rate_delay_ns(&s, now, 250) == 0); /* within the burst */
	now += 3600LL * 1000000000; /* an hour idle */
	CHECK(rate_delay_ns(&s, now, 250) == 0);
	/* the next second's worth must wait about a second */
	int64_t w = rate_delay_ns(&s, now, 1000);
	CHECK(w >= 999000000 && w <= 1000000000);
}

TEST(huge_values_saturate)
{
	rate_state s = { 1, 0, 0 };
	int64_t w = rate_delay_ns(&s, INT64_MAX - 10, UINT64_MAX);
	CHECK(w >= 0);
	rate_state t = { UINT64_MAX, 0, 0 };
	int64_t one = rate_delay_ns(&t, INT64_MIN, UINT64_MAX); /* one second, no credit before time began */
	CHECK(one > 0 && one <= 1000000000);
	rate_state u = { 3, 0, 0 };
	CHECK(rate_delay_ns(&u, 0, UINT64_MAX) > 0);
}

TEST(rates_parse)
{
	uint64_t v;
	CHECK(rate_parse("20M", &v) == 0 && v == 20u << 20);
	CHECK(rate_parse("500K", &v) == 0 && v == 500u << 10);
	CHECK(rate_parse("1G", &v) == 0 && v == 1u << 30);
	CHECK(rate_parse("123", &v) == 0 && v == 123);
	CHECK(rate_parse("2MB/s", &v) == 0 && v == 2u << 20);
	CHECK(rate_parse("0", &v) < 0 && rate_parse("", &v) < 0 && rate_parse("5X", &v) < 0);
	CHECK(rate_parse("-1", &v) < 0 && rate_parse("99999999999999999999G", &v) < 0);
}
