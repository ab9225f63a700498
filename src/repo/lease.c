/* SPDX-License-Identifier: BSD-2-Clause */
#include "lease.h"
#include "gcrule.h"
#include "../base/checked.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"
#include "../core/crypto.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEASE_TEXT_MAX 1024

struct lease {
	backend *be;
	lease_info info;
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int written; /* the file was stored once: lease_drop removes it */
	int64_t last_ok_mono; /* mono_ns() of the last successful refresh */
	/* the lease may have been taken for dead: its file was gone at a
	 * refresh (removed by another process), or a refresh came more than
	 * half the expiry after the last good one (the process was stopped or
	 * suspended); lost_gap_ns is that gap, 0 for a removed file.  Sticky:
	 * rewriting the file would bring back a lease others have written off. */
	int lost;
	int64_t lost_gap_ns;
};

int64_t lease_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return sat_add_i64(sat_mul_i64((int64_t)ts.tv_sec, 1000000000), ts.tv_nsec);
}

/* CLOCK_BOOTTIME: unlike CLOCK_MONOTONIC it counts a system suspend, the
 * stall a laptop's lease must notice as much as a SIGSTOP */
static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t env_seconds(const char *name, int64_t dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt * 1000000000;
	char *end;
	double d = strtod(v, &end);
	/* written so that NaN fails too: (int64_t)NaN is undefined */
	if (*end || end == v || !(d >= 0 && d <= 1e7))
		return dflt * 1000000000;
	return (int64_t)(d * 1e9);
}

int64_t lease_expiry_ns(void)
{
	int64_t e = env_seconds("DVALIN_LEASE_EXPIRY", LEASE_EXPIRY_DEFAULT_S);
	return e < 1000000000 ? 1000000000 : e;
}

int64_t lease_skew_ns(void)
{
	return env_seconds("DVALIN_CLOCK_SKEW", LEASE_SKEW_DEFAULT_S);
}

int64_t lease_notice_wait_ns(void)
{
	return env_seconds("DVALIN_NOTICE_WAIT", LEASE_NOTICE_WAIT_DEFAULT_S);
}

