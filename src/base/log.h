/* SPDX-License-Identifier: BSD-2-Clause */
/* log: one-line warnings and errors on stderr, prefixed "dvalin: ". */
#ifndef DV_BASE_LOG_H
#define DV_BASE_LOG_H

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Silence log_info (warnings and errors are never silenced). */
void log_set_quiet(int quiet);
/*
 * Every line also to syslog under ident (facility user): for `serve
 * --stdio`, whose stderr goes back through ssh to the client, which shows
 * only the line that explains a failure, not the server's log.
 */
void log_also_syslog(const char *ident);
/* A hook run before each line (the progress display clears its line). */
void log_set_hook(void (*hook)(void));

#endif
