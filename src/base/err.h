/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * err: the one error convention of dvalin.
 *
 * Every fallible function returns int: 0 on success, a negative errno or a
 * negative project code (below) on failure.  The function that knows the
 * context (a path, an object id) also records a one-line message with
 * err_set(); the caller that decides to report prints err_msg().  The
 * message is thread-local, so worker threads do not clobber each other.
 */
#ifndef DV_BASE_ERR_H
#define DV_BASE_ERR_H

#include <stdarg.h>

enum {
	DV_ECORRUPT = 1000, /* stored data fails a check */
	DV_EBADKEY,         /* wrong passphrase or authentication failure */
	DV_ENOTFOUND,       /* object or snapshot does not exist */
	DV_EFORMAT,         /* unknown format version or magic */
	DV_EAMBIG,          /* id prefix matches several objects */
	DV_EUSAGE,          /* bad command-line input */
};

/* Record a message (printf format) and return code unchanged. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like err_set() but appends ": strerror(-code)" when code is an errno. */
int err_sys(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread, or a text for code if none. */
const char *err_msg(int code);

/* Forget the recorded message (so a stale one is never printed). */
void err_clear(void);

/*
 * The message, kept aside while clean-up code that may record its own
 * runs (releasing a lease after the failure it is reporting).
 */
#define ERR_MSG_MAX 1024
typedef struct {
	char msg[ERR_MSG_MAX];
} err_saved;
void err_save(err_saved *out);
void err_restore(const err_saved *in);

/* A short reason text for a code: strerror for errnos, ours otherwise. */
const char *err_str(int code);

#endif
