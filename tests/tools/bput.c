/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bput: writes many small files to a backend at once, by URL, with
 * several threads, for tests that need thousands of files in a
 * repository (listings past S3's 1,000 keys a page) without a process
 * per file.
 *
 *   bput URL DIR COUNT
 *
 * Writes DIR/xx/<64 hex digits> for COUNT ids (xx: the first two digits,
 * as pack names are), each holding its own name; prints nothing and
 * exits 0, or prints the first error and exits 1.
 */
#include "backend/backend.h"
#include "base/err.h"
#include "base/hex.h"
#include "core/crypto.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8

struct job {
	backend *b;
	const char *dir;
	unsigned long count;
	unsigned long next; /* guarded by lock */
	pthread_mutex_t lock;
	int rc;
	char msg[512];
};

static void *worker(void *arg)
{
	struct job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		unsigned long i = j->next++;
		int stop = i >= j->count || j->rc;
		pthread_mutex_unlock(&j->lock);
		if (stop)
			return NULL;
		uint8_t id[32];
		char hex[65], name[BACKEND_NAME_MAX + 1];
		crypto_sha256(id, &i, sizeof(i));
		hex_encode(hex, id, 32);
		snprintf(name, sizeof(name), "%s/%.2s/%s", j->dir, hex, hex);
		int rc = backend_put(j->b, name, BACKEND_DATA, name, strlen(name));
		if (rc < 0) {
			pthread_mutex_lock(&j->lock);
			if (!j->rc) {
				j->rc = rc;
				snprintf(j->msg, sizeof(j->msg), "%s", err_msg(rc));
			}
			pthread_mutex_unlock(&j->lock);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: bput URL DIR COUNT\n");
		return 2;
	}
	struct job j;
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.lock, NULL);
	j.dir = argv[2];
	j.count = strtoul(argv[3], NULL, 10);
	int rc = backend_open(argv[1], 0, &j.b);
	if (rc < 0) {
		fprintf(stderr, "bput: %s\n", err_msg(rc));
		return 1;
	}
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, &j);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	backend_free(j.b);
	if (j.rc) {
		fprintf(stderr, "bput: %s\n", j.msg);
		return 1;
	}
	return 0;
}
