/* SPDX-License-Identifier: BSD-2-Clause */
/* The SQLite helpers of base/sql.c. */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/base/sql.h"

#include <sqlite3.h>
#include <unistd.h>

TEST(sql_run_get_and_iterate)
{
	char path[] = "/tmp/dvalin-sql-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	sql_db *db;
	REQUIRE(sql_open(&db, path, "test db") == 0);
	REQUIRE(sql_exec(db, "CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER, note TEXT);", "schema") == 0);
	CHECK(sql_run(db, "INSERT INTO t VALUES(?1, ?2, ?3)", SQL_ARGS(SQL_TEXT("a"), SQL_INT(-5), SQL_TEXT(NULL))) == 0);
	CHECK(sql_run(db, "INSERT INTO t VALUES(?1, ?2, ?3)",
		      SQL_ARGS(SQL_TEXT("b"), SQL_INT(INT64_MAX), SQL_TEXT("it's"))) == 0);
	int64_t v = 0;
	CHECK(sql_get_int(db, &v, "SELECT v FROM t WHERE k = ?1", SQL_ARGS(SQL_TEXT("a"))) == 0 && v == -5);
	CHECK(sql_get_int(db, &v, "SELECT v FROM t WHERE k = ?1", SQL_ARGS(SQL_TEXT("b"))) == 0 && v == INT64_MAX);
	CHECK(sql_get_int(db, &v, "SELECT v FROM t WHERE k = ?1", SQL_ARGS(SQL_TEXT("zz"))) == -DV_ENOTFOUND);
	CHECK(sql_get_int(db, &v, "SELECT count(*) FROM t WHERE note IS NULL", NULL, 0) == 0 && v == 1);
	sqlite3_stmt *st;
	REQUIRE(sql_prepare(db, &st, "SELECT k, note FROM t ORDER BY k", NULL, 0) == 0);
	int rows = 0, rc;
	while ((rc = sql_step(db, st)) == 1)
		rows++;
	CHECK(rc == 0 && rows == 2);
	sql_finish(st);
	/* a failure names the database and the step */
	rc = sql_run(db, "INSERT INTO t VALUES(?1, 1, 'x')", SQL_ARGS(SQL_TEXT("a")));
	CHECK(rc == -EIO);
	char want[128];
	snprintf(want, sizeof(want), "test db '%s': write: UNIQUE constraint failed", path);
	CHECK(strncmp(err_msg(rc), want, strlen(want)) == 0);
	CHECK(sql_run(db, "SELEKT", NULL, 0) == -EIO && strstr(err_msg(-EIO), ": prepare: "));
	sql_close(db);
	unlink(path);
}

TEST(sql_open_failure_names_the_file)
{
	sql_db *db = NULL;
	int rc = sql_open(&db, "/nonexistent-dir/x.db", "disk state");
	CHECK(rc == -EIO && db == NULL);
	CHECK(strstr(err_msg(rc), "disk state '/nonexistent-dir/x.db': cannot open") != NULL);
	sql_close(NULL);
}
