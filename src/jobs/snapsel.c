/* SPDX-License-Identifier: BSD-2-Clause */
#include "snapsel.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/strlist.h"

#include <string.h>
#include <strings.h>

void snapsel_filter_release(snapsel_filter *f)
{
	strlist_free(f->ids, f->nids);
	strlist_free(f->hosts, f->nhosts);
	strlist_free(f->paths, f->npaths);
	strlist_free(f->tags, f->ntags);
	*f = (snapsel_filter)SNAPSEL_FILTER_INIT;
}

int snapsel_filter_empty(const snapsel_filter *f)
{
	return !f || (f->nids == 0 && f->nhosts == 0 && f->npaths == 0 && f->ntags == 0);
}

static int in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int snapsel_match(const snapsel_filter *f, const snapshot *s)
{
	if (!f)
		return 1;
	if (f->nids) {
		char hex[65];
		hex_encode(hex, s->id, 32);
		size_t i = 0;
		while (i < f->nids && strncasecmp(hex, f->ids[i], strlen(f->ids[i])) != 0)
			i++;
		if (i == f->nids)
			return 0;
	}
	if (f->nhosts && !in_list(f->hosts, f->nhosts, s->host ? s->host : ""))
		return 0;
	for (size_t i = 0; i < f->npaths; i++)
		if (!in_list(s->paths, s->npaths, f->paths[i]))
			return 0;
	for (size_t i = 0; i < f->ntags; i++)
		if (!in_list(s->tags, s->ntags, f->tags[i]))
			return 0;
	return 1;
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

int snapsel_find(repo *r, const char *spec, const snapsel_filter *f, snapshot **out)
{
	if (strcmp(spec, "latest") != 0 || snapsel_filter_empty(f))
		return repo_find_snapshot(r, spec, out);
	snapshot **v;
	size_t n, damaged;
	int rc = snapsel_list(r, f, &v, &n, &damaged);
	if (rc < 0)
		return rc;
	if (n == 0) {
		repo_free_snapshots(v, n);
		return err_set(-DV_ENOTFOUND, "no snapshot in repository '%s' matches the filters%s",
			       repo_location(r), damaged ? " (some snapshot files are damaged)" : "");
	}
	*out = v[n - 1];
	v[n - 1] = NULL;
	repo_free_snapshots(v, n);
	return 0;
}
