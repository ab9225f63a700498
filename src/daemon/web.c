/* SPDX-License-Identifier: BSD-2-Clause */
#include "web.h"
#include "assets.h"
#include "clock.h"
#include "daemon.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../disks/diskstate.h"
#include "../http/http.h"
#include "../report/report.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define QUERY_TIMEOUT_MS (120 * 1000)
#define STREAM_IDLE_MS (120 * 1000)
#define COOKIE "dvalin_session"
#define SERIES_MAX 20000

typedef struct {
	daemon_state *d;
	int local; /* the Unix socket: trusted, no session */
} web_ctx;

static web_ctx web_ui, web_local;

/* ---------- responses ---------- */

static void security_headers(http_req *q, int is_page)
{
	http_add_header(q, "X-Content-Type-Options", "nosniff");
	http_add_header(q, "Referrer-Policy", "same-origin"); /* "no-referrer" makes Origin "null" */
	http_add_header(q, "X-Frame-Options", "DENY");
	http_add_header(q, "Cache-Control", "no-store");
	if (is_page)
		http_add_header(q, "Content-Security-Policy",
				"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
				"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
	if (http_is_tls(q))
		http_add_header(q, "Strict-Transport-Security", "max-age=31536000");
}

typedef void (*json_fill)(json *j, void *arg);

static int send_json(http_req *q, int status, json_fill fill, void *arg)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	if (!f)
		return -ENOMEM;
	json j;
	json_init(&j, f);
	fill(&j, arg);
	json_finish(&j);
	int bad = ferror(f);
	fclose(f);
	int rc = bad || !p ? -ENOMEM : http_send(q, status, "application/json", p, n);
	free(p);
	return rc;
}

static void fill_error(json *j, void *arg)
{
	json_obj_begin(j);
	report_str(j, "error", arg);
	json_obj_end(j);
}

static int send_error(http_req *q, int status, const char *msg)
{
	return send_json(q, status, fill_error, (void *)msg);
}

static const web_asset *asset(const char *path)
{
	for (size_t i = 0; i < web_nassets; i++)
		if (strcmp(web_assets[i].path, path) == 0)
			return &web_assets[i];
	return NULL;
}

static int send_asset(http_req *q, const char *path)
{
	const web_asset *a = asset(path);
	if (!a)
		return send_error(q, 404, "not found");
	return http_send(q, 200, a->type, a->data, a->len);
}

/* ---------- sessions and CSRF ---------- */

typedef struct {
	char user[64], csrf[AUTH_TOKEN_LEN + 1];
	int ok;
} who;

static void session_of(const web_ctx *w, http_req *q, who *out)
{
	memset(out, 0, sizeof(*out));
	if (w->local) {
		snprintf(out->user, sizeof(out->user), "local");
		out->ok = 1;
		return;
	}
	out->ok = auth_session(w->d->auth, http_cookie(q, COOKIE), out->user, out->csrf);
}

/* The request comes from a page of this site (or from no browser page at all). */
static int same_origin(http_req *q)
{
	const char *host = http_header(q, "Host"), *origin = http_header(q, "Origin");
	const char *ref = http_header(q, "Referer");
	if (!host)
		return 0;
	char want[300];
	snprintf(want, sizeof(want), "%s://%s", http_is_tls(q) ? "https" : "http", host);
	if (origin)
		return strcmp(origin, want) == 0;
	if (ref) {
		size_t l = strlen(want);
		return strncmp(ref, want, l) == 0 && (ref[l] == '/' || ref[l] == 0);
	}
	return 1;
}

static int csrf_ok(http_req *q, const who *s)
{
	if (!same_origin(q))
		return 0;
	const char *h = http_header(q, "X-CSRF-Token");
	char field[AUTH_TOKEN_LEN + 2];
	if (!h && http_form(q, "csrf", field, sizeof(field)) == 1)
		h = field;
	return auth_token_equal(h, s->csrf);
}

