/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * `dvalin jobs`: asks the running daemon through its local API, the web
 * UI's JSON API on the Unix socket STATE-DIR/control.sock (docs/daemon.md,
 * "Local API"), with libcurl.  --json prints the daemon's documents as
 * they are; the text forms are made from them.
 */
#include "cli.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../daemon/config.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESPONSE_MAX ((size_t)64 << 20)

const char cmd_jobs_usage[] =
	"usage: dvalin jobs [--config FILE] [--json]\n"
	"       dvalin jobs history [JOB] [--limit N] [--json]\n"
	"       dvalin jobs log RUN-ID [--json]\n"
	"       dvalin jobs run JOB [--wait]\n\n"
	"Ask the running daemon (through its local API, the Unix socket\n"
	"STATE-DIR/control.sock of the configuration):\n"
	"  (nothing)  every job: kind, last result, its age, the last success, the next run\n"
	"  history    the runs, newest first (of one job, or of all)\n"
	"  log        one run: its command lines and what they wrote to stderr\n"
	"  run        start a job now (it queues if a conflicting job runs); with\n"
	"             --wait, wait for its end: exit status 0 if it succeeded, else 1\n\n"
	"Options:\n"
	"      --config FILE  the daemon's configuration (default $DVALIN_CONFIG, else\n"
	"                     " CONFIG_DEFAULT_PATH ")\n"
	"      --json         the daemon's JSON documents (docs/json.md, \"Job\", \"Run\")\n";

typedef struct {
	char sock[600];
	buf body;
	long status;
} api_conn;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	if (b->len + size * n > RESPONSE_MAX || buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

/* One request; 0 with the status and body in c, or <0 when the daemon cannot be reached. */
static int request(api_conn *c, const char *method, const char *path)
{
	alert_curl_init();
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	char url[1024], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(url, sizeof(url), "http://localhost%s", path);
	c->body.len = 0;
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	}
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK)
		return err_set(-ECONNREFUSED, "cannot reach the daemon at '%s': %s (is 'dvalin daemon' running?)",
			       c->sock, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return buf_put_u8(&c->body, 0) ?: (c->body.len--, 0);
}

static json_t *parse_body(const api_conn *c)
{
	return json_loadb(c->body.data ? (const char *)c->body.data : "", c->body.len, 0, NULL);
}

/* The daemon's error document as a message. */
static int api_error(const api_conn *c, const char *what)
{
	json_t *o = parse_body(c);
	json_t *e = json_is_object(o) ? json_object_get(o, "error") : NULL;
	int rc = err_set(c->status == 404 ? -ENOENT : c->status == 409 ? -EBUSY : -EIO, "%s: %s", what,
			 json_is_string(e) ? json_string_value(e) : "unexpected answer from the daemon");
	json_decref(o);
	return rc;
}

static const char *sget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long iget(json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* "2026-12-01T02:31:05.123456789+01:00" -> seconds since the epoch (0 if it does not parse). */
static int64_t parse_time(const char *s)
{
	int y, mo, d, h, mi, sec;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return 0;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	int64_t t = (int64_t)timegm(&tm);
	const char *z = s + 19;
	while (*z == '.' || (*z >= '0' && *z <= '9'))
		z++;
	int oh, om;
	if ((*z == '+' || *z == '-') && sscanf(z + 1, "%2d:%2d", &oh, &om) == 2)
		t -= (*z == '+' ? 1 : -1) * (oh * 3600 + om * 60);
	return t;
}

/* "2026-12-01 02:31" from an RFC 3339 time, or "-". */
static void short_time(const char *s, char out[20])
{
	if (!s || strlen(s) < 16) {
		snprintf(out, 20, "-");
		return;
	}
	snprintf(out, 20, "%.10s %.5s", s, s + 11);
}

static void age(int64_t secs, char out[24])
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(out, 24, "%llds ago", (long long)secs);
	else if (secs < 7200)
		snprintf(out, 24, "%lldmin ago", (long long)(secs / 60));
	else if (secs < 172800)
		snprintf(out, 24, "%lldh ago", (long long)(secs / 3600));
	else
		snprintf(out, 24, "%lldd ago", (long long)(secs / 86400));
}

