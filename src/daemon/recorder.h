/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * recorder: a change-journal recorder the daemon keeps running for a
 * backup job with `journal = yes` (docs/daemon.md, "Change journal";
 * docs/journal.md): `dvalin journal FILE -- PATH...` as a child process
 * (runner.c), FILE in the daemon's state directory.
 *
 * The daemon's loop drives it: recorder_tick() starts it when it is not
 * running and its back-off has passed, recorder_pump() reads its output
 * (the recorder prints "recording" once its marks are in place: from then
 * on it is up), recorder_reap() notices its end.  An end the daemon did not
 * ask for is logged with its reason (the exit and the recorder's last
 * message) and the recorder is started again after a back-off: 1 s,
 * doubled after each end that came within a minute of its start, at most
 * 5 min.  A reason is logged when it differs from the one logged before,
 * so a recorder that cannot start (no CAP_SYS_ADMIN, a file system without
 * file handles) says why once, not every few minutes.  A new recorder
 * starts a new journal (a new epoch): the backup after a restart walks
 * everything and says so; the daemon loses nothing by restarting it.
 *
 * recorder_stop() sends SIGTERM and the recorder is not started again;
 * the caller reaps it (recorder_reap) and frees it.  recorder_free() of
 * a recorder still running kills it (SIGKILL) and reaps it.
 */
#ifndef DV_DAEMON_RECORDER_H
#define DV_DAEMON_RECORDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct recorder recorder;

/* A recorder for job of paths (absolute) into file; not started yet. */
int recorder_new(recorder **out, const char *job, const char *file, char *const *paths, size_t npaths);
void recorder_free(recorder *r);

/* It records exactly these paths (in this order) into file. */
int recorder_same(const recorder *r, const char *file, char *const *paths, size_t npaths);
/* Starts it when it is not running, not stopped, and its back-off has passed (now: monotonic µs). */
void recorder_tick(recorder *r, int64_t now);
/* Its open output pipes (-1 when none). */
void recorder_fds(const recorder *r, int fds[2]);
/* Reads what fd has (one of recorder_fds). */
void recorder_pump(recorder *r, int fd);
/* After SIGCHLD: 1 when it has ended (and was reaped), else 0. */
int recorder_reap(recorder *r, int64_t now);
/* SIGTERM, and no restart. */
void recorder_stop(recorder *r);
/* SIGKILL (after the daemon's stop timeout). */
void recorder_kill(recorder *r);

const char *recorder_job(const recorder *r);
const char *recorder_file(const recorder *r);
/* A child process exists (starting, recording or ending). */
int recorder_running(const recorder *r);
/* It was asked to stop. */
int recorder_stopped(const recorder *r);
/* "recording" (its marks are in place), "starting", or "down". */
const char *recorder_state(const recorder *r);
/* Started at most grace_us ago and not yet recording. */
int recorder_starting(const recorder *r, int64_t now, int64_t grace_us);
pid_t recorder_pid(const recorder *r);
/* Times it ended without being asked to and was (or will be) started again. */
uint64_t recorder_restarts(const recorder *r);
/* When (real time, µs) it last ended without being asked to; 0: never. */
int64_t recorder_ended(const recorder *r);
/* Why it last ended or could not start, or NULL if it never did. */
const char *recorder_reason(const recorder *r);

#endif
