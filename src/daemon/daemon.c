/* SPDX-License-Identifier: BSD-2-Clause */
#include "daemon.h"
#include "clock.h"
#include "result.h"
#include "sdnotify.h"
#include "web.h"
#include "../base/err.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../disks/disks.h"
#include "../disks/diskstate.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICK_MS 1000
#define KILL_GRACE_US (30 * CLOCK_USEC)
#define MAX_POLL 512
/* a backup waits this long for its job's recorder to start recording (its walk then starts inside the journal) */
#define RECORDER_GRACE_US (30 * CLOCK_USEC)

/* What a step of a run is for. */
enum { ROLE_BEFORE = 1, ROLE_MAIN, ROLE_FORGET, ROLE_AFTER };

typedef struct {
	char **argv;
	size_t argc, cap;
	char *env[4];
	int role, merge;
} step;

struct daemon_run {
	int64_t id;
	daemon_job *job;
	int kind, read_data;
	char *repo_loc, *repo_name;
	char *to_loc;             /* sync: the replica it writes */
	char trigger[16];
	step *steps;
	size_t nsteps, cur;
	runner_child *child;
	int64_t start_us, start_mono, deadline_mono, kill_mono;
	int timed_out, interrupted, failed, main_status, fail_status;
	char fail_what[32];
	char journal_note[RUN_REASON_MAX]; /* the job's recorder was not recording when the run started: why */
	buf log;
	char *result;
	char reason[RUN_REASON_MAX];
};

/* ---------- argv building ---------- */

static int step_add(step *s, const char *a)
{
	if (s->argc + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->argv, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->argv = v;
		s->cap = cap;
	}
	if (!(s->argv[s->argc] = strdup(a)))
		return -ENOMEM;
	s->argv[++s->argc] = NULL;
	return 0;
}

