/* SPDX-License-Identifier: BSD-2-Clause */
#include "diskstate.h"
#include "../base/err.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct diskstate {
	sqlite3 *db;
	char *path;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT OR IGNORE INTO meta VALUES('schema', '1');"
	"CREATE TABLE IF NOT EXISTS readings(disk TEXT, key TEXT, value INTEGER, time INTEGER,"
	" PRIMARY KEY(disk, key));"
	"CREATE TABLE IF NOT EXISTS history(disk TEXT, key TEXT, value INTEGER, time INTEGER);"
	"CREATE TABLE IF NOT EXISTS alerts(disk TEXT, code TEXT, severity INTEGER, message TEXT,"
	" time INTEGER, PRIMARY KEY(disk, code));";

static int fail(diskstate *s, const char *what)
{
	return err_set(-EIO, "disk state '%s': %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

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
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		rc = fail(s, "cannot open");
	} else {
		sqlite3_busy_timeout(s->db, 10000);
		if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)
			rc = fail(s, "cannot create the tables (not a dvalin state file?)");
	}
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
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int diskstate_begin(diskstate *s)
{
	return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, "begin");
}

int diskstate_commit(diskstate *s)
{
	return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, "commit");
}

static int prepare(diskstate *s, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : fail(s, "prepare");
}

/* One integer column of one row: 1 and *out, or 0 when there is no row. */
static int select_int(diskstate *s, const char *sql, const char *a, const char *b, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = prepare(s, sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 1;
	} else if (step != SQLITE_DONE) {
		rc = fail(s, "read");
	}
	sqlite3_finalize(st);
	return rc;
}

int diskstate_prev(diskstate *s, const char *disk, const char *key, uint64_t *out)
{
	int64_t v;
	int rc = select_int(s, "SELECT value FROM readings WHERE disk = ?1 AND key = ?2", disk, key, &v);
	if (rc == 1)
		*out = (uint64_t)v;
	return rc;
}

static int exec_bound(diskstate *s, const char *sql, const char *a, const char *b, int64_t x,
		      int64_t y, const char *c)
{
	sqlite3_stmt *st;
	int rc = prepare(s, sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, x);
	sqlite3_bind_int64(st, 4, y);
	if (c)
		sqlite3_bind_text(st, 5, c, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = fail(s, "write");
	sqlite3_finalize(st);
	return rc;
}

int diskstate_put(diskstate *s, const char *disk, const char *key, uint64_t val, int64_t now)
{
	int rc = exec_bound(s, "INSERT OR REPLACE INTO readings VALUES(?1, ?2, ?3, ?4)", disk, key,
			    (int64_t)val, now, NULL);
	return rc ?: exec_bound(s, "INSERT INTO history VALUES(?1, ?2, ?3, ?4)", disk, key,
				(int64_t)val, now, NULL);
}

int diskstate_alert_get(diskstate *s, const char *disk, const char *code, int *sev)
{
	int64_t v;
	int rc = select_int(s, "SELECT severity FROM alerts WHERE disk = ?1 AND code = ?2", disk, code, &v);
	if (rc == 1)
		*sev = (int)v;
	return rc;
}

int diskstate_alert_set(diskstate *s, const char *disk, const char *code, int sev,
			const char *msg, int64_t now)
{
	return exec_bound(s, "INSERT OR REPLACE INTO alerts(disk, code, severity, time, message)"
			     " VALUES(?1, ?2, ?3, ?4, ?5)", disk, code, sev, now, msg);
}

int diskstate_alert_clear(diskstate *s, const char *disk, const char *code)
{
	sqlite3_stmt *st;
	int rc = prepare(s, "DELETE FROM alerts WHERE disk = ?1 AND code = ?2", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, disk, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = fail(s, "write");
	sqlite3_finalize(st);
	return rc;
}

int diskstate_alerts(diskstate *s, const char *disk, diskstate_alert_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT code, severity, message FROM alerts WHERE disk = ?1 ORDER BY code", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, disk, -1, SQLITE_STATIC);
	int step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(st, 2);
		rc = fn(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
			msg ? msg : "");
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = fail(s, "read");
	sqlite3_finalize(st);
	return rc;
}
