/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * calendar: the parser, the normalized form and the search for the next
 * elapse time.  calendar.h has the syntax and the rules for time zones.
 *
 * An expression is six fields (year, month, day, hour, minute, second)
 * and a set of weekdays.  Each field is a list of components, each
 * "start", "start/repeat", "start..stop" or "start..stop/repeat"; an
 * empty list is "*".  Seconds are kept in microseconds, so "1.5/0.25" is
 * start 1500000, repeat 250000; "*" in the seconds is 0/1 (every whole
 * second).  Normalizing sorts each list and drops duplicates, shortens a
 * range to its last repetition, and turns a range or repetition that
 * cannot repeat into its start, as systemd does, so that the normalized
 * text reads back to itself.
 *
 * The search walks the wall clock of the expression's zone field by
 * field, from the year down: each field takes the smallest value of its
 * list at or after the current one; if there is none, the next larger
 * field goes up by one and the smaller ones start over.  A candidate that
 * matches every field is then turned into an instant (resolve()), which
 * is where gaps and repeated hours of daylight saving time are handled.
 */
#include "calendar.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/tz.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USEC CALENDAR_USEC_PER_SEC
#define DAY_S 86400
/*
 * Steps of the search before it gives up (a guard against a bug, not a
 * limit an expression can reach).  Each step moves the candidate forward:
 * to the next value of a field or past a gap.  "*-02-30" takes two per
 * year up to CALENDAR_MAX_YEAR (348 in all from 2026); the most a month
 * can take is about 30 (a listed day of the wrong weekday, one after the
 * other), so 174 years of that stay under 65,000.
 */
#define SEARCH_MAX 200000

enum { F_YEAR, F_MONTH, F_DAY, F_HOUR, F_MINUTE, F_SECOND, F_N };

static const struct {
	const char *name;
	int min, max;
	int width; /* digits in the normalized form */
} fields[F_N] = {
	{ "year", 1970, CALENDAR_MAX_YEAR, 4 }, { "month", 1, 12, 2 }, { "day", 1, 31, 2 },
	{ "hour", 0, 23, 2 },                   { "minute", 0, 59, 2 }, { "second", 0, 60 * USEC - 1, 2 },
};

/* One list element: stop -1 means no end, repeat 0 just the start. */
typedef struct {
	int start, stop, repeat;
	int col; /* where it was written (1-based), for messages */
} comp;

typedef struct {
	comp *v;
	int n; /* 0: any value ("*") */
	size_t cap;
} chain;

struct calendar {
	unsigned weekdays; /* bit 0 Monday .. bit 6 Sunday; 0: every day */
	bool end_of_month; /* days count back from the end of the month ("~") */
	bool utc;
	char *zone;        /* tz database name; NULL when utc or local */
	chain f[F_N];
	char *text;        /* the normalized form */
};

/* ---- parsing ---- */

typedef struct {
	const char *base; /* start of the text being parsed, for columns */
	int col;          /* 1-based column of the error */
	char msg[160];
} parser;

__attribute__((format(printf, 3, 4))) static int perr(parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
	va_end(ap);
	ps->col = (int)(at - ps->base) + 1;
	return -EINVAL;
}

/* "end of text", "'x'" or "byte 0x07" for messages. */
static const char *describe(char out[16], const char *p)
{
	unsigned char c = (unsigned char)*p;
	if (!c)
		snprintf(out, 16, "end of text");
	else if (c > ' ' && c < 127)
		snprintf(out, 16, "'%c'", c);
	else if (c == ' ')
		snprintf(out, 16, "space");
	else
		snprintf(out, 16, "byte 0x%02x", c);
	return out;
}

static int unexpected(parser *ps, const char *p, const char *where)
{
	char d[16];
	return perr(ps, p, "unexpected %s%s", describe(d, p), where);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII, whatever the locale): does s start with word? */
static bool starts_with_word(const char *s, const char *word)
{
	for (; *word; s++, word++)
		if (ascii_lower(*s) != ascii_lower(*word))
			return false;
	return true;
}

static bool equal_nocase(const char *a, const char *b)
{
	return strlen(a) == strlen(b) && starts_with_word(a, b);
}

/* Prints a field value: seconds with their fraction ("05.500000"). */
static void value_text(char out[24], int f, int v)
{
	if (f == F_SECOND && v % USEC)
		snprintf(out, 24, "%d.%06d", v / (int)USEC, v % (int)USEC);
	else
		snprintf(out, 24, "%d", f == F_SECOND ? v / (int)USEC : v);
}

