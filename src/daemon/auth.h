/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * auth: who may use the web UI.  Users and their password hashes come from
 * the configuration ([web] user = NAME HASH), checked with crypt(3)
 * (libxcrypt: yescrypt, the hash Debian itself uses for /etc/shadow, or
 * SHA-512-crypt, bcrypt, scrypt); `dvalin daemon --hash-password` makes
 * one.  Chosen over PAM: the daemon's users are not the machine's users
 * (giving a phone the NAS's root password is not wanted), it works the
 * same in a container and under a service user without /etc/shadow, and
 * tests need no PAM stack.
 *
 * Sessions: a login makes a random 256-bit token (the cookie) and a
 * separate random CSRF token, which every state-changing request must
 * carry; sessions live in memory (a restart logs everyone out) for at most
 * the configured session time, AUTH_MAX_SESSIONS at once (the oldest go).
 *
 * Wrong passwords are rate-limited per client address and per user name:
 * AUTH_FREE_FAILURES failures in a row are free, then each further attempt
 * must wait, 1 s after the first, doubling up to AUTH_MAX_LOCK_S; a
 * success clears the count.  Unknown users cost a hash check too, so the
 * answer's time does not tell which names exist.
 *
 * Thread-safe (one mutex; hashing happens outside it).
 */
#ifndef DV_DAEMON_AUTH_H
#define DV_DAEMON_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_LEN 64 /* hex characters */
#define AUTH_MAX_SESSIONS 1024
#define AUTH_FREE_FAILURES 5
#define AUTH_MAX_LOCK_S 900

typedef struct auth auth;

int auth_new(auth **out);
void auth_free(auth *a);
/* Replaces the users; sessions of users no longer there (or whose hash changed) end. */
int auth_set_users(auth *a, char *const *names, char *const *hashes, size_t n, int64_t session_s);

enum { AUTH_OK = 1, AUTH_WRONG = 0, AUTH_LIMITED = -2 };
/*
 * Checks a login from peer.  AUTH_OK and a new session (token, csrf);
 * AUTH_WRONG; AUTH_LIMITED with *retry_s when this peer or user must wait
 * (the password was not even checked).
 */
int auth_login(auth *a, const char *peer, const char *user, const char *password,
	       char token[AUTH_TOKEN_LEN + 1], char csrf[AUTH_TOKEN_LEN + 1], int64_t *retry_s);
/* 1 and the session's user and CSRF token if token is a live session, 0 if not. */
int auth_session(auth *a, const char *token, char user[64], char csrf[AUTH_TOKEN_LEN + 1]);
void auth_logout(auth *a, const char *token);
/* Constant-time comparison of two tokens (either may be NULL: unequal). */
int auth_token_equal(const char *a, const char *b);

/* A new yescrypt hash of password (for --hash-password); out of CRYPT_OUTPUT_SIZE bytes. */
int auth_hash_password(const char *password, char *out, size_t cap);

#endif
