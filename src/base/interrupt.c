/* SPDX-License-Identifier: BSD-2-Clause */
#include "interrupt.h"
#include "err.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* The one piece of global state a signal handler needs. */
static volatile sig_atomic_t pending;

static void on_signal(int sig)
{
	pending = sig;
}

void interrupt_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* the second signal takes the default action; calls under way go on */
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int interrupt_pending(void)
{
	return pending != 0;
}

int interrupt_check(void)
{
	return pending ? err_set(-EINTR, "interrupted") : 0;
}

void interrupt_reraise(void)
{
	int sig = pending;
	if (!sig)
		return;
	fflush(stdout);
	signal(sig, SIG_DFL);
	raise(sig);
}
