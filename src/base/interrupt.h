/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * interrupt: Ctrl-C (SIGINT) and SIGTERM as a request to stop.  A command
 * whose job may run long (ls over a snapshot whose trees share subtrees,
 * restore, check) installs the handler; the job polls interrupt_pending()
 * and returns -EINTR, so its lease and temporary files are cleaned up on
 * the way out; then interrupt_reraise() lets the process die of the
 * signal all the same, so a calling shell script stops too (cli/cli.h,
 * EXIT_INTERRUPTED).  The first signal asks; the handler then reverts to
 * the default action, so a second one ends the process at once.  Commands
 * that do not poll never install it; they may install the abrupt handler,
 * which ends the process at once, saying so.
 *
 * The note: one line set by the command (what was interrupted, what state
 * it leaves), printed on stderr when a signal ends the process either way,
 * from the abrupt handler (with write(2): it is async-signal-safe) or by
 * interrupt_reraise() after the clean-up.
 */
#ifndef DV_BASE_INTERRUPT_H
#define DV_BASE_INTERRUPT_H

#include <signal.h>

void interrupt_install(void);
/* SIGINT and SIGTERM print the note and end the process at once. */
void interrupt_install_abrupt(void);
/*
 * The note, copied (cut at 511 bytes); a newline is added, and one put
 * before it when stderr is a terminal (after the "^C" it echoed).
 */
void interrupt_set_note(const char *text);
/*
 * The handler for a stretch of code only (a command that does not poll
 * around it, backup waiting for a hook): _enter installs it and keeps the
 * actions it replaced; _leave puts them back unless a stop was asked
 * meanwhile (then the process is on its way out, to interrupt_reraise()).
 * Once a stop was asked, _enter leaves the default actions: a second
 * signal ends the process, as with interrupt_install().
 */
typedef struct {
	struct sigaction old[2];
	int installed; /* 0: a stop was already asked, the default actions were left */
} interrupt_scope;
void interrupt_scope_enter(interrupt_scope *s);
void interrupt_scope_leave(const interrupt_scope *s);
/* 1 once a signal asked to stop (always 0 without interrupt_install). */
int interrupt_pending(void);
/* -EINTR with the message "interrupted" when a stop was asked, else 0. */
int interrupt_check(void);
/*
 * After cleaning up: prints the note and dies of the signal that asked to
 * stop (returns if none did).
 */
void interrupt_reraise(void);

#endif
