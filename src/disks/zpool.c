/* SPDX-License-Identifier: BSD-2-Clause */
#include "zpool.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/num.h"

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCRUB_MAX_AGE_DAYS 35

static const char *const sections[] = { "", "logs", "cache", "spares", "special", "dedup" };

void zpool_status_release(zpool_status *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].rows);
		disk_report_release(&s->v[i].report);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Leading whitespace width, tabs to the next multiple of 8. */
static int indent(const char *l)
{
	int w = 0;
	for (; *l == ' ' || *l == '\t'; l++)
		w = *l == '\t' ? (w / 8 + 1) * 8 : w + 1;
	return w;
}

/*
 * zpool prints counters with zfs_nicenum(): below 1024 as digits, above
 * with up to two decimals and a suffix of powers of 1024 (K M G T P E), so
 * "2.72K" stands for about 2785.  Decoded in integers: the value floors,
 * saturates at UINT64_MAX; anything else is not a count.
 */
int zpool_parse_count(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGTPE";
	uint64_t whole, frac = 0, scale = 1;
	const char *p;
	if (num_parse_u64(s, &p, &whole) < 0)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale >= 1000000000000000000u) /* 18 decimals: more is not zpool's */
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	unsigned shift = 0;
	if (*p) {
		const char *x = strchr(suffixes, *p);
		if (!x || p[1])
			return -EINVAL;
		shift = 10 * (unsigned)(x - suffixes + 1);
	}
	/* whole << shift + frac * 2^shift / scale, at most 2^124: fits 128 bits */
	unsigned __int128 v = ((unsigned __int128)whole << shift) +
			      ((unsigned __int128)frac << shift) / scale;
	*out = v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
	return 0;
}

static void append_text(char *dst, size_t cap, const char *src)
{
	size_t l = strlen(dst);
	snprintf(dst + l, cap - l, "%s%.*s", l ? " " : "", (int)strcspn(src, "\n"), src);
}

static int parse_row(zpool_pool *p, const char *l, int depth, int section)
{
	char name[512], state[24] = "", rd[64] = "", wr[64] = "", ck[64] = "";
	int used = 0, after = 0;
	if (sscanf(l, " %511s%n", name, &used) != 1)
		return 0;
	char line[1024];
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(l + used, "\n"), l + used);
	int fields = sscanf(line, " %23s %63s %63s %63s%n", state, rd, wr, ck, &after);
	int rc = array_reserve(&p->rows, &p->caprows, p->nrows + 1, sizeof(*p->rows));
	if (rc < 0)
		return rc;
	zpool_row *r = &p->rows[p->nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (fields >= 1)
		snprintf(r->state, sizeof(r->state), "%s", state);
	/* counters follow the state when the next field is a number; spares
	 * print words there instead ("INUSE     currently in use") */
	if (fields >= 4 && rd[0] >= '0' && rd[0] <= '9') {
		/* a 63-byte token may have been cut by sscanf: not a count either */
		if (strlen(rd) == 63 || strlen(wr) == 63 || strlen(ck) == 63 ||
		    zpool_parse_count(rd, &r->rd) < 0 || zpool_parse_count(wr, &r->wr) < 0 ||
		    zpool_parse_count(ck, &r->ck) < 0)
			return err_set(-DV_EFORMAT, "pool '%s': cannot parse the error counts of '%s' ('%s %s %s')",
				       p->name, name, rd, wr, ck);
		/* what follows the counters ("block size: ...", "was /dev/...") */
		const char *x = line + after;
		while (*x == ' ' || *x == '\t')
			x++;
		snprintf(r->extra, sizeof(r->extra), "%s", x);
	}
	r->depth = depth;
	r->section = section;
	return 0;
}

static void mark_leaves(zpool_status *s)
{
	for (size_t i = 0; i < s->n; i++) {
		zpool_pool *q = &s->v[i];
		for (size_t k = 0; k < q->nrows; k++)
			q->rows[k].leaf = k + 1 == q->nrows || q->rows[k + 1].depth <= q->rows[k].depth;
	}
}

/* ---------- `zpool status -j` (OpenZFS 2.3 and later) ---------- */

/* A count in zpool's JSON: a number, a string as the text prints it, or absent (0). */
static int jcount(json_t *v, uint64_t *out)
{
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v) && num_u64_of_double(json_number_value(v), out) == 0)
		return 0;
	if (json_is_string(v) && zpool_parse_count(json_string_value(v), out) == 0)
		return 0;
	return -DV_EFORMAT; /* the caller names the object */
}

