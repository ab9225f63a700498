/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The daemon's parts that can be tested alone: durations, the
 * configuration (values and errors), the metrics exposition, sessions and
 * the login rate limit, the history database, child processes with their
 * caps and timeouts, reading children's JSON, and the HTTP helpers.
 */
#include "harness.h"

#include "../../src/base/buf.h"
#include "../../src/base/err.h"
#include "../../src/daemon/auth.h"
#include "../../src/daemon/config.h"
#include "../../src/daemon/history.h"
#include "../../src/daemon/metrics.h"
#include "../../src/daemon/result.h"
#include "../../src/daemon/runner.h"
#include "../../src/http/http.h"

#include <crypt.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int64_t dur(const char *s)
{
	int64_t v = -1;
	return config_parse_duration(s, &v) == 0 ? v : -1;
}

TEST(durations_are_systemds_time_spans)
{
	CHECK(dur("90") == 90);
	CHECK(dur("90s") == 90);
	CHECK(dur("30min") == 1800);
	CHECK(dur("26h") == 26 * 3600);
	CHECK(dur("2d") == 172800);
	CHECK(dur("1w") == 604800);
	CHECK(dur("1h30min") == 5400);
	CHECK(dur("1h 30min 5s") == 5405);
	CHECK(dur("3 days") == 3 * 86400);
	CHECK(dur("26m") == -1); /* months or minutes: never guessed */
	CHECK(strstr(err_msg(-EINVAL), "write 'min' for minutes") != NULL);
	CHECK(dur("") == -1);
	CHECK(dur("h") == -1);
	CHECK(dur("5x") == -1);
	CHECK(dur("-5s") == -1);
	CHECK(dur("9999999999999999999h") == -1);
	CHECK(dur("1000000000w") == 604800000000000LL);
	CHECK(dur("1000000000w 1000000000w 1000000000w 1000000000w 1000000000w 1000000000w 1000000000w "
		  "1000000000w 1000000000w 1000000000w 1000000000w 1000000000w 1000000000w 1000000000w "
		  "1000000000w 1000000000w 1000000000w") == -1); /* more terms than any real span */
}