/*
 * A decimal number (for seconds: with up to six decimals, the seventh
 * rounding) no larger than INT_MAX in the field's unit.
 */
static int parse_number(parser *ps, const char **pp, bool seconds, int *out)
{
	const char *p = *pp;
	if (!is_digit(*p))
		return unexpected(ps, p, ", expected a number");
	int64_t v = 0;
	for (; is_digit(*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return perr(ps, *pp, "number too large");
	}
	if (seconds) {
		v *= USEC;
		/* one "." is a decimal point, ".." a range */
		if (p[0] == '.' && p[1] != '.') {
			p++;
			if (!is_digit(*p))
				return unexpected(ps, p, ", expected digits after the decimal point");
			int64_t frac = 0;
			int i = 0;
			for (; i < 6 && is_digit(*p); i++, p++)
				frac = frac * 10 + (*p - '0');
			for (int k = i; k < 6; k++)
				frac *= 10;
			if (i == 6 && *p >= '5' && *p <= '9')
				frac++;
			while (is_digit(*p))
				p++;
			v += frac;
		}
		if (v > INT_MAX)
			return perr(ps, *pp, "number too large");
	}
	*out = (int)v;
	*pp = p;
	return 0;
}

static int chain_add(parser *ps, chain *c, comp x, const char *at)
{
	if (c->n >= CALENDAR_LIST_MAX)
		return perr(ps, at, "more than %d values in one field", CALENDAR_LIST_MAX);
	if (array_reserve(&c->v, &c->cap, (size_t)c->n + 1, sizeof(comp)) < 0)
		return perr(ps, at, "out of memory");
	c->v[c->n++] = x;
	return 0;
}

static void chain_release(chain *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* "*" or a comma-separated list of components. */
static int parse_chain(parser *ps, const char **pp, bool seconds, chain *out)
{
	const char *p = *pp;
	int r;
	if (*p == '*') {
		*pp = p + 1;
		if (!seconds)
			return 0;
		return chain_add(ps, out, (comp){ 0, -1, (int)USEC, (int)(p - ps->base) + 1 }, p);
	}
	for (;;) {
		const char *at = p;
		comp x = { .stop = -1, .col = (int)(at - ps->base) + 1 };
		if ((r = parse_number(ps, &p, seconds, &x.start)) < 0)
			return r;
		if (p[0] == '.' && p[1] == '.') {
			p += 2;
			if ((r = parse_number(ps, &p, seconds, &x.stop)) < 0)
				return r;
			x.repeat = seconds ? (int)USEC : 1;
		}
		if (*p == '/') {
			p++;
			const char *rep = p;
			if ((r = parse_number(ps, &p, seconds, &x.repeat)) < 0)
				return r;
			if (x.repeat == 0)
				return perr(ps, rep, "a repetition of 0");
		} else if (seconds && x.stop >= 0 && x.start + x.repeat > x.stop) {
			/* steps of a second would not get from start to stop (systemd refuses it too) */
			return perr(ps, at, "a range of seconds shorter than a second needs a repetition ('/')");
		}
		if (*p && !strchr(" ,-~:", *p))
			return unexpected(ps, p, "");
		if ((r = chain_add(ps, out, x, at)) < 0)
			return r;
		if (*p != ',')
			break;
		p++;
	}
	*pp = p;
	return 0;
}

static const struct {
	const char *name;
	int nr;
} weekday_names[] = {
	{ "Monday", 0 }, { "Mon", 0 },    { "Tuesday", 1 },  { "Tue", 1 }, { "Wednesday", 2 },
	{ "Wed", 2 },    { "Thursday", 3 }, { "Thu", 3 },    { "Friday", 4 }, { "Fri", 4 },
	{ "Saturday", 5 }, { "Sat", 5 },  { "Sunday", 6 },   { "Sun", 6 },
};

static void skip_spaces(const char **pp)
{
	while (**pp == ' ')
		(*pp)++;
}

/* Weekdays before the date, if any: "Mon,Wed", "Mon..Fri", "Sat-Sun", "Wed,". */
static int parse_weekdays(parser *ps, const char **pp, calendar *c)
{
	const char *p = *pp;
	int from = -1; /* the start of an open range */
	for (bool first = true;; first = false) {
		int nr = -1;
		size_t len = 0;
		for (size_t i = 0; i < ARRAY_SIZE(weekday_names) && nr < 0; i++)
			if (starts_with_word(p, weekday_names[i].name))
				nr = weekday_names[i].nr, len = strlen(weekday_names[i].name);
		if (nr < 0) {
			if (first)
				return 0; /* no weekdays: a date or time follows */
			return unexpected(ps, p, ", expected a weekday");
		}
		if (p[len] && !strchr("-., ", p[len])) {
			int w = 0;
			while (p[w] && !strchr("-., ", p[w]) && w < 20)
				w++;
			return perr(ps, p, "unknown weekday '%.*s'", w, p);
		}
		c->weekdays |= 1u << nr;
		if (from >= 0) {
			if (from > nr)
				return perr(ps, p, "weekday range ends before it starts (it cannot wrap past Sunday)");
			for (int k = from + 1; k < nr; k++)
				c->weekdays |= 1u << k;
		}
		p += len;
		if (!*p || *p == ' ') {
			skip_spaces(&p);
			*pp = p;
			return 0;
		}
		if (*p == '.' || *p == '-') {
			if (from >= 0)
				return perr(ps, p, "a weekday range cannot continue");
			if (*p == '.' && p[1] != '.')
				return unexpected(ps, p + 1, ", expected '..'");
			from = nr;
			p += *p == '.' ? 2 : 1;
		} else { /* ',' */
			from = -1;
			p++;
		}
		if (!*p || *p == ' ') { /* a trailing comma is fine, an open range is not */
			if (from >= 0)
				return unexpected(ps, p, ", expected the weekday that ends the range");
			skip_spaces(&p);
			*pp = p;
			return 0;
		}
	}
}

/* Days since 1970-01-01 of a date of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int chain_const(parser *ps, chain *c, int v)
{
	return chain_add(ps, c, (comp){ v, -1, 0, 0 }, ps->base);
}

/* "@SECONDS": one instant, in UTC. */
static int parse_timestamp(parser *ps, const char **pp, calendar *c)
{
	const char *p = *pp + 1;
	if (!is_digit(*p))
		return unexpected(ps, p, ", expected seconds since 1970 after '@'");
	int64_t v = 0;
	for (; is_digit(*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > (int64_t)1e12) /* year 33658: far beyond the valid years, and no overflow */
			return perr(ps, *pp, "timestamp too large");
	}
	int y, m, d, r;
	civil_from_days(v / DAY_S, &y, &m, &d);
	int secs = (int)(v % DAY_S);
	if ((r = chain_const(ps, &c->f[F_YEAR], y)) < 0 || (r = chain_const(ps, &c->f[F_MONTH], m)) < 0 ||
	    (r = chain_const(ps, &c->f[F_DAY], d)) < 0 || (r = chain_const(ps, &c->f[F_HOUR], secs / 3600)) < 0 ||
	    (r = chain_const(ps, &c->f[F_MINUTE], secs / 60 % 60)) < 0 ||
	    (r = chain_const(ps, &c->f[F_SECOND], secs % 60 * (int)USEC)) < 0)
		return r;
	c->f[F_YEAR].v[0].col = (int)(*pp - ps->base) + 1;
	c->utc = true;
	free(c->zone);
	c->zone = NULL;
	*pp = p;
	return 0;
}

/*
 * [[YEAR-]MONTH-DAY]: 1 when the date was "@SECONDS" (nothing may
 * follow), else 0 with *pp at the time (unchanged if there is no date).
 */
static int parse_date(parser *ps, const char **pp, calendar *c)
{
	const char *p = *pp;
	if (!*p)
		return 0;
	if (*p == '@') {
		int r = parse_timestamp(ps, pp, c);
		return r < 0 ? r : 1;
	}
	chain part[3] = { { 0 } };
	int n = 0, r;
	for (;;) {
		if ((r = parse_chain(ps, &p, false, &part[n++])) < 0)
			goto out;
		if (n == 1 && (!*p || *p == ':')) { /* that was the hour */
			r = 0;
			goto out;
		}
		if (n >= 2 && (!*p || *p == ' '))
			break;
		if (n == 3) {
			r = unexpected(ps, p, " after the day");
			goto out;
		}
		if (*p == '~') {
			if (c->end_of_month) {
				r = perr(ps, p, "only one '~'");
				goto out;
			}
			c->end_of_month = true;
		} else if (*p != '-' || c->end_of_month) {
			r = c->end_of_month ? perr(ps, p, "'~' goes between month and day")
					    : unexpected(ps, p, " in the date");
			goto out;
		}
		p++;
	}
	skip_spaces(&p);
	*pp = p;
	if (n == 2) {
		c->f[F_MONTH] = part[0];
		c->f[F_DAY] = part[1];
	} else {
		c->f[F_YEAR] = part[0];
		c->f[F_MONTH] = part[1];
		c->f[F_DAY] = part[2];
	}
	return 0;
out:
	for (int i = 0; i < 3; i++)
		chain_release(&part[i]);
	return r;
}

/* [HOUR:MINUTE[:SECOND]]; nothing is 00:00:00, no seconds :00. */
static int parse_time(parser *ps, const char **pp, calendar *c)
{
	const char *p = *pp;
	int r;
	if (!*p) {
		if ((r = chain_const(ps, &c->f[F_HOUR], 0)) < 0 || (r = chain_const(ps, &c->f[F_MINUTE], 0)) < 0)
			return r;
		return chain_const(ps, &c->f[F_SECOND], 0);
	}
	if ((r = parse_chain(ps, &p, false, &c->f[F_HOUR])) < 0)
		return r;
	if (*p != ':')
		return unexpected(ps, p, ", expected ':' after the hour");
	p++;
	if ((r = parse_chain(ps, &p, false, &c->f[F_MINUTE])) < 0)
		return r;
	if (!*p) {
		*pp = p;
		return chain_const(ps, &c->f[F_SECOND], 0);
	}
	if (*p != ':')
		return unexpected(ps, p, " after the minute");
	p++;
	if ((r = parse_chain(ps, &p, true, &c->f[F_SECOND])) < 0)
		return r;
	*pp = p;
	return 0;
}

static const struct {
	const char *name, *means;
} shorthands[] = {
	{ "minutely", "*-*-* *:*:00" },
	{ "hourly", "*-*-* *:00:00" },
	{ "daily", "*-*-* 00:00:00" },
	{ "monthly", "*-*-01 00:00:00" },
	{ "weekly", "Mon *-*-* 00:00:00" },
	{ "yearly", "*-01-01 00:00:00" },
	{ "annually", "*-01-01 00:00:00" },
	{ "anually", "*-01-01 00:00:00" }, /* systemd keeps the old misspelling */
	{ "quarterly", "*-01,04,07,10-01 00:00:00" },
	{ "semiannually", "*-01,07-01 00:00:00" },
	{ "semi-annually", "*-01,07-01 00:00:00" },
	{ "biannually", "*-01,07-01 00:00:00" },
	{ "bi-annually", "*-01,07-01 00:00:00" },
};

/* Everything but the zone: a shorthand, or weekdays, date and time. */
static int parse_body(parser *ps, const char *s, calendar *c)
{
	ps->base = s;
	if (!*s)
		return perr(ps, s, "empty expression");
	for (size_t i = 0; i < ARRAY_SIZE(shorthands); i++)
		if (equal_nocase(s, shorthands[i].name)) {
			s = shorthands[i].means;
			ps->base = s;
			break;
		}
	const char *p = s;
	int r = parse_weekdays(ps, &p, c);
	if (r >= 0)
		r = parse_date(ps, &p, c);
	if (r == 0)
		r = parse_time(ps, &p, c);
	if (r < 0)
		return r;
	if (*p)
		return unexpected(ps, p, " at the end");
	return 0;
}

/* ---- normalizing and checking ---- */

static int comp_cmp(const void *a, const void *b)
{
	const comp *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->stop != y->stop)
		return x->stop < y->stop ? -1 : 1;
	return x->repeat < y->repeat ? -1 : x->repeat > y->repeat;
}

static void normalize_chain(chain *c)
{
	for (int i = 0; i < c->n; i++) {
		comp *x = &c->v[i];
		/* a range ends at its last repetition */
		if (x->stop > x->start && x->repeat > 0)
			x->stop -= (x->stop - x->start) % x->repeat;
		/* a range of one value, or one that never gets to repeat, is its start */
		if ((x->stop > x->start && x->repeat > 0 && x->start + x->repeat > x->stop) || x->start == x->stop) {
			x->repeat = 0;
			x->stop = -1;
		}
	}
	if (c->n < 2)
		return;
	qsort(c->v, (size_t)c->n, sizeof(comp), comp_cmp);
	int k = 1;
	for (int i = 1; i < c->n; i++)
		if (comp_cmp(&c->v[i], &c->v[k - 1]) != 0)
			c->v[k++] = c->v[i];
	c->n = k;
}

static int check_chain(parser *ps, const chain *c, int f, bool eom)
{
	int from = fields[f].min, to = fields[f].max;
	const char *what = fields[f].name;
	if (eom)
		to -= 3; /* "~" counts back at most 28 days, so every month has the day */
	char a[24], b[24], r[24];
	for (int i = 0; i < c->n; i++) {
		const comp *x = &c->v[i];
		const char *at = ps->base + x->col - 1;
		value_text(a, f, x->start);
		value_text(b, f, x->stop);
		value_text(r, f, x->repeat);
		if (x->start < from || x->start > to || (x->stop >= 0 && (x->stop < from || x->stop > to))) {
			char lo[24], hi[24];
			value_text(lo, f, from);
			value_text(hi, f, to);
			bool bad_start = x->start < from || x->start > to;
			return perr(ps, at, "%s%s %s out of range %s..%s", eom ? "days before the end of the month: " : "",
				    what, bad_start ? a : b, lo, hi);
		}
		if (x->repeat > to - from)
			return perr(ps, at, "repetition /%s too large for a %s", r, what);
		if (x->stop >= 0) {
			if (x->start + x->repeat > x->stop)
				return perr(ps, at, "%s range %s..%s ends before it starts", what, a, b);
		} else if (eom && x->start - x->repeat < from) {
			return perr(ps, at, "'~%s/%s' does not repeat within the month", a, r);
		} else if (!eom && x->start + x->repeat > to) {
			return perr(ps, at, "%s %s/%s does not repeat before %s %d", what, a, r, what, f == F_SECOND ? 59 : to);
		}
	}
	return 0;
}

static void normalize(calendar *c)
{
	if (c->weekdays == 0x7f)
		c->weekdays = 0;
	if (c->f[F_DAY].n == 0)
		c->end_of_month = false;
	/* two-digit years: 70..99 are 1970..1999, 0..69 are 2000..2069 */
	for (int i = 0; i < c->f[F_YEAR].n; i++) {
		comp *x = &c->f[F_YEAR].v[i];
		int *ends[2] = { &x->start, &x->stop };
		for (int k = 0; k < 2; k++)
			if (*ends[k] >= 0 && *ends[k] < 100)
				*ends[k] += *ends[k] < 70 ? 2000 : 1900;
	}
	for (int f = 0; f < F_N; f++)
		normalize_chain(&c->f[f]);
}

/* ---- the normalized form ---- */

__attribute__((format(printf, 2, 3))) static int put(buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return n < 0 ? -EINVAL : buf_append(b, tmp, (size_t)MIN(n, (int)sizeof(tmp) - 1));
}

static int format_weekdays(buf *b, unsigned bits)
{
	static const char *const names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	int r = 0;
	bool first = true;
	for (int d = 0; d < 7 && r == 0;) {
		if (!(bits & 1u << d)) {
			d++;
			continue;
		}
		int e = d;
		while (e + 1 < 7 && bits & 1u << (e + 1))
			e++;
		/* runs of three or more are ranges, two days a list */
		r = put(b, "%s%s", first ? "" : ",", names[d]);
		if (r == 0 && e > d)
			r = put(b, "%s%s", e - d >= 2 ? ".." : ",", names[e]);
		first = false;
		d = e + 1;
	}
	return r ?: put(b, " ");
}

static int format_chain(buf *b, const chain *c, int f)
{
	bool sec = f == F_SECOND;
	int unit = sec ? (int)USEC : 1, w = fields[f].width, r = 0;
	/* "*": no list, or seconds with an element that is every whole second */
	bool star = c->n == 0;
	for (int i = 0; sec && i < c->n; i++)
		if (c->v[i].start == 0 && c->v[i].stop < 0 && c->v[i].repeat == (int)USEC)
			star = true;
	if (star)
		return put(b, "*");
	for (int i = 0; i < c->n && r == 0; i++) {
		const comp *x = &c->v[i];
		if (i)
			r = put(b, ",");
		r = r ?: put(b, "%0*d", w, x->start / unit);
		if (r == 0 && x->start % unit)
			r = put(b, ".%06d", x->start % unit);
		if (r == 0 && x->stop > 0) {
			r = put(b, "..%0*d", w, x->stop / unit);
			if (r == 0 && x->stop % unit)
				r = put(b, ".%06d", x->stop % unit);
		}
		/* a range steps by one unit unless it says otherwise */
		if (r == 0 && x->repeat > 0 && !(x->stop > 0 && x->repeat == unit)) {
			r = put(b, "/%d", x->repeat / unit);
			if (r == 0 && x->repeat % unit)
				r = put(b, ".%06d", x->repeat % unit);
		}
	}
	return r;
}

static int format(calendar *c)
{
	buf b = BUF_INIT;
	int r = c->weekdays ? format_weekdays(&b, c->weekdays) : 0;
	static const char sep[F_N] = { '-', '-', ' ', ':', ':', 0 };
	for (int f = 0; f < F_N && r == 0; f++) {
		r = format_chain(&b, &c->f[f], f);
		char s = f == F_MONTH && c->end_of_month ? '~' : sep[f];
		if (r == 0 && s)
			r = buf_append(&b, &s, 1);
	}
	if (r == 0 && (c->utc || c->zone))
		r = put(&b, " ") ?: buf_append(&b, c->utc ? "UTC" : c->zone, strlen(c->utc ? "UTC" : c->zone));
	r = r ?: buf_put_u8(&b, 0);
	if (r < 0) {
		buf_release(&b);
		return r;
	}
	c->text = (char *)buf_steal(&b);
	return 0;
}

/* ---- the public parse ---- */

void calendar_free(calendar *c)
{
	if (!c)
		return;
	for (int f = 0; f < F_N; f++)
		chain_release(&c->f[f]);
	free(c->zone);
	free(c->text);
	free(c);
}

static void calendar_freep(calendar **c)
{
	calendar_free(*c);
}

/* The expression for a message: at most 100 bytes, and "..." if longer. */
static void shown(char out[112], const char *text)
{
	size_t n = strnlen(text, 100);
	memcpy(out, text, n);
	snprintf(out + n, 4, "%s", text[n] ? "..." : "");
}

/* err_set(), with control bytes of the text shown as '?', so that the message stays one line. */
__attribute__((format(printf, 2, 3))) static int fail(int code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 127)
			*p = '?';
	return err_set(code, "%s", msg);
}

