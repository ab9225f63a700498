/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backup job: it runs the before hook, resolves the paths, finds the
 * parent snapshot, sets up the pipeline (ingest: chunk, keyed id,
 * compress, seal) and the file job pool, makes file system snapshots,
 * runs the walk (backup_walk.c) or reads the stream (backup_stream.c),
 * waits for every blob to be stored and records the snapshot; then it
 * removes the snapshots and runs the after hook.  The modules and threads
 * are described in docs/internals.md, "Backup".
 */
#include "backup.h"
#include "backup_file.h"
#include "backup_scan.h"
#include "backup_stream.h"
#include "backup_walk.h"
#include "journal.h"
#include "snapsel.h"
#include "fssnap.h"
#include "hook.h"
#include "treeio.h"
#include "../archive/ingest.h"
#include "../backend/local.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../core/crypto.h"
#include "../base/err.h"
#include "../base/guard.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../repo/session.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int normalize(const char *in, char **out)
{
	_cleanup_free_ char *abs = NULL;
	if (in[0] == '/') {
		abs = strdup(in);
	} else {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return -errno;
		if (asprintf(&abs, "%s/%s", cwd, in) < 0)
			abs = NULL;
	}
	if (!abs)
		return -ENOMEM;
	/* lexical clean-up of the components */
	char *res = malloc(strlen(abs) + 2);
	if (!res)
		return -ENOMEM;
	size_t rl = 0;
	for (char *save = NULL, *t = strtok_r(abs, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (strcmp(t, "..") == 0) {
			while (rl > 0 && res[--rl] != '/')
				;
			continue;
		}
		res[rl++] = '/';
		memcpy(res + rl, t, strlen(t));
		rl += strlen(t);
	}
	res[rl] = 0;
	if (rl == 0) {
		memcpy(res, "/", 2);
		*out = res;
		return 0;
	}
	/* resolve the directory part */
	char *slash = strrchr(res, '/');
	*slash = 0;
	char *dir = realpath(res[0] ? res : "/", NULL);
	if (!dir) {
		int e = -errno;
		*slash = '/';
		free(res);
		return e;
	}
	char *full;
	if (asprintf(&full, "%s/%s", strcmp(dir, "/") ? dir : "", slash + 1) < 0) {
		free(dir);
		free(res);
		return -ENOMEM;
	}
	free(dir);
	free(res);
	*out = full;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int same_paths(const snapshot *s, char **paths, size_t n)
{
	if (s->npaths != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->paths[i], paths[i]) != 0)
			return 0;
	return 1;
}

static int find_parent(repo *r, const backup_opts *o, const char *host, char **paths, size_t n,
		       snapshot **out)
{
	*out = NULL;
	if (o->force)
		return 0;
	if (o->parent)
		return snapsel_find(r, NULL, o->parent, out, NULL);
	snapshot **v;
	size_t cnt;
	int rc = repo_load_snapshots(r, &v, &cnt, NULL);
	if (rc < 0)
		return rc;
	for (size_t i = cnt; i-- > 0;) {
		if (strcmp(v[i]->host, host) == 0 && same_paths(v[i], paths, n)) {
			*out = v[i];
			v[i] = NULL;
			break;
		}
	}
	repo_free_snapshots(v, cnt);
	return 0;
}


static int fill_identity(snapshot *s, const backup_opts *o)
{
	char host[256] = "";
	if (o->host)
		snprintf(host, sizeof(host), "%s", o->host);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	struct passwd *pw = getpwuid(getuid());
	s->host = strdup(host);
	s->user = strdup(pw ? pw->pw_name : "");
	if (!s->host || !s->user)
		return -ENOMEM;
	if (o->has_time) {
		s->time = o->time;
		s->tz_offset = o->tz_offset;
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		s->time = ts.tv_sec;
		s->time_nsec = (uint32_t)ts.tv_nsec;
		s->tz_offset = (int32_t)tm.tm_gmtoff;
	}
	for (size_t i = 0; i < o->ntags; i++)
		if (strlist_add(&s->tags, &s->ntags, o->tags[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* The components of a normalized absolute path ("/" has none). */
static size_t path_depth(const char *p)
{
	size_t d = 0;
	for (; *p; p++)
		d += *p == '/' && p[1];
	return d;
}

/* Normalized, sorted, de-duplicated paths; nested ones are dropped. */
static int prepare_paths(const backup_opts *o, char ***out, size_t *out_n)
{
	char **v = calloc(o->npaths ? o->npaths : 1, sizeof(*v));
	size_t n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < o->npaths; i++) {
		char *p = NULL;
		int rc = normalize(o->paths[i], &p);
		struct stat st;
		if (rc == 0 && lstat(p, &st) < 0)
			rc = -errno;
		if (rc < 0) {
			free(p);
			strlist_free(v, n);
			return err_sys(rc, "cannot back up '%s'", o->paths[i]);
		}
		if (path_depth(p) > TREE_MAX_DEPTH) {
			free(p);
			strlist_free(v, n);
			return err_set(-ENAMETOOLONG, "cannot back up '%s': deeper than %d levels",
				       o->paths[i], TREE_MAX_DEPTH);
		}
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0) {
			size_t l = strlen(v[k - 1]);
			if (strcmp(v[k - 1], "/") == 0 ||
			    (strncmp(v[i], v[k - 1], l) == 0 && (v[i][l] == 0 || v[i][l] == '/'))) {
				free(v[i]);
				continue;
			}
		}
		v[k++] = v[i];
	}
	*out = v;
	*out_n = k;
	return 0;
}

/*
 * What must happen whatever becomes of the backup: the after hook (once
 * the data may change again) and the removal of file system snapshots,
 * done by this process or, if it dies first, by the guard.
 */
typedef struct {
	const backup_opts *o;
	guard *g;
	fssnap *fs;
	unsigned after_id;
	int after_pending;
	int failed; /* a cleanup step failed (logged) */
} backup_cleanup;

static int cleanup_start(backup_cleanup *c, const backup_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	if (!o->after && !o->snapshot)
		return 0;
	int rc = guard_new(&c->g);
	if (rc == 0 && o->after) {
		const char *argv[] = { "/bin/sh", "-c", o->after, NULL };
		rc = guard_add(c->g, "the after hook", argv, o->hook_timeout, 0, &c->after_id);
		c->after_pending = rc == 0;
	}
	return rc;
}

static void run_after(backup_cleanup *c)
{
	if (!c->after_pending)
		return;
	c->after_pending = 0;
	guard_dismiss(c->g, c->after_id);
	hook h = { "after", c->o->after, c->o->hook_timeout };
	int rc = hook_run(&h, NULL, NULL);
	if (rc < 0) {
		log_error("%s", err_msg(rc));
		c->failed = 1;
	}
}

static void cleanup_finish(backup_cleanup *c)
{
	if (c->fs && fssnap_remove(c->fs) < 0)
		c->failed = 1;
	fssnap_free(c->fs);
	c->fs = NULL;
	run_after(c);
	guard_free(c->g);
	c->g = NULL;
}

static void digest_list(buf *b, const char *label, char **v, size_t n)
{
	buf_appendf(b, "%s %zu", label, n);
	for (size_t i = 0; i < n; i++) {
		buf_put_le32(b, (uint32_t)strlen(v[i]));
		buf_append(b, v[i], strlen(v[i]));
	}
}

/* SHA-256 of what the walk leaves out or reads differently (snapshot field 9). */
static int walk_digest(const backup_opts *o, uint8_t out[32])
{
	buf b _cleanup_(buf_releasep) = BUF_INIT;
	buf_appendf(&b, "dvalin-walk-v1");
	digest_list(&b, "exclude", o->excludes, o->nexcludes);
	digest_list(&b, "iexclude", o->iexcludes, o->niexcludes);
	digest_list(&b, "if-present", o->if_present, o->nif_present);
	int rc = buf_appendf(&b, "caches %d larger %llu xdev %d devices %d snapshot %d", o->exclude_caches,
			     (unsigned long long)o->larger_than, o->one_file_system, o->read_devices,
			     o->snapshot);
	if (rc < 0)
		return rc;
	crypto_sha256(out, b.data, b.len);
	return 0;
}

/*
 * With --journal: 1 and *dirty when the journal covers the time since
 * the parent's walk started, else 0 and one line in why saying why.
 */
static int journal_answer(const backup_opts *o, const snapshot *s, const snapshot *parent,
			  const tree *ptree, char **paths, size_t npaths, journal_set *dirty, char why[512])
{
	int rc = 0;
	if (!parent)
		snprintf(why, 512, "no parent snapshot");
	else if (!parent->has_walk)
		snprintf(why, 512, "the parent snapshot does not record when its walk started");
	else if (memcmp(parent->walk_opts, s->walk_opts, 32) != 0)
		snprintf(why, 512, "the parent snapshot was taken with other excludes or options");
	else if (!ptree->plain.data)
		snprintf(why, 512, "the parent snapshot's tree cannot be read");
	for (size_t i = 0; !why[0] && i < npaths; i++) {
		/* the recorder names directories by their real paths */
		_cleanup_free_ char *real = realpath(paths[i], NULL);
		if (!real || strcmp(real, paths[i]) != 0)
			snprintf(why, 512, "'%s' is not a real path (a symbolic link on the way)", paths[i]);
	}
	if (!why[0]) {
		journal_query q = {
			.file = o->journal, .paths = paths, .npaths = npaths,
			.one_file_system = o->one_file_system,
			.parent_start = parent->walk_start * 1000000000 + parent->walk_start_nsec,
			.start = s->walk_start * 1000000000 + s->walk_start_nsec, .wait_seconds = 30,
		};
		rc = journal_dirty(&q, dirty, why, 512);
	}
	if (rc == 0)
		log_info("journal not used: %s; walking everything", why);
	else
		why[0] = 0;
	return rc;
}

int backup_run(repo *r, const backup_opts *o, job_progress *prog, backup_result *out)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(out, 0, sizeof(*out));
	char **paths = NULL;
	size_t npaths = 0;
	snapshot *parent = NULL, *s = snapshot_new();
	tree ptree = TREE_INIT;
	ingest *g = NULL;
	backup_file_pool *files = NULL;
	backup_scan *scan = NULL;
	backup_cleanup cl = { 0 };
	atomic_uint_fast64_t errors = 0;
	uint64_t added_before = repo_bytes_added(r);
	journal_set dirty = { 0 };
	int use_journal = 0;
	int rc = s ? 0 : -ENOMEM;
	if (rc == 0 && !o->stdin_name) {
		/* before anything is read: changes from now on are the next one's */
		int64_t now = journal_now();
		s->has_walk = 1;
		s->walk_start = now / 1000000000;
		s->walk_start_nsec = (uint32_t)(now % 1000000000);
		rc = walk_digest(o, s->walk_opts);
	}
	if (rc == 0 && o->journal && o->stdin_name)
		rc = err_set(-DV_EUSAGE, "a stream backup takes no --journal");
	if (rc == 0 && o->stdin_name && (o->npaths || o->snapshot))
		rc = err_set(-DV_EUSAGE, "a stream backup takes no paths and no --snapshot");
	rc = rc ?: fill_identity(s, o);
	rc = rc ?: cleanup_start(&cl, o);
	if (rc == 0 && o->before) {
		hook h = { "before", o->before, o->hook_timeout };
		rc = hook_run(&h, NULL, NULL);
	}
	if (o->stdin_name) {
		char *p = NULL;
		rc = rc ?: backup_stream_path(o->stdin_name, &p);
		rc = rc ?: strlist_add(&paths, &npaths, p);
		free(p);
	} else {
		rc = rc ?: prepare_paths(o, &paths, &npaths);
	}
	ingest_params ip = { r, o->threads, &prog->bytes };
	rc = rc ?: ingest_new(&g, &ip);
	backup_file_params fp = { r, g, o->threads, prog, &errors };
	rc = rc ?: backup_file_pool_new(&files, &fp);
	if (o->dry_run)
		repo_set_dry_run(r); /* before anything is saved */
	rc = rc ?: find_parent(r, o, s->host, paths, npaths, &parent);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < npaths; i++)
		if ((rc = strlist_add(&s->paths, &s->npaths, paths[i])) < 0)
			goto out;
	if (parent) {
		s->has_parent = 1;
		memcpy(s->parent, parent->id, 32);
		atomic_store(&prog->est_bytes, parent->stats.total_bytes);
		atomic_store(&prog->est_files, parent->stats.total_files);
		if (!o->stdin_name && treeio_load(r, parent->tree, &ptree) < 0)
			log_warn("cannot read the parent snapshot's tree: every file will be read");
	}
	if (o->journal && !o->force && !o->stdin_name) {
		out->journal_asked = 1;
		out->journal_reason[0] = 0;
		rc = journal_answer(o, s, parent, &ptree, paths, npaths, &dirty, out->journal_reason);
		if (rc < 0)
			goto out;
		use_journal = rc;
		out->journal_used = use_journal;
		out->journal_dirs = dirty.n;
		rc = 0;
	}
	if (o->snapshot) {
		fssnap_params sp = { (fssnap_kind)o->snapshot, paths, npaths, o->read_devices, cl.g };
		if ((rc = fssnap_create(&cl.fs, &sp)) < 0)
			goto out;
		run_after(&cl); /* the snapshots hold the data: it may change again */
	}
	if (o->stdin_name) {
		backup_stream_params sp = { r, g, paths[0], o->stdin_mode, o->stdin_command, 0, s->time };
		backup_stream_result sr;
		rc = backup_stream(&sp, s->tree, &s->stats, &sr);
		if (rc == 0 && parent) {
			/* the same name was backed up before: a changed file, read again */
			s->stats.files_new--;
			s->stats.files_changed++;
		}
		out->stream = 1;
		out->stream_bytes = sr.bytes;
		out->command_status = sr.status;
	} else {
		/* without an estimate the display shows no ETA: a missing scan is no failure */
		if (!parent && prog->want_estimate &&
		    backup_scan_start(&scan, prog, paths, npaths, o->one_file_system) < 0)
			scan = NULL;
		size_t naliases = 0;
		const backup_walk_alias *aliases = cl.fs ? fssnap_aliases(cl.fs, &naliases) : NULL;
		/* the repository is left out of its own backup (a local one: by its directory) */
		backup_filter_params fp_filter = {
			.excludes = o->excludes, .nexcludes = o->nexcludes,
			.iexcludes = o->iexcludes, .niexcludes = o->niexcludes,
			.if_present = o->if_present, .nif_present = o->nif_present,
			.caches = o->exclude_caches, .larger_than = o->larger_than,
			.repo_dirfd = local_backend_dirfd(repo_backend(r)),
		};
		backup_walk_params wp = {
			.r = r, .files = files, .prog = prog, .errors = &errors,
			.paths = paths, .npaths = npaths, .parent = ptree.plain.data ? &ptree : NULL,
			.filter = &fp_filter,
			.one_file_system = o->one_file_system, .force = o->force, .threads = o->threads,
			.read_devices = o->read_devices, .aliases = aliases, .naliases = naliases,
			.dirty = use_journal ? &dirty : NULL, .parent_stats = parent ? &parent->stats : NULL,
		};
		rc = backup_walk(&wp, s->tree, &s->stats);
	}
	/* the first failure of any thread carries its message (they are
	 * thread-local): prefer it to the same code without one */
	int rc2 = ingest_wait(g);
	if (rc2 < 0 && (rc == 0 || rc == rc2))
		rc = ingest_error(g);
	backup_scan_stop(scan);
	if (rc == -EINTR && repo_flush(r) < 0) {
		/* stopped by Ctrl-C: index what was stored, so the next backup
		 * finds it (a failure here only means it is stored again) */
		log_warn("could not index the data stored before the interruption: %s", err_msg(0));
		err_set(-EINTR, "interrupted");
	}
	rc = rc ?: repo_flush(r);
	if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -ETIMEDOUT) {
		/* a failure (say the server's disk filled up): index the packs
		 * that were stored before it, so the next backup reuses them; if
		 * even that fails, they are only stored again.  Not when the
		 * repository could not be reached (a remote's -EAGAIN and
		 * -ETIMEDOUT): that would only wait out the retries once more. */
		err_saved why;
		err_save(&why);
		if (repo_index_stored(r) < 0)
			log_warn("could not index the data stored before the failure: %s", err_msg(0));
		err_restore(&why);
	}
	if (rc < 0)
		goto out;
	s->stats.bytes_read = ingest_bytes_read(g);
	s->stats.errors = atomic_load(&errors);
	s->stats.bytes_added = repo_bytes_added(r) - added_before;
	rc = o->dry_run ? 0 : repo_save_snapshot(r, s);
	if (rc < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->snap = s;
	out->dry_run = o->dry_run;
	s = NULL;
	out->files_changed_while_read = backup_file_pool_changed(files);
	out->bytes_new = ingest_bytes_new(g);
	out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
out:
	backup_file_pool_free(files);
	ingest_free(g);
	if (cl.o) {
		/* the failure's message, not the clean-up's, is the one to report */
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", rc < 0 ? err_msg(rc) : "");
		cleanup_finish(&cl);
		out->cleanup_failed = cl.failed;
		if (rc < 0)
			err_set(rc, "%s", msg);
	}
	journal_set_release(&dirty);
	tree_release(&ptree);
	snapshot_free(parent);
	snapshot_free(s);
	strlist_free(paths, npaths);
	return rc;
}

void backup_result_release(backup_result *res)
{
	snapshot_free(res->snap);
	res->snap = NULL;
}