static int handle_login(web_ctx *w, http_req *q)
{
	char user[80], pass[1024], peer[64];
	if (!same_origin(q))
		return http_send_text(q, 403, "cross-site login refused\n");
	if (http_form(q, "user", user, sizeof(user)) != 1 || http_form(q, "password", pass, sizeof(pass)) != 1)
		return http_send_redirect(q, "/login?error=missing");
	http_peer(q, peer);
	char token[AUTH_TOKEN_LEN + 1], csrf[AUTH_TOKEN_LEN + 1];
	int64_t retry = 0;
	int rc = auth_login(w->d->auth, peer, user, pass, token, csrf, &retry);
	memset(pass, 0, sizeof(pass));
	if (rc == AUTH_LIMITED) {
		char b[64], text[160];
		snprintf(b, sizeof(b), "%lld", (long long)retry);
		http_add_header(q, "Retry-After", b);
		snprintf(text, sizeof(text), "too many failed logins: try again in %lld s\n", (long long)retry);
		log_warn("web UI: login of '%s' from %s refused: rate-limited for %lld s", user, peer, (long long)retry);
		return http_send_text(q, 429, text);
	}
	if (rc < 0)
		return rc;
	if (rc != AUTH_OK) {
		log_warn("web UI: wrong password for '%s' from %s", user, peer);
		return http_send_redirect(q, "/login?error=wrong");
	}
	char cookie[256];
	snprintf(cookie, sizeof(cookie), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
		 (long long)w->d->cfg->session_s, http_is_tls(q) ? "; Secure" : "");
	http_add_header(q, "Set-Cookie", cookie);
	log_info("web UI: '%s' logged in from %s", user, peer);
	return http_send_redirect(q, "/");
}

/* ---------- API: jobs and runs ---------- */

typedef struct {
	daemon_state *d;
	const who *s;
} api_ctx;

static void fill_session(json *j, void *arg)
{
	api_ctx *a = arg;
	json_obj_begin(j);
	report_str(j, "user", a->s->user);
	report_str(j, "csrf", a->s->csrf);
	json_key(j, "restore_roots");
	json_arr_begin(j);
	for (size_t i = 0; i < a->d->cfg->nrestore_roots; i++)
		json_str(j, a->d->cfg->restore_roots[i]);
	json_arr_end(j);
	json_key(j, "now");
	report_time_us(j, clock_now());
	json_obj_end(j);
}

static void fill_jobs(json *j, void *arg)
{
	daemon_state *d = arg;
	json_obj_begin(j);
	json_key(j, "jobs");
	json_arr_begin(j);
	for (size_t i = 0; i < d->njobs; i++) {
		if (!d->jobs[i].cfg)
			continue;
		job_info ji;
		daemon_job_info(d, &d->jobs[i], &ji);
		report_job(j, &ji);
	}
	json_arr_end(j);
	json_key(j, "now");
	report_time_us(j, clock_now());
	json_obj_end(j);
}

typedef struct {
	json *j;
} runs_ctx;

static int one_run(void *ud, const run_info *r)
{
	runs_ctx *c = ud;
	report_run(c->j, r, 0);
	return 0;
}

typedef struct {
	daemon_state *d;
	const char *job;
	int64_t before;
	int limit;
	int rc;
} list_args;

static void fill_runs(json *j, void *arg)
{
	list_args *a = arg;
	runs_ctx c = { j };
	json_obj_begin(j);
	json_key(j, "runs");
	json_arr_begin(j);
	a->rc = history_list(a->d->hist, a->job, a->before, a->limit, one_run, &c);
	json_arr_end(j);
	json_obj_end(j);
}

static void fill_run(json *j, void *arg)
{
	report_run(j, arg, 1);
}

static int64_t parse_id(const char *s)
{
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	return *end || errno || v <= 0 ? -1 : (int64_t)v;
}

