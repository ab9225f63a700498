/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/ini.h"
#include "../base/log.h"
#include "../base/num.h"
#include "../base/strlist.h"
#include "../http/http.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_STATE_DIR "/var/lib/dvalin"
#define DEFAULT_ALERTS "/etc/dvalin/alerts.conf"
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define MAX_JOBS 1000
#define MAX_CONCURRENCY 64
#define MAX_HISTORY 100000

const char *config_kind_name(int kind)
{
	static const char *const n[] = { "?", "backup", "prune", "check", "disks", "zpool", "drill", "sync", "restore" };
	return kind >= JOB_BACKUP && kind <= JOB_RESTORE ? n[kind] : "?";
}

int config_kind_has_repo(int kind)
{
	return kind == JOB_BACKUP || kind == JOB_PRUNE || kind == JOB_CHECK || kind == JOB_DRILL || kind == JOB_SYNC;
}

/* ---------- durations ---------- */

int config_parse_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t sec;
	} units[] = {
		{ "s", 1 }, { "sec", 1 }, { "second", 1 }, { "seconds", 1 },
		{ "min", 60 }, { "minute", 60 }, { "minutes", 60 },
		{ "h", 3600 }, { "hour", 3600 }, { "hours", 3600 }, { "hr", 3600 },
		{ "d", 86400 }, { "day", 86400 }, { "days", 86400 },
		{ "w", 604800 }, { "week", 604800 }, { "weeks", 604800 },
	};
	int64_t total = 0;
	const char *p = s;
	int terms = 0;
	while (*p == ' ')
		p++;
	if (!*p)
		return err_set(-EINVAL, "empty duration");
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return err_set(-EINVAL, "invalid duration '%s' (want e.g. 26h, 30min, 1h30min)", s);
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (errno || v > 1000000000LL)
			return err_set(-EINVAL, "duration '%s' is too long", s);
		p = end;
		while (*p == ' ')
			p++;
		size_t ul = 0;
		while (isalpha((unsigned char)p[ul]))
			ul++;
		int64_t unit = ul ? 0 : 1; /* a bare number is seconds */
		if (ul == 0 && *p)
			return err_set(-EINVAL, "invalid duration '%s'", s);
		for (size_t i = 0; ul && i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == ul && strncasecmp(p, units[i].unit, ul) == 0)
				unit = units[i].sec;
		if (!unit) {
			if (ul == 1 && (*p == 'm' || *p == 'M'))
				return err_set(-EINVAL, "duration '%s': write 'min' for minutes", s);
			return err_set(-EINVAL, "duration '%s': unknown unit '%.*s' (s, min, h, d, w)", s,
				       (int)ul, p);
		}
		int64_t term;
		if (__builtin_mul_overflow((int64_t)v, unit, &term) || __builtin_add_overflow(total, term, &total) ||
		    ++terms > 16)
			return err_set(-EINVAL, "duration '%s' is too long", s);
		p += ul;
		while (*p == ' ')
			p++;
	}
	*out = total;
	return 0;
}

/* ---------- the parse ---------- */

enum { SEC_NONE, SEC_DAEMON, SEC_WEB, SEC_NOTIFY, SEC_CHANNEL, SEC_REPO, SEC_JOB, SEC_BAD };

typedef struct {
	dconf *c;
	int nerrors;
	int section;         /* SEC_* */
	size_t cur;          /* the repository or job being filled */
	char **repo_refs;    /* each job's "repository =" (sync: "from =") as written (NULL entries allowed) */
	size_t nrefs;
	char **to_refs;      /* each job's "to =" (sync) as written */
	int *to_lines;
	int *ref_lines;
	int listen_line, tls_line, users_line, alerts_line;
	int has_web;
} parse_ctx;

static void error_at(parse_ctx *x, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void error_at(parse_ctx *x, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		log_error("%s:%d: %s", x->c->path, line, msg);
	else
		log_error("%s: %s", x->c->path, msg);
	x->nerrors++;
}

static int set_str(char **dst, const char *v)
{
	char *d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	}
	return -EINVAL;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

static int valid_name(const char *n)
{
	size_t l = strlen(n);
	if (!l || l >= CONFIG_NAME_MAX || n[0] == '.' || n[0] == '-')
		return 0;
	for (size_t i = 0; i < l; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("._-", n[i]))
			return 0;
	return 1;
}

static int is_percent(const char *v)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	return end != v && (*end == 0 || (end[0] == '%' && end[1] == 0)) && !errno && d >= 0 && d <= 100;
}

/* "N/M" with 1 <= N <= M, or a percentage. */
static int is_subset(const char *v)
{
	unsigned a, b;
	char tail;
	if (sscanf(v, "%u/%u%c", &a, &b, &tail) == 2)
		return a >= 1 && a <= b && b <= 1000000;
	return is_percent(v) && strtod(v, NULL) > 0;
}