static char *write_conf(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/dvalin-conf-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

TEST(config_reads_every_section)
{
	char hash[CRYPT_OUTPUT_SIZE];
	REQUIRE(auth_hash_password("pw", hash, sizeof(hash)) == 0);
	char text[4096];
	snprintf(text, sizeof(text),
		 "[daemon]\nstate-dir = /tmp/st\nconcurrency = 3\nhistory = 9\nstop-timeout = 2min\n"
		 "[repository nas]\nlocation = /srv/repo\npassword-file = /etc/pw\n"
		 "[backup home]\nrepository = nas\npath = /home\npath = /etc\nexclude = *.tmp\ntag = t1\n"
		 "schedule = daily\nrandom-delay = 10min\nmax-age = 26h\nkeep-daily = 7\nkeep-within = 1y6m\n"
		 "before = echo hi\npersistent = no\n"
		 "[prune p]\nrepository = /srv/other\nmax-unused = 10%%\n"
		 "[check c]\nrepository = nas\nread-data-subset = 1/7\n"
		 "[disks]\nschedule = hourly\n"
		 "[zpool z]\n"
		 "[notify webhook]\nurl = http://127.0.0.1:9/hook\n"
		 "[web]\nuser = admin %s\nrestore-root = /srv/restore\n",
		 hash);
	char *path = write_conf(text);
	REQUIRE(path);
	dconf *c;
	int nerr;
	REQUIRE(config_load(&c, path, &nerr) == 0);
	CHECK(strcmp(c->state_dir, "/tmp/st") == 0 && c->concurrency == 3 && c->history == 9 &&
	      c->stop_timeout_s == 120);
	CHECK(c->njobs == 5);
	const dconf_job *h = config_find_job(c, "home");
	REQUIRE(h);
	CHECK(h->kind == JOB_BACKUP && h->npaths == 2 && h->nexcludes == 1 && h->ntags == 1);
	CHECK(h->repo && strcmp(h->repo->location, "/srv/repo") == 0 && strcmp(h->repo->password_file, "/etc/pw") == 0);
	CHECK(h->random_delay_s == 600 && h->max_age_s == 26 * 3600 && h->keep[2] == 7 && !h->persistent);
	CHECK(strcmp(h->keep_within, "1y6m") == 0 && strcmp(h->before, "echo hi") == 0);
	CHECK(strcmp(calendar_text(h->schedule), "*-*-* 00:00:00") == 0);
	const dconf_job *p = config_find_job(c, "p");
	REQUIRE(p);
	CHECK(p->repo && strcmp(p->repo->location, "/srv/other") == 0 && strcmp(p->max_unused, "10%") == 0);
	CHECK(config_find_job(c, "disks") && config_find_job(c, "z") && config_find_job(c, "z")->kind == JOB_ZPOOL);
	CHECK(c->alerts.n == 1 && c->alerts.v[0].type == CH_WEBHOOK);
	CHECK(c->listen && strcmp(c->listen, "127.0.0.1:8080") == 0 && c->nusers == 1 && c->nrestore_roots == 1);
	config_free(c);
	unlink(path);
}

TEST(config_counts_every_error)
{
	char *path = write_conf("[daemon]\nconcurrency = 99\nbogus = 1\n"
				"[backup a]\nrepository = nowhere\nschedule = *:61\n"
				"[backup a]\n"
				"[check c]\nrepository = /r\nread-data = yes\nread-data-subset = 5%\n"
				"[web]\nlisten = 10.0.0.1:80\n"
				"[sync x]\n");
	REQUIRE(path);
	dconf *c = NULL;
	int nerr = 0;
	/* concurrency, bogus, schedule, duplicate a, no repository nowhere, no path in a,
	 * read-data both, web without TLS, web without users, sync without from */
	CHECK(config_load(&c, path, &nerr) == -EINVAL);
	CHECK(nerr == 10);
	CHECK(c == NULL);
	unlink(path);
	CHECK(config_load(&c, "/nonexistent/dvalin.conf", &nerr) == -ENOENT);
	CHECK(strstr(err_msg(-ENOENT), "/nonexistent/dvalin.conf") != NULL);
}

TEST(config_sync_job)
{
	char *path = write_conf("[repository nas]\nlocation = /srv/nas\n"
				"[sync off]\nfrom = nas\nto = /media/cold/nas\nhost = pc\npath = /home\n"
				"latest = 3\nremove-vanished = yes\nverify = yes\nlimit-rate = 20M\nthreads = 2\n"
				"[sync back]\nfrom = /media/cold/nas\nto = nas\n");
	REQUIRE(path);
	dconf *c = NULL;
	int nerr = 0;
	REQUIRE(config_load(&c, path, &nerr) == 0);
	const dconf_job *j = config_find_job(c, "off");
	REQUIRE(j);
	CHECK(j->kind == JOB_SYNC && strcmp(config_kind_name(j->kind), "sync") == 0);
	CHECK(j->repo && strcmp(j->repo->location, "/srv/nas") == 0);
	CHECK(j->to && strcmp(j->to->location, "/media/cold/nas") == 0);
	CHECK(j->latest == 3 && j->remove_vanished && j->verify && j->threads == 2);
	CHECK(strcmp(j->limit_rate, "20M") == 0 && strcmp(j->host, "pc") == 0 && j->npaths == 1);
	/* a location written in two jobs is one repository */
	const dconf_job *b = config_find_job(c, "back");
	REQUIRE(b);
	CHECK(b->repo == j->to && b->to == j->repo);
	config_free(c);
	unlink(path);
}

TEST(metrics_exposition)
{
	metrics_job j[3] = {
		{ "home", "backup", 1700000000123456, 1700000000123456, 1.5, 0, 1, 4096, 0, 0, 0, 0, 0, 0, 0, 0,
		  1, 1, 2, 1 },
		{ "we\"ird\\name", "check", 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, -1 },
		{ "weekly", "drill", 1700000000000000, 1700000000000000, 9, 6, 0, 0, 1, 200, 3, 5e7, 3600.5, 0, 0, 0,
		  0, 0, 0, -1 },
	};
	metrics_repo r = { "nas", 1700000000000000, 1000, 3, 5000 };
	metrics_disk dk = { "/dev/sda", "M", "S", 1, 1, 41, 1, 100, 5, -1, -1, 2, -1 };
	metrics_state s = { j, 3, &r, 1, &dk, 1, 1700000000000000, 1700000100000000, 1, 0, 2, 1, "0.1.0" };
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	REQUIRE(f);
	metrics_write(f, &s);
	fclose(f);
	REQUIRE(p);
	CHECK(strstr(p, "# TYPE dvalin_job_last_success_timestamp_seconds gauge\n"));
	CHECK(strstr(p, "dvalin_job_last_success_timestamp_seconds{job_name=\"home\",kind=\"backup\"} 1700000000.123456\n"));
	CHECK(strstr(p, "dvalin_job_last_exit_status{job_name=\"home\",kind=\"backup\"} 0\n"));
	/* a job that never ran has no success, no exit status; its name is escaped */
	CHECK(!strstr(p, "dvalin_job_last_exit_status{job_name=\"we\\\""));
	CHECK(strstr(p, "dvalin_job_running{job_name=\"we\\\"ird\\\\name\",kind=\"check\"} 1\n"));
	CHECK(strstr(p, "dvalin_job_last_added_bytes{job_name=\"home\",kind=\"backup\"} 4096\n"));
	CHECK(strstr(p, "dvalin_repository_size_bytes{repository=\"nas\"} 1000\n"));
	CHECK(strstr(p, "dvalin_disk_temperature_celsius{device=\"/dev/sda\",model=\"M\",serial=\"S\"} 41\n"));
	CHECK(strstr(p, "dvalin_disk_power_on_seconds{device=\"/dev/sda\",model=\"M\",serial=\"S\"} 360000\n"));
	CHECK(strstr(p, "dvalin_disk_reallocated_sectors{device=\"/dev/sda\",model=\"M\",serial=\"S\"} 5\n"));
	CHECK(!strstr(p, "dvalin_disk_pending_sectors{")); /* unknown: left out */
	/* a drill's summary; none for the others, no added bytes for the drill */
	CHECK(strstr(p, "dvalin_drill_last_mismatches{job_name=\"weekly\",kind=\"drill\"} 3\n"));
	CHECK(strstr(p, "dvalin_drill_last_files{job_name=\"weekly\",kind=\"drill\"} 200\n"));
	CHECK(strstr(p, "dvalin_drill_full_restore_estimate_seconds{job_name=\"weekly\",kind=\"drill\"} 3600.500\n"));
	CHECK(strstr(p, "dvalin_drill_last_restore_bytes_per_second{job_name=\"weekly\",kind=\"drill\"} 50000000.0\n"));
	CHECK(strstr(p, "dvalin_job_last_exit_status{job_name=\"weekly\",kind=\"drill\"} 6\n"));
	CHECK(!strstr(p, "dvalin_drill_last_files{job_name=\"home\""));
	CHECK(!strstr(p, "dvalin_job_last_added_bytes{job_name=\"weekly\""));
	CHECK(strstr(p, "dvalin_daemon_uptime_seconds 100.000000\n"));
	/* a backup with journal = yes: its recorder and whether its last backup used the journal */
	CHECK(strstr(p, "dvalin_job_journal_recorder_up{job_name=\"home\",kind=\"backup\"} 1\n"));
	CHECK(strstr(p, "dvalin_job_journal_recorder_restarts_total{job_name=\"home\",kind=\"backup\"} 2\n"));
	CHECK(strstr(p, "dvalin_job_journal_used{job_name=\"home\",kind=\"backup\"} 1\n"));
	CHECK(!strstr(p, "dvalin_job_journal_recorder_up{job_name=\"weekly\""));
	CHECK(!strstr(p, "dvalin_job_journal_used{job_name=\"weekly\""));
	CHECK(strstr(p, "# TYPE dvalin_notifications_sent_total counter\ndvalin_notifications_sent_total 2\n"));
	/* every family's HELP and TYPE once */
	const char *q = p;
	int types = 0;
	while ((q = strstr(q, "# TYPE ")))
		types++, q++;
	CHECK(types == 34);
	free(p);
}

TEST(sessions_and_the_login_rate_limit)
{
	char hash[CRYPT_OUTPUT_SIZE];
	REQUIRE(auth_hash_password("secret", hash, sizeof(hash)) == 0);
	CHECK(strncmp(hash, "$y$", 3) == 0);
	auth *a;
	REQUIRE(auth_new(&a) == 0);
	char *names[] = { "admin" }, *hashes[] = { hash };
	REQUIRE(auth_set_users(a, names, hashes, 1, 3600) == 0);
	char tok[AUTH_TOKEN_LEN + 1], csrf[AUTH_TOKEN_LEN + 1], user[64], c2[AUTH_TOKEN_LEN + 1];
	int64_t retry = 0;
	CHECK(auth_login(a, "192.0.2.1", "admin", "secret", tok, csrf, &retry) == AUTH_OK);
	CHECK(strlen(tok) == AUTH_TOKEN_LEN && strcmp(tok, csrf) != 0);
	CHECK(auth_session(a, tok, user, c2) == 1 && strcmp(user, "admin") == 0 && strcmp(c2, csrf) == 0);
	CHECK(auth_session(a, "0000", user, c2) == 0);
	CHECK(auth_token_equal(tok, tok) && !auth_token_equal(tok, csrf) && !auth_token_equal(tok, NULL));
	/* unknown users and wrong passwords cost the same, and count */
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		CHECK(auth_login(a, "192.0.2.9", i % 2 ? "admin" : "nobody", "wrong", tok, csrf, &retry) == AUTH_WRONG);
	CHECK(auth_login(a, "192.0.2.9", "admin", "secret", tok, csrf, &retry) == AUTH_LIMITED && retry >= 1);
	/* another address is not limited, but the user name collected 3 failures of its own */
	CHECK(auth_login(a, "192.0.2.10", "admin", "secret", tok, csrf, &retry) == AUTH_OK);
	/* a changed hash ends the sessions of that user */
	char h2[CRYPT_OUTPUT_SIZE];
	REQUIRE(auth_hash_password("other", h2, sizeof(h2)) == 0);
	char *hashes2[] = { h2 };
	REQUIRE(auth_set_users(a, names, hashes2, 1, 3600) == 0);
	CHECK(auth_session(a, tok, user, c2) == 0);
	auth_logout(a, tok);
	auth_free(a);
}

static int count_run(void *ud, const run_info *r)
{
	(*(int *)ud)++;
	return r->id > 0 ? 0 : -1;
}

static int count_sample(void *ud, const history_sample *s)
{
	int *n = ud;
	CHECK(s->time == 1000 + *n);
	(*n)++;
	return 0;
}

/* A SQLite file in WAL mode and its two companions. */
static void remove_db(const char *path)
{
	char aux[64];
	unlink(path);
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
}

TEST(history_keeps_runs_states_and_samples)
{
	char path[] = "/tmp/dvalin-hist-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	history *h;
	REQUIRE(history_open(&h, path) == 0);
	int64_t id[5];
	for (int i = 0; i < 5; i++)
		REQUIRE(history_begin(h, "home", "backup", "schedule", 100 + i, &id[i]) == 0);
	CHECK(id[4] == id[0] + 4);
	run_info r;
	memset(&r, 0, sizeof(r));
	r.id = id[3];
	snprintf(r.status, sizeof(r.status), "ok");
	r.end_us = 200;
	r.exit_code = 0;
	r.duration_s = 1.25;
	r.has_summary = 1;
	r.files = 3;
	r.bytes_added = 99;
	snprintf(r.snapshot_id, sizeof(r.snapshot_id), "%064d", 7);
	r.result = "{\"x\":1}";
	r.log = "line\n";
	REQUIRE(history_finish(h, &r) == 0);
	run_info got;
	REQUIRE(history_get(h, id[3], 1, &got) == 1);
	CHECK(strcmp(got.status, "ok") == 0 && got.files == 3 && got.bytes_added == 99 && got.duration_s == 1.25);
	CHECK(got.mismatches == 0 && got.bytes_per_second == 0 && got.estimate_s == 0);
	CHECK(got.journal == RUN_JOURNAL_NONE);
	CHECK(got.result && strcmp(got.result, "{\"x\":1}") == 0 && got.log && strcmp(got.log, "line\n") == 0);
	run_info_release(&got);
	/* a backup's change journal: used (with its count), or not used and why */
	r.id = id[1];
	r.journal = RUN_JOURNAL_USED;
	r.journal_dirs = 12;
	REQUIRE(history_finish(h, &r) == 0);
	REQUIRE(history_get(h, id[1], 0, &got) == 1);
	CHECK(got.journal == RUN_JOURNAL_USED && got.journal_dirs == 12 && got.journal_reason[0] == 0);
	run_info_release(&got);
	r.id = id[2];
	r.journal = RUN_JOURNAL_NOT_USED;
	r.journal_dirs = 0;
	snprintf(r.journal_reason, sizeof(r.journal_reason), "no parent snapshot");
	REQUIRE(history_finish(h, &r) == 0);
	REQUIRE(history_get(h, id[2], 0, &got) == 1);
	CHECK(got.journal == RUN_JOURNAL_NOT_USED && strcmp(got.journal_reason, "no parent snapshot") == 0);
	run_info_release(&got);
	memset(r.journal_reason, 0, sizeof(r.journal_reason));
	r.journal = RUN_JOURNAL_NONE;
	CHECK(history_last(h, "home", 1, &got) == 1 && got.id == id[3] && got.log == NULL);
	run_info_release(&got);
	/* a daemon that died left runs "running": they become "aborted" */
	REQUIRE(history_recover(h, 500) == 0);
	CHECK(history_get(h, id[4], 0, &got) == 1 && strcmp(got.status, "aborted") == 0 && got.end_us == 500);
	run_info_release(&got);
	REQUIRE(history_trim(h, "home", 2) == 0);
	int n = 0;
	REQUIRE(history_list(h, "home", 0, 100, count_run, &n) == 0);
	CHECK(n == 2);
	CHECK(history_get(h, id[0], 0, &got) == 0);
	history_job_state js;
	REQUIRE(history_job_seen(h, "home", 10) == 0);
	REQUIRE(history_job_seen(h, "home", 20) == 0); /* the first sighting stays */
	REQUIRE(history_job_triggered(h, "home", 30) == 0);
	REQUIRE(history_job_succeeded(h, "home", 40) == 0);
	REQUIRE(history_job_get(h, "home", &js) == 0);
	CHECK(js.first_seen == 10 && js.last_trigger == 30 && js.last_success == 40);
	REQUIRE(history_job_get(h, "other", &js) == 0);
	CHECK(js.first_seen == 0 && js.last_success == 0);
	for (int i = 0; i < 5; i++) {
		history_sample s = { 1000 + i, (uint64_t)i, 10, 20 };
		REQUIRE(history_sample_add(h, "nas", &s) == 0);
	}
	n = 0;
	REQUIRE(history_samples(h, "nas", 100, count_sample, &n) == 0);
	CHECK(n == 5);
	history_close(h);
	/* it survives: a new open reads the same */
	REQUIRE(history_open(&h, path) == 0);
	n = 0;
	REQUIRE(history_list(h, NULL, 0, 100, count_run, &n) == 0);
	CHECK(n == 2);
	history_close(h);
	/* a state file of a later schema is refused, not misread */
	sqlite3 *db;
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, "UPDATE meta SET value = '4' WHERE key = 'daemon_schema'", NULL, NULL, NULL) ==
		SQLITE_OK);
	sqlite3_close(db);
	CHECK(history_open(&h, path) == -DV_EFORMAT && strstr(err_msg(-DV_EFORMAT), "schema version 4"));
	remove_db(path);
}

