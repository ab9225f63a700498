/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapgen: writes many snapshots at once, with the times, time zones,
 * hosts, paths, tags and protection a test asks for, for the property
 * tests of the retention rules (a real `backup` per snapshot would make a
 * few hundred histories take minutes).  Every snapshot has the same empty
 * root tree; the snapshots are real ones, written through repo_save_snapshot.
 *
 *   snapgen REPO < lines
 *
 * One snapshot per line, tab-separated:
 *   seconds  nanoseconds  tz-offset-seconds  protected(0|1)  host  tags  paths
 * tags and paths are comma-separated (tags may be empty).  Prints each
 * snapshot's id, one per line, in input order.  The password comes from
 * $DVALIN_PASSWORD.
 */
#include "archive/tree.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int split_into(char ***v, size_t *n, char *list)
{
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strlist_add(v, n, t) < 0)
			return -ENOMEM;
	return 0;
}

static int one(repo *r, const uint8_t root[32], char *line)
{
	/* strsep keeps empty fields (an empty tag list) */
	char *f[7], *p = line;
	int nf;
	for (nf = 0; nf < 7 && p; nf++)
		f[nf] = strsep(&p, "\t");
	if (nf != 7 || p)
		return err_set(-EINVAL, "expected 7 tab-separated fields");
	snapshot *s = snapshot_new();
	if (!s)
		return -ENOMEM;
	memcpy(s->tree, root, 32);
	s->time = strtoll(f[0], NULL, 10);
	s->time_nsec = (uint32_t)strtoul(f[1], NULL, 10);
	s->tz_offset = (int32_t)strtol(f[2], NULL, 10);
	s->host = strdup(f[4]);
	s->user = strdup("snapgen");
	int rc = s->host && s->user ? 0 : -ENOMEM;
	rc = rc ?: split_into(&s->tags, &s->ntags, f[5]);
	rc = rc ?: split_into(&s->paths, &s->npaths, f[6]);
	rc = rc ?: repo_save_snapshot(r, s);
	if (rc == 0 && strcmp(f[3], "1") == 0)
		rc = repo_set_protected(r, s->id, 1);
	if (rc == 0) {
		char hex[65];
		hex_encode(hex, s->id, 32);
		printf("%s\n", hex);
	}
	snapshot_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2 || !getenv("DVALIN_PASSWORD")) {
		fprintf(stderr, "usage: DVALIN_PASSWORD=... snapgen REPO < lines\n");
		return 2;
	}
	repo *r;
	backend *be;
	int rc = backend_open(argv[1], 0, &be);
	rc = rc ?: repo_open(&r, be, getenv("DVALIN_PASSWORD"), 3); /* takes be over */
	if (rc < 0) {
		fprintf(stderr, "snapgen: %s\n", err_msg(rc));
		return 1;
	}
	/* the one root tree: an empty directory */
	tree_writer w = TREE_WRITER_INIT;
	buf plain = BUF_INIT;
	uint8_t root[32];
	rc = tree_writer_finish(&w, &plain);
	if (rc == 0) {
		repo_blob_id(r, root, plain.data, plain.len);
		rc = repo_save_blob(r, BLOB_TREE, root, plain.data, plain.len);
	}
	rc = rc ?: repo_flush(r);
	tree_writer_release(&w);
	buf_release(&plain);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int no = 0;
	while (rc == 0 && (len = getline(&line, &cap, stdin)) > 0) {
		no++;
		if (line[len - 1] == '\n')
			line[len - 1] = 0;
		if ((rc = one(r, root, line)) < 0)
			fprintf(stderr, "snapgen: line %d: %s\n", no, err_msg(rc));
	}
	free(line);
	if (rc < 0 && no == 0)
		fprintf(stderr, "snapgen: %s\n", err_msg(rc));
	repo_free(r);
	return rc < 0;
}
