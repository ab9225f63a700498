/* SPDX-License-Identifier: BSD-2-Clause */
#include "alert.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/ini.h"
#include "../base/json.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ALERT_TIMEOUT_S 30L

const char *alert_channel_name(const alert_channel *ch)
{
	static const char *const n[] = { "?", "email", "webhook", "ntfy", "gotify" };
	return ch->type >= 1 && ch->type <= 4 ? n[ch->type] : "?";
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int set_field(alert_channel *ch, const char *key, const char *val)
{
	struct {
		const char *key;
		char *dst;
		size_t cap;
	} f[] = {
		{ "url", ch->url, sizeof(ch->url) },          { "from", ch->from, sizeof(ch->from) },
		{ "to", ch->to, sizeof(ch->to) },             { "user", ch->user, sizeof(ch->user) },
		{ "password", ch->password, sizeof(ch->password) },
		{ "token", ch->token, sizeof(ch->token) },    { "cacert", ch->cacert, sizeof(ch->cacert) },
	};
	if (strcmp(key, "starttls") == 0) {
		ch->starttls = strcmp(val, "required") == 0 ? TLS_REQUIRED
			     : strcmp(val, "try") == 0       ? TLS_TRY
			     : strcmp(val, "no") == 0        ? TLS_NO : -1;
		return ch->starttls < 0 ? -1 : 0;
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(key, f[i].key) != 0)
			continue;
		if (strlen(val) >= f[i].cap)
			return -1;
		snprintf(f[i].dst, f[i].cap, "%s", val);
		return 0;
	}
	return -1;
}

static int check_channel(const alert_config *c, const alert_channel *ch)
{
	if (!ch->url[0])
		return err_set(-EINVAL, "%s:%d: [%s] needs a url", c->path, ch->line, alert_channel_name(ch));
	if (ch->type == CH_EMAIL && (!ch->from[0] || !ch->to[0]))
		return err_set(-EINVAL, "%s:%d: [email] needs from and to", c->path, ch->line);
	if (ch->type == CH_GOTIFY && !ch->token[0])
		return err_set(-EINVAL, "%s:%d: [gotify] needs a token", c->path, ch->line);
	return 0;
}

void alert_config_init(alert_config *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
}

int alert_config_add(alert_config *c, const char *type_name, int line)
{
	static const char *const types[] = { "email", "webhook", "ntfy", "gotify" };
	int type = 0, rc;
	for (int t = 0; t < 4; t++)
		if (strcmp(type_name, types[t]) == 0)
			type = t + 1;
	if (!type)
		return err_set(-EINVAL, "unknown channel '%s' (expected email, webhook, ntfy or gotify)",
			       type_name);
	if ((rc = array_reserve(&c->v, &c->cap, c->n + 1, sizeof(*c->v))) < 0)
		return rc;
	alert_channel *ch = &c->v[c->n++];
	memset(ch, 0, sizeof(*ch));
	ch->type = type;
	ch->line = line;
	ch->starttls = TLS_REQUIRED;
	return 0;
}

int alert_config_set(alert_config *c, const char *key, const char *val)
{
	if (!c->n)
		return err_set(-EINVAL, "'%s' is outside any section (expected '[section]' first)", key);
	if (set_field(&c->v[c->n - 1], key, val) < 0)
		return err_set(-EINVAL, "invalid setting '%s'", key);
	return 0;
}

int alert_config_check(const alert_config *c)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < c->n; i++)
		rc = check_channel(c, &c->v[i]);
	return rc;
}

/* The parse: each section starts a channel, each setting fills the current
 * one; the channels are checked for completeness once all are read. */
static int on_section(void *ud, const char *section, int line)
{
	int rc = alert_config_add(ud, section, line);
	if (rc == -EINVAL)
		return err_set(-EINVAL, "unknown section '[%s]' (expected [email], [webhook], [ntfy] or [gotify])",
			       section);
	return rc;
}

static int on_value(void *ud, const char *section, const char *key, const char *val, int line)
{
	(void)section;
	(void)line;
	return alert_config_set(ud, key, val);
}

int alert_config_load(alert_config *c, const char *path)
{
	alert_config_init(c, path);
	ini_handler h = { on_section, on_value, c };
	int rc = ini_parse_file(path, "alert configuration", &h);
	rc = rc ?: alert_config_check(c);
	if (rc < 0)
		alert_config_release(c);
	return rc;
}