TEST(history_of_schema_1_is_upgraded_and_keeps_a_drills_summary)
{
	char path[] = "/tmp/dvalin-hist1-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	/* a state file as version 1 wrote it, with one finished run */
	sqlite3 *db;
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
				 "INSERT INTO meta VALUES('daemon_schema', '1');"
				 "CREATE TABLE runs(id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL,"
				 " kind TEXT NOT NULL, trigger TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER,"
				 " status TEXT NOT NULL, exit_code INTEGER, duration REAL, reason TEXT, has_summary INTEGER,"
				 " files INTEGER, bytes_read INTEGER, bytes_added INTEGER, snapshot_id TEXT, result TEXT,"
				 " log TEXT);"
				 "INSERT INTO runs(job, kind, trigger, start, end, status, exit_code, duration, has_summary,"
				 " files) VALUES('home', 'backup', 'schedule', 1, 2, 'ok', 0, 1.5, 1, 42);",
			     NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	history *h;
	REQUIRE(history_open(&h, path) == 0);
	run_info got;
	REQUIRE(history_last(h, "home", 1, &got) == 1);
	CHECK(got.files == 42 && got.mismatches == 0 && got.estimate_s == 0 && strcmp(got.kind, "backup") == 0);
	CHECK(got.journal == RUN_JOURNAL_NONE);
	run_info_release(&got);
	int64_t id;
	REQUIRE(history_begin(h, "weekly", "drill", "schedule", 10, &id) == 0);
	run_info r;
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.end_us = 20;
	snprintf(r.status, sizeof(r.status), "damage");
	r.exit_code = 6;
	r.has_summary = 1;
	r.files = 200;
	r.mismatches = 3;
	r.bytes_per_second = 52428800;
	r.estimate_s = 3600.25;
	REQUIRE(history_finish(h, &r) == 0);
	history_close(h);
	REQUIRE(history_open(&h, path) == 0); /* opened again: version 3 as it is */
	REQUIRE(history_get(h, id, 0, &got) == 1);
	CHECK(got.files == 200 && got.mismatches == 3 && got.bytes_per_second == 52428800 && got.estimate_s == 3600.25);
	run_info_release(&got);
	history_close(h);
	remove_db(path);
}