static int step_addf(step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int step_addf(step *s, const char *fmt, ...)
{
	char b[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(b))
		return -E2BIG;
	return step_add(s, b);
}

static void step_release(step *s)
{
	strlist_free(s->argv, s->argc);
	for (size_t i = 0; i < 4; i++)
		free(s->env[i]);
	memset(s, 0, sizeof(*s));
}

static step *new_step(daemon_run *r, int role)
{
	step *v = realloc(r->steps, (r->nsteps + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->steps = v;
	step *s = &v[r->nsteps++];
	memset(s, 0, sizeof(*s));
	s->role = role;
	return s;
}

void daemon_repo_env(const daemon_state *d, const dconf_repo *r, char *env[2], char b[600])
{
	const char *pf = r && r->password_file ? r->password_file : d->cfg->password_file;
	env[0] = env[1] = NULL;
	if (pf) {
		snprintf(b, 600, "DVALIN_PASSWORD_FILE=%s", pf);
		env[0] = b;
	}
}

/* A dvalin step: the binary, --json, -r LOCATION (when the job has one). */
static step *dvalin_step(daemon_state *d, daemon_run *r, const dconf_repo *repo, int role)
{
	step *s = new_step(r, role);
	if (!s)
		return NULL;
	int rc = step_add(s, runner_self());
	rc = rc ?: step_add(s, "--json");
	if (repo) {
		rc = rc ?: step_add(s, "-r");
		rc = rc ?: step_add(s, repo->location);
		char *env[2], b[600];
		daemon_repo_env(d, repo, env, b);
		if (rc == 0 && env[0] && !(s->env[0] = strdup(env[0])))
			rc = -ENOMEM;
	}
	return rc ? NULL : s;
}

static step *hook_step(daemon_run *r, const char *cmd, int role, const char *job)
{
	step *s = new_step(r, role);
	if (!s)
		return NULL;
	s->merge = 1;
	int rc = step_add(s, "/bin/sh");
	rc = rc ?: step_add(s, "-c");
	rc = rc ?: step_add(s, cmd);
	char e[128];
	snprintf(e, sizeof(e), "DVALIN_JOB=%s", job);
	if (rc == 0 && !(s->env[0] = strdup(e)))
		rc = -ENOMEM;
	return rc ? NULL : s;
}

/* ---------- change-journal recorders ---------- */

/* A job's change journal: STATE-DIR/journal/NAME.journal (job names are safe file names, config.c). */
static void journal_path(const daemon_state *d, const char *job, char out[600])
{
	snprintf(out, 600, "%s/journal/%s.journal", d->cfg->state_dir, job);
}

/* The job's recorder that is not being stopped, or NULL. */
static recorder *find_recorder(const daemon_state *d, const char *job)
{
	for (size_t i = 0; i < d->nrecs; i++)
		if (!recorder_stopped(d->recs[i]) && strcmp(recorder_job(d->recs[i]), job) == 0)
			return d->recs[i];
	return NULL;
}

/*
 * Makes the recorders match the configuration: one for every backup job
 * with journal = yes, recording its paths; others are stopped (and freed
 * once they have ended, in reap_recorders).
 */
static void sync_recorders(daemon_state *d)
{
	char f[600];
	for (size_t i = 0; i < d->nrecs; i++) {
		recorder *rec = d->recs[i];
		if (recorder_stopped(rec))
			continue;
		const dconf_job *c = config_find_job(d->cfg, recorder_job(rec));
		int keep = c && c->kind == JOB_BACKUP && c->journal;
		journal_path(d, recorder_job(rec), f);
		if (keep && recorder_same(rec, f, c->paths, c->npaths))
			continue;
		log_info("backup %s: change journal: stopping its recorder (%s)", recorder_job(rec),
			 keep ? "its paths changed" : "the job has no journal = yes any more");
		recorder_stop(rec);
	}
	for (size_t i = 0; i < d->cfg->njobs; i++) {
		const dconf_job *c = &d->cfg->jobs[i];
		if (c->kind != JOB_BACKUP || !c->journal || find_recorder(d, c->name))
			continue;
		char dir[600];
		snprintf(dir, sizeof(dir), "%s/journal", d->cfg->state_dir);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			log_warn("cannot create '%s': %s", dir, strerror(errno)); /* the recorder will say it too */
		journal_path(d, c->name, f);
		recorder *rec;
		int rc = array_reserve(&d->recs, &d->cap_recs, d->nrecs + 1, sizeof(*d->recs));
		rc = rc ?: recorder_new(&rec, c->name, f, c->paths, c->npaths);
		if (rc < 0) {
			log_error("backup %s: change journal: %s", c->name, err_msg(rc));
			continue;
		}
		d->recs[d->nrecs++] = rec;
	}
}

/* Starts the recorders that are due; one whose file a stopping one still holds waits for it. */
static void tick_recorders(daemon_state *d)
{
	int64_t now = clock_mono();
	for (size_t i = 0; i < d->nrecs; i++) {
		recorder *rec = d->recs[i];
		int busy = 0;
		for (size_t k = 0; k < d->nrecs && !busy; k++)
			busy = k != i && recorder_running(d->recs[k]) &&
			       strcmp(recorder_file(d->recs[k]), recorder_file(rec)) == 0;
		if (!busy)
			recorder_tick(rec, now);
	}
}

static void reap_recorders(daemon_state *d)
{
	int64_t now = clock_mono();
	for (size_t i = 0; i < d->nrecs;) {
		recorder *rec = d->recs[i];
		recorder_reap(rec, now);
		if (recorder_stopped(rec) && !recorder_running(rec)) {
			recorder_free(rec);
			d->recs[i] = d->recs[--d->nrecs];
			continue;
		}
		i++;
	}
}

static void host_name(const dconf_job *j, char out[256])
{
	if (j->host) {
		snprintf(out, 256, "%s", j->host);
		return;
	}
	if (gethostname(out, 255) < 0)
		snprintf(out, 256, "localhost");
	out[255] = 0;
}

static int build_backup(daemon_state *d, daemon_run *r, const dconf_job *j)
{
	step *s;
	int rc = 0;
	if (j->before && !hook_step(r, j->before, ROLE_BEFORE, j->name))
		return -ENOMEM;
	if (!(s = dvalin_step(d, r, j->repo, ROLE_MAIN)))
		return -ENOMEM;
	rc = step_add(s, "backup");
	for (size_t i = 0; rc == 0 && i < j->ntags; i++)
		rc = step_addf(s, "--tag=%s", j->tags[i]);
	for (size_t i = 0; rc == 0 && i < j->nexcludes; i++)
		rc = step_addf(s, "--exclude=%s", j->excludes[i]);
	if (rc == 0 && j->one_file_system)
		rc = step_add(s, "--one-file-system");
	if (rc == 0 && j->host)
		rc = step_addf(s, "--host=%s", j->host);
	if (rc == 0 && j->journal) {
		/* the backup judges the journal (and walks everything without one that covers its parent) */
		char f[600];
		journal_path(d, j->name, f);
		rc = step_addf(s, "--journal=%s", f);
		const recorder *rec = find_recorder(d, j->name);
		const char *state = rec ? recorder_state(rec) : "down";
		const char *why = rec ? recorder_reason(rec) : NULL;
		if (strcmp(state, "recording") != 0)
			snprintf(r->journal_note, sizeof(r->journal_note), "the daemon's recorder is %s%s%s",
				 strcmp(state, "starting") == 0 ? "still starting" : "not running", why ? ": " : "",
				 why ? why : "");
	}
	rc = rc ?: step_add(s, "--");
	for (size_t i = 0; rc == 0 && i < j->npaths; i++)
		rc = step_add(s, j->paths[i]);
	int keep = j->keep_within || j->nkeep_tags;
	for (int i = 0; i < 6; i++)
		keep |= j->keep[i] > 0;
	if (rc == 0 && keep) {
		static const char *const rules[] = { "last", "hourly", "daily", "weekly", "monthly", "yearly" };
		char host[256];
		host_name(j, host);
		if (!(s = dvalin_step(d, r, j->repo, ROLE_FORGET)))
			return -ENOMEM;
		rc = step_add(s, "forget");
		for (int i = 0; rc == 0 && i < 6; i++)
			if (j->keep[i] > 0)
				rc = step_addf(s, "--keep-%s=%d", rules[i], j->keep[i]);
		if (rc == 0 && j->keep_within)
			rc = step_addf(s, "--keep-within=%s", j->keep_within);
		for (size_t i = 0; rc == 0 && i < j->nkeep_tags; i++)
			rc = step_addf(s, "--keep-tag=%s", j->keep_tags[i]);
		/* only this job's snapshots: its host and its set of paths */
		rc = rc ?: step_addf(s, "--host=%s", host);
		for (size_t i = 0; rc == 0 && i < j->npaths; i++)
			rc = step_addf(s, "--exact-path=%s", j->paths[i]);
	}
	if (rc == 0 && j->after && !hook_step(r, j->after, ROLE_AFTER, j->name))
		return -ENOMEM;
	return rc;
}

/* The snapshots a drill or a sync chooses by their host, paths and tags. */
static int add_selection(step *s, const dconf_job *j)
{
	int rc = 0;
	if (j->host)
		rc = step_addf(s, "--host=%s", j->host);
	for (size_t i = 0; rc == 0 && i < j->npaths; i++)
		rc = step_addf(s, "--path=%s", j->paths[i]);
	for (size_t i = 0; rc == 0 && i < j->ntags; i++)
		rc = step_addf(s, "--tag=%s", j->tags[i]);
	return rc;
}

/* A drill: the snapshot as selected, a random seed each run (drill prints it, so a run repeats). */
static int build_drill(daemon_state *d, daemon_run *r, const dconf_job *j)
{
	step *s = dvalin_step(d, r, j->repo, ROLE_MAIN);
	if (!s)
		return -ENOMEM;
	int rc = step_add(s, "drill");
	if (rc == 0 && j->snapshot)
		rc = step_addf(s, "--snapshot=%s", j->snapshot);
	rc = rc ?: add_selection(s, j);
	if (rc == 0 && j->sample)
		rc = step_addf(s, "--sample=%s", j->sample);
	if (rc == 0 && j->full)
		rc = step_add(s, "--full");
	if (rc == 0 && j->target)
		rc = step_addf(s, "--target=%s", j->target);
	if (rc == 0 && !j->live)
		rc = step_add(s, "--no-live");
	if (rc == 0 && j->threads)
		rc = step_addf(s, "--threads=%d", j->threads);
	return rc;
}

/* A sync: -r is the source (its password, when the filters need names), --to the replica. */
static int build_sync(daemon_state *d, daemon_run *r, const dconf_job *j)
{
	step *s = dvalin_step(d, r, j->repo, ROLE_MAIN);
	if (!s)
		return -ENOMEM;
	int rc = step_add(s, "sync");
	rc = rc ?: step_addf(s, "--to=%s", j->to->location);
	rc = rc ?: add_selection(s, j);
	if (rc == 0 && j->latest)
		rc = step_addf(s, "--latest=%d", j->latest);
	if (rc == 0 && j->remove_vanished)
		rc = step_add(s, "--remove-vanished");
	if (rc == 0 && j->verify)
		rc = step_add(s, "--verify");
	if (rc == 0 && j->limit_rate)
		rc = step_addf(s, "--limit-rate=%s", j->limit_rate);
	if (rc == 0 && j->threads)
		rc = step_addf(s, "--threads=%d", j->threads);
	return rc;
}

static int build_steps(daemon_state *d, daemon_run *r, const dconf_job *j)
{
	step *s;
	int rc;
	switch (j->kind) {
	case JOB_BACKUP:
		return build_backup(d, r, j);
	case JOB_PRUNE:
		if (!(s = dvalin_step(d, r, j->repo, ROLE_MAIN)))
			return -ENOMEM;
		rc = step_add(s, "prune");
		if (rc == 0 && j->max_unused)
			rc = step_addf(s, "--max-unused=%s", j->max_unused);
		if (rc == 0 && j->threads)
			rc = step_addf(s, "--threads=%d", j->threads);
		return rc;
	case JOB_CHECK:
		if (!(s = dvalin_step(d, r, j->repo, ROLE_MAIN)))
			return -ENOMEM;
		rc = step_add(s, "check");
		if (rc == 0 && j->read_data)
			rc = step_add(s, "--read-data");
		if (rc == 0 && j->read_data_subset)
			rc = step_addf(s, "--read-data-subset=%s", j->read_data_subset);
		if (rc == 0 && j->threads)
			rc = step_addf(s, "--threads=%d", j->threads);
		return rc;
	case JOB_DRILL:
		return build_drill(d, r, j);
	case JOB_SYNC:
		return build_sync(d, r, j);
	case JOB_DISKS:
	case JOB_ZPOOL: {
		char state[600];
		if (j->state)
			snprintf(state, sizeof(state), "%s", j->state);
		else
			daemon_disk_state_path(d, state);
		if (!(s = dvalin_step(d, r, NULL, ROLE_MAIN)))
			return -ENOMEM;
		rc = step_add(s, j->kind == JOB_DISKS ? "disks" : "zpool-check");
		rc = rc ?: step_addf(s, "--state=%s", state);
		rc = rc ?: step_addf(s, "--config=%s", d->config_path);
		return rc;
	}
	}
	return -EINVAL;
}

/* ---------- runs ---------- */

static void run_free(daemon_run *r)
{
	if (!r)
		return;
	runner_free(r->child);
	for (size_t i = 0; i < r->nsteps; i++)
		step_release(&r->steps[i]);
	free(r->steps);
	free(r->repo_loc);
	free(r->to_loc);
	free(r->repo_name);
	buf_release(&r->log);
	free(r->result);
	free(r);
}

/* The run's log is capped: what comes beyond HISTORY_LOG_MAX is left out. */
#define log_append(r, ...) ((r)->log.len < HISTORY_LOG_MAX ? buf_appendf(&(r)->log, __VA_ARGS__) : 0)

static const char *step_name(const daemon_run *r, const step *s)
{
	(void)r;
	switch (s->role) {
	case ROLE_BEFORE: return "before";
	case ROLE_AFTER: return "after";
	case ROLE_FORGET: return "forget";
	default: return config_kind_name(r->kind);
	}
}

static int start_step(daemon_run *r)
{
	step *s = &r->steps[r->cur];
	/* the command line in the log, for people (the binary's path shortened) */
	log_append(r, "$ %s", s->merge ? "sh -c" : "dvalin");
	for (size_t i = s->merge ? 2 : 1; i < s->argc; i++)
		log_append(r, " %s", s->argv[i]);
	log_append(r, "\n");
	runner_spec spec = { s->argv, s->env[0] ? s->env : NULL, 0, 0, s->merge };
	int rc = runner_start(&r->child, &spec);
	if (rc < 0)
		log_append(r, "%s\n", err_msg(rc));
	return rc;
}

/* The run's job kind as a status word for an exit status of its main step. */
static const char *main_status_word(int kind, int st, int *failed_sev)
{
	*failed_sev = 0;
	if (st == 0)
		return "ok";
	if (kind == JOB_BACKUP && st == 3) {
		*failed_sev = SEV_WARNING;
		return "partial";
	}
	if ((kind == JOB_DISKS || kind == JOB_ZPOOL) && (st == 4 || st == 5))
		return st == 4 ? "warning" : "failing"; /* the check ran; it notifies on its own */
	*failed_sev = SEV_FAILING;
	if ((kind == JOB_CHECK || kind == JOB_DRILL || kind == JOB_SYNC) && st == 6)
		return "damage"; /* check found damage; a drill restored something that did not match;
				  * a sync's --verify read back a damaged pack */
	return "failed";
}

static int status_failed(const char *status)
{
	return strcmp(status, "failed") == 0 || strcmp(status, "damage") == 0 || strcmp(status, "timeout") == 0 ||
	       strcmp(status, "aborted") == 0;
}

static int status_success(const char *status)
{
	return strcmp(status, "ok") == 0 || strcmp(status, "partial") == 0 || strcmp(status, "warning") == 0 ||
	       strcmp(status, "failing") == 0;
}

/* A step ended with st: record what it means and pick the next step. */
static void step_done(daemon_state *d, daemon_run *r, int st)
{
	step *s = &r->steps[r->cur];
	const buf *err = runner_stderr(r->child), *out = runner_stdout(r->child);
	(void)d;
	if (err->len) {
		size_t k = err->len;
		if (r->log.len + k > HISTORY_LOG_MAX)
			k = HISTORY_LOG_MAX > r->log.len ? HISTORY_LOG_MAX - r->log.len : 0;
		buf_append(&r->log, err->data, k);
		if (k && err->data[k - 1] != '\n')
			log_append(r, "\n");
	}
	char how[48], line[400];
	runner_describe_exit(how, sizeof(how), st, runner_signaled(r->child));
	log_append(r, "[%s: %s]\n", step_name(r, s), how);
	runner_last_line(err, line, sizeof(line));
	if (s->role == ROLE_MAIN) {
		r->main_status = st;
		if (out->len && !runner_truncated(r->child) && result_valid((const char *)out->data, out->len)) {
			free(r->result);
			r->result = strndup((const char *)out->data, out->len);
		} else if (runner_truncated(r->child)) {
			log_append(r, "[its JSON output was longer than the cap and is not kept]\n");
		}
		int sev;
		main_status_word(r->kind, st, &sev);
		if (sev >= SEV_FAILING && !r->interrupted) {
			r->failed = 1;
			r->fail_status = st;
			snprintf(r->fail_what, sizeof(r->fail_what), "%s", "");
			snprintf(r->reason, sizeof(r->reason), "%s%s%s", how, line[0] ? ": " : "", line);
		} else if (sev == SEV_WARNING && line[0]) {
			snprintf(r->reason, sizeof(r->reason), "%s: %s", how, line);
		}
	} else if (st != 0 && !r->interrupted && !r->failed) {
		r->failed = 1;
		r->fail_status = st;
		snprintf(r->fail_what, sizeof(r->fail_what), "%s", step_name(r, s));
		snprintf(r->reason, sizeof(r->reason), "the %s step failed (%s)%s%s", step_name(r, s), how,
			 line[0] ? ": " : "", line);
	}
	runner_free(r->child);
	r->child = NULL;
	/* next: after a failure only the after hook runs; after a stop nothing */
	r->cur++;
	while (r->cur < r->nsteps && (r->interrupted || r->timed_out ||
				      (r->failed && r->steps[r->cur].role != ROLE_AFTER)))
		r->cur++;
}

static void job_conditions(daemon_state *d, daemon_job *j);

static void human_span(char *out, size_t cap, int64_t s)
{
	if (s >= 2 * 86400)
		snprintf(out, cap, "%lld d %lld h", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, cap, "%lld h", (long long)(s / 3600));
	else if (s >= 120)
		snprintf(out, cap, "%lld min", (long long)(s / 60));
	else
		snprintf(out, cap, "%lld s", (long long)s);
}

/* The repository's sample wants refreshing (after a run that may change it). */
static void want_sample(daemon_state *d, const char *repo_name)
{
	for (size_t i = 0; repo_name && i < d->nrepos; i++)
		if (strcmp(d->repos[i].name, repo_name) == 0)
			d->repos[i].want = 1;
}

static void finish_run(daemon_state *d, daemon_run *r)
{
	daemon_job *j = r->job;
	run_info ri;
	memset(&ri, 0, sizeof(ri));
	ri.id = r->id;
	snprintf(ri.job, sizeof(ri.job), "%s", j->name);
	snprintf(ri.kind, sizeof(ri.kind), "%s", config_kind_name(r->kind));
	snprintf(ri.trigger, sizeof(ri.trigger), "%s", r->trigger);
	ri.start_us = r->start_us;
	ri.end_us = clock_now();
	if (ri.end_us <= ri.start_us)
		ri.end_us = ri.start_us + 1;
	ri.duration_s = (double)(clock_mono() - r->start_mono) / 1e6;
	int sev = 0;
	const char *status;
	if (r->interrupted) {
		status = "interrupted";
		snprintf(r->reason, sizeof(r->reason), "stopped: the daemon was asked to stop");
	} else if (r->timed_out) {
		status = "timeout";
		char span[48];
		human_span(span, sizeof(span), r->job->cfg ? r->job->cfg->timeout_s : 0);
		snprintf(r->reason, sizeof(r->reason), "timed out after %s", span);
	} else if (r->failed) {
		status = r->fail_what[0] ? "failed" : main_status_word(r->kind, r->fail_status, &sev);
	} else if (r->main_status < 0) {
		status = "failed";
		if (!r->reason[0])
			snprintf(r->reason, sizeof(r->reason), "it could not be started");
	} else {
		status = main_status_word(r->kind, r->main_status, &sev);
	}
	snprintf(ri.status, sizeof(ri.status), "%s", status);
	ri.exit_code = r->failed ? r->fail_status : r->main_status;
	snprintf(ri.reason, sizeof(ri.reason), "%s", r->reason);
	result_backup sum;
	if (r->kind == JOB_BACKUP && result_backup_summary(r->result, &sum)) {
		ri.has_summary = 1;
		ri.files = sum.files;
		ri.bytes_read = sum.bytes_read;
		ri.bytes_added = sum.bytes_added;
		memcpy(ri.snapshot_id, sum.snapshot_id, sizeof(ri.snapshot_id));
		ri.journal = !sum.journal_asked ? RUN_JOURNAL_NONE
			     : sum.journal_used ? RUN_JOURNAL_USED : RUN_JOURNAL_NOT_USED;
		ri.journal_dirs = sum.journal_dirs;
		if (ri.journal == RUN_JOURNAL_NOT_USED)
			snprintf(ri.journal_reason, sizeof(ri.journal_reason), "%.250s%s%.250s", r->journal_note,
				 r->journal_note[0] ? "; " : "", sum.journal_reason);
	}
	result_sync sy;
	if (r->kind == JOB_SYNC && result_sync_summary(r->result, &sy)) {
		/* the row's columns, as docs/daemon.md says for a sync: files is snapshots copied,
		 * bytes_added what the replica gained, mismatches the snapshots not copied */
		ri.has_summary = 1;
		ri.files = sy.copied;
		ri.bytes_read = sy.bytes_read;
		ri.bytes_added = sy.bytes_written;
		ri.mismatches = sy.skipped;
		ri.bytes_per_second = sy.seconds > 0 ? (double)sy.bytes_read / sy.seconds : 0;
	}
	result_drill dr;
	if (r->kind == JOB_DRILL && result_drill_summary(r->result, &dr)) {
		ri.has_summary = 1;
		ri.files = dr.files;
		ri.bytes_read = dr.bytes;
		ri.mismatches = dr.mismatches;
		ri.bytes_per_second = dr.bytes_per_second;
		ri.estimate_s = dr.estimate_s;
		memcpy(ri.snapshot_id, dr.snapshot_id, sizeof(ri.snapshot_id));
	}
	buf_put_u8(&r->log, 0);
	ri.result = r->result;
	ri.log = r->log.data ? (char *)r->log.data : NULL;
	int rc = history_finish(d->hist, &ri);
	if (rc == 0 && j != &d->restore_job)
		rc = history_trim(d->hist, j->name, d->cfg->history);
	if (rc == 0 && status_success(status)) {
		rc = history_job_succeeded(d->hist, j->name, ri.end_us);
		j->last_success_us = ri.end_us;
	}
	if (rc < 0)
		log_error("%s", err_msg(rc));
	/* the tail of the log for a notification */
	const char *lg = ri.log ? ri.log : "";
	size_t ll = strlen(lg), from = ll > 900 ? ll - 900 : 0;
	while (from > 0 && from < ll && lg[from - 1] != '\n')
		from++;
	snprintf(j->last_tail, sizeof(j->last_tail), "%s", lg + from);
	ri.result = ri.log = NULL;
	run_info_release(&j->last);
	j->last = ri;
	j->has_last = 1;
	j->run = NULL;
	log_info("%s %s: %s%s%s (run %lld)", config_kind_name(r->kind), j->name, status, ri.reason[0] ? ": " : "",
		 ri.reason, (long long)r->id);
	if (r->repo_name && !r->interrupted)
		want_sample(d, r->repo_name);
	if (j != &d->restore_job && !r->interrupted)
		job_conditions(d, j);
}

/* Starts the next step, or finishes the run; 1 when the run is over. */
static int advance(daemon_state *d, daemon_run *r)
{
	while (r->cur < r->nsteps) {
		if (start_step(r) == 0)
			return 0;
		r->failed = 1;
		r->fail_status = -1;
		snprintf(r->reason, sizeof(r->reason), "%s", err_msg(-EIO));
		r->cur++;
		while (r->cur < r->nsteps && r->steps[r->cur].role != ROLE_AFTER)
			r->cur++;
	}
	finish_run(d, r);
	return 1;
}

static void remove_run(daemon_state *d, size_t i)
{
	run_free(d->runs[i]);
	d->runs[i] = d->runs[--d->nruns];
}

/* Creates and starts a run of j; the id when history_begin was done by the caller (or 0). */
static int start_run(daemon_state *d, daemon_job *j, const char *trigger, daemon_run *prepared)
{
	daemon_run *r = prepared;
	int rc = 0;
	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return -ENOMEM;
		r->kind = j->kind;
		r->main_status = -1;
		snprintf(r->trigger, sizeof(r->trigger), "%s", trigger);
		const dconf_job *c = j->cfg;
		if (c->repo && (!(r->repo_loc = strdup(c->repo->location)) || !(r->repo_name = strdup(c->repo->name))))
			rc = -ENOMEM;
		if (c->to && !(r->to_loc = strdup(c->to->location)))
			rc = -ENOMEM;
		r->read_data = c->read_data || c->read_data_subset;
		rc = rc ?: build_steps(d, r, c);
		const recorder *rec = c->journal ? find_recorder(d, j->name) : NULL;
		if (rec && !r->journal_note[0] && j->has_last && recorder_ended(rec) > j->last.start_us)
			/* its journal is newer than the last backup: this one walks everything, and why is this */
			snprintf(r->journal_note, sizeof(r->journal_note),
				 "the daemon restarted its recorder since the last backup (%s)", recorder_reason(rec));
		r->start_us = clock_now();
		rc = rc ?: history_begin(d->hist, j->name, config_kind_name(j->kind), trigger, r->start_us, &r->id);
		if (rc == 0 && c->timeout_s)
			r->deadline_mono = clock_mono() + c->timeout_s * CLOCK_USEC;
	}
	if (rc == 0)
		rc = array_reserve(&d->runs, &d->cap_runs, d->nruns + 1, sizeof(*d->runs));
	if (rc < 0) {
		log_error("cannot start %s %s: %s", config_kind_name(j->kind), j->name, err_msg(rc));
		run_free(r);
		return rc;
	}
	r->job = j;
	r->start_mono = clock_mono();
	j->run = r;
	j->pending = 0;
	d->runs[d->nruns++] = r;
	log_info("%s %s: started (run %lld, %s)", config_kind_name(j->kind), j->name, (long long)r->id, r->trigger);
	if (advance(d, r))
		remove_run(d, d->nruns - 1);
	return 0;
}

/* ---------- scheduling ---------- */

static int64_t random_below(int64_t n)
{
	if (n <= 0)
		return 0;
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)clock_mono() * 2654435761u;
	return (int64_t)(v % (uint64_t)n);
}

static void schedule_next(daemon_job *j, int64_t after)
{
	j->next_us = j->next_elapse_us = 0;
	if (!j->cfg || !j->cfg->schedule)
		return;
	int64_t e;
	int rc = calendar_next(&e, j->cfg->schedule, after);
	if (rc < 0) {
		if (rc != -DV_ENOTFOUND)
			log_error("%s %s: cannot compute the next time of '%s': %s", config_kind_name(j->kind),
				  j->name, j->cfg->schedule_text, err_msg(rc));
		return;
	}
	j->next_elapse_us = e;
	j->next_us = e + random_below(j->cfg->random_delay_s * CLOCK_USEC + 1);
}

static void set_pending(daemon_job *j, const char *trigger)
{
	if (j->pending || j->run)
		return; /* coalesced: one run is enough */
	j->pending = 1;
	snprintf(j->pending_trigger, sizeof(j->pending_trigger), "%s", trigger);
}

/* What a kind does to the repository at one of its locations: a prune deletes
 * packs; check, drill and both ends of a sync rely on packs staying (a sync
 * reads the source like check, and writes the replica like a backup but
 * trusts the packs it found there): they are serialized against a prune of it. */
enum { USE_NONE, USE_OTHER, USE_RELIES, USE_PRUNE };

static int repo_use(int kind)
{
	return kind == JOB_PRUNE ? USE_PRUNE
	       : kind == JOB_CHECK || kind == JOB_DRILL || kind == JOB_SYNC ? USE_RELIES : USE_OTHER;
}

static int uses_conflict(int a, int b)
{
	return (a == USE_PRUNE && (b == USE_PRUNE || b == USE_RELIES)) || (b == USE_PRUNE && a == USE_RELIES);
}

/* Would j conflict with the running r? */
static int conflicts(const daemon_job *j, const daemon_run *r)
{
	if (r->job == j)
		return 1;
	if (!j->cfg || !j->cfg->repo)
		return 0;
	const char *jl[2] = { j->cfg->repo->location, j->cfg->to ? j->cfg->to->location : NULL };
	const char *rl[2] = { r->repo_loc, r->to_loc };
	int ju = repo_use(j->kind), ru = repo_use(r->kind);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			if (jl[a] && rl[b] && strcmp(jl[a], rl[b]) == 0 && uses_conflict(ju, ru))
				return 1;
	return 0;
}

static int blocked(const daemon_state *d, const daemon_job *j)
{
	for (size_t i = 0; i < d->nruns; i++)
		if (conflicts(j, d->runs[i]))
			return 1;
	return 0;
}

static void start_due(daemon_state *d)
{
	int64_t now = clock_now();
	for (size_t i = 0; i < d->njobs; i++) {
		daemon_job *j = &d->jobs[i];
		if (!j->cfg || !j->next_us || j->next_us > now)
			continue;
		set_pending(j, "schedule");
		int rc = history_job_triggered(d->hist, j->name, j->next_elapse_us);
		if (rc < 0)
			log_error("%s", err_msg(rc));
		schedule_next(j, now > j->next_elapse_us ? now : j->next_elapse_us);
	}
	for (size_t i = 0; i < d->njobs && !d->stopping; i++) {
		daemon_job *j = &d->jobs[i];
		if (!j->pending || j->run || !j->cfg || d->nruns >= (size_t)d->cfg->concurrency || blocked(d, j))
			continue;
		const recorder *rec = j->cfg->journal ? find_recorder(d, j->name) : NULL;
		if (rec && recorder_starting(rec, clock_mono(), RECORDER_GRACE_US))
			continue; /* a walk that starts before the marks are placed serves no next backup */
		start_run(d, j, j->pending_trigger, NULL);
	}
}

/* ---------- conditions: failures, recoveries, the dead man's switch ---------- */

static void job_conditions(daemon_state *d, daemon_job *j)
{
	if (!j->cfg)
		return;
	char fail[RUN_REASON_MAX + 64] = "", over[256] = "", link[600] = "";
	int failed = 0;
	if (j->has_last && status_failed(j->last.status)) {
		failed = SEV_FAILING;
		snprintf(fail, sizeof(fail), "%s%s%s", strcmp(j->last.status, "damage") == 0 ? "found damage"
						      : strcmp(j->last.status, "timeout") == 0 ? "timed out"
						      : "failed",
			 j->last.reason[0] ? ": " : "", j->last.reason);
	} else if (j->has_last && strcmp(j->last.status, "partial") == 0) {
		failed = SEV_WARNING;
		snprintf(fail, sizeof(fail), "saved a snapshot, but some files could not be read%s%s",
			 j->last.reason[0] ? ": " : "", j->last.reason);
	}
	if (j->overdue) {
		char age[48], max[48];
		int64_t base = j->last_success_us ? j->last_success_us : j->first_seen_us;
		human_span(age, sizeof(age), (clock_now() - base) / CLOCK_USEC);
		human_span(max, sizeof(max), j->cfg->max_age_s);
		if (j->last_success_us)
			snprintf(over, sizeof(over), "has not succeeded for %s (max-age %s)", age, max);
		else
			snprintf(over, sizeof(over), "has not succeeded since the daemon first saw it %s ago%s (max-age %s)",
				 age, j->has_last ? "" : "; it never ran", max);
	}
	if (d->cfg->public_url && j->has_last)
		snprintf(link, sizeof(link), "%s/#/runs/%lld", d->cfg->public_url, (long long)j->last.id);
	notice_job nj = { j->name, config_kind_name(j->kind), failed, fail, j->overdue, over,
			  failed ? j->last_tail : NULL, link[0] ? link : NULL };
	int queued;
	int rc = notice_job_update(d->notices, &d->cfg->alerts, &nj, clock_now(), &queued);
	if (rc < 0)
		log_error("%s %s: notification: %s", config_kind_name(j->kind), j->name, err_msg(rc));
}

static void check_overdue(daemon_state *d)
{
	int64_t now = clock_now();
	for (size_t i = 0; i < d->njobs; i++) {
		daemon_job *j = &d->jobs[i];
		if (!j->cfg)
			continue;
		int64_t base = j->last_success_us ? j->last_success_us : j->first_seen_us;
		int over = j->cfg->max_age_s > 0 && now - base > j->cfg->max_age_s * CLOCK_USEC;
		if (over != j->overdue) {
			j->overdue = over;
			if (over)
				log_warn("%s %s is overdue: no success within its max-age", config_kind_name(j->kind), j->name);
			job_conditions(d, j);
		}
	}
}

/* ---------- repository samples ---------- */

void daemon_disk_state_path(const daemon_state *d, char out[600])
{
	for (size_t i = 0; i < d->cfg->njobs; i++)
		if (d->cfg->jobs[i].kind == JOB_DISKS && d->cfg->jobs[i].state) {
			snprintf(out, 600, "%s", d->cfg->jobs[i].state);
			return;
		}
	snprintf(out, 600, "%s/disks.db", d->cfg->state_dir);
}

const dconf_repo *daemon_find_repo(const daemon_state *d, const char *name)
{
	for (size_t i = 0; i < d->cfg->nrepos; i++)
		if (strcmp(d->cfg->repos[i].name, name) == 0)
			return &d->cfg->repos[i];
	return NULL;
}

static void start_samples(daemon_state *d)
{
	for (size_t i = 0; i < d->nrepos && !d->stopping; i++) {
		daemon_repo *p = &d->repos[i];
		const dconf_repo *c = daemon_find_repo(d, p->name);
		if (!p->want || p->child || !c)
			continue;
		int busy = 0;
		for (size_t k = 0; k < d->nruns; k++)
			busy |= d->runs[k]->repo_loc && strcmp(d->runs[k]->repo_loc, c->location) == 0 &&
				d->runs[k]->kind == JOB_PRUNE;
		if (busy)
			continue;
		char *env[2], b[600];
		daemon_repo_env(d, c, env, b);
		char *argv[] = { (char *)runner_self(), "--json", "-r", c->location, "stats", NULL };
		runner_spec spec = { argv, env[0] ? env : NULL, 1 << 20, 64 << 10, 0 };
		p->want = 0;
		int rc = runner_start(&p->child, &spec);
		if (rc < 0)
			log_error("repository %s: cannot measure it: %s", p->name, err_msg(rc));
	}
}

static void sample_done(daemon_state *d, daemon_repo *p, int st)
{
	result_stats s;
	const buf *out = runner_stdout(p->child);
	char *text = strndup(out->data ? (const char *)out->data : "", out->len);
	if (st == 0 && text && result_stats_sample(text, &s)) {
		history_sample hs = { clock_now(), s.snapshots, s.size, s.logical };
		int rc = history_sample_add(d->hist, p->name, &hs);
		if (rc < 0)
			log_error("%s", err_msg(rc));
		p->time_us = hs.time;
		p->size = s.size;
		p->snapshots = s.snapshots;
		p->logical = s.logical;
	} else if (!d->stopping) {
		char line[400];
		runner_last_line(runner_stderr(p->child), line, sizeof(line));
		log_warn("repository %s: cannot measure it: %s", p->name, line[0] ? line : "stats failed");
	}
	free(text);
	runner_free(p->child);
	p->child = NULL;
}

/* ---------- configuration ---------- */

static daemon_job *find_job(daemon_state *d, const char *name)
{
	for (size_t i = 0; i < d->njobs; i++)
		if (strcmp(d->jobs[i].name, name) == 0)
			return &d->jobs[i];
	return NULL;
}

/* Reads what the history remembers of a job and schedules it (catch-up included). */
static int job_load(daemon_state *d, daemon_job *j, int at_start)
{
	int64_t now = clock_now();
	history_job_state st;
	int rc = history_job_seen(d->hist, j->name, now);
	rc = rc ?: history_job_get(d->hist, j->name, &st);
	if (rc < 0)
		return rc;
	j->first_seen_us = st.first_seen;
	j->last_success_us = st.last_success;
	run_info last;
	if (!j->has_last && history_last(d->hist, j->name, 0, &last) == 1) {
		run_info_release(&last);
		j->last = last;
		j->has_last = 1;
	}
	schedule_next(j, now);
	if (at_start && j->cfg->schedule && j->cfg->persistent) {
		int64_t base = st.last_trigger ? st.last_trigger : st.first_seen, e;
		if (calendar_next(&e, j->cfg->schedule, base) == 0 && e <= now) {
			/* missed while the daemon was not running: once, now */
			set_pending(j, "catch-up");
			rc = history_job_triggered(d->hist, j->name, now);
		}
	}
	return rc;
}

static int sync_repos(daemon_state *d)
{
	for (size_t i = 0; i < d->cfg->nrepos; i++) {
		const char *name = d->cfg->repos[i].name;
		int have = 0;
		for (size_t k = 0; k < d->nrepos && !have; k++)
			have = strcmp(d->repos[k].name, name) == 0;
		if (have)
			continue;
		int rc = array_reserve(&d->repos, &d->cap_repos, d->nrepos + 1, sizeof(*d->repos));
		if (rc < 0)
			return rc;
		daemon_repo *p = &d->repos[d->nrepos++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->want = 1;
	}
	return 0;
}

static int last_sample_fn(void *ud, const history_sample *s)
{
	daemon_repo *p = ud;
	p->time_us = s->time;
	p->size = s->size;
	p->snapshots = s->snapshots;
	p->logical = s->logical;
	return 0;
}

/* Makes the job table match d->cfg (new jobs added, changed ones updated, removed ones detached). */
static int apply_config(daemon_state *d, int at_start)
{
	dconf *c = d->cfg;
	int rc = 0;
	for (size_t i = 0; i < d->njobs; i++) {
		daemon_job *j = &d->jobs[i];
		const dconf_job *n = config_find_job(c, j->name);
		if (n && n->kind != j->kind)
			n = NULL; /* same name, other kind: a new job */
		const char *old_sched = j->cfg ? j->cfg->schedule_text : NULL;
		j->cfg = n;
		if (!n) {
			j->pending = 0;
			j->next_us = 0;
			continue;
		}
		if (!old_sched != !n->schedule_text || (old_sched && strcmp(old_sched, n->schedule_text) != 0) ||
		    !j->next_us)
			schedule_next(j, clock_now());
	}
	for (size_t i = 0; rc == 0 && i < c->njobs; i++) {
		const dconf_job *n = &c->jobs[i];
		daemon_job *j = find_job(d, n->name);
		if (j && j->kind == n->kind)
			continue;
		if (j && j->run) {
			log_warn("%s %s: the configuration changed its kind while it runs; it is taken up at the next reload",
				 config_kind_name(n->kind), n->name);
			continue;
		}
		if (!j) {
			rc = array_reserve(&d->jobs, &d->cap_jobs, d->njobs + 1, sizeof(*d->jobs));
			if (rc < 0)
				break;
			/* runs point to their job: the array may have moved */
			for (size_t k = 0; k < d->njobs; k++)
				if (d->jobs[k].run)
					d->jobs[k].run->job = &d->jobs[k];
			j = &d->jobs[d->njobs++];
		} else {
			run_info_release(&j->last);
		}
		memset(j, 0, sizeof(*j));
		snprintf(j->name, sizeof(j->name), "%s", n->name);
		j->kind = n->kind;
		j->cfg = n;
		rc = job_load(d, j, at_start);
		if (!at_start)
			log_info("%s %s: added", config_kind_name(n->kind), n->name);
		else if (rc == 0)
			job_conditions(d, j); /* a run the last daemon left "aborted" is a failure to tell */
	}
	/* drop removed jobs that are not running (their runs keep them until they end) */
	for (size_t i = 0; i < d->njobs;) {
		daemon_job *j = &d->jobs[i];
		if (j->cfg || j->run) {
			i++;
			continue;
		}
		log_info("%s %s: removed", config_kind_name(j->kind), j->name);
		notice_job_forget(d->notices, j->name);
		run_info_release(&j->last);
		d->jobs[i] = d->jobs[--d->njobs];
		if (d->jobs[i].run && i < d->njobs)
			d->jobs[i].run->job = &d->jobs[i];
	}
	rc = rc ?: sync_repos(d);
	for (size_t i = 0; rc == 0 && i < d->nrepos; i++)
		if (!d->repos[i].time_us)
			rc = history_samples(d->hist, d->repos[i].name, 1, last_sample_fn, &d->repos[i]);
	rc = rc ?: auth_set_users(d->auth, c->users, c->hashes, c->nusers, c->session_s);
	return rc;
}

static void reload(daemon_state *d)
{
	sdnotify("RELOADING=1\nSTATUS=reloading the configuration");
	dconf *n;
	int nerr, rc = config_load(&n, d->config_path, &nerr);
	if (rc < 0) {
		if (rc == -EINVAL)
			log_error("reload refused: '%s' has %d error%s (see above); the running configuration stays",
				  d->config_path, nerr, nerr == 1 ? "" : "s");
		else
			log_error("reload refused: %s; the running configuration stays", err_msg(rc));
		sdnotify("READY=1\nSTATUS=reload refused: the configuration has errors");
		return;
	}
	int web_changed = !d->cfg->listen != !n->listen ||
			  (n->listen && strcmp(d->cfg->listen, n->listen) != 0) ||
			  !d->cfg->tls_cert != !n->tls_cert || (n->tls_cert && strcmp(d->cfg->tls_cert, n->tls_cert) != 0) ||
			  !d->cfg->tls_key != !n->tls_key || (n->tls_key && strcmp(d->cfg->tls_key, n->tls_key) != 0);
	if (strcmp(d->cfg->state_dir, n->state_dir) != 0)
		log_warn("state-dir changed: it takes effect at the next start");
	/* the running runs hold copies of what they need; the old configuration can go */
	dconf *old = d->cfg;
	d->cfg = n;
	rc = apply_config(d, 0);
	if (rc < 0)
		log_error("reload: %s", err_msg(rc));
	if (web_changed) {
		/* the web threads take the lock: stopping them while holding it would deadlock */
		pthread_mutex_unlock(&d->lock);
		web_stop(d, 0);
		rc = web_start(d, 0);
		pthread_mutex_lock(&d->lock);
		if (rc < 0)
			log_error("reload: the web UI: %s", err_msg(rc));
	}
	/* the disks' and zpool's jobs read channels from the file themselves */
	free(n->state_dir);
	n->state_dir = old->state_dir;
	old->state_dir = NULL;
	config_free(old);
	sync_recorders(d);
	log_info("configuration reloaded: %zu jobs", d->njobs);
	char st[128];
	snprintf(st, sizeof(st), "READY=1\nSTATUS=%zu jobs, %zu running", d->njobs, d->nruns);
	sdnotify(st);
}

/* ---------- requests from the web threads ---------- */

void daemon_wake(daemon_state *d)
{
	uint64_t one = 1;
	if (write(d->evfd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop is awake anyway */
	}
}

int daemon_request_run(daemon_state *d, const char *name)
{
	daemon_job *j = find_job(d, name);
	if (!j || !j->cfg)
		return -ENOENT;
	if (d->stopping)
		return -ESHUTDOWN;
	if (j->run || j->pending)
		return -EBUSY;
	set_pending(j, "manual");
	daemon_wake(d);
	return 0;
}

/* path lies at or below root (both absolute, without trailing slashes but "/") */
static int is_below(const char *path, const char *root)
{
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	return strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == 0);
}

/*
 * The target with its existing part resolved (realpath of the longest
 * prefix that exists, the rest appended), so that a symlink inside a
 * restore root cannot lead a restore outside it.  0, or -EINVAL.
 */
static int resolve_target(const char *target, char out[PATH_MAX])
{
	char head[PATH_MAX];
	size_t n = strlen(target);
	if (n >= sizeof(head))
		return -ENAMETOOLONG;
	memcpy(head, target, n + 1);
	const char *rest = "";
	char real[PATH_MAX];
	for (;;) {
		if (realpath(head, real)) {
			int k = snprintf(out, PATH_MAX, "%s%s%s", real, *rest && strcmp(real, "/") ? "/" : "", rest);
			return k < 0 || k >= PATH_MAX ? -ENAMETOOLONG : 0;
		}
		char *slash = strrchr(head, '/');
		if (!slash || slash == head)
			return -EINVAL;
		*slash = 0;
		rest = target + (slash - head) + 1;
	}
}

static int below_root(const daemon_state *d, const char *target)
{
	/* lexically first: no "..", no "." components, below one of the roots */
	if (target[0] != '/' || strstr(target, "/../") || strstr(target, "/./"))
		return 0;
	size_t tl = strlen(target);
	if ((tl >= 3 && strcmp(target + tl - 3, "/..") == 0) || (tl >= 2 && strcmp(target + tl - 2, "/.") == 0))
		return 0;
	char rt[PATH_MAX], rr[PATH_MAX];
	if (resolve_target(target, rt) < 0)
		return 0;
	for (size_t i = 0; i < d->cfg->nrestore_roots; i++) {
		const char *root = d->cfg->restore_roots[i];
		/* then where it really leads: the root resolved too, when it exists */
		if (is_below(target, root) && is_below(rt, realpath(root, rr) ? rr : root))
			return 1;
	}
	return 0;
}

int daemon_request_restore(daemon_state *d, const char *repo_name, const char *snap, const char *path,
			   const char *target, int64_t *id)
{
	const dconf_repo *c = daemon_find_repo(d, repo_name);
	if (!c)
		return err_set(-ENOENT, "no repository '%s'", repo_name);
	if (d->stopping)
		return -ESHUTDOWN;
	if (!d->cfg->nrestore_roots)
		return err_set(-EPERM, "restoring to the host is off: [web] has no restore-root");
	if (!below_root(d, target))
		return err_set(-EPERM, "'%s' is not below a restore-root of [web]", target);
	if (d->restore_job.run || d->pending_restore)
		return err_set(-EBUSY, "another restore is running");
	daemon_run *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = JOB_RESTORE;
	r->main_status = -1;
	snprintf(r->trigger, sizeof(r->trigger), "manual");
	step *s = dvalin_step(d, r, c, ROLE_MAIN);
	int rc = s ? 0 : -ENOMEM;
	if (rc == 0 && (!(r->repo_loc = strdup(c->location)) || !(r->repo_name = strdup(c->name))))
		rc = -ENOMEM;
	rc = rc ?: step_add(s, "restore");
	rc = rc ?: step_addf(s, "--target=%s", target);
	/* the path as an --include glob: its special characters escaped */
	char glob[PATH_MAX * 2];
	size_t g = 0;
	for (const char *p = path; rc == 0 && *p && g + 2 < sizeof(glob); p++) {
		if (strchr("*?[]\\", *p))
			glob[g++] = '\\';
		glob[g++] = *p;
	}
	glob[g] = 0;
	if (rc == 0 && strcmp(path, "/") != 0)
		rc = step_addf(s, "--include=%s", glob);
	rc = rc ?: step_add(s, "--");
	rc = rc ?: step_add(s, snap);
	r->start_us = clock_now();
	rc = rc ?: history_begin(d->hist, "restore", "restore", "manual", r->start_us, &r->id);
	if (rc < 0) {
		run_free(r);
		return rc;
	}
	*id = r->id;
	d->pending_restore = r;
	daemon_wake(d);
	return 0;
}

void daemon_job_info(daemon_state *d, const daemon_job *j, job_info *out)
{
	memset(out, 0, sizeof(*out));
	out->name = j->name;
	out->kind = config_kind_name(j->kind);
	out->repository = j->cfg && j->cfg->repo ? j->cfg->repo->name : NULL;
	out->schedule = j->cfg && j->cfg->schedule ? calendar_text(j->cfg->schedule) : NULL;
	out->next_us = j->next_us;
	out->max_age_s = j->cfg ? j->cfg->max_age_s : 0;
	out->last_success_us = j->last_success_us;
	out->known_since_us = j->first_seen_us;
	out->overdue = j->overdue;
	out->running_id = j->run ? j->run->id : 0;
	out->queued = j->pending;
	out->last = j->has_last ? &j->last : NULL;
	const recorder *rec = j->cfg && j->cfg->journal ? find_recorder(d, j->name) : NULL;
	if (rec) {
		out->journal = 1;
		out->journal_state = recorder_state(rec);
		out->journal_pid = recorder_pid(rec);
		out->journal_restarts = recorder_restarts(rec);
		out->journal_reason = recorder_reason(rec);
		out->journal_file = recorder_file(rec);
	}
}

typedef struct {
	metrics_disk *v;
	size_t n, cap;
	char (*names)[3][128];
} disk_list;

static int add_disk(void *ud, const result_disk *r)
{
	disk_list *l = ud;
	if (l->n >= 256)
		return 0;
	metrics_disk *m = &l->v[l->n];
	memset(m, 0, sizeof(*m));
	snprintf(l->names[l->n][0], 128, "%s", r->device);
	snprintf(l->names[l->n][1], 128, "%s", r->model);
	snprintf(l->names[l->n][2], 128, "%s", r->serial);
	m->device = l->names[l->n][0];
	m->model = l->names[l->n][1];
	m->serial = l->names[l->n][2];
	m->verdict = r->verdict;
	m->has_temp = r->has_temp;
	m->temp = r->temp;
	m->has_hours = r->has_hours;
	m->hours = r->hours;
	m->reallocated = m->pending = m->uncorrectable = m->crc_errors = m->media_errors = -1;
	l->n++;
	return 0;
}

/* The key counters of each disk from the disks' state database. */
static void disk_counters(daemon_state *d, disk_list *l)
{
	char path[600];
	daemon_disk_state_path(d, path);
	struct stat st;
	diskstate *ds;
	if (stat(path, &st) < 0 || diskstate_open(&ds, path) < 0)
		return;
	for (size_t i = 0; i < l->n; i++) {
		metrics_disk *m = &l->v[i];
		char key[300];
		if (m->serial[0])
			snprintf(key, sizeof(key), "%.120s/%.120s", m->model, m->serial);
		else
			snprintf(key, sizeof(key), "device:%.128s", m->device);
		static const struct {
			const char *k;
			size_t off;
		} c[] = {
			{ "ata.5", offsetof(metrics_disk, reallocated) },
			{ "ata.197", offsetof(metrics_disk, pending) },
			{ "ata.198", offsetof(metrics_disk, uncorrectable) },
			{ "ata.199", offsetof(metrics_disk, crc_errors) },
			{ "nvme.media_errors", offsetof(metrics_disk, media_errors) },
		};
		for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
			uint64_t v;
			if (diskstate_prev(ds, key, c[k].k, &v) == 0 && v <= INT64_MAX) {
				int64_t sv = (int64_t)v;
				memcpy((char *)m + c[k].off, &sv, sizeof(sv));
			}
		}
	}
	diskstate_close(ds);
}

void daemon_metrics(daemon_state *d, FILE *f)
{
	metrics_job *mj = calloc(d->njobs + 1, sizeof(*mj));
	metrics_repo *mr = calloc(d->nrepos + 1, sizeof(*mr));
	disk_list dl = { calloc(256, sizeof(metrics_disk)), 0, 256, calloc(256, sizeof(*dl.names)) };
	if (!mj || !mr || !dl.v || !dl.names)
		goto out;
	size_t queued = 0;
	for (size_t i = 0; i < d->njobs; i++) {
		const daemon_job *j = &d->jobs[i];
		metrics_job *m = &mj[i];
		m->name = j->name;
		m->kind = config_kind_name(j->kind);
		m->last_success_us = j->last_success_us;
		m->last_end_us = j->has_last ? j->last.end_us : 0;
		m->last_duration_s = j->has_last ? j->last.duration_s : 0;
		m->last_exit = j->has_last ? j->last.exit_code : -1;
		m->has_bytes = j->has_last && j->last.has_summary && j->kind == JOB_BACKUP;
		m->last_bytes_added = j->last.bytes_added;
		m->has_drill = j->has_last && j->last.has_summary && j->kind == JOB_DRILL;
		m->drill_files = j->last.files;
		m->drill_mismatches = j->last.mismatches;
		m->drill_bytes_per_second = j->last.bytes_per_second;
		m->drill_estimate_s = j->last.estimate_s;
		m->running = j->run != NULL;
		m->overdue = j->overdue;
		m->next_us = j->next_us;
		const recorder *rec = j->cfg && j->cfg->journal ? find_recorder(d, j->name) : NULL;
		m->journal = rec != NULL;
		m->journal_up = rec && strcmp(recorder_state(rec), "recording") == 0;
		m->journal_restarts = rec ? recorder_restarts(rec) : 0;
		m->journal_used = j->has_last && j->last.journal != RUN_JOURNAL_NONE
					  ? j->last.journal == RUN_JOURNAL_USED : -1;
		queued += j->pending;
	}
	for (size_t i = 0; i < d->nrepos; i++)
		mr[i] = (metrics_repo){ d->repos[i].name, d->repos[i].time_us, d->repos[i].size, d->repos[i].snapshots,
					d->repos[i].logical };
	/* the disks of the last disk check that read them */
	for (size_t i = 0; i < d->njobs; i++) {
		if (d->jobs[i].kind != JOB_DISKS)
			continue;
		run_info r;
		if (history_last(d->hist, d->jobs[i].name, 1, &r) == 1) {
			result_disks(r.result, add_disk, &dl);
			run_info_release(&r);
		}
		break;
	}
	disk_counters(d, &dl);
	uint64_t sent = 0, failed = 0;
	notice_counts(d->notices, &sent, &failed);
	metrics_state s = { mj, d->njobs, mr, d->nrepos, dl.v, dl.n, d->start_us, clock_now(), (int)d->nruns,
			    (int)queued, sent, failed, d->version };
	metrics_write(f, &s);
out:
	free(mj);
	free(mr);
	free(dl.v);
	free(dl.names);
}

/* ---------- the loop ---------- */

static void stop_runs(daemon_state *d)
{
	for (size_t i = 0; i < d->nruns; i++) {
		daemon_run *r = d->runs[i];
		r->interrupted = 1;
		if (r->child)
			runner_signal(r->child, SIGINT);
	}
	for (size_t i = 0; i < d->nrepos; i++)
		if (d->repos[i].child)
			runner_signal(d->repos[i].child, SIGINT);
	for (size_t i = 0; i < d->nrecs; i++)
		recorder_stop(d->recs[i]);
}

static void check_deadlines(daemon_state *d)
{
	int64_t now = clock_mono();
	for (size_t i = 0; i < d->nruns; i++) {
		daemon_run *r = d->runs[i];
		if (!r->child)
			continue;
		if (r->deadline_mono && now >= r->deadline_mono && !r->timed_out && !r->interrupted) {
			r->timed_out = 1;
			log_warn("%s %s: timed out; stopping it", config_kind_name(r->kind), r->job->name);
			runner_signal(r->child, SIGINT);
			r->kill_mono = now + KILL_GRACE_US;
		}
		if (d->stopping && d->stop_deadline_mono && now >= d->stop_deadline_mono && !r->kill_mono)
			r->kill_mono = now;
		if (r->kill_mono && now >= r->kill_mono) {
			runner_signal(r->child, SIGKILL);
			r->kill_mono = INT64_MAX;
		}
	}
	if (d->stopping && d->stop_deadline_mono && now >= d->stop_deadline_mono) {
		for (size_t i = 0; i < d->nrepos; i++)
			if (d->repos[i].child)
				runner_signal(d->repos[i].child, SIGKILL);
		for (size_t i = 0; i < d->nrecs; i++)
			recorder_kill(d->recs[i]);
	}
}

static void reap(daemon_state *d)
{
	for (size_t i = 0; i < d->nruns;) {
		daemon_run *r = d->runs[i];
		int st;
		if (r->child && runner_reap(r->child, &st) == 1) {
			step_done(d, r, st);
			if (advance(d, r)) {
				remove_run(d, i);
				continue;
			}
		}
		i++;
	}
	for (size_t i = 0; i < d->nrepos; i++) {
		int st;
		if (d->repos[i].child && runner_reap(d->repos[i].child, &st) == 1)
			sample_done(d, &d->repos[i], st);
	}
	reap_recorders(d);
}

/* Until the next thing due: a job's next run, or the moment a job becomes overdue. */
static int poll_timeout(daemon_state *d)
{
	int ms = TICK_MS;
	for (size_t i = 0; i < d->njobs; i++) {
		const daemon_job *j = &d->jobs[i];
		if (j->next_us) {
			int w = clock_real_wait_ms(j->next_us, ms);
			ms = w < ms ? w : ms;
		}
		if (j->cfg && j->cfg->max_age_s > 0 && !j->overdue) {
			int64_t base = j->last_success_us ? j->last_success_us : j->first_seen_us;
			int w = clock_real_wait_ms(base + j->cfg->max_age_s * CLOCK_USEC + 1, ms);
			ms = w < ms ? w : ms;
		}
	}
	return ms;
}

static void handle_signals(daemon_state *d)
{
	struct signalfd_siginfo si;
	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!d->stopping) {
				log_info("stopping: %zu job%s running", d->nruns, d->nruns == 1 ? "" : "s");
				sdnotify("STOPPING=1\nSTATUS=stopping");
				d->stopping = 1;
				d->stop_deadline_mono = clock_mono() + d->cfg->stop_timeout_s * CLOCK_USEC;
				stop_runs(d);
			}
			break;
		case SIGHUP:
			d->reload_asked = 1;
			break;
		default:
			break; /* SIGCHLD: reaped below */
		}
	}
}

