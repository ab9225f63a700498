/* SPDX-License-Identifier: BSD-2-Clause */
#include "history.h"
#include "../base/err.h"
#include "../base/sql.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct history {
	sql_db *db;
};

/*
 * Version 1 of the schema (meta 'daemon_schema'), created as it always was,
 * then brought to version 2: a drill's summary (mismatches, throughput, a
 * full restore's estimate) in three more columns of runs, then to version
 * 3: a backup's change journal (journal: NULL none asked, 0 not used, 1
 * used; journal_dirs; journal_reason).  An older file is upgraded in place
 * (its rows read 0 or NULL there); a later version is refused.
 */
static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT OR IGNORE INTO meta VALUES('daemon_schema', '1');"
	"CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL,"
	" kind TEXT NOT NULL, trigger TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER,"
	" status TEXT NOT NULL, exit_code INTEGER, duration REAL, reason TEXT, has_summary INTEGER,"
	" files INTEGER, bytes_read INTEGER, bytes_added INTEGER, snapshot_id TEXT, result TEXT, log TEXT);"
	"CREATE INDEX IF NOT EXISTS runs_by_job ON runs(job, id);"
	"CREATE TABLE IF NOT EXISTS job_state(job TEXT PRIMARY KEY, first_seen INTEGER,"
	" last_trigger INTEGER, last_success INTEGER);"
	"CREATE TABLE IF NOT EXISTS repo_samples(repository TEXT NOT NULL, time INTEGER NOT NULL,"
	" snapshots INTEGER, size INTEGER, logical INTEGER);"
	"CREATE INDEX IF NOT EXISTS samples_by_repo ON repo_samples(repository, time);";

#define SCHEMA_VERSION 3

static const char to_v2[] =
	"BEGIN IMMEDIATE;"
	"ALTER TABLE runs ADD COLUMN mismatches INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE runs ADD COLUMN rate REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE runs ADD COLUMN estimate REAL NOT NULL DEFAULT 0;"
	"UPDATE meta SET value = '2' WHERE key = 'daemon_schema';"
	"COMMIT;";

static const char to_v3[] =
	"BEGIN IMMEDIATE;"
	"ALTER TABLE runs ADD COLUMN journal INTEGER;"
	"ALTER TABLE runs ADD COLUMN journal_dirs INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE runs ADD COLUMN journal_reason TEXT;"
	"UPDATE meta SET value = '3' WHERE key = 'daemon_schema';"
	"COMMIT;";