static int api_runs(daemon_state *d, http_req *q, const char *job)
{
	list_args a = { d, job, parse_id(http_query(q, "before")), 50, 0 };
	const char *lim = http_query(q, "limit");
	if (lim) {
		int64_t l = parse_id(lim);
		a.limit = l > 0 && l <= 1000 ? (int)l : 50;
	}
	if (a.before < 0)
		return send_error(q, 400, "before must be a run id");
	pthread_mutex_lock(&d->lock);
	int rc = send_json(q, 200, fill_runs, &a);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int api_run(daemon_state *d, http_req *q, const char *id_text)
{
	int64_t id = parse_id(id_text);
	if (id <= 0)
		return send_error(q, 400, "invalid run id");
	run_info r;
	pthread_mutex_lock(&d->lock);
	int rc = history_get(d->hist, id, 1, &r);
	pthread_mutex_unlock(&d->lock);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return send_error(q, 404, "no such run");
	rc = send_json(q, 200, fill_run, &r);
	run_info_release(&r);
	return rc;
}

static void fill_queued(json *j, void *arg)
{
	json_obj_begin(j);
	report_str(j, "job", arg);
	json_key(j, "queued");
	json_bool(j, true);
	json_obj_end(j);
}

static int api_run_now(daemon_state *d, http_req *q, const char *job, int local)
{
	pthread_mutex_lock(&d->lock);
	int rc = daemon_request_run(d, job);
	pthread_mutex_unlock(&d->lock);
	if (rc == -ENOENT)
		return send_error(q, 404, "no such job");
	if (rc == -EBUSY)
		return send_error(q, 409, "the job is already running or queued");
	if (rc == -ESHUTDOWN)
		return send_error(q, 503, "the daemon is stopping");
	if (rc < 0)
		return rc;
	log_info("%s: a run was asked for through the %s", job, local ? "local API" : "web UI");
	return send_json(q, 202, fill_queued, (void *)job);
}

/* ---------- API: repositories ---------- */

typedef struct {
	json *j;
} sample_ctx;

static int one_sample(void *ud, const history_sample *s)
{
	sample_ctx *c = ud;
	json_obj_begin(c->j);
	json_key(c->j, "time");
	report_time_us(c->j, s->time);
	json_key(c->j, "snapshots");
	json_uint(c->j, s->snapshots);
	json_key(c->j, "size");
	json_uint(c->j, s->size);
	json_key(c->j, "logical_bytes");
	json_uint(c->j, s->logical);
	json_obj_end(c->j);
	return 0;
}

static void fill_repos(json *j, void *arg)
{
	daemon_state *d = arg;
	json_obj_begin(j);
	json_key(j, "repositories");
	json_arr_begin(j);
	for (size_t i = 0; i < d->nrepos; i++) {
		const daemon_repo *p = &d->repos[i];
		const dconf_repo *c = daemon_find_repo(d, p->name);
		if (!c)
			continue;
		json_obj_begin(j);
		report_str(j, "name", p->name);
		report_str(j, "location", c->location);
		json_key(j, "measuring");
		json_bool(j, p->child != NULL);
		json_key(j, "latest");
		if (p->time_us) {
			history_sample s = { p->time_us, p->snapshots, p->size, p->logical };
			sample_ctx sc = { j };
			one_sample(&sc, &s);
		} else {
			json_null(j);
		}
		json_key(j, "samples");
		json_arr_begin(j);
		sample_ctx sc = { j };
		history_samples(d->hist, p->name, 500, one_sample, &sc);
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

/* argv for a dvalin child on repository c: the binary, --json, -r, LOCATION, then more. */
typedef struct {
	char *argv[16];
	size_t n;
	char *env[2];
	char envbuf[600];
} child_cmd;

static int child_for(daemon_state *d, const char *repo_name, child_cmd *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&d->lock);
	const dconf_repo *r = daemon_find_repo(d, repo_name);
	int rc = 0;
	if (!r) {
		rc = -ENOENT;
	} else {
		c->argv[c->n++] = strdup(runner_self());
		c->argv[c->n++] = strdup("--json");
		c->argv[c->n++] = strdup("-r");
		c->argv[c->n++] = strdup(r->location);
		daemon_repo_env(d, r, c->env, c->envbuf);
	}
	pthread_mutex_unlock(&d->lock);
	for (size_t i = 0; rc == 0 && i < c->n; i++)
		if (!c->argv[i])
			rc = -ENOMEM;
	return rc;
}

static int child_add(child_cmd *c, const char *a)
{
	if (c->n + 2 > sizeof(c->argv) / sizeof(c->argv[0]))
		return -E2BIG;
	return (c->argv[c->n++] = strdup(a)) ? 0 : -ENOMEM;
}

static void child_release(child_cmd *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->argv[i]);
	c->n = 0;
}

/* Runs the child and sends its stdout (the JSON), or its error as a JSON error. */
static int send_child(http_req *q, child_cmd *c, int ndjson)
{
	runner_spec spec = { c->argv, c->env[0] ? c->env : NULL, 64 << 20, 64 << 10, 0 };
	buf out = BUF_INIT, err = BUF_INIT;
	int st = 0;
	int rc = runner_capture(&spec, QUERY_TIMEOUT_MS, &st, &out, &err);
	if (rc == 0 && st != 0) {
		/* the command's own message, e.g. "path '/x' is not in the snapshot" */
		size_t e = err.len;
		while (e && (err.data[e - 1] == '\n' || err.data[e - 1] == ' '))
			e--;
		size_t b = e;
		while (b && err.data[b - 1] != '\n')
			b--;
		char msg[600];
		const char *m = err.data ? (const char *)err.data + b : "";
		size_t ml = e - b;
		if (ml > 8 && memcmp(m, "dvalin: ", 8) == 0)
			m += 8, ml -= 8;
		snprintf(msg, sizeof(msg), "%.*s", (int)(ml < sizeof(msg) ? ml : sizeof(msg) - 1), ml ? m : "the command failed");
		rc = send_error(q, st == 2 ? 400 : strstr(msg, "not in the snapshot") || strstr(msg, "no snapshot") ? 404 : 502, msg);
	} else if (rc == 0 && ndjson) {
		/* one object per line, as `ls --json` prints: made an array */
		buf arr = BUF_INIT;
		rc = buf_put_u8(&arr, '[');
		size_t i = 0, first = 1;
		while (rc == 0 && i < out.len) {
			size_t e = i;
			while (e < out.len && out.data[e] != '\n')
				e++;
			if (e > i) {
				if (!first)
					rc = buf_put_u8(&arr, ',');
				rc = rc ?: buf_append(&arr, out.data + i, e - i);
				first = 0;
			}
			i = e + 1;
		}
		rc = rc ?: buf_put_u8(&arr, ']');
		rc = rc ?: http_send(q, 200, "application/json", arr.data, arr.len);
		buf_release(&arr);
	} else if (rc == 0) {
		rc = http_send(q, 200, "application/json", out.data ? (const char *)out.data : "null", out.len ? out.len : 4);
	}
	buf_release(&out);
	buf_release(&err);
	return rc;
}

static int valid_snapshot(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	if (strcmp(s, "latest") == 0)
		return 1;
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			return 0;
	return 1;
}

static int valid_path(const char *p)
{
	return p && p[0] == '/' && strlen(p) < PATH_MAX;
}

static int api_repo_query(daemon_state *d, http_req *q, const char *repo, const char *what)
{
	child_cmd c;
	int rc = child_for(d, repo, &c);
	if (rc == -ENOENT) {
		child_release(&c);
		return send_error(q, 404, "no such repository");
	}
	const char *snap = http_query(q, "snapshot"), *path = http_query(q, "path");
	int ndjson = 0;
	if (rc == 0 && strcmp(what, "snapshots") == 0) {
		rc = child_add(&c, "snapshots");
	} else if (rc == 0 && strcmp(what, "ls") == 0) {
		if (!valid_snapshot(snap) || (path && !valid_path(path))) {
			child_release(&c);
			return send_error(q, 400, "want snapshot=ID (or latest) and path=/ABSOLUTE");
		}
		rc = child_add(&c, "ls");
		rc = rc ?: child_add(&c, "--depth=1");
		rc = rc ?: child_add(&c, "--");
		rc = rc ?: child_add(&c, snap);
		rc = rc ?: child_add(&c, path ? path : "/");
		ndjson = 1;
	} else if (rc == 0) {
		child_release(&c);
		return send_error(q, 404, "not found");
	}
	rc = rc ?: send_child(q, &c, ndjson);
	child_release(&c);
	return rc;
}

/* A download: dvalin dump's stdout streamed to the client. */
typedef struct {
	runner_child *child;
	int done;
} dump_stream;

static ssize_t dump_read(void *ud, char *b, size_t max)
{
	dump_stream *s = ud;
	ssize_t n = runner_read_stdout(s->child, b, max, STREAM_IDLE_MS);
	if (n == 0) {
		int st;
		runner_wait(s->child, &st);
		s->done = 1;
		return st == 0 ? 0 : -EIO; /* a failure mid-way aborts the download */
	}
	return n;
}

static void dump_done(void *ud)
{
	dump_stream *s = ud;
	if (!s->done) { /* the client went away: stop the child */
		runner_signal(s->child, SIGINT);
		int st;
		runner_wait(s->child, &st);
	}
	runner_free(s->child);
	free(s);
}

static void base_name(const char *path, char *out, size_t cap)
{
	size_t l = strlen(path);
	while (l > 1 && path[l - 1] == '/')
		l--;
	size_t b = l;
	while (b > 0 && path[b - 1] != '/')
		b--;
	size_t k = 0;
	for (size_t i = b; i < l && k + 1 < cap; i++)
		/* a file name for Content-Disposition: nothing that ends the quoted string */
		out[k++] = (path[i] == '"' || path[i] == '\\' || (unsigned char)path[i] < 0x20) ? '_' : path[i];
	out[k] = 0;
	if (!k)
		snprintf(out, cap, "snapshot");
}

static int api_dump(daemon_state *d, http_req *q, const char *repo)
{
	const char *snap = http_query(q, "snapshot"), *path = http_query(q, "path"), *tar = http_query(q, "tar");
	if (!valid_snapshot(snap) || !valid_path(path))
		return send_error(q, 400, "want snapshot=ID (or latest) and path=/ABSOLUTE");
	int as_tar = tar && strcmp(tar, "1") == 0;
	/* what it is first (a file or a tar), so that a missing path is a clean 404 */
	child_cmd c;
	int rc = child_for(d, repo, &c);
	if (rc == -ENOENT) {
		child_release(&c);
		return send_error(q, 404, "no such repository");
	}
	rc = rc ?: child_add(&c, "ls");
	rc = rc ?: child_add(&c, "--depth=1");
	rc = rc ?: child_add(&c, "--");
	rc = rc ?: child_add(&c, snap);
	rc = rc ?: child_add(&c, path);
	buf out = BUF_INIT, err = BUF_INIT;
	int st = 0, is_file = 0;
	if (rc == 0) {
		runner_spec spec = { c.argv, c.env[0] ? c.env : NULL, 1 << 20, 64 << 10, 0 };
		rc = runner_capture(&spec, QUERY_TIMEOUT_MS, &st, &out, &err);
	}
	child_release(&c);
	if (rc == 0 && st != 0) {
		buf_release(&out);
		buf_release(&err);
		return send_error(q, 404, "no such path in the snapshot");
	}
	/* the first line is the path itself: {"path": ..., "type": "file", ...} */
	if (rc == 0 && out.len) {
		size_t e = 0;
		while (e < out.len && out.data[e] != '\n')
			e++;
		is_file = memmem(out.data, e, "\"type\":\"file\"", 13) != NULL;
	}
	buf_release(&out);
	buf_release(&err);
	if (rc < 0)
		return rc;
	rc = child_for(d, repo, &c);
	rc = rc ?: child_add(&c, "dump");
	rc = rc ?: child_add(&c, as_tar || !is_file ? "--format=tar" : "--format=raw");
	rc = rc ?: child_add(&c, "--");
	rc = rc ?: child_add(&c, snap);
	rc = rc ?: child_add(&c, path);
	dump_stream *s = rc == 0 ? calloc(1, sizeof(*s)) : NULL;
	if (rc == 0 && !s)
		rc = -ENOMEM;
	if (rc == 0) {
		runner_spec spec = { c.argv, c.env[0] ? c.env : NULL, 0, 64 << 10, 0 };
		rc = runner_start(&s->child, &spec);
	}
	child_release(&c);
	if (rc < 0) {
		free(s);
		return rc;
	}
	char name[300], disp[400];
	base_name(path, name, sizeof(name));
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s%s\"", name, as_tar || !is_file ? ".tar" : "");
	http_add_header(q, "Content-Disposition", disp);
	return http_send_stream(q, 200, as_tar || !is_file ? "application/x-tar" : "application/octet-stream", -1,
				dump_read, dump_done, s);
}