TEST(children_are_captured_with_caps_and_timeouts)
{
	char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	runner_spec s = { argv, NULL, 0, 0, 0 };
	buf out = BUF_INIT, err = BUF_INIT;
	int st = -1;
	REQUIRE(runner_capture(&s, 10000, &st, &out, &err) == 0);
	CHECK(st == 3 && out.len == 4 && memcmp(out.data, "out\n", 4) == 0 && err.len == 4);
	buf_release(&out);
	buf_release(&err);
	/* the environment additions reach the child */
	char *envp[] = { "DVALIN_UNIT=42", NULL };
	char *argv2[] = { "/bin/sh", "-c", "printf %s \"$DVALIN_UNIT\"", NULL };
	runner_spec s2 = { argv2, envp, 0, 0, 0 };
	REQUIRE(runner_capture(&s2, 10000, &st, &out, NULL) == 0);
	CHECK(st == 0 && out.len == 2 && memcmp(out.data, "42", 2) == 0);
	buf_release(&out);
	/* a hung child is stopped at its deadline: SIGINT, 128 + 2 */
	char *argv3[] = { "/bin/sh", "-c", "exec sleep 30", NULL };
	runner_spec s3 = { argv3, NULL, 0, 0, 0 };
	time_t t0 = time(NULL);
	REQUIRE(runner_capture(&s3, 300, &st, NULL, NULL) == 0);
	CHECK(st == 130 && time(NULL) - t0 < 10);
	/* stdout beyond its cap is dropped; stderr keeps its beginning and its end */
	char *argv4[] = { "/bin/sh", "-c",
			  "i=0; while [ $i -lt 2000 ]; do echo line$i; echo eline$i >&2; i=$((i+1)); done", NULL };
	runner_spec s4 = { argv4, NULL, 1000, 2000, 0 };
	REQUIRE(runner_capture(&s4, 20000, &st, &out, &err) == 0);
	CHECK(st == 0 && out.len <= 1000);
	CHECK(err.len <= 2000 && memcmp(err.data, "eline0\n", 7) == 0);
	CHECK(memmem(err.data, err.len, "left out", 8) != NULL);
	CHECK(err.len > 10 && memcmp(err.data + err.len - 10, "eline1999\n", 10) == 0);
	buf_release(&out);
	buf_release(&err);
	/* a program that does not exist */
	char *argv5[] = { "/nonexistent/prog", NULL };
	runner_spec s5 = { argv5, NULL, 0, 0, 0 };
	CHECK(runner_capture(&s5, 1000, &st, NULL, NULL) == -ENOENT);
}