/* Body and checks: everything after the zone was taken off. */
static int parse_all(parser *ps, calendar *c, const char *s)
{
	int r = parse_body(ps, s, c);
	if (r < 0)
		return r;
	normalize(c);
	for (int f = 0; f < F_N && r == 0; f++)
		r = check_chain(ps, &c->f[f], f, f == F_DAY && c->end_of_month);
	return r;
}

int calendar_parse(calendar **out, const char *text)
{
	char what[112];
	size_t n = strnlen(text, CALENDAR_TEXT_MAX + 1);
	shown(what, text);
	if (n > CALENDAR_TEXT_MAX)
		return fail(-EINVAL, "invalid calendar expression '%s': longer than %d bytes", what,
			       CALENDAR_TEXT_MAX);
	_cleanup_free_ char *s = strdup(text);
	_cleanup_(calendar_freep) calendar *c = calloc(1, sizeof(*c));
	if (!s || !c)
		return fail(-ENOMEM, "cannot parse calendar expression '%s': out of memory", what);
	/* the zone, if any, is the last word */
	char *sp = strrchr(s, ' ');
	char *zone_word = NULL;
	if (n >= 4 && equal_nocase(s + n - 4, " UTC")) {
		c->utc = true;
		s[n - 4] = 0;
	} else if (sp && tz_name_valid(sp + 1)) {
		if (!(c->zone = strdup(sp + 1)))
			return fail(-ENOMEM, "cannot parse calendar expression '%s': out of memory", what);
		*sp = 0;
	} else if (sp && ((sp[1] >= 'A' && sp[1] <= 'Z') || (sp[1] >= 'a' && sp[1] <= 'z'))) {
		zone_word = sp + 1;
	}
	parser ps = { 0 };
	int r = parse_all(&ps, c, s);
	if (r < 0 && zone_word) {
		/* "daily Mars/Olympus": say it is the zone, if the rest is fine */
		_cleanup_(calendar_freep) calendar *t = calloc(1, sizeof(*t));
		parser ps2 = { 0 };
		*sp = 0;
		if (!t)
			return fail(-ENOMEM, "cannot parse calendar expression '%s': out of memory", what);
		if (parse_all(&ps2, t, s) == 0)
			return fail(-EINVAL, "invalid calendar expression '%s': unknown time zone '%.64s' (column %d)",
				       what, zone_word, (int)(zone_word - s) + 1);
		/* the rest is wrong too: that error first */
		ps = ps2;
	}
	if (r < 0)
		return fail(r, "invalid calendar expression '%s': %s (column %d)", what, ps.msg, ps.col);
	if ((r = format(c)) < 0)
		return fail(r, "cannot parse calendar expression '%s': out of memory", what);
	*out = take_ptr(c);
	return 0;
}