static int json_vdev(zpool_pool *p, json_t *v, int depth, int section)
{
	int rc = array_reserve(&p->rows, &p->caprows, p->nrows + 1, sizeof(*p->rows));
	if (rc < 0)
		return rc;
	zpool_row *r = &p->rows[p->nrows++];
	memset(r, 0, sizeof(*r));
	const char *name = json_string_value(json_object_get(v, "path"));
	if (!name)
		name = json_string_value(json_object_get(v, "name"));
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "?");
	const char *st = json_string_value(json_object_get(v, "state"));
	snprintf(r->state, sizeof(r->state), "%s", st ? st : "");
	if ((rc = jcount(json_object_get(v, "read_errors"), &r->rd)) < 0 ||
	    (rc = jcount(json_object_get(v, "write_errors"), &r->wr)) < 0 ||
	    (rc = jcount(json_object_get(v, "checksum_errors"), &r->ck)) < 0)
		return err_set(rc, "zpool JSON: the error counts of '%s' are not counts", r->name);
	r->depth = depth;
	r->section = section;
	const char *key;
	json_t *c;
	json_object_foreach(json_object_get(v, "vdevs"), key, c) {
		if ((rc = json_vdev(p, c, depth + 1, section)) < 0)
			return rc;
	}
	return 0;
}

