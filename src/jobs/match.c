/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A pattern is matched against a path's components as a small NFA: the
 * state is the set of pattern positions reached; a glob component moves
 * a position on when it matches the next path component, "**" stays (it
 * eats a component) and also lets the next position start (it eats none).
 * That is linear in components times pattern length, whatever the number
 * of "**".  An unanchored pattern is "**" followed by the pattern.  The
 * common case, a single component at any depth ("*.o", "node_modules"),
 * depends on the last name only and is matched as such.
 */
#include "match.h"
#include "../base/err.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct match_pattern {
	char *text;    /* as given, for messages */
	char *store;   /* the components, NUL-separated */
	char **comp;   /* ncomp pointers into store; "**" for any depth */
	size_t ncomp;
	int dir_only;  /* it ended with '/' */
	int name_only; /* "**" + one glob: only the last name matters */
	int fnm;       /* fnmatch flags */
	int used;
};

static int is_any(const char *c)
{
	return c[0] == '*' && c[1] == '*' && c[2] == 0;
}

int match_add(match_set *m, const char *pattern, int flags)
{
	if (m->n >= MATCH_MAX_PATTERNS)
		return err_set(-E2BIG, "more than %d patterns", MATCH_MAX_PATTERNS);
	size_t len = strlen(pattern);
	int anchored = pattern[0] == '/';
	int dir_only = len > 0 && pattern[len - 1] == '/';
	match_pattern p = { 0 };
	p.fnm = (flags & MATCH_ICASE) ? FNM_CASEFOLD : 0;
	p.dir_only = dir_only;
	p.text = strdup(pattern);
	p.store = malloc(len + 4);
	p.comp = calloc(MATCH_MAX_COMPONENTS + 1, sizeof(*p.comp));
	int rc = p.text && p.store && p.comp ? 0 : -ENOMEM;
	char *w = p.store;
	size_t given = 0;
	if (rc == 0 && !anchored) {
		memcpy(w, "**", 3);
		p.comp[p.ncomp++] = w;
		w += 3;
	}
	for (const char *s = pattern; rc == 0 && *s;) {
		while (*s == '/')
			s++;
		size_t l = strcspn(s, "/");
		if (l == 0)
			break;
		if (l == 1 && s[0] == '.') {
			s += l;
			continue; /* "./x" is "x" */
		}
		given++;
		if (p.ncomp == MATCH_MAX_COMPONENTS) {
			rc = err_set(-E2BIG, "pattern '%s' has more than %d components", pattern,
				     MATCH_MAX_COMPONENTS);
			break;
		}
		/* "**" twice in a row is "**" once */
		if (!(p.ncomp && is_any(p.comp[p.ncomp - 1]) && l == 2 && s[0] == '*' && s[1] == '*')) {
			memcpy(w, s, l);
			w[l] = 0;
			p.comp[p.ncomp++] = w;
			w += l + 1;
		}
		s += l;
	}
	if (rc == 0 && given == 0)
		rc = err_set(-DV_EUSAGE, "empty pattern '%s'", pattern);
	if (rc == 0 && m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		match_pattern *v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			rc = -ENOMEM;
		else {
			m->v = v;
			m->cap = cap;
		}
	}
	if (rc < 0) {
		free(p.text);
		free(p.store);
		free(p.comp);
		return rc;
	}
	p.name_only = p.ncomp == 2 && is_any(p.comp[0]) && !is_any(p.comp[1]);
	m->v[m->n++] = p;
	return 0;
}