static void fill_restore(json *j, void *arg)
{
	json_obj_begin(j);
	json_key(j, "run_id");
	json_int(j, *(int64_t *)arg);
	json_obj_end(j);
}

static int api_restore(daemon_state *d, http_req *q, const char *repo)
{
	char snap[80], path[PATH_MAX], target[PATH_MAX];
	if (http_form(q, "snapshot", snap, sizeof(snap)) != 1 || http_form(q, "path", path, sizeof(path)) != 1 ||
	    http_form(q, "target", target, sizeof(target)) != 1)
		return send_error(q, 400, "want snapshot, path and target (form fields)");
	if (!valid_snapshot(snap) || !valid_path(path) || !valid_path(target))
		return send_error(q, 400, "want snapshot=ID (or latest), path=/ABSOLUTE and target=/ABSOLUTE");
	int64_t id = 0;
	pthread_mutex_lock(&d->lock);
	int rc = daemon_request_restore(d, repo, snap, path, target, &id);
	char msg[600];
	snprintf(msg, sizeof(msg), "%s", err_msg(rc));
	pthread_mutex_unlock(&d->lock);
	if (rc == -ENOENT)
		return send_error(q, 404, msg);
	if (rc == -EPERM)
		return send_error(q, 403, msg);
	if (rc == -EBUSY)
		return send_error(q, 409, msg);
	if (rc < 0)
		return rc;
	log_info("restore of '%s' from %s of %s into '%s' asked for (run %lld)", path, snap, repo, target, (long long)id);
	return send_json(q, 202, fill_restore, &id);
}