const char *calendar_text(const calendar *c)
{
	return c->text;
}

const char *calendar_zone(const calendar *c)
{
	return c->utc ? "UTC" : c->zone;
}

/* ---- the next elapse ---- */

typedef struct {
	int year, month, day, hour, minute;
	int usec; /* second * 10^6 + microsecond */
} wall;

static int days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The wall clock's seconds counted as if it were UTC. */
static int64_t wall_seconds(const wall *w)
{
	return days_from_civil(w->year, w->month, w->day) * DAY_S + w->hour * 3600 + w->minute * 60 +
	       w->usec / USEC;
}

static int tm_at(bool utc, int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;
	if (!(utc ? gmtime_r(&tt, tm) : localtime_r(&tt, tm)))
		return err_set(-EOVERFLOW, "time %lld out of range", (long long)t);
	return 0;
}

static int64_t tm_seconds(const struct tm *tm)
{
	return days_from_civil(tm->tm_year + 1900LL, tm->tm_mon + 1, tm->tm_mday) * DAY_S + tm->tm_hour * 3600 +
	       tm->tm_min * 60 + tm->tm_sec;
}

static int wall_at(bool utc, int64_t t_usec, wall *w)
{
	int64_t sec = floor_div(t_usec, USEC);
	struct tm tm;
	int r = tm_at(utc, sec, &tm);
	if (r < 0)
		return r;
	*w = (wall){ tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     (int)(tm.tm_sec * USEC + (t_usec - sec * USEC)) };
	return 0;
}

