/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sql: the few SQLite helpers dvalin's databases share (the disk state
 * today, the daemon's job history tomorrow): open with a busy timeout,
 * run a script, run one statement with bound values, read one integer,
 * and iterate rows.  Every failure returns -EIO with a message that names
 * the database ("disk state '/var/lib/dvalin/disks.db': write: database
 * is locked").
 *
 * Values are bound by position (?1, ?2, ...) from an array of sql_value,
 * written with SQL_TEXT() and SQL_INT(); SQL_ARGS() passes such an array
 * and its length:
 *
 *   sql_run(db, "DELETE FROM t WHERE a = ?1 AND b = ?2", SQL_ARGS(SQL_TEXT(a), SQL_INT(b)));
 *
 * Text is bound without a copy: it must live until the call returns.
 */
#ifndef DV_BASE_SQL_H
#define DV_BASE_SQL_H

#include <stddef.h>
#include <stdint.h>

typedef struct sql_db sql_db;
typedef struct sqlite3_stmt sqlite3_stmt;

enum { SQL_T_NULL = 0, SQL_T_TEXT, SQL_T_INT };

typedef struct {
	int type;
	const char *text; /* SQL_T_TEXT; NULL binds NULL */
	int64_t num;      /* SQL_T_INT */
} sql_value;

#define SQL_TEXT(s) ((sql_value){ SQL_T_TEXT, (s), 0 })
#define SQL_INT(v) ((sql_value){ SQL_T_INT, NULL, (int64_t)(v) })
#define SQL_ARGS(...) (const sql_value[]){ __VA_ARGS__ }, \
	sizeof((sql_value[]){ __VA_ARGS__ }) / sizeof(sql_value)

/* How long a statement waits for another process's lock, in milliseconds. */
#define SQL_BUSY_MS 10000

/*
 * Opens (creating it if missing) the database at path; what names it in
 * messages ("disk state").  A busy timeout of SQL_BUSY_MS is set.
 */
int sql_open(sql_db **out, const char *path, const char *what);
void sql_close(sql_db *db);
/* Runs statements without values (a schema, BEGIN, COMMIT); doing names the step. */
int sql_exec(sql_db *db, const char *script, const char *doing);
/* Runs one statement with values that returns no rows. */
int sql_run(sql_db *db, const char *stmt, const sql_value *v, size_t n);
/* A lookup: 0 and *out the integer in the first column of the first row, -DV_ENOTFOUND without a row. */
int sql_get_int(sql_db *db, int64_t *out, const char *stmt, const sql_value *v, size_t n);
/* A statement with values bound, for sql_step(); finalize it with sql_finish(). */
int sql_prepare(sql_db *db, sqlite3_stmt **out, const char *stmt, const sql_value *v, size_t n);
/* 1 with a row (read it with sqlite3_column_*), 0 when done, <0 on failure. */
int sql_step(sql_db *db, sqlite3_stmt *st);
void sql_finish(sqlite3_stmt *st);

#endif
