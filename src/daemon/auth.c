/* SPDX-License-Identifier: BSD-2-Clause */
#include "auth.h"
#include "clock.h"
#include "../base/err.h"
#include "../base/hex.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MAX_LIMITS 4096
#define FAILURE_WINDOW_S 900

typedef struct {
	char token[AUTH_TOKEN_LEN + 1], csrf[AUTH_TOKEN_LEN + 1];
	char user[64];
	char hash_of_user[CRYPT_OUTPUT_SIZE]; /* a changed hash ends the session */
	int64_t expires, created;             /* monotonic µs */
} session;

typedef struct {
	char key[80];       /* "ip:203.0.113.5" or "user:admin" */
	int failures;
	int64_t last, until; /* monotonic µs */
} limit;

struct auth {
	pthread_mutex_t lock;
	char **names, **hashes;
	size_t n;
	int64_t session_us;
	session *s;
	size_t ns;
	limit *l;
	size_t nl;
	/* a hash to check unknown users against, so that they cost the same time */
	char dummy[CRYPT_OUTPUT_SIZE];
};

static int random_hex(char out[AUTH_TOKEN_LEN + 1])
{
	uint8_t b[AUTH_TOKEN_LEN / 2];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(-errno, "cannot get random bytes for a session");
		}
		got += (size_t)n;
	}
	hex_encode(out, b, sizeof(b));
	out[AUTH_TOKEN_LEN] = 0;
	return 0;
}

int auth_new(auth **out)
{
	auth *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->session_us = 12 * 3600 * CLOCK_USEC;
	if (auth_hash_password("not a password anyone has", a->dummy, sizeof(a->dummy)) < 0)
		a->dummy[0] = 0;
	*out = a;
	return 0;
}

static void free_users(auth *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->names[i]);
		free(a->hashes[i]);
	}
	free(a->names);
	free(a->hashes);
	a->names = a->hashes = NULL;
	a->n = 0;
}

void auth_free(auth *a)
{
	if (!a)
		return;
	free_users(a);
	free(a->s);
	free(a->l);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static const char *hash_of(const auth *a, const char *user)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], user) == 0)
			return a->hashes[i];
	return NULL;
}

int auth_set_users(auth *a, char *const *names, char *const *hashes, size_t n, int64_t session_s)
{
	char **nn = calloc(n + 1, sizeof(*nn)), **hh = calloc(n + 1, sizeof(*hh));
	int rc = nn && hh ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!(nn[i] = strdup(names[i])) || !(hh[i] = strdup(hashes[i])))
			rc = -ENOMEM;
	if (rc < 0) {
		for (size_t i = 0; nn && hh && i < n; i++) {
			free(nn[i]);
			free(hh[i]);
		}
		free(nn);
		free(hh);
		return rc;
	}
	pthread_mutex_lock(&a->lock);
	free_users(a);
	a->names = nn;
	a->hashes = hh;
	a->n = n;
	a->session_us = session_s * CLOCK_USEC;
	size_t k = 0;
	for (size_t i = 0; i < a->ns; i++) {
		const char *h = hash_of(a, a->s[i].user);
		if (h && strcmp(h, a->s[i].hash_of_user) == 0)
			a->s[k++] = a->s[i];
	}
	a->ns = k;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int auth_token_equal(const char *x, const char *y)
{
	if (!x || !y)
		return 0;
	size_t lx = strlen(x), ly = strlen(y);
	if (lx != AUTH_TOKEN_LEN || ly != AUTH_TOKEN_LEN)
		return 0;
	unsigned char d = 0;
	for (size_t i = 0; i < AUTH_TOKEN_LEN; i++)
		d |= (unsigned char)(x[i] ^ y[i]);
	return d == 0;
}

