/* SPDX-License-Identifier: BSD-2-Clause */
#include "mountinfo.h"
#include "buf.h"
#include "cleanup.h"
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

/* A field with \ooo escapes decoded (a copy). */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
	return out;
}

static void entry_release(mount_entry *e)
{
	free(e->root);
	free(e->target);
	free(e->fstype);
	free(e->source);
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw" */
static int parse_line(mount_entry *e, char *line)
{
	char *f[16], *save = NULL;
	size_t n = 0, dash = 0;
	for (char *t = strtok_r(line, " \n", &save); t && n < ARRAY_SIZE(f); t = strtok_r(NULL, " \n", &save)) {
		if (strcmp(t, "-") == 0 && !dash)
			dash = n;
		f[n++] = t;
	}
	if (n < 6 || !dash || dash + 2 >= n || sscanf(f[2], "%u:%u", &e->major, &e->minor) != 2)
		return -DV_ECORRUPT;
	e->root = unescape(f[3]);
	e->target = unescape(f[4]);
	e->fstype = unescape(f[dash + 1]);
	e->source = unescape(f[dash + 2]);
	if (!e->root || !e->target || !e->fstype || !e->source) {
		entry_release(e);
		return -ENOMEM;
	}
	return 0;
}

int mount_table_load(mount_table *t)
{
	memset(t, 0, sizeof(*t));
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	if (!fp)
		return err_sys(-errno, "cannot read /proc/self/mountinfo");
	char *line = NULL;
	size_t cap = 0, tcap = 0;
	int rc = 0;
	while (getline(&line, &cap, fp) > 0) {
		mount_entry e;
		memset(&e, 0, sizeof(e));
		int r = parse_line(&e, line);
		if (r == -DV_ECORRUPT)
			continue; /* not a line we understand: no mount we need */
		if (r < 0) {
			rc = r;
			break;
		}
		if ((rc = array_reserve(&t->v, &tcap, t->n + 1, sizeof(*t->v))) < 0) {
			entry_release(&e);
			break;
		}
		t->v[t->n++] = e;
	}
	free(line);
	fclose(fp);
	if (rc < 0)
		mount_table_release(t);
	return rc;
}

void mount_table_release(mount_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		entry_release(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int is_prefix_dir(const char *dir, const char *path)
{
	if (strcmp(dir, "/") == 0)
		return 1;
	size_t l = strlen(dir);
	return strncmp(dir, path, l) == 0 && (path[l] == 0 || path[l] == '/');
}

const mount_entry *mount_table_find(const mount_table *t, const char *path, dev_t dev)
{
	const mount_entry *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < t->n; i++) {
		const mount_entry *e = &t->v[i];
		size_t l = strlen(e->target);
		if (e->major == major(dev) && e->minor == minor(dev) && is_prefix_dir(e->target, path) &&
		    (!best || l >= best_len)) {
			best = e;
			best_len = l;
		}
	}
	return best;
}

const mount_entry *mount_table_by_dev(const mount_table *t, dev_t dev)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].major == major(dev) && t->v[i].minor == minor(dev))
			return &t->v[i];
	return NULL;
}
