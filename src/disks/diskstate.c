/* SPDX-License-Identifier: BSD-2-Clause */
#include "diskstate.h"
#include "../base/err.h"
#include "../base/sql.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct diskstate {
	sql_db *db;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT OR IGNORE INTO meta VALUES('schema', '1');"
	"CREATE TABLE IF NOT EXISTS readings(disk TEXT, key TEXT, value INTEGER, time INTEGER,"
	" PRIMARY KEY(disk, key));"
	"CREATE TABLE IF NOT EXISTS history(disk TEXT, key TEXT, value INTEGER, time INTEGER);"
	"CREATE TABLE IF NOT EXISTS alerts(disk TEXT, code TEXT, severity INTEGER, message TEXT,"
	" time INTEGER, PRIMARY KEY(disk, code));";

/* mkdir -p of the directory holding path. */
static int make_parent(const char *path)
{
	char *d = strdup(path);
	if (!d)
		return -ENOMEM;
	char *slash = strrchr(d, '/');
	for (char *p = d + 1; slash && p <= slash; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(d, 0700) < 0 && errno != EEXIST) {
			int e = -errno;
			int r = err_sys(e, "cannot create directory '%s' for the disk state", d);
			free(d);
			return r;
		}
		*p = '/';
	}
	free(d);
	return 0;
}

int diskstate_open(diskstate **out, const char *path)
{
	int rc = make_parent(path);
	if (rc < 0)
		return rc;
	diskstate *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = sql_open(&s->db, path, "disk state");
	rc = rc ?: sql_exec(s->db, schema, "cannot create the tables (not a dvalin state file?)");
	if (rc < 0) {
		diskstate_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void diskstate_close(diskstate *s)
{
	if (!s)
		return;
	sql_close(s->db);
	free(s);
}

int diskstate_begin(diskstate *s)
{
	return sql_exec(s->db, "BEGIN IMMEDIATE", "begin");
}

int diskstate_commit(diskstate *s)
{
	return sql_exec(s->db, "COMMIT", "commit");
}

int diskstate_prev(diskstate *s, const char *disk, const char *key, uint64_t *out)
{
	int64_t v;
	int rc = sql_get_int(s->db, &v, "SELECT value FROM readings WHERE disk = ?1 AND key = ?2",
			     SQL_ARGS(SQL_TEXT(disk), SQL_TEXT(key)));
	if (rc == 0)
		*out = (uint64_t)v;
	return rc;
}

int diskstate_put(diskstate *s, const char *disk, const char *key, uint64_t val, int64_t now)
{
	int rc = sql_run(s->db, "INSERT OR REPLACE INTO readings VALUES(?1, ?2, ?3, ?4)",
			 SQL_ARGS(SQL_TEXT(disk), SQL_TEXT(key), SQL_INT(val), SQL_INT(now)));
	return rc ?: sql_run(s->db, "INSERT INTO history VALUES(?1, ?2, ?3, ?4)",
			     SQL_ARGS(SQL_TEXT(disk), SQL_TEXT(key), SQL_INT(val), SQL_INT(now)));
}

int diskstate_alert_get(diskstate *s, const char *disk, const char *code, int *sev)
{
	int64_t v;
	int rc = sql_get_int(s->db, &v, "SELECT severity FROM alerts WHERE disk = ?1 AND code = ?2",
			     SQL_ARGS(SQL_TEXT(disk), SQL_TEXT(code)));
	if (rc == 0)
		*sev = (int)v;
	return rc;
}

int diskstate_alert_set(diskstate *s, const char *disk, const char *code, int sev,
			const char *msg, int64_t now)
{
	return sql_run(s->db, "INSERT OR REPLACE INTO alerts(disk, code, severity, time, message)"
			      " VALUES(?1, ?2, ?3, ?4, ?5)",
		       SQL_ARGS(SQL_TEXT(disk), SQL_TEXT(code), SQL_INT(sev), SQL_INT(now), SQL_TEXT(msg)));
}

int diskstate_alert_clear(diskstate *s, const char *disk, const char *code)
{
	return sql_run(s->db, "DELETE FROM alerts WHERE disk = ?1 AND code = ?2",
		       SQL_ARGS(SQL_TEXT(disk), SQL_TEXT(code)));
}

int diskstate_alerts(diskstate *s, const char *disk, diskstate_alert_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = sql_prepare(s->db, &st, "SELECT code, severity, message FROM alerts WHERE disk = ?1 ORDER BY code",
			     SQL_ARGS(SQL_TEXT(disk)));
	if (rc < 0)
		return rc;
	while ((rc = sql_step(s->db, st)) == 1) {
		const char *msg = (const char *)sqlite3_column_text(st, 2);
		if ((rc = fn(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
			     msg ? msg : "")) < 0)
			break;
	}
	sql_finish(st);
	return rc < 0 ? rc : 0;
}

int diskstate_series(diskstate *s, const char *disk, int max, diskstate_reading_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = sql_prepare(s->db, &st,
			     "SELECT key, time, value FROM (SELECT rowid, * FROM history WHERE disk = ?1"
			     " ORDER BY time DESC, rowid DESC LIMIT ?2) ORDER BY time, rowid",
			     SQL_ARGS(SQL_TEXT(disk), SQL_INT(max)));
	if (rc < 0)
		return rc;
	while ((rc = sql_step(s->db, st)) == 1) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if ((rc = fn(ud, key ? key : "", sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2))) < 0)
			break;
	}
	sql_finish(st);
	return rc < 0 ? rc : 0;
}
