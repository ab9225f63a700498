/* SPDX-License-Identifier: BSD-2-Clause */
#include "snapsel.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/strlist.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A path as snapshots record paths: absolute, no "." or "..", no repeated
 * or trailing '/', made so lexically (as restic's filepath.Clean). */
static int clean_path(const char *base, const char *p, char **out)
{
	buf b = BUF_INIT;
	int rc = 0;
	for (int part = p[0] == '/' ? 1 : 0; part < 2 && rc == 0; part++) {
		const char *s = part == 0 ? base : p;
		while (*s && rc == 0) {
			while (*s == '/')
				s++;
			size_t l = strcspn(s, "/");
			if (l == 0 || (l == 1 && s[0] == '.')) {
				/* nothing */
			} else if (l == 2 && s[0] == '.' && s[1] == '.') {
				while (b.len && b.data[b.len - 1] != '/')
					b.len--;
				if (b.len)
					b.len--; /* the '/' before it */
			} else {
				rc = buf_put_u8(&b, '/');
				rc = rc ?: buf_append(&b, s, l);
			}
			s += l;
		}
	}
	if (rc == 0 && b.len == 0)
		rc = buf_put_u8(&b, '/');
	rc = rc ?: buf_put_u8(&b, 0);
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	*out = (char *)b.data; /* buf's memory is malloc'd: the caller frees it */
	return 0;
}

int snapsel_path_arg(const char *opt, const char *value, char **out)
{
	char cwd[PATH_MAX];
	if (value[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return err_sys(-errno, "cannot make --%s '%s' absolute", opt, value);
	return clean_path(value[0] == '/' ? "/" : cwd, value, out);
}

int snapsel_filter_add(snapsel_filter *f, int opt, const char *value)
{
	switch (opt) {
	case SNAPSEL_OPT_SNAPSHOT:
		if (!hex_is_prefix(value, 64))
			return err_set(-DV_EUSAGE, "invalid --snapshot '%s' (expected a prefix of a snapshot id)",
				       value);
		return strlist_add(&f->ids, &f->nids, value);
	case SNAPSEL_OPT_HOST:
		return strlist_add(&f->hosts, &f->nhosts, value);
	case SNAPSEL_OPT_TAG:
		return strlist_add(&f->tags, &f->ntags, value);
	case SNAPSEL_OPT_PATH: {
		char *p;
		int rc = snapsel_path_arg("path", value, &p);
		if (rc == 0)
			rc = strlist_add(&f->paths, &f->npaths, p);
		free(p);
		return rc;
	}
	default:
		return -EINVAL;
	}
}

int snapsel_filter_empty(const snapsel_filter *f)
{
	return !f || (!f->nids && !f->nhosts && !f->npaths && !f->ntags);
}

void snapsel_filter_release(snapsel_filter *f)
{
	if (!f)
		return;
	strlist_free(f->ids, f->nids);
	strlist_free(f->hosts, f->nhosts);
	strlist_free(f->paths, f->npaths);
	strlist_free(f->tags, f->ntags);
	memset(f, 0, sizeof(*f));
}

static int has_tag(const snapshot *s, const char *tag, size_t len)
{
	for (size_t i = 0; i < s->ntags; i++)
		if (strlen(s->tags[i]) == len && memcmp(s->tags[i], tag, len) == 0)
			return 1;
	return 0;
}

/* Every tag of the comma-separated list; an empty list asks for no tags at all. */
static int has_tag_list(const snapshot *s, const char *list)
{
	if (!*list)
		return s->ntags == 0;
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (l && !has_tag(s, p, l))
			return 0;
		p += l;
		if (*p == ',')
			p++;
	}
	return 1;
}

static int has_path(const snapshot *s, const char *path)
{
	for (size_t i = 0; i < s->npaths; i++)
		if (strcmp(s->paths[i], path) == 0)
			return 1;
	return 0;
}

int snapsel_match(const snapsel_filter *f, const snapshot *s)
{
	if (!f)
		return 1;
	int ok = f->nids == 0;
	if (!ok) {
		char hex[65];
		hex_encode(hex, s->id, 32);
		for (size_t i = 0; !ok && i < f->nids; i++)
			ok = strncasecmp(hex, f->ids[i], strlen(f->ids[i])) == 0;
	}
	if (ok && f->nhosts) {
		ok = 0;
		for (size_t i = 0; !ok && i < f->nhosts; i++)
			ok = strcmp(s->host ? s->host : "", f->hosts[i]) == 0;
	}
	for (size_t i = 0; ok && i < f->npaths; i++)
		ok = has_path(s, f->paths[i]);
	if (ok && f->ntags) {
		ok = 0;
		for (size_t i = 0; !ok && i < f->ntags; i++)
			ok = has_tag_list(s, f->tags[i]);
	}
	return ok;
}

static void append(char *out, size_t cap, const char *opt, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(out);
		snprintf(out + used, cap - used, "%s--%s %s", used ? " " : "", opt, v[i]);
	}
}

void snapsel_filter_text(const snapsel_filter *f, char *out, size_t cap)
{
	out[0] = 0;
	if (!f)
		return;
	append(out, cap, "snapshot", f->ids, f->nids);
	append(out, cap, "host", f->hosts, f->nhosts);
	append(out, cap, "path", f->paths, f->npaths);
	append(out, cap, "tag", f->tags, f->ntags);
}

int snapsel_list(repo *r, const snapsel_filter *f, snapshot ***out, size_t *out_n,
		 size_t *out_damaged)
{
	snapshot **v;
	size_t n, kept = 0;
	int rc = repo_load_snapshots(r, &v, &n, out_damaged);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (snapsel_match(f, v[i]))
			v[kept++] = v[i];
		else
			snapshot_free(v[i]);
	}
	*out = v;
	*out_n = kept;
	return 0;
}

