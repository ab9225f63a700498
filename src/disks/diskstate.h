/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * diskstate: what `dvalin disks` remembers between runs, in SQLite
 * (docs/disks.md, "State"): the last value of each counter per disk, a
 * history of readings, and which conditions were alerted at which
 * severity, so growth is seen and each condition is alerted once, again
 * when it worsens, and its recovery announced.
 */
#ifndef DV_DISKS_DISKSTATE_H
#define DV_DISKS_DISKSTATE_H

#include <stdint.h>

typedef struct diskstate diskstate;

/* Opens or creates the database (and its directory). */
int diskstate_open(diskstate **out, const char *path);
void diskstate_close(diskstate *s);
int diskstate_begin(diskstate *s);
int diskstate_commit(diskstate *s);

/* A lookup: 0 and *out if a previous value is known, else -DV_ENOTFOUND. */
int diskstate_prev(diskstate *s, const char *disk, const char *key, uint64_t *out);
int diskstate_put(diskstate *s, const char *disk, const char *key, uint64_t val, int64_t now);

/* A lookup: 0 and *sev if the condition was alerted, else -DV_ENOTFOUND. */
int diskstate_alert_get(diskstate *s, const char *disk, const char *code, int *sev);
int diskstate_alert_set(diskstate *s, const char *disk, const char *code, int sev,
			const char *msg, int64_t now);
int diskstate_alert_clear(diskstate *s, const char *disk, const char *code);
/* Every alerted condition of a disk. */
typedef int (*diskstate_alert_fn)(void *ud, const char *code, int sev, const char *msg);
int diskstate_alerts(diskstate *s, const char *disk, diskstate_alert_fn fn, void *ud);

/*
 * The readings of a disk over time, oldest first, at most max of the
 * newest (the daemon's plots): fn gets each (key, time, value).
 */
typedef int (*diskstate_reading_fn)(void *ud, const char *key, int64_t time, uint64_t value);
int diskstate_series(diskstate *s, const char *disk, int max, diskstate_reading_fn fn, void *ud);

#endif
