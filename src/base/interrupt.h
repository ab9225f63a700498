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
 * that do not poll never install it.
 */
#ifndef DV_BASE_INTERRUPT_H
#define DV_BASE_INTERRUPT_H

void interrupt_install(void);
/* 1 once a signal asked to stop (always 0 without interrupt_install). */
int interrupt_pending(void);
/* -EINTR with the message "interrupted" when a stop was asked, else 0. */
int interrupt_check(void);
/* After cleaning up: dies of the signal that asked to stop (returns if none did). */
void interrupt_reraise(void);

#endif