static int print_jobs(json_t *o)
{
	json_t *jobs = json_object_get(o, "jobs");
	int64_t now = parse_time(sget(o, "now"));
	printf("%-16s %-7s %-22s %-12s %-16s %s\n", "JOB", "KIND", "LAST RESULT", "AGE", "LAST SUCCESS", "NEXT RUN");
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j) {
		json_t *last = json_object_get(j, "last_run");
		char result[64] = "never ran", ls[20], nx[20], ag[24] = "-";
		if (json_is_true(json_object_get(j, "running")))
			snprintf(result, sizeof(result), "running (run %lld)", iget(j, "running_run_id", 0));
		else if (json_is_true(json_object_get(j, "queued")))
			snprintf(result, sizeof(result), "queued");
		else if (json_is_object(last))
			snprintf(result, sizeof(result), "%s (run %lld)", sget(last, "status") ? sget(last, "status") : "?",
				 iget(last, "id", 0));
		if (json_is_object(last) && sget(last, "end"))
			age(now - parse_time(sget(last, "end")), ag);
		short_time(sget(j, "last_success"), ls);
		short_time(sget(j, "next_run"), nx);
		if (json_is_true(json_object_get(j, "overdue")))
			snprintf(ls + strlen(ls), sizeof(ls) - strlen(ls), "!");
		printf("%-16s %-7s %-22s %-12s %-16s %s\n", sget(j, "name"), sget(j, "kind"), result, ag, ls, nx);
	}
	/* a change-journal recorder that does not record: its backups walk everything */
	json_array_foreach(jobs, i, j) {
		json_t *jn = json_object_get(j, "journal");
		const char *state = json_is_object(jn) ? sget(jn, "recorder") : NULL;
		if (state && strcmp(state, "recording") != 0)
			printf("%s: change-journal recorder %s%s%s\n", sget(j, "name"), state, sget(jn, "reason") ? ": " : "",
			       sget(jn, "reason") ? sget(jn, "reason") : "");
	}
	return 0;
}

static void print_run_line(json_t *r)
{
	char st[20];
	short_time(sget(r, "start"), st);
	json_t *sum = json_object_get(r, "summary");
	char extra[256] = "";
	json_t *jn = json_is_object(sum) ? json_object_get(sum, "journal") : NULL;
	if (json_is_object(sum))
		snprintf(extra, sizeof(extra), "  %lld files, %lld bytes added%s", iget(sum, "files", 0),
			 iget(sum, "bytes_added", 0), !json_is_object(jn) ? ""
			 : json_is_true(json_object_get(jn, "used")) ? ", journal used" : ", journal not used");
	const char *reason = sget(r, "reason");
	printf("%-6lld %-16s %-7s %-16s %-11s %7.1fs%s%s%s\n", iget(r, "id", 0), sget(r, "job"), sget(r, "kind"), st,
	       sget(r, "status"), json_number_value(json_object_get(r, "duration_seconds")), extra,
	       reason ? "  " : "", reason ? reason : "");
}

static int with_daemon(cli_ctx *ctx, const char *config, api_conn *c)
{
	(void)ctx;
	dconf *cfg;
	int nerr, rc = config_load(&cfg, cli_config_path(config), &nerr);
	if (rc == -EINVAL)
		return err_set(rc, "'%s' has %d error%s (see above)", cli_config_path(config), nerr, nerr == 1 ? "" : "s");
	if (rc < 0)
		return rc;
	snprintf(c->sock, sizeof(c->sock), "%s/control.sock", cfg->state_dir);
	config_free(cfg);
	return 0;
}

static int get_doc(api_conn *c, const char *path, const char *what, json_t **out)
{
	int rc = request(c, "GET", path);
	if (rc < 0)
		return rc;
	if (c->status != 200)
		return api_error(c, what);
	*out = parse_body(c);
	return *out ? 0 : err_set(-EIO, "%s: the daemon's answer is not JSON", what);
}

