/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * calendar: schedules in systemd's calendar-event syntax (systemd.time(7),
 * "CALENDAR EVENTS"), as a value: parse, the normalized form, and the next
 * time an expression elapses after a given instant.  The normalized form
 * and the elapse times are those of `systemd-analyze calendar` (systemd
 * 252); tests/unit/test_calendar.c holds a table recorded from it.
 *
 *     [WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [ZONE]
 *
 * WEEKDAYS: Mon..Sun or Monday..Sunday (any case), lists "Sat,Sun" and
 * ranges "Mon..Fri" ("Mon-Fri" too).  Each date and time field is "*" or a
 * list of values, ranges "1..5" and repetitions "0/15", "1..20/2"; "~"
 * between month and day counts days from the end of the month ("*-02~01"
 * is the last day of February).  Seconds may have six decimals.  Two-digit
 * years are 1970..2069.  A missing date is every day, a missing time
 * 00:00:00, missing seconds :00.  ZONE is "UTC" or a tz database name
 * (Europe/Berlin); without one the process's local zone applies.
 * Shorthands: minutely hourly daily weekly monthly yearly (annually)
 * quarterly semiannually (semi-annually, biannually, bi-annually), and
 * "@SECONDS" for one instant.
 *
 * Time zones and daylight saving time, as systemd does it: times are
 * searched in the zone's wall clock, forward from the wall-clock time of
 * the instant after the base.  A wall-clock time skipped by a change
 * (02:30 on the March morning in Europe/Berlin) does not happen; the search
 * goes on at the first time after the gap.  A wall-clock time that happens
 * twice (02:30 on the October morning) elapses once, at its first
 * occurrence, unless the base already lies in the second, repeated hour.
 *
 * Caps for hostile input: CALENDAR_TEXT_MAX bytes of text, at most
 * CALENDAR_LIST_MAX values per field, years up to 2199 (later times are
 * "never"); the search for the next time is bounded (an expression such as
 * "*-02-30" that never matches answers "never" after a few hundred steps).
 *
 * A calendar is immutable after calendar_parse(); it may be shared between
 * threads.  Evaluation in a named zone goes through base/tz.h (one lock).
 */
#ifndef DV_DAEMON_CALENDAR_H
#define DV_DAEMON_CALENDAR_H

#include <stdint.h>

#define CALENDAR_TEXT_MAX 1024
#define CALENDAR_LIST_MAX 240
#define CALENDAR_MAX_YEAR 2199
#define CALENDAR_USEC_PER_SEC ((int64_t)1000000)

typedef struct calendar calendar;

/*
 * Parses text into *out (free with calendar_free).  On a syntax error,
 * -EINVAL with a one-line message naming the expression, the column and
 * what is wrong there: "invalid calendar expression '*:61': minute 61 out
 * of range 0..59 (column 3)".
 */
int calendar_parse(calendar **out, const char *text);
void calendar_free(calendar *c);

/* The normalized form, as systemd-analyze prints it; owned by c. */
const char *calendar_text(const calendar *c);

/* "UTC", the tz database name of the expression's zone, or NULL for the local zone. */
const char *calendar_zone(const calendar *c);

/*
 * The first time c elapses strictly after `after`, in microseconds since
 * the epoch (after >= -1, so that -1 asks for the first time of all).
 * -DV_ENOTFOUND if it never elapses again (not recorded as an error
 * message: it is an answer).  -ELOOP if the search gave up (a bug guard;
 * the bound is far beyond any real expression).
 */
int calendar_next(int64_t *out, const calendar *c, int64_t after);

#endif