/* ---------- API: disks ---------- */

typedef struct {
	daemon_state *d;
	int kind;
} last_args;

static void fill_last(json *j, void *arg)
{
	last_args *a = arg;
	json_obj_begin(j);
	json_key(j, "run");
	for (size_t i = 0; i < a->d->njobs; i++) {
		if (a->d->jobs[i].kind != a->kind || !a->d->jobs[i].cfg)
			continue;
		run_info r;
		if (history_last(a->d->hist, a->d->jobs[i].name, 1, &r) == 1) {
			report_run(j, &r, 0);
			run_info_release(&r);
			json_obj_end(j);
			return;
		}
		break;
	}
	json_null(j);
	json_obj_end(j);
}

typedef struct {
	json *j;
	char key[64];
	int open;
} series_ctx;

static int one_reading(void *ud, const char *key, int64_t t, uint64_t v)
{
	series_ctx *s = ud;
	json_obj_begin(s->j);
	report_str(s->j, "key", key);
	json_key(s->j, "time");
	report_time_us(s->j, t * CLOCK_USEC);
	json_key(s->j, "value");
	json_uint(s->j, v);
	json_obj_end(s->j);
	return 0;
}

typedef struct {
	diskstate *st;
	const char *key;
	int rc;
} series_args;

static void fill_series(json *j, void *arg)
{
	series_args *a = arg;
	series_ctx s = { j, "", 0 };
	json_obj_begin(j);
	report_str(j, "disk", a->key);
	json_key(j, "readings");
	json_arr_begin(j);
	if (a->st)
		a->rc = diskstate_series(a->st, a->key, SERIES_MAX, one_reading, &s);
	json_arr_end(j);
	json_obj_end(j);
}