static void watchdog(daemon_state *d)
{
	if (!d->watchdog_us)
		return;
	int64_t now = clock_mono();
	if (now - d->last_watchdog >= d->watchdog_us / 2) {
		sdnotify("WATCHDOG=1");
		d->last_watchdog = now;
	}
}

static void loop(daemon_state *d)
{
	struct pollfd p[MAX_POLL];
	for (;;) {
		pthread_mutex_lock(&d->lock);
		if (d->stopping && d->nruns == 0) {
			int busy = 0;
			for (size_t i = 0; i < d->nrepos; i++)
				busy |= d->repos[i].child != NULL;
			for (size_t i = 0; i < d->nrecs; i++)
				busy |= recorder_running(d->recs[i]);
			if (!busy) {
				pthread_mutex_unlock(&d->lock);
				return;
			}
		}
		nfds_t n = 0;
		p[n++] = (struct pollfd){ d->sigfd, POLLIN, 0 };
		p[n++] = (struct pollfd){ d->evfd, POLLIN, 0 };
		for (size_t i = 0; i < d->nruns; i++) {
			int fds[2] = { -1, -1 };
			if (d->runs[i]->child)
				runner_fds(d->runs[i]->child, fds);
			for (int k = 0; k < 2 && n < MAX_POLL; k++)
				if (fds[k] >= 0)
					p[n++] = (struct pollfd){ fds[k], POLLIN, 0 };
		}
		for (size_t i = 0; i < d->nrepos; i++) {
			int fds[2] = { -1, -1 };
			if (d->repos[i].child)
				runner_fds(d->repos[i].child, fds);
			for (int k = 0; k < 2 && n < MAX_POLL; k++)
				if (fds[k] >= 0)
					p[n++] = (struct pollfd){ fds[k], POLLIN, 0 };
		}
		for (size_t i = 0; i < d->nrecs; i++) {
			int fds[2];
			recorder_fds(d->recs[i], fds);
			for (int k = 0; k < 2 && n < MAX_POLL; k++)
				if (fds[k] >= 0)
					p[n++] = (struct pollfd){ fds[k], POLLIN, 0 };
		}
		int timeout = poll_timeout(d);
		if (d->watchdog_us) {
			int w = (int)(d->watchdog_us / 2000 / 2);
			timeout = w < timeout ? (w > 10 ? w : 10) : timeout;
		}
		pthread_mutex_unlock(&d->lock);
		int k = poll(p, n, timeout);
		pthread_mutex_lock(&d->lock);
		if (k > 0) {
			if (p[0].revents)
				handle_signals(d);
			if (p[1].revents) {
				uint64_t v;
				if (read(d->evfd, &v, sizeof(v)) < 0) {
					/* nothing to read: another wake-up took it */
				}
			}
			for (nfds_t i = 2; i < n; i++) {
				if (!p[i].revents)
					continue;
				for (size_t r = 0; r < d->nruns; r++)
					if (d->runs[r]->child)
						runner_pump(d->runs[r]->child, p[i].fd);
				for (size_t r = 0; r < d->nrepos; r++)
					if (d->repos[r].child)
						runner_pump(d->repos[r].child, p[i].fd);
				for (size_t r = 0; r < d->nrecs; r++)
					recorder_pump(d->recs[r], p[i].fd);
			}
		}
		if (d->reload_asked && !d->stopping) {
			d->reload_asked = 0;
			reload(d);
		}
		reap(d);
		check_deadlines(d);
		if (!d->stopping) {
			if (d->pending_restore) {
				daemon_run *r = d->pending_restore;
				d->pending_restore = NULL;
				start_run(d, &d->restore_job, "manual", r);
			}
			tick_recorders(d);
			start_due(d);
			start_samples(d);
			check_overdue(d);
		}
		watchdog(d);
		pthread_mutex_unlock(&d->lock);
	}
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_sys(-errno, "cannot create the state directory '%s'", path);
	return 0;
}

