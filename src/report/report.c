/* SPDX-License-Identifier: BSD-2-Clause */
#include "report.h"

#include <stdio.h>
#include <string.h>

/*
 * The civil date of a day number (days since 1970-01-01, proleptic
 * Gregorian), for any int64 day: gmtime_r() fails beyond the range of
 * tm_year, and a forged tree may hold any time.  Days are counted from
 * 0000-03-01 in 400-year eras of 146097 days, so that the leap day is the
 * last day of a year.
 */
static void civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468; /* days from 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);                          /* 0..146096 */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
	unsigned mp = (5 * doy + 2) / 153;                                    /* 0 = March */
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void format(char out[REPORT_TIME_MAX], int64_t sec, uint32_t nsec, int32_t offset, int zulu)
{
	int64_t local;
	if (zulu || offset % 60 != 0 || offset <= -86400 || offset >= 86400 ||
	    __builtin_add_overflow(sec, (int64_t)offset, &local)) {
		zulu = 1;
		offset = 0;
		local = sec;
	}
	int64_t days = local / 86400, rem = local % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (nsec > 999999999)
		nsec = 999999999; /* only a forged object; keeps the form */
	char year[32];
	if (y >= 0 && y <= 9999)
		snprintf(year, sizeof(year), "%04lld", (long long)y);
	else
		snprintf(year, sizeof(year), "%c%04lld", y < 0 ? '-' : '+', (long long)(y < 0 ? -y : y));
	int n = snprintf(out, REPORT_TIME_MAX, "%s-%02u-%02uT%02u:%02u:%02u.%09u", year, m, d,
			 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), nsec);
	if (n < 0 || n >= REPORT_TIME_MAX)
		return;
	if (zulu)
		snprintf(out + n, REPORT_TIME_MAX - (size_t)n, "Z");
	else
		snprintf(out + n, REPORT_TIME_MAX - (size_t)n, "%c%02d:%02d", offset < 0 ? '-' : '+',
			 (offset < 0 ? -offset : offset) / 3600, (offset < 0 ? -offset : offset) / 60 % 60);
}

void report_format_time(char out[REPORT_TIME_MAX], int64_t sec, uint32_t nsec, int32_t offset)
{
	format(out, sec, nsec, offset, 0);
}

void report_time(json *j, int64_t sec, uint32_t nsec, int32_t offset)
{
	char b[REPORT_TIME_MAX];
	format(b, sec, nsec, offset, 0);
	json_str(j, b);
}

void report_time_utc(json *j, int64_t sec, uint32_t nsec)
{
	char b[REPORT_TIME_MAX];
	format(b, sec, nsec, 0, 1);
	json_str(j, b);
}

void report_text(json *j, const char *key, const void *p, size_t n)
{
	json_key(j, key);
	json_strn(j, p, n);
	if (json_is_utf8(p, n))
		return;
	char raw[64];
	snprintf(raw, sizeof(raw), "%s_raw", key);
	json_key(j, raw);
	json_base64(j, p, n);
}

void report_str(json *j, const char *key, const char *s)
{
	report_text(j, key, s, strlen(s));
}

void report_strlist(json *j, const char *key, char *const *v, size_t n)
{
	int exact = 1;
	json_key(j, key);
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		json_str(j, v[i]);
		exact &= json_is_utf8(v[i], strlen(v[i]));
	}
	json_arr_end(j);
	if (exact)
		return;
	char raw[64];
	snprintf(raw, sizeof(raw), "%s_raw", key);
	json_key(j, raw);
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		if (json_is_utf8(v[i], strlen(v[i])))
			json_null(j);
		else
			json_base64(j, v[i], strlen(v[i]));
	}
	json_arr_end(j);
}

void report_id(json *j, const char *key, const uint8_t *id)
{
	json_key(j, key);
	if (id)
		json_hex(j, id, 32);
	else
		json_null(j);
}

void report_counters(json *j, const report_counter *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_key(j, c[i].key);
		json_uint(j, c[i].val);
	}
}

void report_requests(json *j, const backend_requests *req)
{
	json_key(j, "requests");
	if (!req) {
		json_null(j);
		json_key(j, "request_bytes");
		json_null(j);
		return;
	}
	json_obj_begin(j);
	for (size_t i = 0; i < BACKEND_REQ_KINDS; i++) {
		json_key(j, backend_request_names[i]);
		json_uint(j, req->n[i]);
	}
	json_obj_end(j);
	json_key(j, "request_bytes");
	json_obj_begin(j);
	json_key(j, "sent"); json_uint(j, req->bytes_sent);
	json_key(j, "received"); json_uint(j, req->bytes_received);
	json_obj_end(j);
}