static int api_disk_history(daemon_state *d, http_req *q)
{
	const char *model = http_query(q, "model"), *serial = http_query(q, "serial"), *dev = http_query(q, "device");
	char key[300], path[600];
	if (serial && *serial)
		snprintf(key, sizeof(key), "%.120s/%.120s", model ? model : "", serial);
	else if (dev && *dev)
		snprintf(key, sizeof(key), "device:%.128s", dev);
	else
		return send_error(q, 400, "want model and serial, or device");
	pthread_mutex_lock(&d->lock);
	daemon_disk_state_path(d, path);
	pthread_mutex_unlock(&d->lock);
	struct stat stt;
	series_args a = { NULL, key, 0 };
	if (stat(path, &stt) == 0) {
		int rc = diskstate_open(&a.st, path);
		if (rc < 0)
			return rc;
	}
	int rc = send_json(q, 200, fill_series, &a);
	diskstate_close(a.st);
	return rc;
}

/* ---------- routing ---------- */

static void fill_repos_locked(json *j, void *arg)
{
	fill_repos(j, arg);
}

/* "/api/jobs/NAME/runs": the NAME and what follows. */
static int split(const char *rest, char *name, size_t cap, const char **tail)
{
	size_t l = strcspn(rest, "/");
	if (!l || l >= cap)
		return 0;
	memcpy(name, rest, l);
	name[l] = 0;
	*tail = rest + l;
	return 1;
}