/*
 * The zone's offset at instant t: wall-clock seconds minus t.  Taken from
 * the broken-down time rather than tm_gmtoff so that leap seconds of the
 * "right/" zones count as libc counts them.
 */
static int offset_at(int64_t t, int64_t *out)
{
	struct tm tm;
	int r = tm_at(false, t, &tm);
	*out = r < 0 ? 0 : tm_seconds(&tm) - t;
	return r;
}

/*
 * Turns the matching wall-clock time *w into the instant *out, the first
 * one at or after s with that wall-clock time: 0.  Or 1 with *w moved to
 * where the search goes on: the end of a daylight-saving gap when *w does
 * not exist, the next microsecond when it exists only before s.
 *
 * An instant t has wall-clock time g when t + offset(t) == g.  Offsets
 * are within a day, so every such t lies in (g - 1 day, g + 1 day), and
 * trying the offsets at both ends (and, for two changes within that
 * window, the offset where the first try landed) finds them all.
 */
static int resolve(bool utc, wall *w, int64_t s, int64_t *out)
{
	int64_t g = wall_seconds(w), frac = w->usec % USEC;
	if (utc) {
		*out = g * USEC + frac;
		return 0;
	}
	int64_t offs[3], found[3], o;
	int no = 0, nf = 0, r;
	if ((r = offset_at(g - DAY_S, &offs[no++])) < 0 || (r = offset_at(g + DAY_S, &offs[no++])) < 0 ||
	    (r = offset_at(g - offs[0], &offs[no++])) < 0)
		return r;
	for (int i = 0; i < no; i++) {
		bool dup = false;
		for (int k = 0; k < i; k++)
			dup |= offs[k] == offs[i];
		if (dup)
			continue;
		if ((r = offset_at(g - offs[i], &o)) < 0)
			return r;
		if (o == offs[i])
			found[nf++] = g - offs[i];
	}
	int64_t best = -1;
	for (int i = 0; i < nf; i++)
		if (found[i] * USEC + frac >= s && (best < 0 || found[i] < best))
			best = found[i];
	if (best >= 0) {
		*out = best * USEC + frac;
		return 0;
	}
	if (nf > 0) { /* the second of a repeated hour, and we are past its first */
		w->usec++;
		return 1;
	}
	/*
	 * A gap: wall-clock time jumps past g.  The first instant whose wall
	 * clock is after g is the change itself; its wall-clock time is where
	 * the search goes on, as systemd does (mktime() lands there).
	 */
	int64_t lo = g - DAY_S, hi = g + DAY_S;
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if ((r = offset_at(mid, &o)) < 0)
			return r;
		if (mid + o > g)
			hi = mid;
		else
			lo = mid;
	}
	if ((r = wall_at(false, hi * USEC, w)) < 0)
		return r;
	return 1;
}

