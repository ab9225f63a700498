/* SPDX-License-Identifier: BSD-2-Clause */
#include "sql.h"
#include "err.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct sql_db {
	sqlite3 *db;
	char *path, *what;
};

static int fail(sql_db *db, const char *doing)
{
	return err_set(-EIO, "%s '%s': %s: %s", db->what, db->path, doing,
		       db->db ? sqlite3_errmsg(db->db) : "out of memory");
}

int sql_open(sql_db **out, const char *path, const char *what)
{
	sql_db *db = calloc(1, sizeof(*db));
	if (!db || !(db->path = strdup(path)) || !(db->what = strdup(what))) {
		sql_close(db);
		return -ENOMEM;
	}
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		int rc = fail(db, "cannot open");
		sql_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db->db, SQL_BUSY_MS);
	*out = db;
	return 0;
}

void sql_close(sql_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db); /* accepts NULL */
	free(db->path);
	free(db->what);
	free(db);
}

int sql_exec(sql_db *db, const char *script, const char *doing)
{
	return sqlite3_exec(db->db, script, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(db, doing);
}

int sql_prepare(sql_db *db, sqlite3_stmt **out, const char *stmt, const sql_value *v, size_t n)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->db, stmt, -1, &st, NULL) != SQLITE_OK)
		return fail(db, "prepare");
	for (size_t i = 0; i < n; i++) {
		int pos = (int)i + 1, rc;
		if (v[i].type == SQL_T_INT)
			rc = sqlite3_bind_int64(st, pos, v[i].num);
		else if (v[i].type == SQL_T_TEXT && v[i].text)
			rc = sqlite3_bind_text(st, pos, v[i].text, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_null(st, pos);
		if (rc != SQLITE_OK) {
			int e = fail(db, "bind");
			sqlite3_finalize(st);
			return e;
		}
	}
	*out = st;
	return 0;
}

int sql_step(sql_db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return fail(db, sqlite3_stmt_readonly(st) ? "read" : "write");
}

void sql_finish(sqlite3_stmt *st)
{
	sqlite3_finalize(st); /* accepts NULL */
}

int sql_run(sql_db *db, const char *stmt, const sql_value *v, size_t n)
{
	sqlite3_stmt *st;
	int rc = sql_prepare(db, &st, stmt, v, n);
	if (rc < 0)
		return rc;
	rc = sql_step(db, st);
	sql_finish(st);
	return rc < 0 ? rc : 0;
}

int sql_get_int(sql_db *db, int64_t *out, const char *stmt, const sql_value *v, size_t n)
{
	sqlite3_stmt *st;
	int rc = sql_prepare(db, &st, stmt, v, n);
	if (rc < 0)
		return rc;
	rc = sql_step(db, st);
	if (rc == 1)
		*out = sqlite3_column_int64(st, 0);
	sql_finish(st);
	return rc == 1 ? 0 : rc == 0 ? -DV_ENOTFOUND : rc;
}
