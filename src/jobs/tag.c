/* SPDX-License-Identifier: BSD-2-Clause */
#include "tag.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/idmap.h"
#include "../base/log.h"
#include "../base/strlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int in(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int tag_apply(const snapshot *s, const tag_opts *o, char ***out, size_t *out_n)
{
	char **v = NULL;
	size_t n = 0;
	int rc = 0;
	if (o->has_set) {
		for (size_t i = 0; rc == 0 && i < o->nset; i++)
			if (!in(v, n, o->set[i]))
				rc = strlist_add(&v, &n, o->set[i]);
	} else {
		for (size_t i = 0; rc == 0 && i < s->ntags; i++)
			if (!in(o->remove, o->nremove, s->tags[i]) && !in(v, n, s->tags[i]))
				rc = strlist_add(&v, &n, s->tags[i]);
	}
	for (size_t i = 0; rc == 0 && i < o->nadd; i++)
		if (!in(v, n, o->add[i]))
			rc = strlist_add(&v, &n, o->add[i]);
	if (rc == 0 && n > SNAPSHOT_MAX_LIST)
		rc = err_set(-E2BIG, "more than %d tags", SNAPSHOT_MAX_LIST);
	if (rc < 0) {
		strlist_free(v, n);
		return rc;
	}
	int differs = n != s->ntags;
	for (size_t i = 0; !differs && i < n; i++)
		differs = strcmp(v[i], s->tags[i]) != 0;
	*out = v;
	*out_n = n;
	return differs;
}

/* Stores s with the new tags, moves its protection, removes the old file. */
static int rewrite(repo *r, const tag_opts *o, snapshot *s, char **tags, size_t ntags,
		   int is_protected)
{
	snapshot now = *s; /* shares every field but the tags and the id */
	now.tags = tags;
	now.ntags = ntags;
	int rc = repo_save_snapshot(r, &now); /* sealed anew: always another id */
	if (rc == 0 && is_protected)
		rc = repo_set_protected(r, now.id, 1);
	if (rc == 0 && is_protected)
		rc = repo_set_protected(r, s->id, 0);
	if (rc == 0)
		rc = repo_forget_snapshot(r, s->id);
	if (rc < 0)
		return rc;
	if (o->on_change)
		o->on_change(o->ud, s, &now);
	return 0;
}

int tag_run(repo *r, const tag_opts *o, tag_result *out)
{
	memset(out, 0, sizeof(*out));
	snapshot **v = NULL;
	size_t n = 0, damaged = 0;
	idmap prot = IDMAP_INIT;
	int rc = repo_load_snapshots(r, &v, &n, &damaged);
	rc = rc ?: repo_load_protected(r, &prot);
	if (rc == 0 && damaged)
		log_warn("%s (%zu damaged snapshot file(s) left alone)", err_msg(0), damaged);
	/* which: the named ones (each once), else all the filter passes */
	uint8_t *pick = rc == 0 ? calloc(n ? n : 1, 1) : NULL;
	if (rc == 0 && !pick)
		rc = -ENOMEM;
	for (size_t k = 0; rc == 0 && k < o->nsnapshots; k++) {
		size_t at;
		int e = snapsel_pick(v, n, o->filter, o->snapshots[k], &at);
		if (e == -ENOMEM)
			rc = e;
		else if (e < 0) {
			log_error("%s", err_msg(e));
			out->failed++;
		} else {
			pick[at] = 1;
		}
	}
	for (size_t i = 0; rc == 0 && !o->nsnapshots && i < n; i++)
		pick[i] = snapsel_match(o->filter, v[i]);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!pick[i])
			continue;
		char **tags = NULL;
		size_t ntags = 0;
		int d = tag_apply(v[i], o, &tags, &ntags);
		if (d < 0) {
			rc = d;
			break;
		}
		if (d == 0) {
			out->unchanged++;
		} else {
			int e = rewrite(r, o, v[i], tags, ntags, idmap_get(&prot, v[i]->id) != NULL);
			if (e == -ENOMEM) {
				rc = e;
			} else if (e < 0) {
				char hex[65];
				hex_encode(hex, v[i]->id, 32);
				log_error("cannot change the tags of snapshot '%.8s': %s", hex, err_msg(e));
				out->failed++;
			} else {
				out->changed++;
			}
		}
		strlist_free(tags, ntags);
	}
	free(pick);
	idmap_release(&prot);
	repo_free_snapshots(v, n);
	return rc;
}