static int absolute(const char *v)
{
	return v[0] == '/';
}

/* Splits "kind rest" at the first run of blanks. */
static void split_section(const char *s, char *kind, size_t kcap, const char **rest)
{
	size_t l = strcspn(s, " \t");
	snprintf(kind, kcap, "%.*s", (int)(l < kcap ? l : kcap - 1), s);
	const char *r = s + l;
	while (*r == ' ' || *r == '\t')
		r++;
	*rest = r;
}

static int job_kind_of(const char *word)
{
	for (int k = JOB_BACKUP; k <= JOB_SYNC; k++)
		if (strcmp(word, config_kind_name(k)) == 0)
			return k;
	return 0;
}

static int name_taken(const dconf *c, const char *name)
{
	for (size_t i = 0; i < c->njobs; i++)
		if (strcmp(c->jobs[i].name, name) == 0)
			return c->jobs[i].line;
	return 0;
}

static int add_job(parse_ctx *x, int kind, const char *name, int line)
{
	dconf *c = x->c;
	int rc, prev;
	if (c->njobs >= MAX_JOBS) {
		error_at(x, line, "more than %d jobs", MAX_JOBS);
		return 1;
	}
	if ((prev = name_taken(c, name))) {
		error_at(x, line, "a job named '%s' is already defined on line %d (job names are unique across kinds)",
			 name, prev);
		return 1;
	}
	if ((rc = array_reserve(&c->jobs, &c->cap_jobs, c->njobs + 1, sizeof(*c->jobs))) < 0)
		return rc;
	char **refs = realloc(x->repo_refs, (c->njobs + 1) * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	x->repo_refs = refs;
	int *lines = realloc(x->ref_lines, (c->njobs + 1) * sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	x->ref_lines = lines;
	char **tos = realloc(x->to_refs, (c->njobs + 1) * sizeof(*tos));
	if (!tos)
		return -ENOMEM;
	x->to_refs = tos;
	int *tolines = realloc(x->to_lines, (c->njobs + 1) * sizeof(*tolines));
	if (!tolines)
		return -ENOMEM;
	x->to_lines = tolines;
	x->repo_refs[c->njobs] = NULL;
	x->ref_lines[c->njobs] = 0;
	x->to_refs[c->njobs] = NULL;
	x->to_lines[c->njobs] = 0;
	x->nrefs = c->njobs + 1;
	dconf_job *j = &c->jobs[c->njobs];
	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->kind = kind;
	j->line = line;
	j->persistent = 1;
	j->live = 1;
	x->cur = c->njobs++;
	x->section = SEC_JOB;
	return 0;
}

static int add_repo(dconf *c, const char *name, const char *location, int line, size_t *idx)
{
	int rc = array_reserve(&c->repos, &c->cap_repos, c->nrepos + 1, sizeof(*c->repos));
	if (rc < 0)
		return rc;
	dconf_repo *r = &c->repos[c->nrepos];
	memset(r, 0, sizeof(*r));
	r->line = line;
	if (!(r->name = strdup(name)) || (location && !(r->location = strdup(location)))) {
		free(r->name);
		free(r->location);
		return -ENOMEM;
	}
	*idx = c->nrepos++;
	return 0;
}

static int on_section(void *ud, const char *section, int line)
{
	parse_ctx *x = ud;
	char kind[32];
	const char *rest;
	split_section(section, kind, sizeof(kind), &rest);
	x->section = SEC_BAD; /* until proven otherwise: its keys are not checked again */
	if (strcmp(kind, "daemon") == 0 || strcmp(kind, "web") == 0 || strcmp(kind, "notify") == 0) {
		if (*rest && strcmp(kind, "notify") == 0) {
			int rc = alert_config_add(&x->c->alerts, rest, line);
			if (rc == -EINVAL) {
				error_at(x, line, "unknown section '[%s]' (channels are [notify email], [notify webhook], "
					 "[notify ntfy] and [notify gotify])", section);
				return 0;
			}
			if (rc < 0)
				return rc;
			x->section = SEC_CHANNEL;
			return 0;
		}
		if (*rest) {
			error_at(x, line, "[%s] takes no name", kind);
			return 0;
		}
		x->section = kind[0] == 'd' ? SEC_DAEMON : kind[0] == 'w' ? SEC_WEB : SEC_NOTIFY;
		if (x->section == SEC_WEB)
			x->has_web = 1;
		return 0;
	}
	if (strcmp(kind, "repository") == 0) {
		if (!valid_name(rest)) {
			error_at(x, line, "[repository NAME] needs a name of letters, digits, '.', '_' or '-'");
			return 0;
		}
		for (size_t i = 0; i < x->c->nrepos; i++)
			if (strcmp(x->c->repos[i].name, rest) == 0) {
				error_at(x, line, "repository '%s' is already defined on line %d", rest, x->c->repos[i].line);
				return 0;
			}
		int rc = add_repo(x->c, rest, NULL, line, &x->cur);
		if (rc < 0)
			return rc;
		x->section = SEC_REPO;
		return 0;
	}
	int k = job_kind_of(kind);
	if (!k) {
		error_at(x, line, "unknown section '[%s]' (expected [daemon], [web], [notify], [repository NAME], "
			 "[backup NAME], [prune NAME], [check NAME], [drill NAME], [sync NAME], [disks] or [zpool])", section);
		return 0;
	}
	const char *name = rest;
	if (!*name && (k == JOB_DISKS || k == JOB_ZPOOL))
		name = kind;
	if (!*name) {
		error_at(x, line, "[%s NAME] needs a name", kind);
		return 0;
	}
	if (!valid_name(name)) {
		error_at(x, line, "invalid job name '%s' (letters, digits, '.', '_', '-'; at most %d)", name,
			 CONFIG_NAME_MAX - 1);
		return 0;
	}
	int rc = add_job(x, k, name, line);
	return rc < 0 ? rc : 0;
}

/* The value of a key that names a file or directory: absolute. */
static int path_value(parse_ctx *x, int line, const char *key, const char *v, char **dst)
{
	if (!absolute(v)) {
		error_at(x, line, "'%s' must be an absolute path, not '%s'", key, v);
		return 0;
	}
	return set_str(dst, v);
}

static int daemon_key(parse_ctx *x, const char *key, const char *v, int line)
{
	dconf *c = x->c;
	int64_t d;
	if (strcmp(key, "state-dir") == 0)
		return path_value(x, line, key, v, &c->state_dir);
	if (strcmp(key, "password-file") == 0)
		return path_value(x, line, key, v, &c->password_file);
	if (strcmp(key, "concurrency") == 0) {
		if (parse_int(v, 1, MAX_CONCURRENCY, &c->concurrency) < 0)
			error_at(x, line, "concurrency must be 1..%d, not '%s'", MAX_CONCURRENCY, v);
		return 0;
	}
	if (strcmp(key, "history") == 0) {
		if (parse_int(v, 1, MAX_HISTORY, &c->history) < 0)
			error_at(x, line, "history (runs kept per job) must be 1..%d, not '%s'", MAX_HISTORY, v);
		return 0;
	}
	if (strcmp(key, "stop-timeout") == 0) {
		if (config_parse_duration(v, &d) < 0)
			error_at(x, line, "%s", err_msg(-EINVAL));
		else
			c->stop_timeout_s = d;
		return 0;
	}
	error_at(x, line, "unknown key '%s' in [daemon] (state-dir, concurrency, history, stop-timeout, "
		 "password-file)", key);
	return 0;
}

static int web_key(parse_ctx *x, const char *key, const char *v, int line)
{
	dconf *c = x->c;
	int rc;
	if (strcmp(key, "listen") == 0) {
		x->listen_line = line;
		if (strcasecmp(v, "off") == 0 || strcasecmp(v, "none") == 0) {
			free(c->listen);
			c->listen = NULL;
			x->has_web = 0;
			return 0;
		}
		if (http_listen_check(v, NULL) < 0) {
			error_at(x, line, "%s", err_msg(-EINVAL));
			return 0;
		}
		return set_str(&c->listen, v);
	}
	if (strcmp(key, "tls-cert") == 0 || strcmp(key, "tls-key") == 0) {
		x->tls_line = line;
		return path_value(x, line, key, v, key[4] == 'c' ? &c->tls_cert : &c->tls_key);
	}
	if (strcmp(key, "user") == 0) {
		char name[CONFIG_NAME_MAX];
		size_t l = strcspn(v, " \t");
		const char *h = v + l;
		while (*h == ' ' || *h == '\t')
			h++;
		if (!l || l >= sizeof(name) || !*h) {
			error_at(x, line, "user wants 'NAME HASH' (make a hash with 'dvalin daemon --hash-password')");
			return 0;
		}
		memcpy(name, v, l);
		name[l] = 0;
		if (!valid_name(name)) {
			error_at(x, line, "invalid user name '%s'", name);
			return 0;
		}
		for (size_t i = 0; i < c->nusers; i++)
			if (strcmp(c->users[i], name) == 0) {
				error_at(x, line, "user '%s' is given twice", name);
				return 0;
			}
		/* a hash is "$id$...": the old DES form is no hash to accept, whatever crypt says */
		int cs = h[0] == '$' ? crypt_checksalt(h) : CRYPT_SALT_INVALID;
		if (cs != CRYPT_SALT_OK) {
			error_at(x, line, "user '%s': %s", name,
				 cs == CRYPT_SALT_METHOD_LEGACY ? "the hash method is too weak (use yescrypt: "
							 "'dvalin daemon --hash-password')"
				 : cs == CRYPT_SALT_TOO_CHEAP ? "the hash is too cheap to compute (raise its cost)"
				 : "not a password hash crypt(3) knows (make one with 'dvalin daemon --hash-password')");
			return 0;
		}
		x->users_line = x->users_line ? x->users_line : line;
		rc = strlist_add(&c->users, &c->nusers, name);
		return rc ?: strlist_add(&c->hashes, &c->nhashes, h);
	}
	if (strcmp(key, "session-timeout") == 0) {
		int64_t d;
		if (config_parse_duration(v, &d) < 0 || d < 60)
			error_at(x, line, "session-timeout: want a duration of at least 1min, not '%s'", v);
		else
			c->session_s = d;
		return 0;
	}
	if (strcmp(key, "restore-root") == 0) {
		if (!absolute(v) || strcmp(v, "/") == 0) {
			error_at(x, line, "restore-root must be an absolute directory other than '/', not '%s'", v);
			return 0;
		}
		return strlist_add(&c->restore_roots, &c->nrestore_roots, v);
	}
	if (strcmp(key, "public-url") == 0)
		return set_str(&c->public_url, v);
	if (strcmp(key, "metrics") == 0) {
		if (strcmp(v, "open") == 0)
			c->metrics = 1;
		else if (strcmp(v, "off") == 0)
			c->metrics = 0;
		else
			error_at(x, line, "metrics must be 'open' or 'off', not '%s'", v);
		return 0;
	}
	error_at(x, line, "unknown key '%s' in [web] (listen, tls-cert, tls-key, user, session-timeout, "
		 "restore-root, public-url, metrics)", key);
	return 0;
}

static int repo_key(parse_ctx *x, const char *key, const char *v, int line)
{
	dconf_repo *r = &x->c->repos[x->cur];
	if (strcmp(key, "location") == 0 || strcmp(key, "path") == 0) {
		if (strchr(v, ':') == NULL && !absolute(v)) {
			error_at(x, line, "location must be an absolute path or a URL, not '%s'", v);
			return 0;
		}
		return set_str(&r->location, v);
	}
	if (strcmp(key, "password-file") == 0)
		return path_value(x, line, key, v, &r->password_file);
	error_at(x, line, "unknown key '%s' in [repository %s] (location, password-file)", key, r->name);
	return 0;
}

/* Keys and the kinds that take them. */
#define K_B (1 << JOB_BACKUP)
#define K_P (1 << JOB_PRUNE)
#define K_C (1 << JOB_CHECK)
#define K_D (1 << JOB_DISKS)
#define K_Z (1 << JOB_ZPOOL)
#define K_R (1 << JOB_DRILL)
#define K_S (1 << JOB_SYNC)
#define K_ALL (K_B | K_P | K_C | K_D | K_Z | K_R | K_S)

static const struct {
	const char *key;
	int kinds;
} job_keys[] = {
	{ "repository", K_B | K_P | K_C | K_R }, { "path", K_B | K_R | K_S }, { "exclude", K_B }, { "tag", K_B | K_R | K_S },
	{ "host", K_B | K_R | K_S }, { "one-file-system", K_B }, { "schedule", K_ALL }, { "random-delay", K_ALL },
	{ "persistent", K_ALL }, { "timeout", K_ALL }, { "max-age", K_ALL }, { "before", K_B },
	{ "after", K_B }, { "keep-last", K_B }, { "keep-hourly", K_B }, { "keep-daily", K_B },
	{ "keep-weekly", K_B }, { "keep-monthly", K_B }, { "keep-yearly", K_B }, { "keep-within", K_B },
	{ "keep-tag", K_B }, { "max-unused", K_P }, { "read-data", K_C }, { "read-data-subset", K_C },
	{ "state", K_D | K_Z }, { "snapshot", K_R }, { "sample", K_R }, { "full", K_R }, { "target", K_R },
	{ "live", K_R }, { "threads", K_P | K_C | K_R | K_S }, { "from", K_S }, { "to", K_S }, { "latest", K_S },
	{ "remove-vanished", K_S }, { "verify", K_S }, { "limit-rate", K_S }, { "journal", K_B },
};

static void list_keys(int kind, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	for (size_t i = 0; i < sizeof(job_keys) / sizeof(job_keys[0]); i++)
		if (job_keys[i].kinds & (1 << kind)) {
			int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", job_keys[i].key);
			if (n < 0 || (size_t)n >= cap - len)
				break;
			len += (size_t)n;
		}
}

/* The job's yes/no setting named key, or NULL if key is not one. */
static int *bool_key(dconf_job *j, const char *key)
{
	struct { const char *key; int *flag; } t[] = {
		{ "one-file-system", &j->one_file_system }, { "persistent", &j->persistent },
		{ "read-data", &j->read_data }, { "full", &j->full }, { "live", &j->live },
		{ "remove-vanished", &j->remove_vanished }, { "verify", &j->verify }, { "journal", &j->journal },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(key, t[i].key) == 0)
			return t[i].flag;
	return NULL;
}

static int job_key(parse_ctx *x, const char *key, const char *v, int line)
{
	dconf_job *j = &x->c->jobs[x->cur];
	int known = 0;
	for (size_t i = 0; i < sizeof(job_keys) / sizeof(job_keys[0]); i++)
		if (strcmp(job_keys[i].key, key) == 0)
			known = job_keys[i].kinds & (1 << j->kind) ? 2 : 1;
	if (known != 2) {
		char keys[512];
		list_keys(j->kind, keys, sizeof(keys));
		error_at(x, line, "%s key '%s' in [%s %s] (it takes: %s)", known ? "unexpected" : "unknown", key,
			 config_kind_name(j->kind), j->name, keys);
		return 0;
	}
	int64_t d;
	int *flag;
	int rc = 0;
	/* a sync's source is its repository: the same reference, resolved the same way */
	if (strcmp(key, "repository") == 0 || strcmp(key, "from") == 0) {
		x->ref_lines[x->cur] = line;
		return set_str(&x->repo_refs[x->cur], v);
	}
	if (strcmp(key, "to") == 0) {
		x->to_lines[x->cur] = line;
		return set_str(&x->to_refs[x->cur], v);
	}
	if (strcmp(key, "path") == 0) {
		if (!absolute(v))
			error_at(x, line, "path must be absolute, not '%s'", v);
		else
			rc = strlist_add(&j->paths, &j->npaths, v);
	} else if (strcmp(key, "exclude") == 0) {
		rc = strlist_add(&j->excludes, &j->nexcludes, v);
	} else if (strcmp(key, "tag") == 0 || strcmp(key, "keep-tag") == 0) {
		if (!*v || strchr(v, ','))
			error_at(x, line, "%s wants one tag without commas (repeat the key for more)", key);
		else if (key[0] == 't')
			rc = strlist_add(&j->tags, &j->ntags, v);
		else
			rc = strlist_add(&j->keep_tags, &j->nkeep_tags, v);
	} else if (strcmp(key, "host") == 0) {
		rc = set_str(&j->host, v);
	} else if ((flag = bool_key(j, key))) {
		int b;
		if (parse_bool(v, &b) < 0)
			error_at(x, line, "%s wants yes or no, not '%s'", key, v);
		else
			*flag = b;
	} else if (strcmp(key, "schedule") == 0) {
		calendar *cal;
		if (calendar_parse(&cal, v) < 0) {
			error_at(x, line, "%s", err_msg(-EINVAL));
		} else {
			calendar_free(j->schedule);
			j->schedule = cal;
			rc = set_str(&j->schedule_text, v);
		}
	} else if (strcmp(key, "random-delay") == 0 || strcmp(key, "timeout") == 0 ||
		   strcmp(key, "max-age") == 0) {
		if (config_parse_duration(v, &d) < 0)
			error_at(x, line, "%s: %s", key, err_msg(-EINVAL));
		else if (key[0] == 'r')
			j->random_delay_s = d;
		else if (key[0] == 't')
			j->timeout_s = d;
		else
			j->max_age_s = d;
	} else if (strcmp(key, "before") == 0 || strcmp(key, "after") == 0) {
		rc = set_str(key[0] == 'b' ? &j->before : &j->after, v);
	} else if (strncmp(key, "keep-", 5) == 0 && strcmp(key, "keep-within") != 0) {
		static const char *const rules[] = { "last", "hourly", "daily", "weekly", "monthly", "yearly" };
		for (int i = 0; i < 6; i++)
			if (strcmp(key + 5, rules[i]) == 0 && parse_int(v, 0, 1000000, &j->keep[i]) < 0)
				error_at(x, line, "%s wants a count (0..1000000), not '%s'", key, v);
	} else if (strcmp(key, "keep-within") == 0) {
		/* forget's own syntax: terms of digits and a unit (h d w m y; m = 31 days) */
		int ok = *v != 0;
		for (const char *p = v; ok && *p;) {
			const char *q = p;
			while (isdigit((unsigned char)*q))
				q++;
			ok = q > p && *q && strchr("hdwmy", *q) != NULL;
			p = q + 1;
		}
		if (!ok)
			error_at(x, line, "keep-within wants a duration such as 30d, 12h, 2w, 6m, 1y, not '%s'", v);
		else
			rc = set_str(&j->keep_within, v);
	} else if (strcmp(key, "max-unused") == 0) {
		if (!is_percent(v))
			error_at(x, line, "max-unused wants a percentage (5%%), not '%s'", v);
		else
			rc = set_str(&j->max_unused, v);
	} else if (strcmp(key, "read-data-subset") == 0) {
		if (!is_subset(v))
			error_at(x, line, "read-data-subset wants 'N/M' or a percentage (5%%), not '%s'", v);
		else
			rc = set_str(&j->read_data_subset, v);
	} else if (strcmp(key, "state") == 0) {
		rc = path_value(x, line, key, v, &j->state);
	} else if (strcmp(key, "target") == 0) {
		rc = path_value(x, line, key, v, &j->target);
	} else if (strcmp(key, "sample") == 0) {
		/* drill's own forms: a count of files, or a share of the bytes */
		int n;
		if (strchr(v, '%') ? !is_percent(v) || !(strtod(v, NULL) > 0) : parse_int(v, 1, 100000000, &n) < 0)
			error_at(x, line, "sample wants a count of files (200) or a share of the bytes (2%%), not '%s'", v);
		else
			rc = set_str(&j->sample, v);
	} else if (strcmp(key, "snapshot") == 0) {
		/* 'latest' or a prefix of a snapshot id (hex) */
		size_t l = strspn(v, "0123456789abcdef");
		if (strcmp(v, "latest") != 0 && (!l || v[l] || l > 64))
			error_at(x, line, "snapshot wants 'latest' or a snapshot id (a prefix of it), not '%s'", v);
		else
			rc = set_str(&j->snapshot, v);
	} else if (strcmp(key, "latest") == 0) {
		if (parse_int(v, 1, 1000000, &j->latest) < 0)
			error_at(x, line, "latest wants a count of snapshots (1..1000000), not '%s'", v);
	} else if (strcmp(key, "limit-rate") == 0) {
		/* sync's form: bytes per second, K, M, G (1024s); checked here so a typo is caught at load */
		uint64_t n;
		const char *end;
		if (num_parse_u64(v, &end, &n) < 0 || !n || (*end && (!strchr("KMG", *end) || end[1])))
			error_at(x, line, "limit-rate wants bytes per second (20M; K, M, G), not '%s'", v);
		else
			rc = set_str(&j->limit_rate, v);
	} else if (strcmp(key, "threads") == 0) {
		if (parse_int(v, 1, 64, &j->threads) < 0)
			error_at(x, line, "threads must be 1..64, not '%s'", v);
	}
	return rc;
}

static int on_value(void *ud, const char *section, const char *key, const char *v, int line)
{
	parse_ctx *x = ud;
	(void)section;
	switch (x->section) {
	case SEC_NONE:
		error_at(x, line, "'%s' is outside any section (expected '[section]' first)", key);
		return 0;
	case SEC_BAD:
		return 0; /* the section's error was reported once */
	case SEC_DAEMON:
		return daemon_key(x, key, v, line);
	case SEC_WEB:
		return web_key(x, key, v, line);
	case SEC_NOTIFY:
		if (strcmp(key, "alerts") == 0) {
			x->alerts_line = line;
			return path_value(x, line, key, v, &x->c->alerts_file);
		}
		error_at(x, line, "unknown key '%s' in [notify] (alerts; channels go in [notify email], "
			 "[notify webhook], [notify ntfy], [notify gotify])", key);
		return 0;
	case SEC_CHANNEL: {
		int rc = alert_config_set(&x->c->alerts, key, v);
		if (rc == -EINVAL)
			error_at(x, line, "%s in [notify %s]", err_msg(rc), alert_channel_name(&x->c->alerts.v[x->c->alerts.n - 1]));
		return rc == -EINVAL ? 0 : rc;
	}
	case SEC_REPO:
		return repo_key(x, key, v, line);
	case SEC_JOB:
		return job_key(x, key, v, line);
	}
	return 0;
}

/* ---------- checks once everything is read ---------- */

static int find_repo(const dconf *c, const char *name)
{
	for (size_t i = 0; i < c->nrepos; i++)
		if (strcmp(c->repos[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* A job's reference (a [repository NAME], or a location written in the job) to
 * an index in c->repos; -1 (reported) if it names nothing. */
static int resolve_ref(parse_ctx *x, const char *ref, int line, int *out)
{
	dconf *c = x->c;
	int rc = 0, r = find_repo(c, ref);
	if (r < 0 && (absolute(ref) || strchr(ref, ':'))) {
		/* a location written in the job: one repository per distinct location */
		for (size_t k = 0; k < c->nrepos && r < 0; k++)
			if (c->repos[k].location && strcmp(c->repos[k].location, ref) == 0 &&
			    strcmp(c->repos[k].name, ref) == 0)
				r = (int)k;
		size_t n;
		if (r < 0 && (rc = add_repo(c, ref, ref, line, &n)) == 0)
			r = (int)n;
	}
	if (rc == 0 && r < 0)
		error_at(x, line, "no [repository %s] (and '%s' is not an absolute path or URL)", ref, ref);
	*out = r;
	return rc;
}

static int resolve_repos(parse_ctx *x)
{
	dconf *c = x->c;
	/* indexes, not pointers: add_repo() may move c->repos */
	size_t *idx = calloc(2 * (c->njobs + 1), sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	size_t *to = idx + c->njobs + 1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < c->njobs; i++) {
		dconf_job *j = &c->jobs[i];
		const char *ref = i < x->nrefs ? x->repo_refs[i] : NULL;
		const char *tref = i < x->nrefs ? x->to_refs[i] : NULL;
		int r;
		idx[i] = to[i] = (size_t)-1;
		if (!config_kind_has_repo(j->kind))
			continue;
		if (!ref) {
			error_at(x, j->line, "[%s %s] needs '%s = NAME or PATH'", config_kind_name(j->kind), j->name,
				 j->kind == JOB_SYNC ? "from" : "repository");
			continue;
		}
		if ((rc = resolve_ref(x, ref, x->ref_lines[i], &r)) == 0 && r >= 0)
			idx[i] = (size_t)r;
		if (j->kind != JOB_SYNC || rc < 0)
			continue;
		if (!tref) {
			error_at(x, j->line, "[sync %s] needs 'to = NAME or PATH' (a replica made by 'dvalin init "
				 "--replica-of')", j->name);
			continue;
		}
		if ((rc = resolve_ref(x, tref, x->to_lines[i], &r)) == 0 && r >= 0)
			to[i] = (size_t)r;
	}
	for (size_t i = 0; rc == 0 && i < c->njobs; i++) {
		if (idx[i] != (size_t)-1)
			c->jobs[i].repo = &c->repos[idx[i]];
		if (to[i] != (size_t)-1)
			c->jobs[i].to = &c->repos[to[i]];
	}
	for (size_t i = 0; rc == 0 && i < c->njobs; i++)
		if (c->jobs[i].repo && c->jobs[i].to && c->jobs[i].repo->location && c->jobs[i].to->location &&
		    strcmp(c->jobs[i].repo->location, c->jobs[i].to->location) == 0)
			error_at(x, x->to_lines[i], "[sync %s]: from and to are the same repository '%s'",
				 c->jobs[i].name, c->jobs[i].to->location);
	free(idx);
	return rc;
}

static void check_jobs(parse_ctx *x)
{
	dconf *c = x->c;
	for (size_t i = 0; i < c->nrepos; i++)
		if (!c->repos[i].location)
			error_at(x, c->repos[i].line, "[repository %s] needs 'location = PATH'", c->repos[i].name);
	for (size_t i = 0; i < c->njobs; i++) {
		dconf_job *j = &c->jobs[i];
		if (j->kind == JOB_BACKUP && !j->npaths)
			error_at(x, j->line, "[backup %s] needs at least one 'path = /...'", j->name);
		if (j->kind == JOB_CHECK && j->read_data && j->read_data_subset)
			error_at(x, j->line, "[check %s]: read-data and read-data-subset exclude each other", j->name);
		if (j->kind == JOB_DRILL && j->full && !j->target)
			error_at(x, j->line, "[drill %s]: full = yes needs 'target = DIR' (a disk that can hold the "
				 "whole snapshot)", j->name);
		if (j->kind == JOB_DRILL && j->full && j->sample)
			error_at(x, j->line, "[drill %s]: full and sample exclude each other", j->name);
		if (j->kind == JOB_DRILL && j->snapshot && strcmp(j->snapshot, "latest") != 0 && (j->host || j->npaths || j->ntags))
			error_at(x, j->line, "[drill %s]: snapshot names one snapshot; host, path and tag choose "
				 "the latest of some (give one or the other)", j->name);
		if (j->max_age_s && !j->schedule)
			log_warn("%s:%d: [%s %s] has max-age but no schedule: it is overdue unless run by hand",
				 c->path, j->line, config_kind_name(j->kind), j->name);
		if (j->nkeep_tags && !(j->keep_within || j->keep[0] || j->keep[1] || j->keep[2] || j->keep[3] ||
				       j->keep[4] || j->keep[5]))
			error_at(x, j->line, "[backup %s]: keep-tag alone would remove every untagged snapshot; "
				 "add a keep-last or another keep rule", j->name);
	}
}

static void check_web(parse_ctx *x)
{
	dconf *c = x->c;
	if (!c->listen)
		return;
	int loop = 0;
	http_listen_check(c->listen, &loop);
	if (!c->tls_cert != !c->tls_key)
		error_at(x, x->tls_line, "[web] needs both tls-cert and tls-key");
	if (!loop && !c->tls_cert)
		error_at(x, x->listen_line, "[web] listens on '%s', beyond this machine: that needs HTTPS "
			 "(tls-cert and tls-key), or listen on 127.0.0.1", c->listen);
	if (!c->nusers)
		error_at(x, x->listen_line, "[web] has no user, so nobody could log in (add 'user = NAME HASH'; "
			 "'dvalin daemon --hash-password' makes the hash), or set 'listen = off'");
}

static int load_alerts_file(parse_ctx *x)
{
	dconf *c = x->c;
	const char *p = c->alerts_file;
	if (!p && access(DEFAULT_ALERTS, R_OK) == 0)
		p = DEFAULT_ALERTS; /* the disks' file keeps working */
	if (!p)
		return 0;
	alert_config a;
	int rc = alert_config_load(&a, p);
	if (rc < 0) {
		error_at(x, x->alerts_line, "%s", err_msg(rc));
		return 0;
	}
	for (size_t i = 0; rc == 0 && i < a.n; i++) {
		rc = array_reserve(&c->alerts.v, &c->alerts.cap, c->alerts.n + 1, sizeof(*c->alerts.v));
		if (rc == 0)
			c->alerts.v[c->alerts.n++] = a.v[i];
	}
	alert_config_release(&a);
	return rc;
}

int config_load(dconf **out, const char *path, int *nerrors)
{
	*nerrors = 0;
	dconf *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	parse_ctx x;
	memset(&x, 0, sizeof(x));
	x.c = c;
	int rc = 0;
	if (!(c->path = strdup(path)))
		rc = -ENOMEM;
	alert_config_init(&c->alerts, path);
	c->concurrency = 2;
	c->history = 200;
	c->stop_timeout_s = 60;
	c->session_s = 12 * 3600;
	c->metrics = 1;
	if (rc == 0) {
		ini_handler h = { on_section, on_value, &x };
		rc = ini_parse_file(path, "configuration", &h);
		if (rc == -EINVAL) { /* a syntax error: reported, and the rest was not read */
			log_error("%s", err_msg(rc));
			x.nerrors++;
			rc = 0;
		}
	}
	if (rc == 0 && !c->state_dir)
		rc = set_str(&c->state_dir, DEFAULT_STATE_DIR);
	if (rc == 0 && x.has_web && !c->listen && !x.listen_line)
		rc = set_str(&c->listen, DEFAULT_LISTEN);
	rc = rc ?: resolve_repos(&x);
	if (rc == 0) {
		check_jobs(&x);
		check_web(&x);
		int ac = alert_config_check(&c->alerts);
		if (ac < 0) { /* its message names the file and line already */
			log_error("%s", err_msg(ac));
			x.nerrors++;
		}
		rc = load_alerts_file(&x);
	}
	strlist_free(x.repo_refs, x.nrefs);
	free(x.ref_lines);
	strlist_free(x.to_refs, x.nrefs);
	free(x.to_lines);
	if (rc == 0 && x.nerrors)
		rc = -EINVAL;
	if (rc < 0) {
		*nerrors = x.nerrors;
		config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void config_free(dconf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->njobs; i++) {
		dconf_job *j = &c->jobs[i];
		strlist_free(j->paths, j->npaths);
		strlist_free(j->excludes, j->nexcludes);
		strlist_free(j->tags, j->ntags);
		strlist_free(j->keep_tags, j->nkeep_tags);
		free(j->host);
		free(j->schedule_text);
		calendar_free(j->schedule);
		free(j->before);
		free(j->after);
		free(j->keep_within);
		free(j->max_unused);
		free(j->read_data_subset);
		free(j->state);
		free(j->sample);
		free(j->snapshot);
		free(j->target);
		free(j->limit_rate);
	}
	for (size_t i = 0; i < c->nrepos; i++) {
		free(c->repos[i].name);
		free(c->repos[i].location);
		free(c->repos[i].password_file);
	}
	free(c->jobs);
	free(c->repos);
	free(c->path);
	free(c->state_dir);
	free(c->password_file);
	free(c->listen);
	free(c->tls_cert);
	free(c->tls_key);
	strlist_free(c->users, c->nusers);
	strlist_free(c->hashes, c->nhashes);
	strlist_free(c->restore_roots, c->nrestore_roots);
	free(c->public_url);
	free(c->alerts_file);
	alert_config_release(&c->alerts);
	free(c);
}

const dconf_job *config_find_job(const dconf *c, const char *name)
{
	for (size_t i = 0; i < c->njobs; i++)
		if (strcmp(c->jobs[i].name, name) == 0)
			return &c->jobs[i];
	return NULL;
}
