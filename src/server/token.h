/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * token: the server's access tokens, in its SQLite database.
 *
 * A token is "dvt_<selector>_<secret>": the selector (16 hex digits, 64
 * random bits) names its row, the secret (64 hex digits, 256 random bits)
 * proves it.  Only SHA-256 of the secret is stored (a random secret needs
 * no slow hash: there is nothing to guess), and the stored hash is
 * compared in constant time, so neither the database nor the timing of a
 * refusal gives a token away.  The token itself is shown once, when made.
 *
 * Each token has a name (unique), an optional expiry, a repository (or
 * every repository) and one right (server/route.h).  Revoking keeps the
 * row, so that the log can say a revoked token was used.
 *
 * Not thread-safe by itself: callers serialize use of one database.
 */
#ifndef DV_SERVER_TOKEN_H
#define DV_SERVER_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "../base/sql.h"
#include "route.h"

#define TOKEN_TEXT_MAX 96  /* "dvt_" 16 "_" 64, and a NUL */
#define TOKEN_NAME_MAX 64

typedef struct {
	char selector[17];
	char name[TOKEN_NAME_MAX + 1];
	char repo[TOKEN_NAME_MAX + 1]; /* "" : every repository */
	server_right right;
	int64_t created, expires;      /* seconds since the epoch; expires 0: never */
	int64_t revoked;               /* when, or 0 */
} token_info;

/* Creates the table if missing. */
int token_schema(sql_db *db);
/* 1 if s is a valid token (or repository) name: 1..64 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
int token_name_is_valid(const char *s);
/*
 * A new token: the text, shown once, in out.  repo NULL or "" for every
 * repository; expires 0 for never.  -EEXIST if the name is taken.
 */
int token_add(sql_db *db, const char *name, const char *repo, server_right right, int64_t expires,
	      char out[TOKEN_TEXT_MAX]);
/* Revokes by name: 0, or -DV_ENOTFOUND. */
int token_revoke(sql_db *db, const char *name, int64_t now);
typedef int (*token_list_fn)(void *ud, const token_info *t);
/* Every token (revoked ones too), by name. */
int token_list(sql_db *db, token_list_fn fn, void *ud);
/*
 * Authenticates the token text at now: 0 and *out; -EACCES and a reason
 * in why ("not a dvalin token", "unknown token", "token 'x' was revoked",
 * "token 'x' expired ...").
 */
int token_check(sql_db *db, const char *text, int64_t now, token_info *out, char *why, size_t cap);

#endif