int history_open(history **out, const char *path)
{
	history *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int rc = sql_open(&h->db, path, "daemon state");
	rc = rc ?: sql_exec(h->db, schema, "cannot create the tables (not a dvalin daemon state file?)");
	int64_t v = 0;
	const char *q = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'daemon_schema'";
	if (rc == 0 && sql_get_int(h->db, &v, q, NULL, 0) == 0 && v == 1)
		rc = sql_exec(h->db, to_v2, "cannot upgrade the daemon state to schema version 2");
	if (rc == 0 && sql_get_int(h->db, &v, q, NULL, 0) == 0 && v == 2)
		rc = sql_exec(h->db, to_v3, "cannot upgrade the daemon state to schema version 3");
	if (rc == 0 && sql_get_int(h->db, &v, q, NULL, 0) == 0 && v != SCHEMA_VERSION)
		rc = err_set(-DV_EFORMAT, "daemon state '%s' has schema version %lld; this dvalin knows 1 to %d", path,
			     (long long)v, SCHEMA_VERSION);
	if (rc < 0) {
		history_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

void history_close(history *h)
{
	if (!h)
		return;
	sql_close(h->db);
	free(h);
}

int history_recover(history *h, int64_t now)
{
	return sql_run(h->db, "UPDATE runs SET status = 'aborted', end = ?1,"
			      " reason = 'the daemon stopped before the run ended' WHERE status = 'running'",
		       SQL_ARGS(SQL_INT(now)));
}

int history_begin(history *h, const char *job, const char *kind, const char *trigger, int64_t start,
		  int64_t *id)
{
	int rc = sql_run(h->db, "INSERT INTO runs(job, kind, trigger, start, status, exit_code, duration, has_summary)"
				" VALUES(?1, ?2, ?3, ?4, 'running', -1, 0, 0)",
			 SQL_ARGS(SQL_TEXT(job), SQL_TEXT(kind), SQL_TEXT(trigger), SQL_INT(start)));
	if (rc == 0)
		rc = sql_get_int(h->db, id, "SELECT last_insert_rowid()", NULL, 0);
	return rc;
}

int history_finish(history *h, const run_info *r)
{
	/* the duration bound as text: sql.c binds integers and text only */
	char dur[32], rate[32], est[32];
	snprintf(dur, sizeof(dur), "%.3f", r->duration_s);
	snprintf(rate, sizeof(rate), "%.1f", r->bytes_per_second);
	snprintf(est, sizeof(est), "%.3f", r->estimate_s);
	return sql_run(h->db,
		       "UPDATE runs SET end = ?2, status = ?3, exit_code = ?4, duration = CAST(?5 AS REAL),"
		       " reason = ?6, has_summary = ?7, files = ?8, bytes_read = ?9, bytes_added = ?10,"
		       " snapshot_id = ?11, result = ?12, log = ?13, mismatches = ?14, rate = CAST(?15 AS REAL),"
		       " estimate = CAST(?16 AS REAL), journal = ?17, journal_dirs = ?18, journal_reason = ?19"
		       " WHERE id = ?1",
		       SQL_ARGS(SQL_INT(r->id), SQL_INT(r->end_us), SQL_TEXT(r->status), SQL_INT(r->exit_code),
				SQL_TEXT(dur), SQL_TEXT(r->reason[0] ? r->reason : NULL), SQL_INT(r->has_summary),
				SQL_INT(r->files), SQL_INT(r->bytes_read), SQL_INT(r->bytes_added),
				SQL_TEXT(r->snapshot_id[0] ? r->snapshot_id : NULL), SQL_TEXT(r->result),
				SQL_TEXT(r->log), SQL_INT(r->mismatches), SQL_TEXT(rate), SQL_TEXT(est),
				r->journal == RUN_JOURNAL_NONE ? SQL_TEXT(NULL) : SQL_INT(r->journal == RUN_JOURNAL_USED),
				SQL_INT(r->journal_dirs),
				SQL_TEXT(r->journal == RUN_JOURNAL_NOT_USED ? r->journal_reason : NULL)));
}

int history_trim(history *h, const char *job, int keep)
{
	return sql_run(h->db, "DELETE FROM runs WHERE job = ?1 AND status != 'running' AND id NOT IN"
			      " (SELECT id FROM runs WHERE job = ?1 ORDER BY id DESC LIMIT ?2)",
		       SQL_ARGS(SQL_TEXT(job), SQL_INT(keep)));
}

#define RUN_COLUMNS "id, job, kind, trigger, start, end, status, exit_code, duration, reason," \
		    " has_summary, files, bytes_read, bytes_added, snapshot_id, mismatches, rate, estimate," \
		    " journal, journal_dirs, journal_reason"

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void read_run(sqlite3_stmt *st, run_info *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	copy_text(r->job, sizeof(r->job), st, 1);
	copy_text(r->kind, sizeof(r->kind), st, 2);
	copy_text(r->trigger, sizeof(r->trigger), st, 3);
	r->start_us = sqlite3_column_int64(st, 4);
	r->end_us = sqlite3_column_int64(st, 5);
	copy_text(r->status, sizeof(r->status), st, 6);
	r->exit_code = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 7);
	r->duration_s = sqlite3_column_double(st, 8);
	copy_text(r->reason, sizeof(r->reason), st, 9);
	r->has_summary = sqlite3_column_int(st, 10);
	r->files = (uint64_t)sqlite3_column_int64(st, 11);
	r->bytes_read = (uint64_t)sqlite3_column_int64(st, 12);
	r->bytes_added = (uint64_t)sqlite3_column_int64(st, 13);
	copy_text(r->snapshot_id, sizeof(r->snapshot_id), st, 14);
	r->mismatches = (uint64_t)sqlite3_column_int64(st, 15);
	r->bytes_per_second = sqlite3_column_double(st, 16);
	r->estimate_s = sqlite3_column_double(st, 17);
	if (sqlite3_column_type(st, 18) != SQLITE_NULL)
		r->journal = sqlite3_column_int(st, 18) ? RUN_JOURNAL_USED : RUN_JOURNAL_NOT_USED;
	r->journal_dirs = (uint64_t)sqlite3_column_int64(st, 19);
	copy_text(r->journal_reason, sizeof(r->journal_reason), st, 20);
}

static int dup_col(sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	if (!t)
		return 0;
	return (*out = strdup((const char *)t)) ? 0 : -ENOMEM;
}

static int get_one(history *h, run_info *out, int with_log, const char *where, const sql_value *v, size_t n)
{
	char q[1024];
	snprintf(q, sizeof(q), "SELECT " RUN_COLUMNS ", result, %s FROM runs WHERE %s",
		 with_log ? "log" : "NULL", where);
	sqlite3_stmt *st;
	int rc = sql_prepare(h->db, &st, q, v, n);
	if (rc < 0)
		return rc;
	rc = sql_step(h->db, st);
	if (rc == 1) {
		read_run(st, out);
		int e = dup_col(st, 21, &out->result);
		e = e ?: dup_col(st, 22, &out->log);
		if (e < 0) {
			run_info_release(out);
			rc = e;
		}
	}
	sql_finish(st);
	return rc;
}

int history_get(history *h, int64_t id, int with_log, run_info *out)
{
	return get_one(h, out, with_log, "id = ?1", SQL_ARGS(SQL_INT(id)));
}

int history_last(history *h, const char *job, int ok_only, run_info *out)
{
	return get_one(h, out, 0,
		       ok_only ? "job = ?1 AND status IN ('ok', 'partial', 'warning', 'failing')"
				 " ORDER BY id DESC LIMIT 1"
			       : "job = ?1 AND status != 'running' ORDER BY id DESC LIMIT 1",
		       SQL_ARGS(SQL_TEXT(job)));
}

int history_list(history *h, const char *job, int64_t before, int limit, history_run_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = sql_prepare(h->db, &st,
			     "SELECT " RUN_COLUMNS " FROM runs WHERE (?1 IS NULL OR job = ?1) AND (?2 = 0 OR id < ?2)"
			     " ORDER BY id DESC LIMIT ?3",
			     SQL_ARGS(SQL_TEXT(job), SQL_INT(before), SQL_INT(limit)));
	if (rc < 0)
		return rc;
	while ((rc = sql_step(h->db, st)) == 1) {
		run_info r;
		read_run(st, &r);
		if ((rc = fn(ud, &r)) < 0)
			break;
	}
	sql_finish(st);
	return rc < 0 ? rc : 0;
}

int history_job_get(history *h, const char *job, history_job_state *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st;
	int rc = sql_prepare(h->db, &st, "SELECT first_seen, last_trigger, last_success FROM job_state WHERE job = ?1",
			     SQL_ARGS(SQL_TEXT(job)));
	if (rc < 0)
		return rc;
	rc = sql_step(h->db, st);
	if (rc == 1) {
		out->first_seen = sqlite3_column_int64(st, 0);
		out->last_trigger = sqlite3_column_int64(st, 1);
		out->last_success = sqlite3_column_int64(st, 2);
	}
	sql_finish(st);
	return rc < 0 ? rc : 0;
}

int history_job_seen(history *h, const char *job, int64_t now)
{
	return sql_run(h->db, "INSERT OR IGNORE INTO job_state(job, first_seen, last_trigger, last_success)"
			      " VALUES(?1, ?2, 0, 0)",
		       SQL_ARGS(SQL_TEXT(job), SQL_INT(now)));
}

int history_job_triggered(history *h, const char *job, int64_t when)
{
	return sql_run(h->db, "UPDATE job_state SET last_trigger = ?2 WHERE job = ?1",
		       SQL_ARGS(SQL_TEXT(job), SQL_INT(when)));
}

int history_job_succeeded(history *h, const char *job, int64_t when)
{
	return sql_run(h->db, "UPDATE job_state SET last_success = ?2 WHERE job = ?1",
		       SQL_ARGS(SQL_TEXT(job), SQL_INT(when)));
}

int history_sample_add(history *h, const char *repo, const history_sample *s)
{
	int rc = sql_run(h->db, "INSERT INTO repo_samples VALUES(?1, ?2, ?3, ?4, ?5)",
			 SQL_ARGS(SQL_TEXT(repo), SQL_INT(s->time), SQL_INT(s->snapshots), SQL_INT(s->size),
				  SQL_INT(s->logical)));
	return rc ?: sql_run(h->db, "DELETE FROM repo_samples WHERE repository = ?1 AND rowid NOT IN"
				    " (SELECT rowid FROM repo_samples WHERE repository = ?1 ORDER BY time DESC LIMIT ?2)",
			     SQL_ARGS(SQL_TEXT(repo), SQL_INT(HISTORY_SAMPLES_MAX)));
}

int history_samples(history *h, const char *repo, int max, history_sample_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = sql_prepare(h->db, &st,
			     "SELECT time, snapshots, size, logical FROM (SELECT * FROM repo_samples WHERE repository = ?1"
			     " ORDER BY time DESC LIMIT ?2) ORDER BY time",
			     SQL_ARGS(SQL_TEXT(repo), SQL_INT(max)));
	if (rc < 0)
		return rc;
	while ((rc = sql_step(h->db, st)) == 1) {
		history_sample s = { sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
				     (uint64_t)sqlite3_column_int64(st, 2), (uint64_t)sqlite3_column_int64(st, 3) };
		if ((rc = fn(ud, &s)) < 0)
			break;
	}
	sql_finish(st);
	return rc < 0 ? rc : 0;
}
