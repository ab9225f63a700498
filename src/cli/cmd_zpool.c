/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/proc.h"
#include "../disks/zpool.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ZPOOL_MAX (16u << 20)

const char cmd_zpool_check_usage[] =
	"usage: dvalin zpool-check [--from STATUS.txt [--zdb ZDB.txt]] [--json]\n\n"
	"Check ZFS pools: state not ONLINE, read/write/checksum errors, permanent\n"
	"errors, redundant vdevs mixed with single-disk ones (or no redundancy at all),\n"
	"different or too small ashift, /dev/sdX names instead of /dev/disk/by-id,\n"
	"a last scrub older than 35 days (or none), a resilver in progress, spares in\n"
	"use (docs/disks.md has the reasons).  Runs `zpool status -P` and `zdb -C`\n"
	"(when present), or reads saved outputs.\n\n"
	"Options:\n"
	"      --from FILE  the saved text of `zpool status -P`\n"
	"      --zdb FILE   the saved text of `zdb -C` (per-vdev ashift)\n"
	"      --json       {\"pools\": [{name, state, verdict, findings: [...]}]}\n\n"
	"Exit status: 0 every pool ok, 1 operational error, 2 warning, 3 failing.\n";

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
	const char *zargv[] = { "zdb", "-C", NULL };
	*have_zdb = rc == 0 && proc_capture(zargv, zdb, ZPOOL_MAX, &st) == 0 && st == 0 &&
		    buf_put_u8(zdb, 0) == 0;
	err_clear();
	return rc;
}

static void print_json(const zpool_status *s)
{
	json j;
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "pools");
	json_arr_begin(&j);
	for (size_t i = 0; i < s->n; i++) {
		const zpool_pool *p = &s->v[i];
		json_obj_begin(&j);
		json_key(&j, "name"); json_str(&j, p->name);
		json_key(&j, "state"); json_str(&j, p->state);
		json_key(&j, "verdict"); json_str(&j, disks_severity_name(p->report.verdict));
		json_key(&j, "findings");
		cli_json_findings(&j, &p->report);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
}

int cmd_zpool_check(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "zdb", required_argument, NULL, 'z' },
		{ 0 },
	};
	const char *from = NULL, *zdbf = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			from = optarg;
		else if (c == 'z')
			zdbf = optarg;
		else
			return cli_usage_error(ctx, "unknown option");
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (zdbf && !from)
		return cli_usage_error(ctx, "--zdb goes with --from");
	buf status = BUF_INIT, zdb = BUF_INIT;
	int have_zdb = 0, rc;
	if (from) {
		rc = read_input(from, &status);
		if (rc == 0 && zdbf)
			rc = read_input(zdbf, &zdb), have_zdb = rc == 0;
	} else {
		rc = run_zpool(&status, &zdb, &have_zdb);
	}
	zpool_status s;
	memset(&s, 0, sizeof(s));
	if (rc == 0 && (rc = zpool_parse(&s, (const char *)status.data, status.len - 1)) < 0 && from)
		rc = err_set(rc, "'%s': %s", from, err_msg(rc));
	rc = rc ?: zpool_evaluate(&s, have_zdb ? (const char *)zdb.data : NULL, (int64_t)time(NULL));
	int verdict = SEV_OK;
	if (rc == 0) {
		for (size_t i = 0; i < s.n; i++)
			if (s.v[i].report.verdict > verdict)
				verdict = s.v[i].report.verdict;
		if (ctx->json) {
			print_json(&s);
		} else if (!ctx->quiet) {
			for (size_t i = 0; i < s.n; i++) {
				const zpool_pool *p = &s.v[i];
				printf("pool %s: %s (state %s)\n", p->name, disks_severity_name(p->report.verdict),
				       p->state);
				for (size_t k = 0; k < p->report.n; k++)
					printf("  %-8s %s\n           from: %s\n",
					       disks_severity_name(p->report.v[k].severity), p->report.v[k].message,
					       p->report.v[k].source);
			}
		}
	}
	zpool_status_release(&s);
	buf_release(&status);
	buf_release(&zdb);
	if (rc < 0)
		return cli_fail(rc);
	return verdict == SEV_FAILING ? 3 : verdict == SEV_WARNING ? 2 : EXIT_OK;
}