static void daemon_release(daemon_state *d)
{
	web_stop(d, 1);
	for (size_t i = 0; i < d->nruns; i++)
		run_free(d->runs[i]);
	free(d->runs);
	if (d->pending_restore) {
		run_free(d->pending_restore);
		d->pending_restore = NULL;
	}
	for (size_t i = 0; i < d->njobs; i++)
		run_info_release(&d->jobs[i].last);
	run_info_release(&d->restore_job.last);
	free(d->jobs);
	for (size_t i = 0; i < d->nrepos; i++)
		runner_free(d->repos[i].child);
	free(d->repos);
	for (size_t i = 0; i < d->nrecs; i++)
		recorder_free(d->recs[i]);
	free(d->recs);
	notice_close(d->notices);
	history_close(d->hist);
	auth_free(d->auth);
	config_free(d->cfg);
	free(d->config_path);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->evfd >= 0)
		close(d->evfd);
	pthread_mutex_destroy(&d->lock);
}

int daemon_main(const char *config_path, const char *version)
{
	daemon_state dd, *d = &dd;
	memset(d, 0, sizeof(*d));
	d->sigfd = d->evfd = -1;
	d->version = version;
	pthread_mutex_init(&d->lock, NULL);
	/*
	 * Blocked before any thread exists (the notifier's, the web's): they
	 * inherit the mask, so the signals reach only the signalfd.  SIGPIPE
	 * stays blocked and unread: a client that goes away is an EPIPE.
	 */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGPIPE);
	int rc = clock_init(), nerr = 0;
	runner_self();
	if (rc == 0 && !(d->config_path = strdup(config_path)))
		rc = -ENOMEM;
	if (rc == 0) {
		rc = config_load(&d->cfg, config_path, &nerr);
		if (rc == -EINVAL)
			rc = err_set(rc, "'%s' has %d error%s (see above)", config_path, nerr, nerr == 1 ? "" : "s");
	}
	char path[600];
	rc = rc ?: make_dir(d->cfg->state_dir);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/daemon.db", d->cfg->state_dir);
		rc = history_open(&d->hist, path);
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/alerts.db", d->cfg->state_dir);
		rc = notice_open(&d->notices, path);
	}
	rc = rc ?: auth_new(&d->auth);
	d->start_us = clock_now();
	rc = rc ?: history_recover(d->hist, d->start_us);
	snprintf(d->restore_job.name, sizeof(d->restore_job.name), "restore");
	d->restore_job.kind = JOB_RESTORE;
	rc = rc ?: apply_config(d, 1);
	if (rc == 0)
		sync_recorders(d);
	if (rc == 0) {
		d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
		d->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->sigfd < 0 || d->evfd < 0)
			rc = err_sys(-errno, "cannot create the daemon's signal and event descriptors");
	}
	rc = rc ?: web_start(d, 1);
	if (rc < 0) {
		log_error("%s", err_msg(rc));
		daemon_release(d);
		return 1;
	}
	d->watchdog_us = sdnotify_watchdog_usec();
	d->last_watchdog = clock_mono();
	log_info("dvalin daemon %s: %zu job%s from %s, state in %s", version, d->njobs, d->njobs == 1 ? "" : "s",
		 config_path, d->cfg->state_dir);
	char st[128];
	snprintf(st, sizeof(st), "READY=1\nSTATUS=%zu jobs", d->njobs);
	sdnotify(st);
	loop(d);
	log_info("stopped");
	daemon_release(d);
	return 0;
}