static int json_scan(zpool_pool *p, json_t *scan)
{
	const char *fn = json_string_value(json_object_get(scan, "function"));
	const char *st = json_string_value(json_object_get(scan, "state"));
	json_t *end = json_object_get(scan, "end_time");
	int64_t secs = 0;
	uint64_t errs = 0;
	if (json_is_number(end) && num_i64_of_double(json_number_value(end), &secs) < 0)
		secs = 0; /* not a time: when is unknown */
	else if (json_is_string(end))
		secs = strtoll(json_string_value(end), NULL, 10);
	time_t t = (time_t)secs;
	char when[64] = "";
	int rc = jcount(json_object_get(scan, "errors"), &errs);
	if (rc < 0)
		return err_set(rc, "zpool JSON: the scan errors of pool '%s' are not a count", p->name);
	struct tm tm;
	if (t && localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Y", &tm);
	int scrub = fn && strcmp(fn, "SCRUB") == 0;
	if (!fn || !st)
		snprintf(p->scan, sizeof(p->scan), "none requested");
	else if (strcmp(st, "SCANNING") == 0)
		snprintf(p->scan, sizeof(p->scan), "%s in progress", scrub ? "scrub" : "resilver");
	else if (strcmp(st, "CANCELED") == 0)
		snprintf(p->scan, sizeof(p->scan), "scrub canceled on %s", when);
	else if (scrub)
		snprintf(p->scan, sizeof(p->scan), "scrub repaired with %llu errors on %s",
			 (unsigned long long)errs, when);
	else
		snprintf(p->scan, sizeof(p->scan), "resilvered on %s", when);
	return 0;
}

static int parse_json(zpool_status *s, const char *text)
{
	json_error_t jerr;
	/* pool and vdev GUIDs exceed int64: numbers are read as doubles */
	json_t *root = json_loads(text, JSON_DECODE_INT_AS_REAL, &jerr);
	if (!root)
		return err_set(-DV_EFORMAT, "not zpool JSON (line %d: %s)", jerr.line, jerr.text);
	static const char *const groups[] = { "", "logs", "l2cache", "spares", "special", "dedup" };
	const char *pname;
	json_t *pj;
	int rc = 0;
	json_object_foreach(json_object_get(root, "pools"), pname, pj) {
		if ((rc = array_reserve(&s->v, &s->cap, s->n + 1, sizeof(*s->v))) < 0)
			break;
		zpool_pool *p = &s->v[s->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", pname);
		const char *st = json_string_value(json_object_get(pj, "state"));
		snprintf(p->state, sizeof(p->state), "%s", st ? st : "");
		const char *status = json_string_value(json_object_get(pj, "status"));
		snprintf(p->status, sizeof(p->status), "%s", status ? status : "");
		uint64_t errs = 0;
		if ((rc = json_scan(p, json_object_get(pj, "scan_stats"))) < 0)
			break;
		if ((rc = jcount(json_object_get(pj, "error_count"), &errs)) < 0) {
			err_set(rc, "zpool JSON: the error count of pool '%s' is not a count", p->name);
			break;
		}
		if (errs)
			snprintf(p->errors, sizeof(p->errors), "%llu data errors", (unsigned long long)errs);
		else
			snprintf(p->errors, sizeof(p->errors), "No known data errors");
		for (int g = 0; rc == 0 && g < 6; g++) {
			const char *key;
			json_t *v;
			json_t *obj = json_object_get(pj, g ? groups[g] : "vdevs");
			json_object_foreach(obj, key, v) {
				if ((rc = json_vdev(p, v, g ? 1 : 0, g)) < 0)
					break;
			}
		}
	}
	json_decref(root);
	return rc;
}

int zpool_parse(zpool_status *s, const char *text, size_t n)
{
	memset(s, 0, sizeof(*s));
	/* JSON (zpool status -j), possibly after a line naming the command */
	const char *brace = memchr(text, '{', n);
	if (brace && (brace == text || brace[-1] == '\n') && !memmem(text, (size_t)(brace - text), "pool:", 5)) {
		char *copy = strndup(brace, n - (size_t)(brace - text));
		if (!copy)
			return -ENOMEM;
		int rc = parse_json(s, copy);
		free(copy);
		if (rc == 0 && s->n == 0)
			rc = err_set(-DV_EFORMAT, "no pools in the JSON of 'zpool status -j'");
		if (rc < 0)
			zpool_status_release(s);
		else
			mark_leaves(s);
		return rc;
	}
	char *copy = strndup(text, n);
	if (!copy)
		return -ENOMEM;
	zpool_pool *p = NULL;
	char *last = NULL; /* the multi-line field being continued */
	size_t lastcap = 0;
	int in_config = 0, base = -1, section = 0, rc = 0;
	int stack[32], sp = 0; /* indents of the rows above this one */
	for (char *l = copy; rc == 0 && l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char key[32];
		int klen = 0;
		if (sscanf(l, " %30[a-z]:%n", key, &klen) == 1 && klen) {
			const char *v = l + klen;
			while (*v == ' ' || *v == '\t')
				v++;
			last = NULL;
			if (strcmp(key, "pool") == 0) {
				if ((rc = array_reserve(&s->v, &s->cap, s->n + 1, sizeof(*s->v))) < 0)
					break;
				p = &s->v[s->n++];
				memset(p, 0, sizeof(*p));
				snprintf(p->name, sizeof(p->name), "%.*s", (int)strcspn(v, "\n"), v);
				in_config = 0;
				continue;
			}
			if (!p)
				continue;
			in_config = strcmp(key, "config") == 0;
			base = -1;
			section = 0;
			if (strcmp(key, "state") == 0)
				snprintf(p->state, sizeof(p->state), "%.*s", (int)strcspn(v, " \n"), v);
			else if (strcmp(key, "status") == 0)
				last = p->status, lastcap = sizeof(p->status);
			else if (strcmp(key, "scan") == 0 || strcmp(key, "scrub") == 0)
				last = p->scan, lastcap = sizeof(p->scan);
			else if (strcmp(key, "errors") == 0)
				last = p->errors, lastcap = sizeof(p->errors);
			if (last && !last[0])
				append_text(last, lastcap, v);
			else if (last) /* a second scan: line: keep the first */
				last = NULL;
			continue;
		}
		if (!p)
			continue;
		if (!in_config) {
			if (last && (*l == ' ' || *l == '\t'))
				append_text(last, lastcap, l + strspn(l, " \t"));
			continue;
		}
		char first[64] = "";
		sscanf(l, " %63s", first);
		if (!first[0])
			continue;
		if (strcmp(first, "NAME") == 0) {
			base = -1;
			sp = 0;
			continue;
		}
		int ind = indent(l);
		if (base < 0)
			base = ind; /* the pool's own row */
		/* "spares", "logs", ... alone on a line at the pool's indent */
		const char *rest = l + strspn(l, " \t") + strlen(first);
		int alone = strspn(rest, " \t\r") == strcspn(rest, "\n");
		int is_section = 0;
		for (int k = 1; k < 6; k++)
			if (strcmp(first, sections[k]) == 0 && ind == base && alone)
				section = k, is_section = 1;
		if (is_section) {
			sp = 1; /* below the pool row again */
			continue;
		}
		while (sp > 0 && stack[sp - 1] >= ind)
			sp--;
		rc = parse_row(p, l, sp, section);
		if (sp < 32)
			stack[sp++] = ind;
	}
	free(copy);
	mark_leaves(s);
	if (rc == 0 && s->n == 0)
		rc = err_set(-DV_EFORMAT, "no 'pool:' line: not the output of 'zpool status'");
	if (rc < 0)
		zpool_status_release(s);
	return rc;
}

/* ---------- rules ---------- */

static int redundant_kind(const char *name)
{
	return strncmp(name, "mirror", 6) == 0 || strncmp(name, "raidz", 5) == 0 ||
	       strncmp(name, "draid", 5) == 0 || strncmp(name, "replacing", 9) == 0 ||
	       strncmp(name, "spare", 5) == 0;
}

/* A kernel name that can change at boot: sdX, hdX, vdX, xvdX, nvmeXnY. */
static int unstable_name(const char *name)
{
	const char *b = strncmp(name, "/dev/", 5) == 0 ? name + 5 : name;
	if (strchr(b, '/'))
		return 0;
	size_t pre = strncmp(b, "xvd", 3) == 0 ? 3
		   : (strncmp(b, "sd", 2) == 0 || strncmp(b, "hd", 2) == 0 || strncmp(b, "vd", 2) == 0) ? 2 : 0;
	if (pre)
		return islower((unsigned char)b[pre]) != 0;
	return strncmp(b, "nvme", 4) == 0 && isdigit((unsigned char)b[4]);
}

static int64_t parse_date(const char *s)
{
	/* "... on Sun Jan  1 00:24:01 2023" */
	const char *on = NULL;
	for (const char *p = strstr(s, " on "); p; p = strstr(p + 1, " on "))
		on = p;
	if (!on)
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(on + 4, "%a %b %d %H:%M:%S %Y", &tm);
	if (!end)
		return -1;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

static int check_scan(zpool_pool *p, int64_t now)
{
	disk_report *r = &p->report;
	char src[256];
	snprintf(src, sizeof(src), "scan: %.240s", p->scan[0] ? p->scan : "(none)");
	if (strstr(p->scan, "resilver in progress"))
		return disks_add_finding(r, SEV_WARNING, "zpool-resilvering", src,
					 "a resilver is in progress: the pool is rebuilding redundancy");
	if (!p->scan[0] || strstr(p->scan, "none requested"))
		return disks_add_finding(r, SEV_WARNING, "zpool-never-scrubbed", src,
					 "the pool has never been scrubbed: run 'zpool scrub %s' regularly", p->name);
	if (strstr(p->scan, "scrub in progress"))
		return 0;
	if (strncmp(p->scan, "scrub repaired", 14) == 0 || strstr(p->scan, "scrub canceled")) {
		int64_t t = parse_date(p->scan);
		if (strstr(p->scan, "scrub canceled"))
			return disks_add_finding(r, SEV_ADVICE, "zpool-scrub-canceled", src,
						 "the last scrub was canceled before it finished");
		if (t < 0)
			return 0;
		int64_t days = (now - t) / 86400;
		if (days > SCRUB_MAX_AGE_DAYS)
			return disks_add_finding(r, SEV_WARNING, "zpool-scrub-old", src,
						 "the last scrub finished %lld days ago (more than %d)",
						 (long long)days, SCRUB_MAX_AGE_DAYS);
		const char *w = strstr(p->scan, " with ");
		if (w && strtoull(w + 6, NULL, 10) > 0)
			return disks_add_finding(r, SEV_WARNING, "zpool-scrub-errors", src,
						 "the last scrub found errors");
		return 0;
	}
	return disks_add_finding(r, SEV_ADVICE, "zpool-scrub-unknown", src,
				 "the scan line does not show a scrub: when the last one ran is unknown");
}

static int check_layout(zpool_pool *p)
{
	disk_report *r = &p->report;
	char singles[256] = "", src[256];
	int nred = 0, nsingle = 0, rc = 0;
	for (size_t i = 0; i < p->nrows; i++) {
		const zpool_row *v = &p->rows[i];
		if (v->depth != 1 || v->section != 0)
			continue;
		if (redundant_kind(v->name) && !v->leaf) {
			nred++;
		} else {
			nsingle++;
			append_text(singles, sizeof(singles), v->name);
		}
	}
	snprintf(src, sizeof(src), "config: top-level vdevs: %d redundant, %d single-disk (%.180s)", nred,
		 nsingle, singles);
	if (nred && nsingle)
		rc = disks_add_finding(r, SEV_WARNING, "zpool-mixed-redundancy", src,
				       "the pool mixes redundant vdevs with single-disk vdev(s) %s: losing one of those disks loses the pool, and 'zpool add' cannot be undone",
				       singles);
	else if (nsingle)
		rc = disks_add_finding(r, SEV_WARNING, "zpool-no-redundancy", src,
				       "the pool has no redundancy (%s): one disk failure loses it; only the backups protect it",
				       singles);
	return rc;
}

static int check_rows(zpool_pool *p)
{
	disk_report *r = &p->report;
	char src[256], names[256] = "";
	int rc = 0, nunstable = 0;
	for (size_t i = 0; rc == 0 && i < p->nrows; i++) {
		const zpool_row *v = &p->rows[i];
		snprintf(src, sizeof(src), "config: %.100s %s read %llu write %llu cksum %llu %.60s", v->name,
			 v->state, (unsigned long long)v->rd, (unsigned long long)v->wr,
			 (unsigned long long)v->ck, v->extra);
		if (v->rd || v->wr || v->ck)
			rc = disks_add_finding(r, SEV_WARNING, "zpool-device-errors", src,
					       "%s has %llu read, %llu write and %llu checksum errors", v->name,
					       (unsigned long long)v->rd, (unsigned long long)v->wr,
					       (unsigned long long)v->ck);
		if (rc == 0 && v->depth > 0 && v->state[0] && strcmp(v->state, "ONLINE") != 0 &&
		    strcmp(v->state, "AVAIL") != 0)
			rc = disks_add_finding(r, SEV_WARNING, strcmp(v->state, "INUSE") == 0 ? "zpool-spare-in-use" : "zpool-device-state",
					       src, "%s is %s", v->name, v->state);
		if (rc == 0 && strstr(v->extra, "block size:"))
			rc = disks_add_finding(r, SEV_WARNING, "zpool-ashift-low", src,
					       "%s: %s (ashift below the disk's physical sector size)", v->name, v->extra);
		if (v->leaf && v->depth > 0 && unstable_name(v->name)) {
			nunstable++;
			append_text(names, sizeof(names), v->name);
		}
	}
	if (rc == 0 && nunstable) {
		snprintf(src, sizeof(src), "config: %.240s", names);
		rc = disks_add_finding(r, SEV_WARNING, "zpool-unstable-names", src,
				       "%d device(s) are named by kernel names (%s) that can change at boot: use /dev/disk/by-id names",
				       nunstable, names);
	}
	return rc;
}

/* zdb -C: "ashift: N" lines of the top-level vdevs (children[i] at one level). */
static int check_zdb(zpool_pool *p, const char *zdb)
{
	int seen[64], n = 0;
	const char *pool = NULL;
	char want[300];
	snprintf(want, sizeof(want), "%s:", p->name);
	for (const char *l = zdb; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, want, strlen(want)) == 0)
			pool = l;
		else if (isalnum((unsigned char)*l))
			pool = pool && pool != l ? NULL : pool;
		if (!pool)
			continue;
		const char *a = strstr(l, "ashift: ");
		uint64_t v;
		if (a && n < 64 && (size_t)(a - l) < 80 && num_parse_u64(a + 8, NULL, &v) == 0)
			seen[n++] = num_clamp_int((int64_t)(v > 64 ? 64 : v), 0, 64); /* ashift is 9..16 */
	}
	for (int i = 1; i < n; i++)
		if (seen[i] != seen[0]) {
			char src[256];
			snprintf(src, sizeof(src), "zdb -C: ashift %d and %d", seen[0], seen[i]);
			return disks_add_finding(&p->report, SEV_WARNING, "zpool-mixed-ashift", src,
						 "top-level vdevs have different ashift (%d and %d)", seen[0], seen[i]);
		}
	return 0;
}

int zpool_evaluate(zpool_status *s, const char *zdb, int64_t now)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		zpool_pool *p = &s->v[i];
		disk_report *r = &p->report;
		char src[256];
		snprintf(src, sizeof(src), "state: %s", p->state);
		if (strcmp(p->state, "ONLINE") != 0)
			rc = disks_add_finding(r, SEV_FAILING, "zpool-state", src, "pool %s is %s, not ONLINE",
					       p->name, p->state[0] ? p->state : "of unknown state");
		snprintf(src, sizeof(src), "errors: %.240s", p->errors);
		if (rc == 0 && p->errors[0] && !strstr(p->errors, "No known data errors"))
			rc = disks_add_finding(r, SEV_FAILING, "zpool-data-errors", src,
					       "the pool reports data errors%s",
					       strstr(p->errors, "ermanent") ? " (permanent: files are damaged)" : "");
		if (rc == 0 && strstr(p->status, "non-native block size")) {
			snprintf(src, sizeof(src), "status: %.240s", p->status);
			rc = disks_add_finding(r, SEV_WARNING, "zpool-ashift-low", src,
					       "devices use a block size (ashift) below their native sector size");
		}
		rc = rc ?: check_rows(p);
		rc = rc ?: check_layout(p);
		rc = rc ?: check_scan(p, now);
		if (rc == 0 && zdb)
			rc = check_zdb(p, zdb);
	}
	return rc;
}
