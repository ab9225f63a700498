/* SPDX-License-Identifier: BSD-2-Clause */
#include "interrupt.h"
#include "err.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The global state a signal handler needs: the signal, and the note it
 * may have to print (written before any handler is installed). */
static volatile sig_atomic_t pending;
static char note[520];
static size_t note_len;

static void on_signal(int sig)
{
	pending = sig;
}

static void write_note(void)
{
	size_t off = 0;
	while (off < note_len) {
		ssize_t w = write(STDERR_FILENO, note + off, note_len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/* SA_RESETHAND has restored the default action: the raise ends the
 * process once the handler returns and the signal is unblocked. */
static void on_signal_abrupt(int sig)
{
	int saved = errno;
	write_note();
	raise(sig);
	errno = saved;
}

void interrupt_set_note(const char *text)
{
	int tty = isatty(STDERR_FILENO);
	note_len = 0; /* a signal meanwhile prints nothing rather than half a note */
	int n = snprintf(note, sizeof(note) - 1, "%s%.511s\n", tty ? "\n" : "", text);
	note_len = n < 0 ? 0 : (size_t)n < sizeof(note) - 1 ? (size_t)n : sizeof(note) - 2;
	if (note_len && note[note_len - 1] != '\n')
		note[note_len++] = '\n';
}

static void install(void (*fn)(int), struct sigaction old[2])
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	/* the second signal takes the default action; calls under way go on */
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, old ? &old[0] : NULL);
	sigaction(SIGTERM, &sa, old ? &old[1] : NULL);
}

void interrupt_scope_enter(interrupt_scope *s)
{
	s->installed = !pending;
	if (s->installed)
		install(on_signal, s->old);
}

void interrupt_scope_leave(const interrupt_scope *s)
{
	if (!s->installed || pending)
		return;
	sigaction(SIGINT, &s->old[0], NULL);
	sigaction(SIGTERM, &s->old[1], NULL);
}

void interrupt_install_abrupt(void)
{
	install(on_signal_abrupt, NULL);
}

void interrupt_install(void)
{
	install(on_signal, NULL);
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
	write_note();
	signal(sig, SIG_DFL);
	raise(sig);
}
