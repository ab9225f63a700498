/* SPDX-License-Identifier: BSD-2-Clause */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static int quiet;
static int to_syslog;
static void (*hook_fn)(void);
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_quiet(int q) { quiet = q; }
void log_set_hook(void (*hook)(void)) { hook_fn = hook; }

void log_also_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_USER);
	to_syslog = 1;
}

/* (the attribute lets clang check callers' formats through the va_list) */
__attribute__((format(printf, 2, 0)))
static void emit(const char *prefix, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&lock);
	if (to_syslog) {
		va_list aq;
		va_copy(aq, ap);
		vsyslog(*prefix ? LOG_WARNING : LOG_ERR, fmt, aq);
		va_end(aq);
	}
	if (hook_fn)
		hook_fn();
	fputs("dvalin: ", stderr);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&lock);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&lock);
	if (to_syslog) {
		va_list aq;
		va_copy(aq, ap);
		vsyslog(LOG_INFO, fmt, aq);
		va_end(aq);
	}
	if (hook_fn)
		hook_fn();
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&lock);
	va_end(ap);
}