static int job_state(api_conn *c, const char *name, int *busy, long long *last_id, json_t **last)
{
	json_t *o;
	int rc = get_doc(c, "/api/jobs", "jobs", &o);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *j;
	rc = err_set(-ENOENT, "no job '%s'", name);
	json_array_foreach(json_object_get(o, "jobs"), i, j) {
		if (!sget(j, "name") || strcmp(sget(j, "name"), name) != 0)
			continue;
		*busy = json_is_true(json_object_get(j, "running")) || json_is_true(json_object_get(j, "queued"));
		json_t *l = json_object_get(j, "last_run");
		*last_id = json_is_object(l) ? iget(l, "id", 0) : 0;
		if (last)
			*last = json_is_object(l) ? json_incref(l) : NULL;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

static int run_job(cli_ctx *ctx, api_conn *c, const char *name, int wait)
{
	int busy = 0;
	long long before = 0;
	int rc = wait ? job_state(c, name, &busy, &before, NULL) : 0;
	if (rc < 0)
		return rc;
	char path[300];
	snprintf(path, sizeof(path), "/api/jobs/%s/run", name);
	rc = request(c, "POST", path);
	if (rc < 0)
		return rc;
	if (c->status != 202)
		return api_error(c, name);
	if (!ctx->quiet && !ctx->json)
		printf("%s: queued\n", name);
	if (!wait)
		return 0;
	for (;;) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		long long last = 0;
		json_t *lr = NULL;
		rc = job_state(c, name, &busy, &last, &lr);
		if (rc < 0)
			return rc;
		if (!busy && last > before && lr) {
			const char *st = sget(lr, "status");
			int ok = st && (strcmp(st, "ok") == 0 || strcmp(st, "partial") == 0 || strcmp(st, "warning") == 0 ||
					strcmp(st, "failing") == 0);
			if (ctx->json) {
				json_dumpf(lr, stdout, JSON_COMPACT);
				putchar('\n');
			} else if (!ctx->quiet) {
				print_run_line(lr);
			}
			json_decref(lr);
			return ok ? 0 : 1;
		}
		json_decref(lr);
	}
}

int cmd_jobs(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "wait", no_argument, NULL, 'w' },
		{ "limit", required_argument, NULL, 'n' },
		{ 0 },
	};
	const char *config = NULL;
	int c, wait = 0;
	long limit = 50;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c') {
			config = optarg;
		} else if (c == 'w') {
			wait = 1;
		} else if (c == 'n') {
			char *end;
			limit = strtol(optarg, &end, 10);
			if (*end || limit < 1 || limit > 1000)
				return cli_usage_error(ctx, "invalid --limit '%s' (1..1000)", optarg);
		} else {
			return cli_option_error(ctx);
		}
	}
	const char *sub = optind < argc ? argv[optind] : NULL;
	int nargs = argc - optind - (sub ? 1 : 0);
	if (sub && strcmp(sub, "history") && strcmp(sub, "log") && strcmp(sub, "run"))
		return cli_usage_error(ctx, "unknown subcommand '%s' (history, log, run)", sub);
	if (sub && (strcmp(sub, "log") == 0 || strcmp(sub, "run") == 0) && nargs != 1)
		return cli_usage_error(ctx, "'jobs %s' takes one %s", sub, sub[0] == 'l' ? "RUN-ID" : "JOB");
	if ((!sub && nargs) || (sub && strcmp(sub, "history") == 0 && nargs > 1))
		return cli_usage_error(ctx, "too many arguments");
	if (wait && (!sub || strcmp(sub, "run") != 0))
		return cli_usage_error(ctx, "--wait goes with 'jobs run'");
	const char *arg = nargs ? argv[optind + 1] : NULL;
	api_conn conn;
	memset(&conn, 0, sizeof(conn));
	int rc = with_daemon(ctx, config, &conn);
	json_t *o = NULL;
	int ex = EXIT_OK;
	if (rc == 0 && !sub) {
		rc = get_doc(&conn, "/api/jobs", "jobs", &o);
		if (rc == 0 && ctx->json)
			fwrite(conn.body.data, 1, conn.body.len, stdout);
		else if (rc == 0)
			print_jobs(o);
	} else if (rc == 0 && strcmp(sub, "history") == 0) {
		char path[300];
		if (arg)
			snprintf(path, sizeof(path), "/api/jobs/%s/runs?limit=%ld", arg, limit);
		else
			snprintf(path, sizeof(path), "/api/runs?limit=%ld", limit);
		rc = get_doc(&conn, path, "history", &o);
		if (rc == 0 && ctx->json) {
			fwrite(conn.body.data, 1, conn.body.len, stdout);
		} else if (rc == 0) {
			size_t i;
			json_t *r;
			printf("%-6s %-16s %-7s %-16s %-11s %8s\n", "RUN", "JOB", "KIND", "START", "STATUS", "TIME");
			json_array_foreach(json_object_get(o, "runs"), i, r)
				print_run_line(r);
		}
	} else if (rc == 0 && strcmp(sub, "log") == 0) {
		char *end, path[300];
		long long id = strtoll(arg, &end, 10);
		if (*end || id <= 0) {
			free(conn.body.data);
			return cli_usage_error(ctx, "invalid RUN-ID '%s'", arg);
		}
		snprintf(path, sizeof(path), "/api/runs/%lld", id);
		rc = get_doc(&conn, path, "run", &o);
		if (rc == 0 && ctx->json) {
			fwrite(conn.body.data, 1, conn.body.len, stdout);
		} else if (rc == 0) {
			print_run_line(o);
			const char *lg = sget(o, "log");
			fputs(lg ? lg : "", stdout);
		}
	} else if (rc == 0) {
		int r = run_job(ctx, &conn, arg, wait);
		rc = r < 0 ? r : 0;
		ex = r > 0 ? EXIT_FAIL : EXIT_OK;
	}
	json_decref(o);
	buf_release(&conn.body);
	if (rc < 0)
		return cli_fail(rc);
	return ex;
}