static int api(web_ctx *w, http_req *q, const char *path, const who *s)
{
	daemon_state *d = w->d;
	const char *m = http_method(q), *tail;
	int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
	char name[CONFIG_NAME_MAX + 64];
	if (post && !w->local && !csrf_ok(q, s))
		return send_error(q, 403, "cross-site request refused (no valid CSRF token, or a foreign Origin)");
	if (!get && !post)
		return send_error(q, 405, "method not allowed");
	if (strcmp(path, "/api/session") == 0 && get) {
		api_ctx a = { d, s };
		pthread_mutex_lock(&d->lock);
		int rc = send_json(q, 200, fill_session, &a);
		pthread_mutex_unlock(&d->lock);
		return rc;
	}
	if (strcmp(path, "/api/logout") == 0 && post) {
		if (!w->local)
			auth_logout(d->auth, http_cookie(q, COOKIE));
		http_add_header(q, "Set-Cookie", COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
		return http_send_redirect(q, "/login");
	}
	if (strcmp(path, "/api/jobs") == 0 && get) {
		pthread_mutex_lock(&d->lock);
		int rc = send_json(q, 200, fill_jobs, d);
		pthread_mutex_unlock(&d->lock);
		return rc;
	}
	if (strcmp(path, "/api/runs") == 0 && get)
		return api_runs(d, q, http_query(q, "job"));
	if (strncmp(path, "/api/runs/", 10) == 0 && get)
		return api_run(d, q, path + 10);
	if (strncmp(path, "/api/jobs/", 10) == 0 && split(path + 10, name, sizeof(name), &tail)) {
		if (strcmp(tail, "/runs") == 0 && get)
			return api_runs(d, q, name);
		if (strcmp(tail, "/run") == 0 && post)
			return api_run_now(d, q, name, w->local);
		return send_error(q, 404, "not found");
	}
	if (strcmp(path, "/api/repositories") == 0 && get) {
		pthread_mutex_lock(&d->lock);
		int rc = send_json(q, 200, fill_repos_locked, d);
		pthread_mutex_unlock(&d->lock);
		return rc;
	}
	if (strncmp(path, "/api/repositories/", 18) == 0 && split(path + 18, name, sizeof(name), &tail)) {
		if (strcmp(tail, "/dump") == 0 && get)
			return api_dump(d, q, name);
		if (strcmp(tail, "/restore") == 0 && post)
			return api_restore(d, q, name);
		if (tail[0] == '/' && get)
			return api_repo_query(d, q, name, tail + 1);
		return send_error(q, 404, "not found");
	}
	if ((strcmp(path, "/api/disks") == 0 || strcmp(path, "/api/pools") == 0) && get) {
		last_args a = { d, path[5] == 'd' ? JOB_DISKS : JOB_ZPOOL };
		pthread_mutex_lock(&d->lock);
		int rc = send_json(q, 200, fill_last, &a);
		pthread_mutex_unlock(&d->lock);
		return rc;
	}
	if (strcmp(path, "/api/disks/history") == 0 && get)
		return api_disk_history(d, q);
	return send_error(q, 404, "not found");
}

static int metrics(daemon_state *d, http_req *q)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	daemon_metrics(d, f);
	pthread_mutex_unlock(&d->lock);
	int bad = ferror(f);
	fclose(f);
	int rc = bad || !p ? -ENOMEM : http_send(q, 200, "text/plain; version=0.0.4; charset=utf-8", p, n);
	free(p);
	return rc;
}