/* The limit entry for key, made if missing (the stalest one is reused when full). */
static limit *limit_for(auth *a, const char *key, int create)
{
	for (size_t i = 0; i < a->nl; i++)
		if (strcmp(a->l[i].key, key) == 0)
			return &a->l[i];
	if (!create)
		return NULL;
	limit *e;
	if (a->nl < MAX_LIMITS) {
		limit *v = realloc(a->l, (a->nl + 1) * sizeof(*v));
		if (!v)
			return NULL;
		a->l = v;
		e = &a->l[a->nl++];
	} else {
		e = &a->l[0];
		for (size_t i = 1; i < a->nl; i++)
			if (a->l[i].last < e->last)
				e = &a->l[i];
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	return e;
}

/* How long key must still wait (µs), 0 if it may try. */
static int64_t waiting(auth *a, const char *key, int64_t now)
{
	limit *e = limit_for(a, key, 0);
	if (!e)
		return 0;
	if (now - e->last > (int64_t)FAILURE_WINDOW_S * CLOCK_USEC && now >= e->until) {
		e->failures = 0; /* a quiet quarter of an hour forgives */
		return 0;
	}
	return e->until > now ? e->until - now : 0;
}

static void failed(auth *a, const char *key, int64_t now)
{
	limit *e = limit_for(a, key, 1);
	if (!e)
		return;
	e->failures++;
	e->last = now;
	if (e->failures >= AUTH_FREE_FAILURES) {
		int over = e->failures - AUTH_FREE_FAILURES;
		int64_t lock = over >= 10 ? AUTH_MAX_LOCK_S : ((int64_t)1 << over);
		if (lock > AUTH_MAX_LOCK_S)
			lock = AUTH_MAX_LOCK_S;
		e->until = now + lock * CLOCK_USEC;
	}
}

static void succeeded(auth *a, const char *key)
{
	limit *e = limit_for(a, key, 0);
	if (e)
		e->failures = 0, e->until = 0;
}

int auth_login(auth *a, const char *peer, const char *user, const char *password,
	       char token[AUTH_TOKEN_LEN + 1], char csrf[AUTH_TOKEN_LEN + 1], int64_t *retry_s)
{
	char kp[80], ku[80], hash[CRYPT_OUTPUT_SIZE];
	snprintf(kp, sizeof(kp), "ip:%s", peer);
	snprintf(ku, sizeof(ku), "user:%.60s", user);
	int64_t now = clock_mono();
	pthread_mutex_lock(&a->lock);
	int64_t w1 = waiting(a, kp, now), w2 = waiting(a, ku, now), w = w1 > w2 ? w1 : w2;
	const char *h = hash_of(a, user);
	snprintf(hash, sizeof(hash), "%s", h ? h : a->dummy);
	pthread_mutex_unlock(&a->lock);
	if (w > 0) {
		*retry_s = (w + CLOCK_USEC - 1) / CLOCK_USEC;
		return AUTH_LIMITED;
	}
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	const char *got = hash[0] ? crypt_rn(password, hash, cd, (int)sizeof(*cd)) : NULL;
	int ok = h && got && got[0] != '*' && strcmp(got, hash) == 0;
	memset(cd, 0, sizeof(*cd));
	free(cd);
	int rc = ok ? 0 : AUTH_WRONG;
	if (ok) {
		rc = random_hex(token);
		rc = rc ?: random_hex(csrf);
	}
	pthread_mutex_lock(&a->lock);
	now = clock_mono();
	if (!ok) {
		failed(a, kp, now);
		failed(a, ku, now);
	} else if (rc == 0) {
		succeeded(a, kp);
		succeeded(a, ku);
		if (a->ns >= AUTH_MAX_SESSIONS) { /* the oldest session makes room */
			memmove(&a->s[0], &a->s[1], (a->ns - 1) * sizeof(*a->s));
			a->ns--;
		}
		session *v = realloc(a->s, (a->ns + 1) * sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
		} else {
			a->s = v;
			session *s = &a->s[a->ns++];
			memset(s, 0, sizeof(*s));
			memcpy(s->token, token, AUTH_TOKEN_LEN + 1);
			memcpy(s->csrf, csrf, AUTH_TOKEN_LEN + 1);
			snprintf(s->user, sizeof(s->user), "%s", user);
			snprintf(s->hash_of_user, sizeof(s->hash_of_user), "%s", hash);
			s->created = now;
			s->expires = now + a->session_us;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return rc < 0 ? rc : ok ? AUTH_OK : AUTH_WRONG;
}

int auth_session(auth *a, const char *token, char user[64], char csrf[AUTH_TOKEN_LEN + 1])
{
	if (!token || strlen(token) != AUTH_TOKEN_LEN)
		return 0;
	int found = 0;
	int64_t now = clock_mono();
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->ns; i++) {
		if (!auth_token_equal(a->s[i].token, token))
			continue;
		if (a->s[i].expires <= now) {
			a->s[i] = a->s[--a->ns];
			break;
		}
		snprintf(user, 64, "%s", a->s[i].user);
		memcpy(csrf, a->s[i].csrf, AUTH_TOKEN_LEN + 1);
		found = 1;
		break;
	}
	pthread_mutex_unlock(&a->lock);
	return found;
}

void auth_logout(auth *a, const char *token)
{
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->ns; i++)
		if (auth_token_equal(a->s[i].token, token)) {
			a->s[i] = a->s[--a->ns];
			break;
		}
	pthread_mutex_unlock(&a->lock);
}

int auth_hash_password(const char *password, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		return err_sys(-errno, "cannot make a salt for the password hash");
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	const char *h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
	int rc = 0;
	if (!h || h[0] == '*')
		rc = err_sys(-errno ? -errno : -EINVAL, "cannot hash the password");
	else if (strlen(h) >= cap)
		rc = -ENAMETOOLONG;
	else
		memcpy(out, h, strlen(h) + 1);
	memset(cd, 0, sizeof(*cd));
	free(cd);
	return rc;
}
