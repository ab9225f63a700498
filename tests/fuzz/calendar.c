/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a calendar expression (daemon/calendar.h), as a schedule
 * line of a configuration file brings it.  Besides "never crash", it
 * checks what the scheduler relies on: the normalized form reads back to
 * itself; the search for the next time ends with an answer (a later time,
 * or never) and does not give up; each time found is the next one after
 * the instant just before it; and the times only move forward.  Local time
 * is Europe/Berlin, so the daylight-saving paths run for expressions
 * without a zone too.
 */
#include "fuzz.h"

#include "base/err.h"
#include "daemon/calendar.h"

#include <errno.h>
#include <time.h>

#define USEC CALENDAR_USEC_PER_SEC

static void check_times(const calendar *c, int64_t base)
{
	int64_t t = base * USEC;
	for (int k = 0; k < 4; k++) {
		int64_t prev = t, again;
		int r = calendar_next(&t, c, prev);
		FUZZ_CHECK(r == 0 || r == -DV_ENOTFOUND);
		if (r < 0)
			return;
		FUZZ_CHECK(t > prev);
		FUZZ_CHECK(calendar_next(&again, c, t - 1) == 0 && again == t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int zone_set;
	if (!zone_set) {
		setenv("TZ", "Europe/Berlin", 1);
		tzset();
		zone_set = 1;
	}
	/* a C string, one byte longer than the cap so that the cap is tried */
	char text[CALENDAR_TEXT_MAX + 2];
	if (size > CALENDAR_TEXT_MAX + 1 || memchr(data, 0, size))
		return 0;
	memcpy(text, data, size);
	text[size] = 0;

	calendar *a = NULL, *b = NULL;
	int r = calendar_parse(&a, text);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
		FUZZ_CHECK(strchr(err_msg(r), '\n') == NULL);
		return 0;
	}
	FUZZ_CHECK(calendar_parse(&b, calendar_text(a)) == 0);
	FUZZ_CHECK(strcmp(calendar_text(a), calendar_text(b)) == 0);
	/* before the March change of 2026, before the October one, and 2150 */
	static const int64_t bases[] = { 1774738800, 1792884600, 5680281600 };
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		check_times(a, bases[i]);
	calendar_free(a);
	calendar_free(b);
	return 0;
}
