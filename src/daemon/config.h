/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config: the daemon's configuration, /etc/dvalin/dvalin.conf
 * (docs/daemon.md documents every key), read with base/ini.c into one
 * value: the [daemon], [web] and [notify] settings, the repositories, and
 * the jobs ([backup NAME], [prune NAME], [check NAME], [drill NAME],
 * [sync NAME], [disks], [zpool]).
 *
 * config_load() reads and checks everything and reports every error, not
 * only the first: each one is logged as "FILE:LINE: reason" and the call
 * fails with the count in *nerrors.  A config that loads is complete:
 * every job has what it needs, every schedule parses, every name is
 * unique, a web UI beyond loopback has TLS, every user has a hash crypt(3)
 * understands.  Nothing is opened or contacted (repositories, the network):
 * that is the daemon's business at run time.
 *
 * Ownership: a dconf owns all its strings and calendars; config_free()
 * releases them.  Jobs are in file order.
 */
#ifndef DV_DAEMON_CONFIG_H
#define DV_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "../notify/alert.h"

#define CONFIG_DEFAULT_PATH "/etc/dvalin/dvalin.conf"
#define CONFIG_NAME_MAX 64

enum job_kind { JOB_BACKUP = 1, JOB_PRUNE, JOB_CHECK, JOB_DISKS, JOB_ZPOOL, JOB_DRILL, JOB_SYNC, JOB_RESTORE };

/* "backup", "prune", ... */
const char *config_kind_name(int kind);
/* The kind works on a repository (backup, prune, check, drill; sync: its source). */
int config_kind_has_repo(int kind);

typedef struct {
	char *name;          /* [repository NAME], or the location itself when named inline */
	char *location;      /* path (or URL) given to -r */
	char *password_file; /* NULL: the [daemon] default, else the environment's */
	int line;
} dconf_repo;

typedef struct {
	char name[CONFIG_NAME_MAX];
	int kind;
	int line;                 /* the section's line */
	const dconf_repo *repo;   /* backup, prune, check, drill; sync: from */
	const dconf_repo *to;     /* sync: the replica written */
	char **paths, **excludes, **tags, **keep_tags; /* drill: paths and tags select the snapshot */
	size_t npaths, nexcludes, ntags, nkeep_tags;
	char *host;               /* backup: recorded host (NULL: this machine's); drill: selects */
	int one_file_system;
	int journal;              /* backup: the daemon keeps a change-journal recorder for it (default no) */
	char *schedule_text;      /* as written; NULL: runs only when asked */
	calendar *schedule;
	int64_t random_delay_s;   /* each run is delayed by a random 0..this */
	int persistent;           /* catch up one missed run after a stop (default yes) */
	int64_t timeout_s;        /* 0: none */
	int64_t max_age_s;        /* dead man's switch; 0: none */
	char *before, *after;     /* shell commands around a backup */
	int keep[6];              /* keep-last .. keep-yearly; 0: no rule */
	char *keep_within;        /* as written ("30d") */
	char *max_unused;         /* prune: "5%" */
	int read_data;            /* check: --read-data */
	char *read_data_subset;   /* check: "5%" or "1/7" */
	char *state;              /* disks, zpool: the state database */
	char *sample;             /* drill: "200" or "2%" as written; NULL: drill's default */
	char *snapshot;           /* drill: "latest" or an id prefix; NULL: latest */
	char *target;             /* drill: the scratch directory's parent; NULL: drill's default */
	int full;                 /* drill: --full */
	int live;                 /* drill: compare with the live files (default yes) */
	int threads;              /* prune, check, drill, sync: --threads; 0: the command's default */
	int latest;               /* sync: --latest N; 0: all */
	int remove_vanished;      /* sync: --remove-vanished */
	int verify;               /* sync: --verify */
	char *limit_rate;         /* sync: --limit-rate as written ("20M"); NULL: no limit */
} dconf_job;

typedef struct {
	char *path;               /* the file read */
	/* [daemon] */
	char *state_dir;          /* default /var/lib/dvalin */
	int concurrency;          /* jobs running at once; default 2 */
	int history;              /* runs kept per job; default 200 */
	int64_t stop_timeout_s;   /* SIGTERM: how long running jobs get to stop; default 60 */
	char *password_file;      /* default for repositories */
	/* [web] */
	char *listen;             /* NULL: no web UI */
	char *tls_cert, *tls_key;
	char **users, **hashes;   /* user NAME HASH */
	size_t nusers, nhashes;
	int64_t session_s;        /* default 12 h */
	char **restore_roots;     /* restore targets must lie below one of these */
	size_t nrestore_roots;
	char *public_url;         /* for links in notifications */
	int metrics;              /* serve /metrics without a login (default yes) */
	/* [notify] and [notify TYPE] */
	alert_config alerts;      /* every channel (those of the alerts file too) */
	char *alerts_file;        /* an alerts.conf whose channels are added */
	/* repositories and jobs */
	dconf_repo *repos;
	size_t nrepos, cap_repos;
	dconf_job *jobs;
	size_t njobs, cap_jobs;
} dconf;

/*
 * Reads and checks path.  0 and *out, or <0: -EINVAL when the file has
 * errors (each one logged, *nerrors of them), another code when it could
 * not be read (the message says why).  Relative paths in the file are
 * refused (a daemon's working directory is "/").
 */
int config_load(dconf **out, const char *path, int *nerrors);
void config_free(dconf *c);

const dconf_job *config_find_job(const dconf *c, const char *name);

/*
 * "26h", "30min", "1h30min", "90s", "2d", "1w", or plain seconds "3600":
 * systemd's time spans with the units s, min, h, d, w (and sec, hour(s),
 * day(s), week(s)).  "m" alone is refused: it means minutes to systemd and
 * months to keep-within, so it is never guessed.  -EINVAL with a message
 * otherwise.
 */
int config_parse_duration(const char *s, int64_t *out_s);

#endif
