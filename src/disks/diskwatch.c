/* SPDX-License-Identifier: BSD-2-Clause */
#include "diskwatch.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/strlist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diskwatch_key(const smart_reading *r, char out[300])
{
	if (r->serial[0])
		snprintf(out, 300, "%.120s/%.120s", r->model, r->serial);
	else
		snprintf(out, 300, "device:%.128s", r->device);
}

struct ctx {
	diskstate *st;
	const char *key;
	int64_t now;
};

static int prev(void *ud, const char *k, uint64_t *out)
{
	struct ctx *c = ud;
	return diskstate_prev(c->st, c->key, k, out);
}

static int store(void *ud, const char *k, uint64_t v)
{
	struct ctx *c = ud;
	return diskstate_put(c->st, c->key, k, v, c->now);
}

static int notice(disk_notices *out, int kind, int sev, const char *code, const char *msg)
{
	int rc = array_reserve(&out->v, &out->cap, out->n + 1, sizeof(*out->v));
	if (rc < 0)
		return rc;
	disk_notice *n = &out->v[out->n++];
	n->kind = kind;
	n->severity = sev;
	snprintf(n->code, sizeof(n->code), "%s", code);
	snprintf(n->message, sizeof(n->message), "%s", msg);
	return 0;
}

struct stored {
	char **codes, **msgs;
	size_t n, nm;
};

static int collect(void *ud, const char *code, int sev, const char *msg)
{
	struct stored *s = ud;
	(void)sev;
	int rc = strlist_add(&s->codes, &s->n, code);
	return rc ?: strlist_add(&s->msgs, &s->nm, msg);
}

/* The worst current finding with this code. */
static const disk_finding *current(const disk_report *rep, const char *code)
{
	const disk_finding *w = NULL;
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].severity >= SEV_WARNING && strcmp(rep->v[i].code, code) == 0 &&
		    (!w || rep->v[i].severity > w->severity))
			w = &rep->v[i];
	return w;
}

int diskwatch_decide(diskstate *st, const char *key, const disk_report *rep, int64_t now,
		     disk_notices *out)
{
	struct stored s = { NULL, NULL, 0, 0 };
	struct ctx cx = { st, key, now }, *c = &cx;
	int rc = diskstate_alerts(c->st, c->key, collect, &s);
	/* conditions that went away */
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		if (current(rep, s.codes[i]))
			continue;
		rc = notice(out, NOTICE_RECOVERED, SEV_OK, s.codes[i], s.msgs[i]);
		rc = rc ?: diskstate_alert_clear(c->st, c->key, s.codes[i]);
	}
	/* new or worse ones */
	for (size_t i = 0; rc == 0 && i < rep->n; i++) {
		const disk_finding *f = current(rep, rep->v[i].code);
		if (f != &rep->v[i])
			continue; /* not the worst of its code */
		int before = 0;
		int got = diskstate_alert_get(c->st, c->key, f->code, &before);
		if (got < 0 && got != -DV_ENOTFOUND) {
			rc = got;
			break;
		}
		int known = got == 0;
		if (known && before >= f->severity)
			continue;
		rc = notice(out, known ? NOTICE_WORSE : NOTICE_NEW, f->severity, f->code, f->message);
		rc = rc ?: diskstate_alert_set(c->st, c->key, f->code, f->severity, f->message, c->now);
	}
	strlist_free(s.codes, s.n);
	strlist_free(s.msgs, s.nm);
	return rc;
}

/*
 * Gauges kept beside the counters, for the daemon's disk page: they feed
 * no rule (a temperature is no counter), only the plots over time.
 */
static int gauges(struct ctx *c, const smart_reading *r)
{
	int rc = 0;
	if (r->has_temp && r->temp >= 0)
		rc = diskstate_put(c->st, c->key, "temperature", (uint64_t)r->temp, c->now);
	if (rc == 0 && r->has_hours && r->hours >= 0)
		rc = diskstate_put(c->st, c->key, "power_on_hours", (uint64_t)r->hours, c->now);
	return rc;
}

int diskwatch_check(diskstate *st, const smart_reading *r, int64_t now, disk_report *rep,
		    disk_notices *out)
{
	char key[300];
	diskwatch_key(r, key);
	struct ctx c = { st, key, now };
	if (!st)
		return disks_evaluate(r, NULL, NULL, rep);
	int rc = diskstate_begin(st);
	rc = rc ?: disks_evaluate(r, prev, &c, rep);
	rc = rc ?: disks_counters(r, store, &c);
	rc = rc ?: gauges(&c, r);
	rc = rc ?: diskwatch_decide(st, key, rep, now, out);
	rc = rc ?: diskstate_commit(st);
	return rc;
}

void disk_notices_release(disk_notices *n)
{
	free(n->v);
	memset(n, 0, sizeof(*n));
}
