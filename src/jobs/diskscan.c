/* SPDX-License-Identifier: BSD-2-Clause */
#include "diskscan.h"
#include "announce.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/log.h"
#include "../base/proc.h"
#include "../disks/diskstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* smartctl -x of a disk with a long log is some 100 KiB; this is generous. */
#define SMARTCTL_MAX (16u << 20)

static int add_disk(diskscan_result *res, const char *label, diskscan_disk **out)
{
	int rc = array_reserve(&res->v, &res->cap, res->n + 1, sizeof(*res->v));
	if (rc < 0)
		return rc;
	*out = &res->v[res->n++];
	memset(*out, 0, sizeof(**out));
	snprintf((*out)->label, sizeof((*out)->label), "%s", label);
	return 0;
}

/* A disk that could not be read is reported and kept as "unknown"; the
 * run goes on with the others.  Only running out of memory stops it. */
static int disk_done(diskscan_result *res, diskscan_disk *d, int rc)
{
	if (rc == 0 || rc == -ENOMEM)
		return rc;
	log_error("%s", err_msg(rc));
	snprintf(d->error, sizeof(d->error), "%s", err_msg(rc));
	res->unreadable++;
	return 0;
}

static int load_file(diskscan_result *res, const char *path)
{
	diskscan_disk *d;
	int rc = add_disk(res, path, &d);
	if (rc < 0)
		return rc;
	buf b = BUF_INIT;
	rc = fsio_read_file(AT_FDCWD, path, &b, SMARTCTL_MAX);
	if (rc < 0)
		rc = err_sys(rc, "cannot read '%s'", path);
	else if ((rc = smart_parse(&d->r, (const char *)b.data, b.len)) < 0)
		rc = err_set(rc, "'%s': %s", path, err_msg(rc));
	buf_release(&b);
	if (rc == 0 && !d->r.device[0])
		snprintf(d->r.device, sizeof(d->r.device), "%s", path);
	return disk_done(res, d, rc);
}

static int smartctl(const char *const argv[], buf *out, int *status)
{
	int rc = proc_capture(argv, out, SMARTCTL_MAX, status);
	if (rc == -ENOENT)
		return err_set(-ENOENT, "smartctl not found: install smartmontools");
	return rc;
}

static int read_device(diskscan_result *res, const char *name, const char *type)
{
	diskscan_disk *d;
	int rc = add_disk(res, name, &d), status;
	if (rc < 0)
		return rc;
	buf b = BUF_INIT;
	const char *argv[] = { "smartctl", "-x", "--json", "-d", type, name, NULL };
	if (!type)
		argv[3] = name, argv[4] = NULL;
	rc = smartctl(argv, &b, &status);
	if (rc == 0 && (rc = smart_parse_json(&d->r, (const char *)b.data, b.len)) < 0)
		rc = err_set(rc, "smartctl gave no usable output for '%s' (exit status %d)", name, status);
	if (rc == 0) /* the name we asked for, whatever the output calls it */
		snprintf(d->r.device, sizeof(d->r.device), "%s", name);
	buf_release(&b);
	return rc == -ENOENT ? rc : disk_done(res, d, rc);
}

struct scan_ctx {
	diskscan_result *res;
	const char *only;
};

static int scanned(void *ud, const char *name, const char *type)
{
	struct scan_ctx *c = ud;
	if (c->only && strcmp(c->only, name) != 0)
		return 0;
	return read_device(c->res, name, type);
}

/* smartctl --scan-open: every device it can open, with its type. */
static int scan(diskscan_result *res, const char *only)
{
	buf b = BUF_INIT;
	int status;
	const char *argv[] = { "smartctl", "--scan-open", "--json", NULL };
	int rc = smartctl(argv, &b, &status);
	struct scan_ctx c = { res, only };
	rc = rc ?: smart_parse_scan((const char *)b.data, b.len, scanned, &c);
	buf_release(&b);
	if (rc == 0 && only && res->n == 0)
		rc = read_device(res, only, NULL); /* not in the scan: ask directly */
	return rc;
}

/* One message for every notice of every disk, through each channel. */
static int notify(diskscan_result *res, const alert_config *cfg)
{
	announce_item *items = calloc(res->n + 1, sizeof(*items));
	char (*subjects)[400] = calloc(res->n + 1, sizeof(*subjects));
	int rc = items && subjects ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < res->n; i++) {
		const diskscan_disk *d = &res->v[i];
		snprintf(subjects[i], sizeof(subjects[i]), "%s (%s %s)", d->r.device, d->r.model, d->r.serial);
		items[i] = (announce_item){ subjects[i], &d->notices };
	}
	rc = rc ?: announce_send(cfg, "disk", items, res->n, &res->sent, &res->send_failed);
	free(items);
	free(subjects);
	return rc;
}

int diskscan_run(const diskscan_opts *o, diskscan_result *res)
{
	memset(res, 0, sizeof(*res));
	diskstate *st = NULL;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < o->nfiles; i++)
		rc = load_file(res, o->files[i]);
	if (rc == 0 && !o->nfiles)
		rc = scan(res, o->only);
	if (rc == 0 && o->state)
		rc = diskstate_open(&st, o->state);
	for (size_t i = 0; rc == 0 && i < res->n; i++)
		if (!res->v[i].error[0])
			rc = diskwatch_check(st, &res->v[i].r, o->now, &res->v[i].rep, &res->v[i].notices);
	if (rc == 0 && st && o->alerts && o->alerts->n)
		rc = notify(res, o->alerts);
	diskstate_close(st);
	for (size_t i = 0; rc == 0 && i < res->n; i++)
		if (res->v[i].rep.verdict > res->verdict)
			res->verdict = res->v[i].rep.verdict;
	if (rc < 0)
		diskscan_result_release(res);
	return rc;
}

void diskscan_result_release(diskscan_result *res)
{
	for (size_t i = 0; i < res->n; i++) {
		smart_reading_release(&res->v[i].r);
		disk_report_release(&res->v[i].rep);
		disk_notices_release(&res->v[i].notices);
	}
	free(res->v);
	memset(res, 0, sizeof(*res));
}
