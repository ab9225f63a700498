/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * awscred: environment first, then the shared files (awscred.h).  The
 * values end up in an HTTP header and in curl's "key:secret" user string,
 * so they are checked to be printable ASCII without spaces (and the key
 * without ':'); a session token gets the same check.
 */
#include "awscred.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/ini.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int printable(const char *s, int colon_ok)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || (!colon_ok && *s == ':'))
			return 0;
	return 1;
}

/* Copies v into out (size bytes) after the checks; what names it in messages. */
static int set_value(char *out, size_t size, const char *v, int colon_ok, const char *what,
		     const char *where)
{
	size_t n = strlen(v);
	if (n == 0 || n >= size || !printable(v, colon_ok))
		return err_set(-EINVAL, "%s in %s is not usable (empty, too long, or not printable ASCII)",
			       what, where);
	memcpy(out, v, n + 1);
	return 0;
}

struct cred_parse {
	aws_creds *c;
	const char *profile;
	const char *name;
	int in_profile, have_key, have_secret;
};

static int cred_section(void *ud, const char *section, int line)
{
	struct cred_parse *p = ud;
	(void)line;
	p->in_profile = strcmp(section, p->profile) == 0;
	return 0;
}

static int cred_value(void *ud, const char *section, const char *key, const char *value, int line)
{
	struct cred_parse *p = ud;
	(void)section;
	(void)line;
	if (!p->in_profile)
		return 0;
	char where[300];
	snprintf(where, sizeof(where), "profile '%s' of '%s'", p->profile, p->name);
	aws_creds *c = p->c;
	if (strcmp(key, "aws_access_key_id") == 0) {
		p->have_key = 1;
		return set_value(c->access_key, sizeof(c->access_key), value, 0, key, where);
	}
	if (strcmp(key, "aws_secret_access_key") == 0) {
		p->have_secret = 1;
		return set_value(c->secret_key, sizeof(c->secret_key), value, 1, key, where);
	}
	if (strcmp(key, "aws_session_token") == 0)
		return set_value(c->session_token, sizeof(c->session_token), value, 1, key, where);
	return 0;
}

int awscred_parse_credentials(aws_creds *out, const char *text, size_t n, const char *name,
			      const char *profile)
{
	struct cred_parse p = { out, profile, name, 0, 0, 0 };
	ini_handler h = { cred_section, cred_value, &p };
	int r = ini_parse(text, n, name, &h);
	if (r < 0)
		return r;
	return p.have_key && p.have_secret;
}

struct conf_parse {
	aws_creds *c;
	const char *profile;
	const char *name;
	int in_profile, found;
};

static int conf_section(void *ud, const char *section, int line)
{
	struct conf_parse *p = ud;
	(void)line;
	/* "[default]" or "[profile NAME]" (the AWS CLI also takes "[profile default]") */
	p->in_profile = strcmp(p->profile, "default") == 0 && strcmp(section, "default") == 0;
	if (strncmp(section, "profile", 7) == 0 && (section[7] == ' ' || section[7] == '\t')) {
		const char *s = section + 8;
		while (*s == ' ' || *s == '\t')
			s++;
		p->in_profile = strcmp(s, p->profile) == 0;
	}
	return 0;
}

