/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alert: notifications through the channels of a small config file
 * (docs/disks.md, "Alerts"): e-mail over SMTP (STARTTLS), a generic JSON
 * webhook, ntfy and Gotify.  HTTP and SMTP through libcurl.
 */
#ifndef DV_NOTIFY_ALERT_H
#define DV_NOTIFY_ALERT_H

#include <stddef.h>

enum { CH_EMAIL = 1, CH_WEBHOOK, CH_NTFY, CH_GOTIFY };
enum { TLS_NO = 0, TLS_TRY, TLS_REQUIRED };

typedef struct {
	int type;
	int line; /* where the section starts, for messages */
	char url[512], from[256], to[512], user[128], password[256], token[256], cacert[512];
	int starttls;
} alert_channel;

typedef struct {
	alert_channel *v;
	size_t n, cap;
	char path[512];
} alert_config;

/* Reads a config file; errors name the file and line. */
int alert_config_load(alert_config *c, const char *path);
/*
 * The same channels from a file that holds other sections too (dvalin.conf's
 * "[notify TYPE]" sections): init, then add a channel per section and set
 * its fields, then check that each channel is complete ("PATH:LINE: [email]
 * needs from and to").  path names the file in those messages.
 */
void alert_config_init(alert_config *c, const char *path);
int alert_config_add(alert_config *c, const char *type, int line);
int alert_config_set(alert_config *c, const char *key, const char *value);
int alert_config_check(const alert_config *c);
void alert_config_release(alert_config *c);
const char *alert_channel_name(const alert_channel *ch);
/* libcurl's global set-up, once per process (thread-safe); alert_send() calls it. */
void alert_curl_init(void);
/* Sends one notification; severity is a word ("warning", "failing", "ok", "test"). */
int alert_send(const alert_channel *ch, const char *title, const char *body, const char *severity);

#endif