TEST(children_json_is_read_with_care)
{
	CHECK(result_valid("{\"a\": 1}\n", 9) == 1);
	CHECK(result_valid("[1, 2", 5) == 0);
	CHECK(result_valid("", 0) == 0);
	result_backup b;
	const char *doc = "{\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
			  "\"total_files\":5,\"bytes_read\":10,\"bytes_added\":7}";
	CHECK(result_backup_summary(doc, &b) == 1 && b.files == 5 && b.bytes_added == 7 && b.snapshot_id[63] == 'f');
	CHECK(result_backup_summary("{\"snapshot_id\":\"short\",\"total_files\":5}", &b) == 0);
	CHECK(result_backup_summary("{\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
				    "\"total_files\":-5,\"bytes_read\":10,\"bytes_added\":7}", &b) == 0);
	CHECK(result_backup_summary(NULL, &b) == 0);
	/* a backup's change journal: absent without --journal; used; not used and why */
	CHECK(result_backup_summary(doc, &b) == 1 && !b.journal_asked);
	const char *used = "{\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
			   "\"total_files\":5,\"bytes_read\":10,\"bytes_added\":7,"
			   "\"journal\":{\"used\":true,\"directories\":3,\"reason\":null}}";
	CHECK(result_backup_summary(used, &b) == 1 && b.journal_asked && b.journal_used && b.journal_dirs == 3);
	const char *not = "{\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
			  "\"total_files\":5,\"bytes_read\":10,\"bytes_added\":7,"
			  "\"journal\":{\"used\":false,\"directories\":0,\"reason\":\"no parent snapshot\"}}";
	CHECK(result_backup_summary(not, &b) == 1 && b.journal_asked && !b.journal_used &&
	      strcmp(b.journal_reason, "no parent snapshot") == 0);
	/* a "used" that is not a boolean is no answer */
	const char *bad = "{\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
			  "\"total_files\":5,\"bytes_read\":10,\"bytes_added\":7,\"journal\":{\"used\":1}}";
	CHECK(result_backup_summary(bad, &b) == 1 && !b.journal_asked);
	result_stats st;
	CHECK(result_stats_sample("{\"snapshots\":2,\"pack_bytes\":100,\"logical_bytes\":50}", &st) == 1 && st.size == 100);
	CHECK(result_stats_sample("{\"snapshots\":\"2\"}", &st) == 0);
	result_drill dr;
	const char *drill = "{\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
			    "\"files_sampled\":4,\"bytes_sampled\":4000,\"entries_failed\":2,\"restore_errors\":1,"
			    "\"live\":{\"failed\":3},\"bytes_per_second\":1e6,\"estimate_seconds\":12.5}";
	CHECK(result_drill_summary(drill, &dr) == 1 && dr.files == 4 && dr.bytes == 4000 && dr.mismatches == 6 &&
	      dr.bytes_per_second == 1e6 && dr.estimate_s == 12.5 && dr.snapshot_id[0] == '0');
	CHECK(result_drill_summary("{\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
				   "\"files_sampled\":4,\"bytes_sampled\":4000,\"entries_failed\":0,\"restore_errors\":0,"
				   "\"live\":{\"failed\":0},\"bytes_per_second\":-1,\"estimate_seconds\":1}", &dr) == 0);
	CHECK(result_drill_summary(doc, &dr) == 0); /* a backup's document is no drill's */
	CHECK(result_drill_summary(NULL, &dr) == 0);
}

