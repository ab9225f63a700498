/* SPDX-License-Identifier: BSD-2-Clause */
#include "find.h"
#include "quote.h"
#include "snapfs.h"
#include "snapwalk.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/idmap.h"
#include "../base/log.h"

#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* Matches found when a directory was entered, to tell on leaving whether its tree held any. */
typedef struct {
	const find_opts *o;
	regex_t re;
	int by_name;   /* the match depends on the entry alone: matchless trees are remembered */
	idmap empty;   /* ids of trees that held no match */
	const snapshot *s;
	find_fn fn;
	void *ud;
	find_stats *st;
	uint64_t *mark; /* matches when the directory at each depth was entered */
	buf text, q;
} fctx;

static int passes(const fctx *c, const tree_node *n)
{
	const find_opts *o = c->o;
	if (o->type && n->type != o->type)
		return 0;
	if (o->has_newer && n->mtime < o->newer)
		return 0;
	if (o->has_older && n->mtime >= o->older)
		return 0;
	if (o->has_larger && !(n->size > o->larger))
		return 0;
	if (o->has_smaller && !(n->size < o->smaller))
		return 0;
	return 1;
}

/* The pattern against the name or path (as C strings: a NUL in a name ends it). */
static int matches(fctx *c, const buf *path, const tree_node *n)
{
	const find_opts *o = c->o;
	c->text.len = 0;
	int whole = o->regex || strchr(o->pattern, '/');
	int rc = whole ? buf_append(&c->text, path->data, path->len)
		       : buf_append(&c->text, n->name, n->name_len);
	rc = rc ?: buf_put_u8(&c->text, 0);
	if (rc < 0)
		return rc;
	const char *s = (const char *)c->text.data;
	if (o->regex)
		return regexec(&c->re, s, 0, NULL, 0) == 0;
	return fnmatch(o->pattern, s, o->ignore_case ? FNM_CASEFOLD : 0) == 0;
}

static int find_pre(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		    size_t depth)
{
	fctx *c = ud;
	c->st->entries++;
	int m = matches(c, path, n);
	if (m < 0)
		return m;
	if (m && passes(c, n)) {
		c->st->matches++;
		find_match fm = { c->s, path, &t->t, n };
		int rc = c->fn(c->ud, &fm);
		if (rc)
			return rc < 0 ? rc : -ECANCELED;
	}
	if (n->type != NODE_DIR || !c->by_name)
		return 0;
	const uint8_t *id = tree_child(&t->t, n->subtree);
	if (id && idmap_get(&c->empty, id)) {
		c->st->subtrees_skipped++;
		return SNAPWALK_SKIP;
	}
	if (depth <= TREE_MAX_DEPTH)
		c->mark[depth] = c->st->matches;
	return 0;
}

static int find_post(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		     size_t depth)
{
	(void)path;
	fctx *c = ud;
	if (!c->by_name || depth > TREE_MAX_DEPTH || c->mark[depth] != c->st->matches)
		return 0;
	const uint8_t *id = tree_child(&t->t, n->subtree);
	idmap_slot *slot;
	int created;
	return id ? idmap_put(&c->empty, id, &slot, &created) : 0;
}

static int find_error(void *ud, const buf *path, int code)
{
	fctx *c = ud;
	char hex[65];
	hex_encode(hex, c->s->id, 32);
	log_error("cannot read directory '%s' of snapshot %.8s: %s",
		  quote_path(&c->q, path->data, path->len), hex, err_msg(code));
	err_clear();
	c->st->errors++;
	return 0;
}

int find_run(repo *r, snapshot *const *v, size_t n, const find_opts *o, find_fn fn, void *ud,
	     find_stats *out)
{
	memset(out, 0, sizeof(*out));
	fctx c;
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.fn = fn;
	c.ud = ud;
	c.st = out;
	c.by_name = !o->regex && !strchr(o->pattern, '/');
	if (o->regex) {
		int e = regcomp(&c.re, o->pattern, REG_EXTENDED | REG_NOSUB | (o->ignore_case ? REG_ICASE : 0));
		if (e) {
			char why[200];
			regerror(e, &c.re, why, sizeof(why));
			return err_set(-DV_EUSAGE, "invalid regular expression '%s': %s", o->pattern, why);
		}
	}
	snapfs *fs = NULL;
	snapfs_session *ss = NULL;
	snapfs_params sp = SNAPFS_PARAMS_INIT;
	c.mark = calloc(TREE_MAX_DEPTH + 1, sizeof(*c.mark));
	int rc = c.mark ? 0 : -ENOMEM;
	rc = rc ?: snapfs_new(&fs, r, &sp);
	rc = rc ?: snapfs_session_new(&ss, fs);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const snapfs_tree *root;
		c.s = v[i];
		out->snapshots++;
		if ((rc = snapfs_tree_get(ss, v[i]->tree, &root)) < 0) {
			buf p = { (uint8_t *)"/", 1, 0 };
			rc = rc == -ENOMEM ? rc : find_error(&c, &p, rc);
			continue;
		}
		snapwalk_ops ops = { find_pre, find_post, find_error, &c };
		rc = snapwalk_run(ss, root, "/", 1, 0, &ops);
		snapfs_tree_put(fs, root);
	}
	if (rc == -ECANCELED)
		rc = 0;
	snapfs_session_free(ss);
	snapfs_free(fs);
	idmap_release(&c.empty);
	free(c.mark);
	buf_release(&c.text);
	buf_release(&c.q);
	if (o->regex)
		regfree(&c.re);
	return rc;
}