static int handle(void *ud, http_req *q)
{
	web_ctx *w = ud;
	const char *path = http_path(q), *m = http_method(q);
	int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	security_headers(q, strncmp(path, "/api/", 5) != 0);
	if (strcmp(path, "/metrics") == 0 && get) {
		int open;
		pthread_mutex_lock(&w->d->lock);
		open = w->d->cfg->metrics;
		pthread_mutex_unlock(&w->d->lock);
		if (!open && !w->local)
			return send_error(q, 404, "metrics are off ([web] metrics = off)");
		return metrics(w->d, q);
	}
	if (strcmp(path, "/login") == 0) {
		if (get)
			return send_asset(q, "/login.html");
		if (strcmp(m, "POST") == 0 && !w->local)
			return handle_login(w, q);
		return send_error(q, 405, "method not allowed");
	}
	/* the assets hold no data: the login page needs them before a session */
	const web_asset *a = get && strcmp(path, "/") != 0 && !strstr(path, ".html") ? asset(path) : NULL;
	if (a)
		return http_send(q, 200, a->type, a->data, a->len);
	who s;
	session_of(w, q, &s);
	if (!s.ok) {
		if (strncmp(path, "/api/", 5) == 0)
			return send_error(q, 401, "login required");
		return http_send_redirect(q, "/login");
	}
	if (strncmp(path, "/api/", 5) == 0)
		return api(w, q, path, &s);
	if (strcmp(path, "/") == 0 && get)
		return send_asset(q, "/index.html");
	return send_error(q, 404, "not found");
}

int web_start(daemon_state *d, int at_start)
{
	int rc = 0;
	if (at_start) {
		web_local = (web_ctx){ d, 1 };
		snprintf(d->local_path, sizeof(d->local_path), "unix:%s/control.sock", d->cfg->state_dir);
		http_config lc = { .listen = d->local_path, .max_connections = 16, .max_per_ip = 16, .timeout_s = 300,
				    .handler = handle, .ud = &web_local, .what = "local API" };
		rc = http_server_start(&d->local, &lc);
		if (rc < 0)
			return rc;
	}
	if (!d->cfg->listen)
		return 0;
	web_ui = (web_ctx){ d, 0 };
	http_config c = { .listen = d->cfg->listen, .tls_cert = d->cfg->tls_cert, .tls_key = d->cfg->tls_key,
			   .max_connections = 64, .max_per_ip = 16, .timeout_s = 60,
			   .handler = handle, .ud = &web_ui, .what = "web UI" };
	rc = http_server_start(&d->web, &c);
	if (rc < 0)
		return rc;
	d->web_port = http_server_port(d->web);
	/* the address with the port it got (listen may say 0: any free one) */
	const char *colon = strrchr(d->cfg->listen, ':');
	int hl = colon ? (int)(colon - d->cfg->listen) : 0;
	log_info("web UI on %s://%.*s:%d/ (port %d)", d->cfg->tls_cert ? "https" : "http", hl, d->cfg->listen,
		 d->web_port, d->web_port);
	return 0;
}

void web_stop(daemon_state *d, int final)
{
	http_server_stop(d->web);
	d->web = NULL;
	d->web_port = 0;
	if (final) {
		http_server_stop(d->local);
		d->local = NULL;
	}
}