int match_add_list(match_set *m, char *const *patterns, size_t n, int flags)
{
	for (size_t i = 0; i < n; i++) {
		int rc = match_add(m, patterns[i], flags);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void match_release(match_set *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].text);
		free(m->v[i].store);
		free(m->v[i].comp);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int match_empty(const match_set *m)
{
	return m->n == 0;
}

/* Splits path into components (pointers into copy, which it fills). */
typedef struct {
	char *copy;
	char **comp;
	size_t n;
	char small[1024];
	char *smallv[64];
} parts;

static int parts_split(parts *p, const void *path, size_t len)
{
	p->copy = len < sizeof(p->small) ? p->small : malloc(len + 1);
	size_t max = len / 2 + 1;
	p->comp = max <= 64 ? p->smallv : malloc(max * sizeof(*p->comp));
	p->n = 0;
	if (!p->copy || !p->comp)
		return -ENOMEM;
	memcpy(p->copy, path, len);
	p->copy[len] = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && p->copy[i] == '/')
			p->copy[i++] = 0;
		if (i == len)
			break;
		p->comp[p->n++] = p->copy + i;
		while (i < len && p->copy[i] != '/')
			i++;
	}
	return 0;
}

static void parts_release(parts *p)
{
	if (p->copy != p->small)
		free(p->copy);
	if (p->comp != p->smallv)
		free(p->comp);
}

/* The positions reachable without consuming a component ("**" eats none). */
static void closure(const match_pattern *p, uint8_t *st)
{
	for (size_t i = 0; i < p->ncomp; i++)
		if (st[i] && is_any(p->comp[i]))
			st[i + 1] = 1;
}

/*
 * Runs p over the components: RUN_FULL when it matches them exactly,
 * RUN_MORE when a position short of the end is still alive (something
 * below may match), both, or 0.
 */
enum { RUN_MORE = 1, RUN_FULL = 2 };

static int run(const match_pattern *p, const parts *s)
{
	uint8_t a[MATCH_MAX_COMPONENTS + 2], b[MATCH_MAX_COMPONENTS + 2];
	uint8_t *cur = a, *next = b;
	memset(cur, 0, p->ncomp + 1);
	cur[0] = 1;
	closure(p, cur);
	for (size_t k = 0; k < s->n; k++) {
		memset(next, 0, p->ncomp + 1);
		int alive = 0;
		for (size_t i = 0; i < p->ncomp; i++) {
			if (!cur[i])
				continue;
			if (is_any(p->comp[i]))
				next[i] = alive = 1;
			else if (fnmatch(p->comp[i], s->comp[k], p->fnm) == 0)
				next[i + 1] = alive = 1;
		}
		if (!alive)
			return 0;
		closure(p, next);
		uint8_t *t = cur;
		cur = next;
		next = t;
	}
	int r = cur[p->ncomp] ? RUN_FULL : 0;
	for (size_t i = 0; i < p->ncomp; i++)
		if (cur[i])
			return r | RUN_MORE;
	return r;
}

int match_path(match_set *m, const void *path, size_t len, int is_dir)
{
	if (m->n == 0)
		return 0;
	parts s;
	if (parts_split(&s, path, len) < 0) {
		parts_release(&s);
		return 0;
	}
	int hit = 0;
	for (size_t i = 0; !hit && i < m->n; i++) {
		match_pattern *p = &m->v[i];
		if (p->dir_only && !is_dir)
			continue;
		if (p->name_only)
			hit = s.n > 0 && fnmatch(p->comp[1], s.comp[s.n - 1], p->fnm) == 0;
		else
			hit = (run(p, &s) & RUN_FULL) != 0;
		if (hit)
			p->used = 1;
	}
	parts_release(&s);
	return hit;
}

int match_below(const match_set *m, const void *dir, size_t len)
{
	parts s;
	if (parts_split(&s, dir, len) < 0) {
		parts_release(&s);
		return 1; /* cannot tell: descend */
	}
	int may = 0;
	for (size_t i = 0; !may && i < m->n; i++)
		may = m->v[i].name_only || (run(&m->v[i], &s) & RUN_MORE);
	parts_release(&s);
	return may;
}

const char *match_unused(const match_set *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->v[i].used)
			return m->v[i].text;
	return NULL;
}
