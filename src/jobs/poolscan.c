/* SPDX-License-Identifier: BSD-2-Clause */
#include "poolscan.h"
#include "announce.h"
#include "../disks/diskstate.h"
#include "../disks/diskwatch.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `zpool status` of hundreds of disks is well below this. */
#define ZPOOL_MAX (16u << 20)

/* A saved output, NUL-terminated for the parsers. */
static int read_input(const char *path, buf *out)
{
	int rc = fsio_read_file(AT_FDCWD, path, out, ZPOOL_MAX);
	return rc < 0 ? err_sys(rc, "cannot read '%s'", path) : buf_put_u8(out, 0);
}

static int run_zpool(buf *status, buf *zdb, int *have_zdb)
{
	int st;
	const char *argv[] = { "zpool", "status", "-P", NULL };
	int rc = proc_capture(argv, status, ZPOOL_MAX, &st);
	if (rc == -ENOENT)
		return err_set(-ENOENT, "zpool not found: is ZFS installed (zfsutils-linux)?");
	if (rc == 0 && st != 0)
		return err_set(-EIO, "'zpool status -P' failed with exit status %d", st);
	rc = rc ?: buf_put_u8(status, 0);
	/* zdb is optional: without it, the ashift rules that need it are skipped */
	const char *zargv[] = { "zdb", "-C", NULL };
	*have_zdb = rc == 0 && proc_capture(zargv, zdb, ZPOOL_MAX, &st) == 0 && st == 0 &&
		    buf_put_u8(zdb, 0) == 0;
	err_clear();
	return rc;
}

/* The once-per-condition rule of the disks, per pool, and one announcement. */
static int remember(const poolscan_opts *o, poolscan_result *res)
{
	diskstate *st;
	int rc = diskstate_open(&st, o->state);
	if (rc < 0)
		return rc;
	size_t n = res->pools.n;
	disk_notices *notices = calloc(n + 1, sizeof(*notices));
	announce_item *items = calloc(n + 1, sizeof(*items));
	char (*subjects)[400] = calloc(n + 1, sizeof(*subjects));
	if (!notices || !items || !subjects)
		rc = -ENOMEM;
	rc = rc ?: diskstate_begin(st);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const zpool_pool *p = &res->pools.v[i];
		char key[300];
		snprintf(key, sizeof(key), "pool:%.200s", p->name);
		snprintf(subjects[i], sizeof(subjects[i]), "pool %.200s", p->name);
		rc = diskwatch_decide(st, key, &p->report, o->now, &notices[i]);
		items[i] = (announce_item){ subjects[i], &notices[i] };
	}
	if (rc == 0)
		rc = diskstate_commit(st);
	diskstate_close(st);
	if (rc == 0 && o->alerts && o->alerts->n)
		rc = announce_send(o->alerts, "pool", items, n, &res->sent, &res->send_failed);
	for (size_t i = 0; notices && i < n; i++)
		disk_notices_release(&notices[i]);
	free(notices);
	free(items);
	free(subjects);
	return rc;
}

int poolscan_run(const poolscan_opts *o, poolscan_result *res)
{
	memset(res, 0, sizeof(*res));
	buf status = BUF_INIT, zdb = BUF_INIT;
	int have_zdb = 0, rc;
	if (o->from) {
		rc = read_input(o->from, &status);
		if (rc == 0 && o->zdb)
			rc = read_input(o->zdb, &zdb), have_zdb = rc == 0;
	} else {
		rc = run_zpool(&status, &zdb, &have_zdb);
	}
	if (rc == 0 && (rc = zpool_parse(&res->pools, (const char *)status.data, status.len - 1)) < 0 &&
	    o->from)
		rc = err_set(rc, "'%s': %s", o->from, err_msg(rc));
	rc = rc ?: zpool_evaluate(&res->pools, have_zdb ? (const char *)zdb.data : NULL, o->now);
	for (size_t i = 0; rc == 0 && i < res->pools.n; i++)
		if (res->pools.v[i].report.verdict > res->verdict)
			res->verdict = res->pools.v[i].report.verdict;
	if (rc == 0 && o->state)
		rc = remember(o, res);
	buf_release(&status);
	buf_release(&zdb);
	if (rc < 0)
		poolscan_result_release(res);
	return rc;
}

void poolscan_result_release(poolscan_result *res)
{
	zpool_status_release(&res->pools);
	memset(res, 0, sizeof(*res));
}
