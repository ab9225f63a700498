/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tz: local time in a named time zone, through libc and the system's tz
 * database (/usr/share/zoneinfo).  The one place in dvalin that switches
 * the process's time zone.
 *
 * glibc has no per-zone conversion (no localtime_rz), so evaluating a
 * time in "Europe/Berlin" means setting $TZ and calling tzset().  That
 * changes what localtime_r() and mktime() mean for the whole process, so
 * it happens only between tz_enter() and tz_leave(), under one mutex:
 * two users of this module never see each other's zone.  Code elsewhere
 * that calls localtime_r() while another thread is inside tz_enter()
 * would see the foreign zone, and setenv() races with a concurrent
 * getenv(); so in a multi-threaded process, local time is computed
 * through this module or on a thread that knows no switch is running.
 * The daemon's scheduler is single-threaded and its jobs are child
 * processes; the CLI is single-threaded where it uses this.
 */
#ifndef DV_BASE_TZ_H
#define DV_BASE_TZ_H

#include <stdbool.h>

#define TZ_NAME_MAX 255

/*
 * True if name is a zone of the tz database: "UTC", or a name made of
 * letters, digits and "-_+/" (no leading, trailing or doubled "/", so it
 * cannot leave the database's directory) naming a TZif file there.
 * Reads the file's first four bytes.
 */
bool tz_name_valid(const char *name);

/*
 * Takes the time-zone lock and makes localtime_r() work in zone (a name
 * tz_name_valid() accepted), or in the process's own zone if zone is
 * NULL.  Every successful tz_enter() is paired with tz_leave(), which
 * restores $TZ as it was and releases the lock.  -ENOMEM on failure,
 * with the lock not held.
 */
int tz_enter(const char *zone);
void tz_leave(void);

/* True if the process's own zone is UTC without daylight saving time. */
bool tz_local_is_utc(void);

#endif