TEST(http_addresses_and_escapes)
{
	int loop = -1;
	CHECK(http_listen_check("127.0.0.1:8080", &loop) == 0 && loop == 1);
	CHECK(http_listen_check("localhost:0", &loop) == 0 && loop == 1);
	CHECK(http_listen_check("[::1]:443", &loop) == 0 && loop == 1);
	CHECK(http_listen_check("0.0.0.0:80", &loop) == 0 && loop == 0);
	CHECK(http_listen_check("[::]:80", &loop) == 0 && loop == 0);
	CHECK(http_listen_check("192.168.1.2:8443", &loop) == 0 && loop == 0);
	CHECK(http_listen_check("unix:/run/x.sock", &loop) == 0 && loop == 1);
	CHECK(http_listen_check("unix:relative", &loop) == -EINVAL);
	CHECK(http_listen_check("127.0.0.1", &loop) == -EINVAL);
	CHECK(http_listen_check("127.0.0.1:65536", &loop) == -EINVAL);
	CHECK(http_listen_check("nas.local:80", &loop) == -EINVAL);
	CHECK(http_listen_check("[::1:80", &loop) == -EINVAL);
	char s1[] = "a%20b+c%2Fd";
	CHECK(http_unescape(s1, 1) == 0 && strcmp(s1, "a b c/d") == 0);
	char s2[] = "a+b";
	CHECK(http_unescape(s2, 0) == 0 && strcmp(s2, "a+b") == 0);
	char s3[] = "bad%2";
	CHECK(http_unescape(s3, 1) == -EINVAL);
	char s4[] = "nul%00here";
	CHECK(http_unescape(s4, 1) == -EINVAL);
}
