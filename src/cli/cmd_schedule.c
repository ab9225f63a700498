/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dvalin schedule: what `systemd-analyze calendar` prints, for the
 * schedules of the daemon (daemon/calendar.h): the normalized form and
 * the next times, in the same layout.
 */
#include "cli.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/tz.h"
#include "../daemon/calendar.h"
#include "../report/schedule.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USEC CALENDAR_USEC_PER_SEC
#define ITERATIONS_MAX 1000

const char cmd_schedule_usage[] =
	"usage: dvalin schedule EXPRESSION... [--iterations N] [--base-time TIME] [--json]\n\n"
	"Check calendar expressions, the schedules of the daemon: print each one's\n"
	"normalized form and the next times it elapses, as `systemd-analyze calendar`\n"
	"does.  The syntax is systemd's (systemd.time(7)):\n"
	"  [WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [ZONE]\n"
	"e.g. \"Mon..Fri *-*-* 02:30\", \"Sat,Sun 03:00 Europe/Berlin\", \"*:0/15\",\n"
	"\"*-*-01 04:00\", \"*-*~01\" (the last day of each month), daily, weekly.\n\n"
	"Options:\n"
	"      --iterations N   how many times to print (default 5, at most 1000)\n"
	"      --base-time T    count from T, not from now: @SECONDS, or a date and\n"
	"                       time like \"2026-03-28 12:00\" (local, or followed\n"
	"                       by UTC or a zone such as Europe/Berlin)\n"
	"      --json           {\"schedules\": [{original, normalized, zone, next}]}\n"
	"                       (docs/json.md)\n\n"
	"Times are shown in the local zone ($TZ), and in UTC as well when that is\n"
	"another zone.  Exit status: 0 every expression is valid, 1 one is not.\n";

static int64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * USEC + ts.tv_nsec / 1000;
}

/* "@SECONDS[.FRACTION]", "now", or a calendar expression of one instant. */
static int parse_base_time(const char *s, int64_t *out)
{
	if (strcmp(s, "now") == 0) {
		*out = now_usec();
		return 0;
	}
	if (s[0] == '@') {
		char *end;
		errno = 0;
		double v = strtod(s + 1, &end);
		if (errno || end == s + 1 || *end || !(v >= 0 && v < 1e11))
			return err_set(-EINVAL, "--base-time '%s': expected @SECONDS since 1970", s);
		*out = (int64_t)(v * USEC + 0.5);
		return 0;
	}
	calendar *c = NULL;
	int r = calendar_parse(&c, s);
	if (r < 0)
		return err_set(r, "--base-time: %s", err_msg(r));
	int64_t first, second;
	r = calendar_next(&first, c, -1);
	int r2 = r == 0 ? calendar_next(&second, c, first) : 0;
	calendar_free(c);
	if (r == -DV_ENOTFOUND || r2 == 0)
		return err_set(-EINVAL, "--base-time '%s' is not one point in time (give a date and a time)", s);
	if (r < 0 || r2 != -DV_ENOTFOUND)
		return r < 0 ? r : r2;
	*out = first;
	return 0;
}

/* "Mon 2026-03-30 02:30:00 CEST" as systemd prints a timestamp. */
static void format_time(char out[64], int64_t usec, bool utc)
{
	time_t t = (time_t)(usec / USEC);
	struct tm tm;
	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) ||
	    !strftime(out, 64, utc ? "%a %Y-%m-%d %H:%M:%S UTC" : "%a %Y-%m-%d %H:%M:%S %Z", &tm))
		snprintf(out, 64, "@%" PRId64, usec / USEC);
}

/* "8 months 3 days ago", "5min 3s left": systemd's relative timestamps. */
static void format_relative(char out[64], int64_t t, int64_t now)
{
	static const int64_t S = USEC, MIN = 60 * S, H = 60 * MIN, D = 24 * H, W = 7 * D,
			     MON = 2629800 * S, Y = 31557600 * S;
	const char *suffix = t < now ? " ago" : " left";
	int64_t d = t < now ? now - t : t - now;
	const char *unit = "";
#define PLURAL(n, word) (n), (n) == 1 ? word : word "s"
	if (d >= Y)
		snprintf(out, 64, "%" PRId64 " %s %" PRId64 " %s%s", PLURAL(d / Y, "year"), PLURAL(d % Y / MON, "month"),
			 suffix);
	else if (d >= MON)
		snprintf(out, 64, "%" PRId64 " %s %" PRId64 " %s%s", PLURAL(d / MON, "month"), PLURAL(d % MON / D, "day"),
			 suffix);
	else if (d >= W)
		snprintf(out, 64, "%" PRId64 " %s %" PRId64 " %s%s", PLURAL(d / W, "week"), PLURAL(d % W / D, "day"),
			 suffix);
	else if (d >= 2 * D)
		snprintf(out, 64, "%" PRId64 " days%s", d / D, suffix);
	else if (d >= 25 * H)
		snprintf(out, 64, "1 day %" PRId64 "h%s", (d - D) / H, suffix);
	else if (d >= 6 * H)
		snprintf(out, 64, "%" PRId64 "h%s", d / H, suffix);
	else if (d >= H)
		snprintf(out, 64, "%" PRId64 "h %" PRId64 "min%s", d / H, d % H / MIN, suffix);
	else if (d >= 5 * MIN)
		snprintf(out, 64, "%" PRId64 "min%s", d / MIN, suffix);
	else if (d >= MIN)
		snprintf(out, 64, "%" PRId64 "min %" PRId64 "s%s", d / MIN, d % MIN / S, suffix);
	else if (d >= S)
		unit = "s", d /= S;
	else if (d >= 1000)
		unit = "ms", d /= 1000;
	else if (d > 0)
		unit = "us";
	else
		snprintf(out, 64, "now");
#undef PLURAL
	if (*unit)
		snprintf(out, 64, "%" PRId64 "%s%s", d, unit, suffix);
}

