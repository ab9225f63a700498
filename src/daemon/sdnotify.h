/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sdnotify: systemd's readiness protocol (sd_notify(3)) by hand: one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 *
 * Written out rather than linked from libsystemd: the protocol is a single
 * sendto() that systemd documents as stable, while libsystemd would bring
 * a large library (and its own threads and allocations) into a process
 * that must also run without systemd.  Without $NOTIFY_SOCKET every call
 * does nothing.
 *
 * The watchdog: $WATCHDOG_USEC (when $WATCHDOG_PID is unset or ours) is
 * the interval systemd expects "WATCHDOG=1" within; the daemon's loop
 * sends it every half interval, so a hung loop gets the service restarted.
 */
#ifndef DV_DAEMON_SDNOTIFY_H
#define DV_DAEMON_SDNOTIFY_H

#include <stdint.h>

/* Sends text ("READY=1\nSTATUS=..."); 0, or <0 (ignored by callers: best effort). */
int sdnotify(const char *text);
/* The watchdog interval in µs, 0 if none was asked for. */
int64_t sdnotify_watchdog_usec(void);

#endif