/*
 * The smallest value of the list at or above val and at most max, or -1.
 * dim > 0: the list counts days back from the end of a month of dim days.
 */
static int next_value(const chain *c, int val, int max, int dim)
{
	if (c->n == 0)
		return val <= max ? val : -1;
	int64_t best = -1;
	for (int i = 0; i < c->n; i++) {
		const comp *x = &c->v[i];
		int64_t start = x->start, stop = x->stop, k;
		if (dim) {
			start = dim - x->start + 1;
			stop = x->stop >= 0 ? dim - x->stop + 1 : -1;
			if (stop > 0) { /* "~7..1" counted back is the days dim-6..dim */
				int64_t t = start;
				start = stop;
				stop = t;
			}
		}
		if (start >= val)
			k = start;
		else if (x->repeat > 0)
			k = start + x->repeat * ((val - start + x->repeat - 1) / x->repeat);
		else
			continue;
		if ((stop < 0 || k <= stop) && k <= max && (best < 0 || k < best))
			best = k;
	}
	return (int)best;
}

static int weekday(int y, int m, int d)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0) */
	return (int)((days_from_civil(y, m, d) % 7 + 7 + 3) % 7);
}

static int search(const calendar *c, int64_t s, int64_t *out)
{
	wall w;
	int r = wall_at(c->utc, s, &w);
	if (r < 0)
		return r;
	for (int step = 0; step < SEARCH_MAX; step++) {
		int v = next_value(&c->f[F_YEAR], w.year, CALENDAR_MAX_YEAR, 0);
		if (v < 0)
			return -DV_ENOTFOUND;
		if (v != w.year)
			w = (wall){ v, 1, 1, 0, 0, 0 };
		if ((v = next_value(&c->f[F_MONTH], w.month, 12, 0)) < 0) {
			w = (wall){ w.year + 1, 1, 1, 0, 0, 0 };
			continue;
		}
		if (v != w.month)
			w = (wall){ w.year, v, 1, 0, 0, 0 };
		int dim = days_in_month(w.year, w.month);
		if ((v = next_value(&c->f[F_DAY], w.day, dim, c->end_of_month ? dim : 0)) < 0) {
			w = (wall){ w.year, w.month + 1, 1, 0, 0, 0 };
			continue;
		}
		if (v != w.day)
			w = (wall){ w.year, w.month, v, 0, 0, 0 };
		if (c->weekdays && !(c->weekdays & 1u << weekday(w.year, w.month, w.day))) {
			w = (wall){ w.year, w.month, w.day + 1, 0, 0, 0 };
			continue;
		}
		if ((v = next_value(&c->f[F_HOUR], w.hour, 23, 0)) < 0) {
			w = (wall){ w.year, w.month, w.day + 1, 0, 0, 0 };
			continue;
		}
		if (v != w.hour)
			w = (wall){ w.year, w.month, w.day, v, 0, 0 };
		if ((v = next_value(&c->f[F_MINUTE], w.minute, 59, 0)) < 0) {
			w = (wall){ w.year, w.month, w.day, w.hour + 1, 0, 0 };
			continue;
		}
		if (v != w.minute)
			w = (wall){ w.year, w.month, w.day, w.hour, v, 0 };
		if ((v = next_value(&c->f[F_SECOND], w.usec, fields[F_SECOND].max, 0)) < 0) {
			w = (wall){ w.year, w.month, w.day, w.hour, w.minute + 1, 0 };
			continue;
		}
		w.usec = v;
		if ((r = resolve(c->utc, &w, s, out)) <= 0)
			return r;
	}
	return err_set(-ELOOP, "calendar expression '%s': gave up searching for the next time", c->text);
}

int calendar_next(int64_t *out, const calendar *c, int64_t after)
{
	/* with a day of margin for zones: later than this, nothing elapses any more */
	int64_t last = (days_from_civil(CALENDAR_MAX_YEAR + 1, 1, 2) * DAY_S) * USEC;
	if (after < -1)
		return err_set(-EINVAL, "calendar: base time before 1970");
	if (after >= last)
		return -DV_ENOTFOUND;
	if (c->utc)
		return search(c, after + 1, out);
	int r = tz_enter(c->zone);
	if (r < 0)
		return err_set(r, "cannot evaluate '%s': out of memory", c->text);
	r = search(c, after + 1, out);
	tz_leave();
	return r;
}
