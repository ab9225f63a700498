/* SPDX-License-Identifier: BSD-2-Clause */
#include "token.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/crypto.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PREFIX "dvt_"
#define SELECTOR_BYTES 8
#define SECRET_BYTES 32

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS tokens("
	" selector TEXT PRIMARY KEY,"      /* 16 hex digits */
	" secret_sha256 TEXT NOT NULL,"    /* 64 hex digits */
	" name TEXT NOT NULL UNIQUE,"
	" repo TEXT,"                      /* NULL: every repository */
	" rights TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" expires INTEGER,"                /* NULL: never */
	" revoked INTEGER);";             /* NULL: not revoked */

int token_schema(sql_db *db)
{
	return sql_exec(db, schema, "cannot create the token table");
}

int token_name_is_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TOKEN_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int token_add(sql_db *db, const char *name, const char *repo, server_right right, int64_t expires,
	      char out[TOKEN_TEXT_MAX])
{
	if (!token_name_is_valid(name))
		return err_set(-EINVAL, "invalid token name '%s' (1 to %d of A-Z a-z 0-9 _ . -)", name,
			       TOKEN_NAME_MAX);
	int64_t dummy;
	int rc = sql_get_int(db, &dummy, "SELECT 1 FROM tokens WHERE name = ?1", SQL_ARGS(SQL_TEXT(name)));
	if (rc == 0)
		return err_set(-EEXIST, "a token named '%s' exists already (revoke it, or choose another name)",
			       name);
	if (rc != -DV_ENOTFOUND)
		return rc;
	uint8_t sel[SELECTOR_BYTES], secret[SECRET_BYTES], digest[32];
	char selhex[2 * SELECTOR_BYTES + 1], sechex[2 * SECRET_BYTES + 1], dighex[65];
	rc = crypto_random(sel, sizeof(sel));
	rc = rc ?: crypto_random(secret, sizeof(secret));
	if (rc < 0)
		return rc;
	hex_encode(selhex, sel, sizeof(sel));
	hex_encode(sechex, secret, sizeof(secret));
	crypto_sha256(digest, secret, sizeof(secret));
	hex_encode(dighex, digest, sizeof(digest));
	crypto_wipe(secret, sizeof(secret));
	sql_value exp = expires ? SQL_INT(expires) : SQL_TEXT(NULL);
	sql_value rp = repo && *repo ? SQL_TEXT(repo) : SQL_TEXT(NULL);
	rc = sql_run(db, "INSERT INTO tokens(selector, secret_sha256, name, repo, rights, created, expires)"
			 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		     SQL_ARGS(SQL_TEXT(selhex), SQL_TEXT(dighex), SQL_TEXT(name), rp,
			      SQL_TEXT(route_right_name(right)), SQL_INT(time(NULL)), exp));
	if (rc == 0)
		snprintf(out, TOKEN_TEXT_MAX, PREFIX "%s_%s", selhex, sechex);
	crypto_wipe(sechex, sizeof(sechex));
	return rc;
}

int token_revoke(sql_db *db, const char *name, int64_t now)
{
	int64_t dummy;
	int rc = sql_get_int(db, &dummy, "SELECT 1 FROM tokens WHERE name = ?1", SQL_ARGS(SQL_TEXT(name)));
	if (rc == -DV_ENOTFOUND)
		return err_set(rc, "no token named '%s'", name);
	return rc ?: sql_run(db, "UPDATE tokens SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL",
			     SQL_ARGS(SQL_TEXT(name), SQL_INT(now)));
}

/* Copies column i (text, possibly NULL) into out. */
static void column(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* A row of SELECT selector, name, repo, rights, created, expires, revoked. */
static void row(sqlite3_stmt *st, token_info *t)
{
	char rights[16];
	memset(t, 0, sizeof(*t));
	column(st, 0, t->selector, sizeof(t->selector));
	column(st, 1, t->name, sizeof(t->name));
	column(st, 2, t->repo, sizeof(t->repo));
	column(st, 3, rights, sizeof(rights));
	if (route_right_parse(rights, &t->right) < 0)
		t->right = RIGHT_NONE; /* a row edited by hand: it grants nothing */
	t->created = sqlite3_column_int64(st, 4);
	t->expires = sqlite3_column_int64(st, 5);
	t->revoked = sqlite3_column_int64(st, 6);
}

#define COLUMNS "selector, name, repo, rights, created, expires, revoked"

int token_list(sql_db *db, token_list_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = sql_prepare(db, &st, "SELECT " COLUMNS " FROM tokens ORDER BY name", NULL, 0);
	if (rc < 0)
		return rc;
	while ((rc = sql_step(db, st)) == 1) {
		token_info t;
		row(st, &t);
		if ((rc = fn(ud, &t)) != 0)
			break;
	}
	sql_finish(st);
	return rc < 0 ? rc : 0;
}

/* Lower-case hex digits, exactly n, ending the string or at stop. */
static int hex_run(const char *s, size_t n, char stop)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == stop;
}

int token_check(sql_db *db, const char *text, int64_t now, token_info *out, char *why, size_t cap)
{
	const size_t pl = strlen(PREFIX), sl = 2 * SELECTOR_BYTES;
	if (strncmp(text, PREFIX, pl) != 0 || !hex_run(text + pl, sl, '_') ||
	    !hex_run(text + pl + sl + 1, 2 * SECRET_BYTES, 0)) {
		snprintf(why, cap, "not a dvalin token");
		return -EACCES;
	}
	char sel[2 * SELECTOR_BYTES + 1], stored[65] = "";
	memcpy(sel, text + pl, sl);
	sel[sl] = 0;
	uint8_t secret[SECRET_BYTES], digest[32];
	char dighex[65];
	hex_decode(secret, text + pl + sl + 1, SECRET_BYTES);
	crypto_sha256(digest, secret, sizeof(secret));
	crypto_wipe(secret, sizeof(secret));
	hex_encode(dighex, digest, sizeof(digest));
	sqlite3_stmt *st;
	int rc = sql_prepare(db, &st, "SELECT " COLUMNS ", secret_sha256 FROM tokens WHERE selector = ?1",
			     SQL_ARGS(SQL_TEXT(sel)));
	if (rc < 0)
		return rc;
	rc = sql_step(db, st);
	if (rc == 1) {
		row(st, out);
		column(st, 7, stored, sizeof(stored));
	}
	sql_finish(st);
	if (rc < 0)
		return rc;
	/* compared in full and in constant time even when no row was found */
	static const char none[65] = "----------------------------------------------------------------";
	int match = crypto_equal(dighex, rc == 1 && strlen(stored) == 64 ? stored : none, 64) && rc == 1;
	if (!match) {
		snprintf(why, cap, "unknown token");
		return -EACCES;
	}
	if (out->revoked) {
		snprintf(why, cap, "token '%s' was revoked", out->name);
		return -EACCES;
	}
	if (out->expires && now >= out->expires) {
		snprintf(why, cap, "token '%s' expired", out->name);
		return -EACCES;
	}
	if (out->right == RIGHT_NONE) {
		snprintf(why, cap, "token '%s' has no right this server knows", out->name);
		return -EACCES;
	}
	return 0;
}