void alert_config_release(alert_config *c)
{
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

/* ---------- transport ---------- */

typedef struct {
	const char *p;
	size_t left;
} upload;

static size_t read_cb(char *dst, size_t size, size_t n, void *ud)
{
	upload *u = ud;
	size_t k = size * n < u->left ? size * n : u->left;
	memcpy(dst, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

static size_t discard_cb(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static int perform(CURL *h, const alert_channel *ch)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, ALERT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (ch->cacert[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, ch->cacert);
	CURLcode c = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (c != CURLE_OK)
		return err_set(-EIO, "%s alert to '%s' failed: %s", alert_channel_name(ch), ch->url,
			       errbuf[0] ? errbuf : curl_easy_strerror(c));
	if (ch->type != CH_EMAIL && (status < 200 || status >= 300))
		return err_set(-EIO, "%s alert to '%s' failed: HTTP status %ld", alert_channel_name(ch),
			       ch->url, status);
	return 0;
}

static void host_name(char out[256])
{
	if (gethostname(out, 255) < 0)
		snprintf(out, 256, "unknown");
	out[255] = 0;
}

/* Adds each address of a comma-separated list. */
static struct curl_slist *recipients(const char *to)
{
	struct curl_slist *l = NULL;
	char *copy = strdup(to), *save = NULL;
	if (!copy)
		return NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char addr[300];
		snprintf(addr, sizeof(addr), "<%s>", trim(t));
		struct curl_slist *n = curl_slist_append(l, addr);
		if (!n)
			break;
		l = n;
	}
	free(copy);
	return l;
}

static int send_email(CURL *h, const alert_channel *ch, const char *title, const char *body)
{
	char date[64], host[256], from[300];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	host_name(host);
	buf msg = BUF_INIT;
	char head[2048];
	int n = snprintf(head, sizeof(head),
			 "Date: %s\r\nFrom: dvalin <%s>\r\nTo: %s\r\nSubject: %s\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\nX-Mailer: dvalin\r\n\r\n",
			 date, ch->from, ch->to, title);
	int rc = buf_append(&msg, head, (size_t)(n < (int)sizeof(head) ? n : (int)sizeof(head) - 1));
	/* the body with CRLF line ends */
	for (const char *p = body; rc == 0 && *p; p++)
		rc = *p == '\n' ? buf_append(&msg, "\r\n", 2) : buf_append(&msg, p, 1);
	rc = rc ?: buf_append(&msg, "\r\n", 2);
	struct curl_slist *rcpt = recipients(ch->to);
	if (rc == 0 && !rcpt)
		rc = -ENOMEM;
	if (rc == 0) {
		upload u = { (const char *)msg.data, msg.len };
		snprintf(from, sizeof(from), "<%s>", ch->from);
		curl_easy_setopt(h, CURLOPT_URL, ch->url);
		curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
		curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, &u);
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_USE_SSL, ch->starttls == TLS_REQUIRED ? (long)CURLUSESSL_ALL
						     : ch->starttls == TLS_TRY   ? (long)CURLUSESSL_TRY
										 : (long)CURLUSESSL_NONE);
		if (ch->user[0]) {
			curl_easy_setopt(h, CURLOPT_USERNAME, ch->user);
			curl_easy_setopt(h, CURLOPT_PASSWORD, ch->password);
		}
		rc = perform(h, ch);
	}
	curl_slist_free_all(rcpt);
	buf_release(&msg);
	return rc;
}

static int post(CURL *h, const alert_channel *ch, const char *url, struct curl_slist *hdr,
		const char *body, size_t len)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
	return perform(h, ch);
}

static int json_body(buf *out, const char *title, const char *body, const char *severity, int gotify)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	if (!f)
		return -ENOMEM;
	char host[256];
	host_name(host);
	json j;
	json_init(&j, f);
	json_obj_begin(&j);
	json_key(&j, "title"); json_str(&j, title);
	json_key(&j, "message"); json_str(&j, body);
	if (gotify) {
		json_key(&j, "priority");
		json_int(&j, strcmp(severity, "failing") == 0 ? 8 : strcmp(severity, "warning") == 0 ? 5 : 2);
	} else {
		json_key(&j, "source"); json_str(&j, "dvalin");
		json_key(&j, "host"); json_str(&j, host);
		json_key(&j, "severity"); json_str(&j, severity);
	}
	json_obj_end(&j);
	json_finish(&j);
	fclose(f);
	int rc = p ? buf_append(out, p, n) : -ENOMEM;
	free(p);
	return rc;
}

static int send_http(CURL *h, const alert_channel *ch, const char *title, const char *body,
		     const char *severity)
{
	struct curl_slist *hdr = NULL;
	buf b = BUF_INIT;
	char line[1024], url[700];
	int rc = 0;
	snprintf(url, sizeof(url), "%s", ch->url);
	if (ch->type == CH_NTFY) {
		/* ntfy: the body is the message; title, priority and tags are headers */
		snprintf(line, sizeof(line), "Title: %s", title);
		hdr = curl_slist_append(hdr, line);
		hdr = curl_slist_append(hdr, strcmp(severity, "failing") == 0 ? "Priority: 5"
					  : strcmp(severity, "warning") == 0 ? "Priority: 4" : "Priority: 3");
		snprintf(line, sizeof(line), "Tags: dvalin,%s", severity);
		hdr = curl_slist_append(hdr, line);
		if (ch->token[0]) {
			snprintf(line, sizeof(line), "Authorization: Bearer %s", ch->token);
			hdr = curl_slist_append(hdr, line);
		}
		rc = buf_append(&b, body, strlen(body));
	} else {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		if (ch->type == CH_GOTIFY) {
			size_t l = strlen(url);
			snprintf(url + l, sizeof(url) - l, "%smessage", l && url[l - 1] == '/' ? "" : "/");
			snprintf(line, sizeof(line), "X-Gotify-Key: %s", ch->token);
			hdr = curl_slist_append(hdr, line);
		} else if (ch->token[0]) {
			snprintf(line, sizeof(line), "Authorization: Bearer %s", ch->token);
			hdr = curl_slist_append(hdr, line);
		}
		rc = json_body(&b, title, body, severity, ch->type == CH_GOTIFY);
	}
	if (rc == 0 && !hdr)
		rc = -ENOMEM;
	rc = rc ?: post(h, ch, url, hdr, b.len ? (const char *)b.data : "", b.len);
	curl_slist_free_all(hdr);
	buf_release(&b);
	return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void alert_curl_init(void)
{
	pthread_once(&curl_once, curl_init);
}

int alert_send(const alert_channel *ch, const char *title, const char *body, const char *severity)
{
	alert_curl_init();
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	int rc = ch->type == CH_EMAIL ? send_email(h, ch, title, body)
				      : send_http(h, ch, title, body, severity);
	curl_easy_cleanup(h);
	return rc;
}