static void host_name(char out[256])
{
	if (gethostname(out, 255) < 0)
		snprintf(out, 256, "unknown");
	out[255] = 0;
	for (char *p = out; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			*p = '?';
}

int lease_format(char *out, size_t cap, const lease_info *i)
{
	int n = snprintf(out, cap,
			 "dvalin-lease 1\nkind %s\nhost %s\npid %ld\nstart %" PRId64 "\nrefresh %" PRId64 "\n",
			 i->kind, i->host, i->pid, i->start_ns, i->refresh_ns);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

/*
 * Copies the value of a "key value\n" line; 0 when found.  Values are
 * printed in messages, so bytes <= ' ' (the writer replaces them) and DEL
 * make the file unparsable rather than reaching a terminal.
 */
static int field(const char *text, size_t n, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	const char *p = text, *end = text + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return -1;
		if ((size_t)(nl - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == ' ') {
			size_t vl = (size_t)(nl - p) - kl - 1;
			if (vl == 0 || vl >= cap)
				return -1;
			for (size_t k = 0; k < vl; k++)
				if ((unsigned char)p[kl + 1 + k] <= ' ' || p[kl + 1 + k] == 0x7f)
					return -1;
			memcpy(out, p + kl + 1, vl);
			out[vl] = 0;
			return 0;
		}
		p = nl + 1;
	}
	return -1;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return -1;
	*out = v;
	return 0;
}

int lease_parse(lease_info *o, const char *text, size_t n)
{
	char v[256];
	int64_t pid;
	if (n < 15 || memcmp(text, "dvalin-lease 1\n", 15) != 0)
		return -DV_ECORRUPT;
	if (field(text, n, "kind", o->kind, sizeof(o->kind)) < 0 ||
	    field(text, n, "host", o->host, sizeof(o->host)) < 0 ||
	    field(text, n, "pid", v, sizeof(v)) < 0 || parse_i64(v, &pid) < 0 || pid <= 0 ||
	    pid > INT32_MAX || /* pid_t: a bigger one would be truncated for kill() */
	    field(text, n, "start", v, sizeof(v)) < 0 || parse_i64(v, &o->start_ns) < 0 ||
	    field(text, n, "refresh", v, sizeof(v)) < 0 || parse_i64(v, &o->refresh_ns) < 0)
		return -DV_ECORRUPT;
	o->pid = (long)pid;
	return 0;
}

/* With st, also the file's stat after the write (backend_put_stat), and
 * l->written set when the file was written. */
static int write_lease(lease *l, backend_stat_t *st)
{
	char text[LEASE_TEXT_MAX];
	l->info.refresh_ns = lease_now_ns();
	int n = lease_format(text, sizeof(text), &l->info);
	if (n < 0)
		return n;
	if (st)
		return backend_put_stat(l->be, l->info.name, BACKEND_META, text, (size_t)n, st,
					&l->written);
	return backend_put(l->be, l->info.name, BACKEND_META, text, (size_t)n);
}

static void *refresher(void *arg)
{
	lease *l = arg;
	int64_t every = lease_expiry_ns() / 6;
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + every;
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
		int r = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (l->stop)
			break;
		if (r == ETIMEDOUT && !l->lost) {
			int64_t before = mono_ns();
			uint64_t size;
			if (before - l->last_ok_mono > lease_expiry_ns() / 2) {
				l->lost = 1;
				l->lost_gap_ns = before - l->last_ok_mono;
			} else if (l->written && backend_size(l->be, l->info.name, &size) == -ENOENT) {
				l->lost = 1; /* removed: not ours to bring back */
			}
			int w = l->lost ? 0 : write_lease(l, NULL);
			if (l->lost)
				err_clear();
			else if (w == 0)
				l->last_ok_mono = before;
			else
				log_warn("cannot refresh lease: %s", err_msg(w));
		}
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

const char *lease_name(const lease *l)
{
	return l->info.name;
}

int64_t lease_start_ns(const lease *l)
{
	return l->info.start_ns;
}

const char *lease_kind(const lease *l)
{
	return l->info.kind;
}

struct list_ctx {
	lease_info *v;
	size_t n, cap;
};

static int fits_name(void *ud, const backend_entry *e)
{
	(void)ud;
	return strlen(e->name) < sizeof(((lease_info *)NULL)->name);
}

static int list_one(void *ud, const char *name, int r, bytes *b)
{
	struct list_ctx *c = ud;
	lease_info i;
	memset(&i, 0, sizeof(i));
	if (r < 0)
		return r;
	if (lease_parse(&i, (const char *)b->data, b->len) < 0)
		i.damaged = 1;
	snprintf(i.name, sizeof(i.name), "%s", name);
	if ((r = array_reserve(&c->v, &c->cap, c->n + 1, sizeof(*c->v))) < 0)
		return r;
	c->v[c->n++] = i;
	return 0;
}

int lease_list(backend *be, lease_info **out, size_t *out_n)
{
	struct list_ctx c = { NULL, 0, 0 };
	/* a lease dropped while we list is simply gone */
	int r = backend_fetch_dir(be, "locks", BACKEND_META, BACKEND_FETCH_SKIP_MISSING, fits_name,
				  list_one, &c);
	if (r < 0) {
		free(c.v);
		return r;
	}
	*out = c.v;
	*out_n = c.n;
	return 0;
}

int lease_process_gone(const lease_info *i)
{
	if (i->damaged)
		return 0;
	char host[256];
	host_name(host);
	return strcmp(host, i->host) == 0 && kill((pid_t)i->pid, 0) < 0 && errno == ESRCH;
}

void lease_rule_input(gcrule_lease *out, const lease_info *i, const backend_stat_t *st,
		      int process_gone)
{
	memset(out, 0, sizeof(*out));
	out->parsed = !i->damaged;
	out->start_ns = i->start_ns;
	out->refresh_ns = i->refresh_ns;
	out->process_gone = !i->damaged && process_gone;
	out->mtime_known = st != NULL;
	out->mtime_ns = st ? st->mtime_ns : 0;
}

gcrule_clock lease_clock(void)
{
	gcrule_clock c = { lease_now_ns(), lease_expiry_ns(), lease_skew_ns() };
	return c;
}

int lease_is_stale(const lease_info *i, int64_t now)
{
	gcrule_lease g;
	gcrule_clock c = lease_clock();
	int64_t from;
	c.now_ns = now;
	lease_rule_input(&g, i, NULL, lease_process_gone(i));
	return gcrule_lease_stale(&g, &c, &from);
}

static int is_exclusive(const lease_info *i)
{
	return strcmp(i->kind, "prune") == 0 || strcmp(i->kind, "repair") == 0;
}

/* -EBUSY when an older live exclusive lease than ours exists. */
static int check_exclusive(lease *l)
{
	lease_info *v;
	size_t n;
	int r = lease_list(l->be, &v, &n);
	if (r < 0)
		return r;
	gcrule_clock clk = lease_clock();
	for (size_t k = 0; r == 0 && k < n; k++) {
		const lease_info *o = &v[k];
		if (strcmp(o->name, l->info.name) == 0 || !is_exclusive(o))
			continue;
		gcrule_lease g;
		int64_t from;
		lease_rule_input(&g, o, NULL, lease_process_gone(o));
		/* An untrusted lease blocks deletions (gcrule.h), not a prune
		 * from running: excluding on it would let one planted file stop
		 * every prune for good. */
		if (gcrule_lease_trust(&g, &clk) != GCRULE_TRUSTED || gcrule_lease_stale(&g, &clk, &from))
			continue;
		if (o->start_ns < l->info.start_ns ||
		    (o->start_ns == l->info.start_ns && strcmp(o->name, l->info.name) < 0)) {
			time_t t = (time_t)(o->start_ns / 1000000000);
			char when[32] = "an unknown time";
			struct tm tm;
			if (localtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			r = err_set(-EBUSY, "repository '%s' is in use by a %s on host %s (pid %ld) since %s (lease '%s')",
				    l->be->location, o->kind, o->host, o->pid, when, o->name);
		}
	}
	free(v);
	return r;
}

/*
 * The storage's clock against ours, read off the lease just written
 * between before and after (our clock): prune compares the storage's
 * file times with the writers' lease times (docs/concurrency.md,
 * "Clocks"), which is only sound while they agree within the skew
 * allowance.  Up to LEASE_MTIME_SLACK_NS more is allowed for, for the
 * storage's time granularity (S3's Last-Modified has whole seconds, FAT
 * two) and the time the write took.
 */
static int check_clock(lease *l, const backend_stat_t *written, int64_t before, int64_t after)
{
	backend_stat_t s = *written, *st = &s;
	int64_t skew = lease_skew_ns(), allow = sat_add_i64(skew, LEASE_MTIME_SLACK_NS);
	int64_t off = st->mtime_ns < before ? sat_sub_i64(st->mtime_ns, before)
		      : st->mtime_ns > after ? sat_sub_i64(st->mtime_ns, after) : 0;
	if (off >= -allow && off <= allow)
		return 0;
	return err_set(-ERANGE, "the clocks of this host and of the storage of '%s' differ by %+.0f s, more than the allowance of %.0f s (DVALIN_CLOCK_SKEW): leases and prune rely on them agreeing; set the clocks right (NTP)",
		       l->be->location, (double)off / 1e9, (double)skew / 1e9);
}

int lease_take(lease **out, backend *be, const char *kind, int exclusive)
{
	lease *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	uint8_t rnd[8];
	char hex[17];
	int r = crypto_random(rnd, sizeof(rnd));
	if (r < 0) {
		free(l);
		return r;
	}
	hex_encode(hex, rnd, sizeof(rnd));
	l->be = be;
	snprintf(l->info.name, sizeof(l->info.name), "locks/%s", hex);
	snprintf(l->info.kind, sizeof(l->info.kind), "%s", kind);
	host_name(l->info.host);
	l->info.pid = (long)getpid();
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* The start is taken before the file exists, so everything this
	 * process reads from the repository happens after it. */
	l->info.start_ns = lease_now_ns();
	l->last_ok_mono = mono_ns();
	backend_stat_t st;
	r = write_lease(l, &st);
	if (r == 0)
		r = check_clock(l, &st, l->info.start_ns, lease_now_ns());
	if (r == 0 && exclusive)
		r = check_exclusive(l);
	if (r == 0) {
		r = -pthread_create(&l->thread, NULL, refresher, l);
		l->running = r == 0;
	}
	if (r < 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", err_msg(r));
		lease_drop(l);
		return err_set(r, "%s", msg);
	}
	*out = l;
	return 0;
}

int lease_confirm(lease *l)
{
	pthread_mutex_lock(&l->mu);
	int64_t before = mono_ns();
	int64_t gap = before - l->last_ok_mono;
	uint64_t size;
	int r = l->lost ? 0 : backend_size(l->be, l->info.name, &size);
	if (l->lost && l->lost_gap_ns)
		r = err_set(-ESTALE, "lease '%s' was not refreshed for %.0f s (process stalled?)",
			    l->info.name, (double)l->lost_gap_ns / 1e9);
	else if (l->lost || r == -ENOENT)
		r = err_set(-ESTALE, "lease '%s' was removed: another process took this one for dead", l->info.name);
	else if (r == 0 && gap > lease_expiry_ns() / 2)
		r = err_set(-ESTALE, "lease '%s' was not refreshed for %.0f s (process stalled?)",
			    l->info.name, (double)gap / 1e9);
	/* No write here: the refresher's last one is recent enough (above),
	 * and a write could bring back a lease a prune has just removed,
	 * hiding that from the second confirmation of the commit check
	 * (docs/concurrency.md).  One HEAD, not a HEAD and a PUT. */
	pthread_mutex_unlock(&l->mu);
	return r;
}

int lease_confirm_exclusive(lease *l)
{
	int r = lease_confirm(l);
	return r < 0 ? r : check_exclusive(l);
}

void lease_drop(lease *l)
{
	if (!l)
		return;
	if (l->running) {
		pthread_mutex_lock(&l->mu);
		l->stop = 1;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	}
	/* A lease that could not be written (a read-only repository) was never
	 * there: removing it would only fail again, with a confusing warning. */
	/* a failing command drops its lease before it reports why it failed:
	 * the removal must not replace that message with its own */
	err_saved saved;
	err_save(&saved);
	/* a batch of one: a lease already gone is no error, and on S3 that is
	 * one DeleteObjects instead of a HEAD (for -ENOENT) and a DELETE */
	const char *name = l->info.name;
	int r = l->written ? backend_remove_batch(l->be, &name, 1) : 0;
	if (r < 0 && r != -ENOENT)
		log_warn("%s", err_msg(r));
	err_restore(&saved);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

int lease_judge(backend *be, const char *mine, lease_info **out_v, gcrule_verdict **out_verdicts,
		uint8_t **out_gone, size_t *out_n, gcrule_horizon *out_h)
{
	lease_info *v;
	size_t n;
	int rc = lease_list(be, &v, &n);
	if (rc < 0)
		return rc;
	gcrule_lease *in = calloc(n + 1, sizeof(*in));
	gcrule_verdict *verdict = calloc(n + 1, sizeof(*verdict));
	uint8_t *gone = calloc(n + 1, 1);
	if (!in || !verdict || !gone)
		rc = -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		backend_stat_t st;
		int sr = mine && strcmp(v[i].name, mine) == 0 ? -ENOENT : backend_stat(be, v[i].name, &st);
		if (sr == -ENOENT)
			continue; /* mine, or dropped since it was listed */
		/* a file whose time cannot be read cannot expire by it */
		gone[k] = (uint8_t)lease_process_gone(&v[i]);
		lease_rule_input(&in[k], &v[i], sr == 0 ? &st : NULL, gone[k]);
		v[k++] = v[i];
	}
	gcrule_clock clk = lease_clock();
	*out_h = (gcrule_horizon)GCRULE_HORIZON_INIT;
	if (rc == 0)
		gcrule_leases(out_h, in, k, &clk, verdict);
	free(in);
	if (rc < 0) {
		free(v);
		free(verdict);
		free(gone);
		return rc;
	}
	*out_v = v;
	*out_verdicts = verdict;
	*out_gone = gone;
	*out_n = k;
	return 0;
}