int snapsel_parse(const char *arg, char **out_spec, char **out_path)
{
	const char *colon = strchr(arg, ':');
	size_t l = colon ? (size_t)(colon - arg) : strlen(arg);
	char *spec = strndup(arg, l), *path = NULL;
	if (!spec)
		return -ENOMEM;
	if (strcmp(spec, "latest") != 0 && !hex_is_prefix(spec, 64)) {
		int rc = err_set(-DV_EUSAGE, "invalid snapshot id '%s' (expected 'latest' or a prefix of an id, optionally followed by ':PATH')", spec);
		free(spec);
		return rc;
	}
	if (colon) {
		int rc = clean_path("/", colon + 1, &path);
		if (rc < 0) {
			free(spec);
			return rc;
		}
	}
	*out_spec = spec;
	*out_path = path;
	return 0;
}

/* "1a2b3c4d (2026-11-23 08:15, host h)" */
static void describe(char *out, size_t cap, const snapshot *s)
{
	char hex[65], when[32];
	hex_encode(hex, s->id, 32);
	time_t t = (time_t)s->time;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, cap, "%.8s (%s, host %s)", hex, when, s->host);
}

/* How many to list in a message about an ambiguous prefix. */
#define SNAPSEL_MAX_CANDIDATES 5

int snapsel_pick(snapshot *const *v, size_t n, const snapsel_filter *f, const char *spec,
		 size_t *out_index)
{
	char ftext[256];
	snapsel_filter_text(f, ftext, sizeof(ftext));
	int latest = strcmp(spec, "latest") == 0;
	if (!latest && !hex_is_prefix(spec, 64))
		return err_set(-DV_EUSAGE, "invalid snapshot id '%s' (expected 'latest' or a prefix of an id)", spec);
	size_t len = strlen(spec), hits = 0, rejected = 0, first = SIZE_MAX, last = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		char hex[65];
		hex_encode(hex, v[i]->id, 32);
		if (!latest && strncasecmp(hex, spec, len) != 0)
			continue;
		if (!snapsel_match(f, v[i])) {
			rejected++;
			continue;
		}
		if (first == SIZE_MAX)
			first = i;
		last = i; /* v is oldest first: for latest, the last one wins */
		hits++;
	}
	if (hits == 0) {
		if (latest && *ftext)
			return err_set(-DV_ENOTFOUND, "no snapshot matches %s", ftext);
		if (latest)
			return err_set(-DV_ENOTFOUND, "the repository has no snapshots");
		if (rejected)
			return err_set(-DV_ENOTFOUND, "snapshot '%s' does not match %s", spec, ftext);
		return err_set(-DV_ENOTFOUND, "no snapshot matches '%s'", spec);
	}
	if (!latest && hits > 1) {
		char list[640] = "";
		size_t shown = 0;
		for (size_t i = first; i < n && shown < SNAPSEL_MAX_CANDIDATES; i++) {
			char hex[65], one[128];
			hex_encode(hex, v[i]->id, 32);
			if (strncasecmp(hex, spec, len) != 0 || !snapsel_match(f, v[i]))
				continue;
			describe(one, sizeof(one), v[i]);
			size_t used = strlen(list);
			snprintf(list + used, sizeof(list) - used, "%s%s", shown ? ", " : "", one);
			shown++;
		}
		return err_set(-DV_EAMBIG, "snapshot id prefix '%s' is ambiguous: %zu snapshots match: %s%s", spec,
			       hits, list, hits > shown ? ", ..." : "");
	}
	*out_index = last;
	return 0;
}

int snapsel_find(repo *r, const snapsel_filter *f, const char *arg, snapshot **out,
		 char **out_path)
{
	char *spec = NULL, *path = NULL;
	int rc = snapsel_parse(arg, &spec, &path);
	if (rc < 0)
		return rc;
	if (path && !out_path) {
		rc = err_set(-DV_EUSAGE, "'%s': this command takes a snapshot, not a path in one", arg);
		goto out;
	}
	snapshot **v = NULL;
	size_t n = 0, damaged = 0, i;
	rc = repo_load_snapshots(r, &v, &n, &damaged);
	rc = rc ?: snapsel_pick(v, n, f, spec, &i);
	if (rc == -DV_ENOTFOUND && n == 0 && !damaged)
		rc = err_set(rc, "no snapshot in repository '%s'", repo_location(r));
	if (rc == -DV_ENOTFOUND && damaged)
		rc = err_set(rc, "%s (%zu snapshot file(s) are damaged and were skipped)", err_msg(rc),
			     damaged);
	if (rc == 0) {
		*out = v[i];
		v[i] = NULL;
		if (out_path) {
			*out_path = path;
			path = NULL;
		}
	}
	repo_free_snapshots(v, n);
out:
	free(spec);
	free(path);
	return rc;
}