static void field(const char *name, const char *value)
{
	printf("%15s: %s\n", name, value);
}

/* The next times after base (at most max), and the local zone's offset at each. */
typedef struct {
	int64_t t[ITERATIONS_MAX];
	int32_t offset[ITERATIONS_MAX];
	size_t n;
} times;

static int next_times(times *out, const calendar *c, int64_t base, int max)
{
	int64_t t = base;
	out->n = 0;
	for (int i = 0; i < max; i++) {
		int r = calendar_next(&t, c, t);
		if (r == -DV_ENOTFOUND)
			break;
		if (r < 0)
			return r;
		time_t s = (time_t)(t / USEC);
		struct tm tm;
		out->offset[out->n] = localtime_r(&s, &tm) ? (int32_t)tm.tm_gmtoff : 0;
		out->t[out->n++] = t;
	}
	return 0;
}

static void print_text(const char *expr, const calendar *c, const times *ts, bool show_utc)
{
	if (strcmp(expr, calendar_text(c)) != 0) {
		/* shown without trailing spaces, as systemd's table does */
		size_t n = strlen(expr);
		while (n && expr[n - 1] == ' ')
			n--;
		printf("%15s: %.*s\n", "Original form", (int)n, expr);
	}
	field("Normalized form", calendar_text(c));
	if (ts->n == 0)
		field("Next elapse", "never");
	int64_t now = now_usec();
	for (size_t i = 0; i < ts->n; i++) {
		char when[64], label[32];
		snprintf(label, sizeof(label), "Iter. #%zu", i + 1);
		format_time(when, ts->t[i], false);
		field(i == 0 ? "Next elapse" : label, when);
		if (show_utc) {
			format_time(when, ts->t[i], true);
			field("(in UTC)", when);
		}
		format_relative(when, ts->t[i], now);
		field("From now", when);
	}
}

int cmd_schedule(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "base-time", required_argument, NULL, 'b' },
		{ 0 },
	};
	const char *base_s = NULL;
	int iterations = 5, c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 0 || v > ITERATIONS_MAX)
				return cli_usage_error(ctx, "--iterations takes a number from 0 to %d", ITERATIONS_MAX);
			iterations = (int)v;
		} else if (c == 'b') {
			base_s = optarg;
		} else {
			return cli_option_error(ctx);
		}
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "needs a calendar expression");
	int64_t base = 0;
	int r = base_s ? parse_base_time(base_s, &base) : (base = now_usec(), 0);
	if (r < 0)
		return cli_fail(r);
	_cleanup_free_ times *ts = malloc(sizeof(*ts));
	if (!ts)
		return cli_fail(err_set(-ENOMEM, "out of memory"));
	bool show_utc = !tz_local_is_utc();
	json j;
	if (ctx->json) {
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "schedules");
		json_arr_begin(&j);
	}
	int status = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		calendar *cal = NULL;
		r = calendar_parse(&cal, argv[i]);
		r = r ?: next_times(ts, cal, base, iterations);
		if (r < 0) {
			log_error("%s", err_msg(r));
			status = EXIT_FAIL;
		}
		if (ctx->json) {
			report_schedule_item item = { argv[i], NULL, NULL, NULL, ts->t, ts->offset, ts->n };
			if (r < 0)
				item.error = err_msg(r);
			else
				item.normalized = calendar_text(cal), item.zone = calendar_zone(cal);
			report_schedule(&j, &item);
		} else {
			if (r == 0)
				print_text(argv[i], cal, ts, show_utc);
			if (i + 1 < argc)
				putchar('\n');
		}
		calendar_free(cal);
	}
	if (ctx->json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_finish(&j);
	}
	return status;
}