static int conf_value(void *ud, const char *section, const char *key, const char *value, int line)
{
	struct conf_parse *p = ud;
	(void)section;
	(void)line;
	if (!p->in_profile || strcmp(key, "region") != 0)
		return 0;
	char where[300];
	snprintf(where, sizeof(where), "profile '%s' of '%s'", p->profile, p->name);
	for (const char *s = value; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return err_set(-EINVAL, "region '%s' in %s is not a region name", value, where);
	p->found = 1;
	return set_value(p->c->region, sizeof(p->c->region), value, 0, "region", where);
}

int awscred_parse_config(aws_creds *out, const char *text, size_t n, const char *name,
			 const char *profile)
{
	struct conf_parse p = { out, profile, name, 0, 0 };
	ini_handler h = { conf_section, conf_value, &p };
	int r = ini_parse(text, n, name, &h);
	return r < 0 ? r : p.found;
}

void awscred_wipe(aws_creds *c)
{
	explicit_bzero(c, sizeof(*c));
}

/* The file of env, else $HOME/.aws/base, into path. -ENOENT if neither can be told. */
static int file_path(char *path, size_t size, const char *env, const char *base)
{
	const char *e = getenv(env), *home = getenv("HOME");
	int n;
	if (e && *e)
		n = snprintf(path, size, "%s", e);
	else if (home && *home)
		n = snprintf(path, size, "%s/.aws/%s", home, base);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * Reads path and runs parse on it: 1/0 as parse says, 0 when the file
 * does not exist.  The text is wiped afterwards: it holds secrets.
 */
static int parse_file(aws_creds *c, const char *path, const char *profile,
		      int (*parse)(aws_creds *, const char *, size_t, const char *, const char *))
{
	buf b = BUF_INIT;
	int r = fsio_read_file(AT_FDCWD, path, &b, INI_MAX_FILE);
	if (r == -ENOENT)
		return 0;
	if (r == -EFBIG)
		r = err_set(r, "'%s' is larger than %zu bytes", path, INI_MAX_FILE);
	else if (r < 0)
		r = err_sys(r, "cannot read '%s'", path);
	else
		r = parse(c, b.len ? (const char *)b.data : "", b.len, path, profile);
	if (b.data)
		explicit_bzero(b.data, b.cap);
	buf_release(&b);
	return r;
}

int awscred_load(aws_creds *c, const char *region_override)
{
	memset(c, 0, sizeof(*c));
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *profile = getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = getenv("AWS_DEFAULT_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	int r = 0;
	if ((ak && *ak) || (sk && *sk)) {
		if (!ak || !*ak || !sk || !*sk)
			return err_set(-EACCES, "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
		const char *tok = getenv("AWS_SESSION_TOKEN");
		r = set_value(c->access_key, sizeof(c->access_key), ak, 0, "AWS_ACCESS_KEY_ID",
			      "the environment");
		r = r ?: set_value(c->secret_key, sizeof(c->secret_key), sk, 1, "AWS_SECRET_ACCESS_KEY",
				   "the environment");
		if (r == 0 && tok && *tok)
			r = set_value(c->session_token, sizeof(c->session_token), tok, 1,
				      "AWS_SESSION_TOKEN", "the environment");
		snprintf(c->source, sizeof(c->source), "AWS_ACCESS_KEY_ID");
	} else {
		char path[4096] = "~/.aws/credentials";
		r = file_path(path, sizeof(path), "AWS_SHARED_CREDENTIALS_FILE", "credentials");
		r = r == 0 ? parse_file(c, path, profile, awscred_parse_credentials) : 0;
		if (r == 0)
			r = err_set(-EACCES, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile '%s' with aws_access_key_id and aws_secret_access_key to '%s'",
				    profile, path);
		if (r == 1) {
			r = 0;
			if (snprintf(c->source, sizeof(c->source), "profile '%s' of '%s'", profile, path) >=
			    (int)sizeof(c->source))
				snprintf(c->source, sizeof(c->source), "profile '%.64s' of the credentials file",
					 profile);
		}
	}
	if (r < 0) {
		awscred_wipe(c);
		return r;
	}
	/* the region: URL, environment, config file, default */
	const char *reg = region_override && *region_override ? region_override : getenv("AWS_REGION");
	if (!reg || !*reg)
		reg = getenv("AWS_DEFAULT_REGION");
	if (reg && *reg) {
		r = set_value(c->region, sizeof(c->region), reg, 0, "the region", "the environment");
	} else {
		char path[4096];
		r = file_path(path, sizeof(path), "AWS_CONFIG_FILE", "config");
		r = r == 0 ? parse_file(c, path, profile, awscred_parse_config) : 0;
		if (r == 0)
			snprintf(c->region, sizeof(c->region), "us-east-1");
		if (r == 1)
			r = 0;
	}
	if (r < 0)
		awscred_wipe(c);
	return r;
}
