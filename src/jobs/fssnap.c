/* SPDX-License-Identifier: BSD-2-Clause */
#include "fssnap.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/log.h"
#include "../base/mountinfo.h"
#include "../base/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define ZFS_SUPER_MAGIC 0x2fc12fc1
#define BTRFS_SUBVOL_INO 256  /* the root directory of every btrfs subvolume */
#define NAME_PREFIX FSSNAP_PREFIX
#define LVM_MOUNT_DIR "/run/dvalin"
#define TOOL_TIMEOUT 600.0    /* seconds for one lvcreate, zfs snapshot, ... */
#define TOOL_OUTPUT_MAX ((size_t)1 << 20)

/* One snapshot and how to undo it: commands run in order. */
typedef struct {
	char *origin;     /* subvolume root, dataset or VG/LV: one snapshot each */
	char *live, *read;
	char **undo[3];   /* argv lists (owned), run first to last */
	char *undo_what[3];
	unsigned guard_id[3];
	size_t nundo;
	size_t done;      /* undo steps already run */
	int made;         /* the snapshot exists (its undo must run) */
	/* lvm */
	char *lv_name, *segtype, *fstype, *mnt, *snapdev; /* fstype NULL: a device */
} snap;

struct fssnap {
	fssnap_kind kind;
	guard *g;
	snap *v;
	size_t n, cap;
	backup_walk_alias *aliases;
	pid_t pid;
	uint64_t start;
	char tag[64];     /* dvalin-snap-PID-START */
};

int fssnap_parse_kind(const char *name, fssnap_kind *out)
{
	static const char *const names[] = { "btrfs", "zfs", "lvm" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (fssnap_kind)(i + 1);
			return 0;
		}
	return err_set(-DV_EUSAGE, "unknown snapshot kind '%s' (btrfs, zfs or lvm)", name);
}

const char *fssnap_kind_name(fssnap_kind k)
{
	return k == FSSNAP_BTRFS ? "btrfs" : k == FSSNAP_ZFS ? "zfs" : k == FSSNAP_LVM ? "lvm" : "none";
}

/* ---- processes: who made a snapshot, and is it still there ---- */

/* When pid started, in seconds since the epoch (boot time + its start). */
static int process_start(pid_t pid, uint64_t *out)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = 0;
	/* the command name is in parentheses and may hold anything: skip past
	 * the last ')'; starttime is then the 20th field */
	char *p = strrchr(line, ')');
	unsigned long long ticks = 0;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return -DV_ECORRUPT;
	static unsigned long long btime;
	if (!btime) {
		FILE *s = fopen("/proc/stat", "re");
		char l[256];
		while (s && fgets(l, sizeof(l), s))
			if (sscanf(l, "btime %llu", &btime) == 1)
				break;
		if (s)
			fclose(s);
		if (!btime)
			return -DV_ECORRUPT;
	}
	long hz = sysconf(_SC_CLK_TCK);
	*out = btime + ticks / (unsigned long long)(hz > 0 ? hz : 100);
	return 0;
}

/* 1 when name was made by a process that is gone, 0 if not ours or alive. */
static int is_stale(const char *name)
{
	int pid, len = 0;
	unsigned long long start;
	if (strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0 ||
	    sscanf(name + strlen(NAME_PREFIX), "%d-%llu%n", &pid, &start, &len) != 2 || pid <= 0)
		return 0;
	const char *rest = name + strlen(NAME_PREFIX) + len;
	if (*rest && !(rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9'))
		return 0;
	uint64_t now_start;
	if (process_start(pid, &now_start) < 0)
		return 1; /* no such process */
	/* a different process with the same pid (a later one, or after a boot) */
	return now_start + 1 < start || now_start > start + 1;
}

/* ---- running the tools ---- */

static char *last_line(buf *out)
{
	while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == ' '))
		out->len--;
	size_t i = out->len;
	while (i && out->data[i - 1] != '\n')
		i--;
	if (buf_put_u8(out, 0) < 0)
		return "";
	return (char *)out->data + i;
}

/* Runs argv; its output (for parsing) in out.  An error names what failed. */
static int tool(buf *out, const char *what, const char *const *argv)
{
	buf _cleanup_(buf_releasep) mine = BUF_INIT;
	buf *o = out ? out : &mine;
	proc_run_opts po = { .argv = argv, .in = -1, .with_stderr = !out, .timeout = TOOL_TIMEOUT,
			     .max = TOOL_OUTPUT_MAX };
	proc_result res;
	int rc = proc_run(&po, o, &res);
	if (rc == -ENOENT)
		return err_set(rc, "cannot %s: '%s' is not installed", what, argv[0]);
	if (rc < 0)
		return err_set(rc, "cannot %s: %s", what, err_msg(rc));
	if (res.timed_out)
		return err_set(-ETIMEDOUT, "cannot %s: '%s' did not finish in %.0f s", what, argv[0],
			       TOOL_TIMEOUT);
	if (res.status != 0) {
		const char *l = out ? "" : last_line(o);
		return err_set(-EIO, "cannot %s: %s exited with status %d%s%s", what, argv[0], res.status,
			       *l ? ": " : "", l);
	}
	if (out && buf_put_u8(out, 0) == 0)
		out->len--; /* NUL-terminated for parsing, not counted */
	return 0;
}

/* ---- the set of snapshots ---- */

static void argv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char **argv_dup(const char *const *argv)
{
	size_t n = 0;
	while (argv[n])
		n++;
	char **v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		if (!(v[i] = strdup(argv[i]))) {
			argv_free(v);
			return NULL;
		}
	return v;
}

static snap *snap_find(fssnap *s, const char *origin)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].origin, origin) == 0)
			return &s->v[i];
	return NULL;
}

/* A new snapshot of origin, read at read for the live path live. */
static int snap_add(fssnap *s, const char *origin, const char *live, const char *read, snap **out)
{
	int rc = array_reserve(&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	if (rc < 0)
		return rc;
	snap *p = &s->v[s->n];
	memset(p, 0, sizeof(*p));
	p->origin = strdup(origin);
	p->live = strdup(live);
	p->read = strdup(read);
	s->n++;
	*out = p;
	return p->origin && p->live && p->read ? 0 : -ENOMEM;
}

/*
 * Registers the next step that undoes p (they run in the order added),
 * with the guard too: it runs what is registered newest first, so the
 * steps are handed to it in reverse by snap_guard().
 */
static int snap_undo(snap *p, const char *what, const char *const *argv)
{
	if (p->nundo == ARRAY_SIZE(p->undo))
		return -E2BIG;
	p->undo[p->nundo] = argv_dup(argv);
	p->undo_what[p->nundo] = strdup(what);
	if (!p->undo[p->nundo] || !p->undo_what[p->nundo]) {
		argv_free(p->undo[p->nundo]);
		free(p->undo_what[p->nundo]);
		return -ENOMEM;
	}
	p->nundo++;
	return 0;
}

static int snap_guard(fssnap *s, snap *p)
{
	for (size_t i = p->nundo; s->g && i-- > 0;) {
		int rc = guard_add(s->g, p->undo_what[i], (const char *const *)p->undo[i], TOOL_TIMEOUT, 4,
				   &p->guard_id[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Runs p's remaining undo steps (a busy one is tried again). */
static int snap_remove(fssnap *s, snap *p)
{
	int rc = 0;
	while (p->made && p->done < p->nundo) {
		size_t k = p->done;
		for (int attempt = 0;; attempt++) {
			rc = tool(NULL, p->undo_what[k], (const char *const *)p->undo[k]);
			if (rc == 0 || attempt == 2)
				break;
			sleep(1);
		}
		if (rc < 0) {
			log_error("%s", err_msg(rc));
			return rc; /* the later steps depend on this one */
		}
		if (s->g)
			guard_dismiss(s->g, p->guard_id[k]);
		p->done++;
	}
	return 0;
}

static void snap_release(snap *p)
{
	free(p->origin);
	free(p->live);
	free(p->read);
	for (size_t i = 0; i < p->nundo; i++) {
		argv_free(p->undo[i]);
		free(p->undo_what[i]);
	}
	free(p->lv_name);
	free(p->segtype);
	free(p->fstype);
	free(p->mnt);
	free(p->snapdev);
}

/* ---- btrfs ---- */

/* The root of the btrfs subvolume that holds path (freed by the caller). */
static int btrfs_origin(const char *path, char **out)
{
	struct statfs sf;
	struct stat st, up;
	if (statfs(path, &sf) < 0)
		return err_sys(-errno, "cannot snapshot '%s'", path);
	if ((uint32_t)sf.f_type != (uint32_t)BTRFS_SUPER_MAGIC)
		return err_set(-EINVAL, "cannot snapshot '%s': not on a btrfs file system", path);
	_cleanup_free_ char *cur = strdup(path);
	if (!cur)
		return -ENOMEM;
	if (lstat(cur, &st) < 0)
		return err_sys(-errno, "cannot snapshot '%s'", path);
	/* up from the path while the parent is on the same subvolume (each
	 * subvolume is a device of its own) */
	for (int dir = S_ISDIR(st.st_mode);;) {
		char *slash = strrchr(cur, '/');
		if (dir && (!slash || cur[1] == 0))
			break;
		char keep = slash == cur ? slash[1] : 0;
		if (slash == cur)
			slash[1] = 0;
		else
			*slash = 0;
		if (lstat(cur, &up) < 0)
			return err_sys(-errno, "cannot snapshot '%s'", path);
		if (dir && up.st_dev != st.st_dev) {
			/* one level too far: back to the child */
			if (slash == cur)
				slash[1] = keep;
			else
				*slash = '/';
			break;
		}
		st = up;
		dir = 1;
	}
	if (lstat(cur, &st) < 0)
		return err_sys(-errno, "cannot snapshot '%s'", path);
	if (st.st_ino != BTRFS_SUBVOL_INO)
		return err_set(-EINVAL, "cannot snapshot '%s': the root of its btrfs subvolume is not "
			       "visible here (mounted from a subdirectory?)", path);
	*out = take_ptr(cur);
	return 0;
}

static int join(char **out, const char *dir, const char *name)
{
	if (asprintf(out, "%s/%s", strcmp(dir, "/") ? dir : "", name) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int btrfs_remove_stale(const char *root)
{
	DIR *d _cleanup_(closedirp) = opendir(root);
	if (!d)
		return err_sys(-errno, "cannot list '%s'", root);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] != '.' || !is_stale(e->d_name + 1) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_ino != BTRFS_SUBVOL_INO)
			continue;
		_cleanup_free_ char *p = NULL;
		if (join(&p, root, e->d_name) < 0)
			return -ENOMEM;
		log_warn("removing snapshot '%s', left by a dvalin that ended without cleaning up", p);
		const char *argv[] = { "btrfs", "subvolume", "delete", p, NULL };
		int rc = tool(NULL, "remove a stale btrfs snapshot", argv);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int btrfs_add(fssnap *s, const char *path)
{
	_cleanup_free_ char *root = NULL, *dest = NULL, *name = NULL;
	int rc = btrfs_origin(path, &root);
	if (rc < 0 || snap_find(s, root))
		return rc;
	snap *p;
	if (asprintf(&name, ".%s", s->tag) < 0) {
		name = NULL;
		return -ENOMEM;
	}
	rc = join(&dest, root, name);
	rc = rc ?: snap_add(s, root, root, dest, &p);
	if (rc < 0)
		return rc;
	char what[PATH_MAX + 64];
	snprintf(what, sizeof(what), "remove btrfs snapshot '%s'", dest);
	const char *undo[] = { "btrfs", "subvolume", "delete", dest, NULL };
	return snap_undo(p, what, undo);
}

static int btrfs_make(fssnap *s, snap *p)
{
	int rc = btrfs_remove_stale(p->origin);
	rc = rc ?: snap_guard(s, p);
	if (rc < 0)
		return rc;
	char what[PATH_MAX + 64];
	snprintf(what, sizeof(what), "make a btrfs snapshot of '%s'", p->origin);
	const char *argv[] = { "btrfs", "subvolume", "snapshot", "-r", p->origin, p->read, NULL };
	p->made = 1; /* the guard's removal may run from now on: so must ours */
	rc = tool(NULL, what, argv);
	if (rc < 0)
		p->made = 0;
	return rc;
}

/* ---- zfs ---- */

static int zfs_add(fssnap *s, const mount_table *mt, const char *path)
{
	struct statfs sf;
	struct stat st;
	if (statfs(path, &sf) < 0 || lstat(path, &st) < 0)
		return err_sys(-errno, "cannot snapshot '%s'", path);
	const mount_entry *m = mount_table_find(mt, path, st.st_dev);
	if ((uint32_t)sf.f_type != (uint32_t)ZFS_SUPER_MAGIC || !m || strcmp(m->fstype, "zfs") != 0)
		return err_set(-EINVAL, "cannot snapshot '%s': not on a ZFS file system", path);
	if (strcmp(m->root, "/") != 0)
		return err_set(-EINVAL, "cannot snapshot '%s': its dataset is mounted from a subdirectory",
			       path);
	if (snap_find(s, m->source))
		return 0;
	_cleanup_free_ char *read = NULL, *full = NULL;
	char sub[PATH_MAX];
	snprintf(sub, sizeof(sub), ".zfs/snapshot/%s", s->tag);
	if (join(&read, m->target, sub) < 0 || asprintf(&full, "%s@%s", m->source, s->tag) < 0)
		return -ENOMEM;
	snap *p;
	int rc = snap_add(s, m->source, m->target, read, &p);
	if (rc < 0)
		return rc;
	char what[PATH_MAX + 64];
	snprintf(what, sizeof(what), "destroy ZFS snapshot '%s'", full);
	const char *undo[] = { "zfs", "destroy", full, NULL };
	return snap_undo(p, what, undo);
}

static int zfs_remove_stale(const char *dataset)
{
	buf _cleanup_(buf_releasep) out = BUF_INIT;
	const char *argv[] = { "zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-d", "1", dataset, NULL };
	int rc = tool(&out, "list ZFS snapshots", argv);
	if (rc < 0)
		return rc;
	char *save = NULL;
	for (char *l = strtok_r((char *)out.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *at = strchr(l, '@');
		if (!at || !is_stale(at + 1))
			continue;
		log_warn("removing ZFS snapshot '%s', left by a dvalin that ended without cleaning up", l);
		const char *d[] = { "zfs", "destroy", l, NULL };
		if ((rc = tool(NULL, "remove a stale ZFS snapshot", d)) < 0)
			return rc;
	}
	return 0;
}

static int zfs_make(fssnap *s, snap *p)
{
	int rc = zfs_remove_stale(p->origin);
	rc = rc ?: snap_guard(s, p);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *full = NULL;
	if (asprintf(&full, "%s@%s", p->origin, s->tag) < 0)
		return -ENOMEM;
	char what[PATH_MAX + 64];
	snprintf(what, sizeof(what), "make a ZFS snapshot of '%s'", p->origin);
	const char *argv[] = { "zfs", "snapshot", full, NULL };
	p->made = 1;
	if ((rc = tool(NULL, what, argv)) < 0) {
		p->made = 0;
		return rc;
	}
	struct stat st; /* (reaching it mounts it) */
	if (stat(p->read, &st) < 0)
		return err_sys(-errno, "cannot read ZFS snapshot '%s' at '%s'", full, p->read);
	return 0;
}

/* ---- lvm ---- */

/* A sysfs attribute of block device dev (one line, newline removed). */
static int sys_attr(dev_t dev, const char *attr, char *out, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(dev), minor(dev), attr);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *r = fgets(out, (int)len, f);
	fclose(f);
	if (!r)
		return -EIO;
	out[strcspn(out, "\n")] = 0;
	return 0;
}

/* The device-mapper name of an LVM volume: '-' doubled in each part. */
static int dm_name(char *out, size_t len, const char *vg, const char *lv)
{
	size_t k = 0;
	for (int part = 0; part < 2; part++) {
		for (const char *c = part ? lv : vg; *c; c++) {
			if (k + 3 >= len)
				return -ENAMETOOLONG;
			out[k++] = *c;
			if (*c == '-')
				out[k++] = '-';
		}
		if (!part)
			out[k++] = '-';
	}
	out[k] = 0;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n'))
		s[--l] = 0;
	return s;
}

/* VG, LV and segment type of the LVM volume that is block device dev. */
static int lvm_volume(const char *path, dev_t dev, char *vg, char *lv, char *seg, size_t len)
{
	char uuid[256], name[256];
	if (sys_attr(dev, "dm/uuid", uuid, sizeof(uuid)) < 0 || strncmp(uuid, "LVM-", 4) != 0 ||
	    sys_attr(dev, "dm/name", name, sizeof(name)) < 0)
		return err_set(-EINVAL, "cannot snapshot '%s': not on an LVM logical volume (device %u:%u)",
			       path, major(dev), minor(dev));
	char devpath[300];
	snprintf(devpath, sizeof(devpath), "/dev/mapper/%s", name);
	buf _cleanup_(buf_releasep) out = BUF_INIT;
	const char *argv[] = { "lvs", "--noheadings", "--separator", "|", "-o", "vg_name,lv_name,segtype",
			       devpath, NULL };
	int rc = tool(&out, "find the LVM volume", argv);
	if (rc < 0)
		return rc;
	char *l = trim((char *)out.data), *save = NULL;
	char *a = strtok_r(l, "|", &save), *b = strtok_r(NULL, "|", &save), *c = strtok_r(NULL, "|\n", &save);
	if (!a || !b || !c || strlen(a) >= len || strlen(b) >= len || strlen(c) >= len)
		return err_set(-EIO, "cannot snapshot '%s': cannot read the output of lvs", path);
	snprintf(vg, len, "%s", trim(a));
	snprintf(lv, len, "%s", trim(b));
	snprintf(seg, len, "%s", trim(c));
	return 0;
}

static int lvm_add(fssnap *s, const mount_table *mt, const char *path, int read_devices)
{
	if (access("/dev/mapper/control", F_OK) < 0)
		return err_set(-ENODEV, "cannot use --snapshot lvm: device-mapper is not available here "
			       "(no /dev/mapper/control)");
	struct stat st, t;
	if (lstat(path, &st) < 0)
		return err_sys(-errno, "cannot snapshot '%s'", path);
	/* with --read-devices, a path that is a volume (or a link to one, as
	 * /dev/VG/LV is) is read from its snapshot's device */
	int device = 0;
	if (read_devices && (S_ISBLK(st.st_mode) ||
			     (S_ISLNK(st.st_mode) && stat(path, &t) == 0 && S_ISBLK(t.st_mode)))) {
		device = 1;
		if (S_ISLNK(st.st_mode))
			st = t;
	}
	dev_t dev = device ? st.st_rdev : st.st_dev;
	const mount_entry *m = device ? NULL : mount_table_find(mt, path, dev);
	if (!device && !m)
		return err_set(-EINVAL, "cannot snapshot '%s': its mount is not in /proc/self/mountinfo",
			       path);
	char vg[128], lv[128], seg[128], name[160], dm[400], origin[260], what[PATH_MAX + 64];
	int rc = lvm_volume(path, dev, vg, lv, seg, sizeof(vg));
	if (rc < 0)
		return rc;
	snprintf(origin, sizeof(origin), "%s/%s", vg, lv);
	if (snap_find(s, origin))
		return 0;
	snprintf(name, sizeof(name), "%s-%zu", s->tag, s->n);
	if (dm_name(dm, sizeof(dm), vg, name) < 0)
		return -ENAMETOOLONG;
	_cleanup_free_ char *snapdev = NULL, *mnt = NULL, *read = NULL, *full = NULL;
	if (asprintf(&snapdev, "/dev/mapper/%s", dm) < 0 ||
	    asprintf(&mnt, LVM_MOUNT_DIR "/%s/%s", vg, name) < 0 || asprintf(&full, "%s/%s", vg, name) < 0)
		return -ENOMEM;
	if (device)
		read = strdup(snapdev);
	else if (asprintf(&read, "%s%s", mnt, strcmp(m->root, "/") ? m->root : "") < 0)
		read = NULL;
	snap *p;
	rc = read ? snap_add(s, origin, device ? path : m->target, read, &p) : -ENOMEM;
	if (rc < 0)
		return rc;
	p->lv_name = strdup(name);
	p->segtype = strdup(seg);
	p->fstype = device ? NULL : strdup(m->fstype);
	p->snapdev = take_ptr(snapdev);
	p->mnt = take_ptr(mnt);
	if (!p->lv_name || !p->segtype || (!device && !p->fstype))
		return -ENOMEM;
	/* undone in this order: unmount, remove the volume, the mount point */
	if (!device) {
		snprintf(what, sizeof(what), "unmount LVM snapshot at '%s'", p->mnt);
		const char *um[] = { "umount", p->mnt, NULL };
		if ((rc = snap_undo(p, what, um)) < 0)
			return rc;
	}
	snprintf(what, sizeof(what), "remove LVM snapshot '%s'", full);
	const char *rm[] = { "lvremove", "-f", full, NULL };
	if ((rc = snap_undo(p, what, rm)) < 0 || device)
		return rc;
	snprintf(what, sizeof(what), "remove mount point '%s'", p->mnt);
	const char *rd[] = { "rmdir", p->mnt, NULL };
	return snap_undo(p, what, rd);
}

static int lvm_remove_stale(const char *vg, const mount_table *mt)
{
	buf _cleanup_(buf_releasep) out = BUF_INIT;
	const char *argv[] = { "lvs", "--noheadings", "-o", "lv_name", vg, NULL };
	int rc = tool(&out, "list LVM volumes", argv);
	if (rc < 0)
		return rc;
	char *save = NULL;
	for (char *l = strtok_r((char *)out.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *name = trim(l), mnt[400], full[300];
		if (!is_stale(name))
			continue;
		snprintf(mnt, sizeof(mnt), LVM_MOUNT_DIR "/%s/%s", vg, name);
		snprintf(full, sizeof(full), "%s/%s", vg, name);
		log_warn("removing LVM snapshot '%s', left by a dvalin that ended without cleaning up", full);
		for (size_t i = 0; i < mt->n; i++) {
			if (strcmp(mt->v[i].target, mnt) != 0)
				continue;
			const char *um[] = { "umount", mnt, NULL };
			if ((rc = tool(NULL, "unmount a stale LVM snapshot", um)) < 0)
				return rc;
			break;
		}
		const char *rm[] = { "lvremove", "-f", full, NULL };
		if ((rc = tool(NULL, "remove a stale LVM snapshot", rm)) < 0)
			return rc;
		rmdir(mnt);
	}
	return 0;
}

static int lvm_make(fssnap *s, snap *p, const mount_table *mt)
{
	char vg[260], what[PATH_MAX + 64];
	const char *slash = strchr(p->origin, '/');
	snprintf(vg, sizeof(vg), "%.*s", (int)(slash - p->origin), p->origin);
	int rc = lvm_remove_stale(vg, mt);
	rc = rc ?: snap_guard(s, p);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "make an LVM snapshot of '%s'", p->origin);
	/* a thin volume's snapshot is thin and needs no size; -kn: active */
	const char *thin[] = { "lvcreate", "-s", "-kn", "-n", p->lv_name, p->origin, NULL };
	const char *thick[] = { "lvcreate", "-s", "-l", "10%ORIGIN", "-n", p->lv_name, p->origin, NULL };
	p->made = 1;
	if ((rc = tool(NULL, what, strcmp(p->segtype, "thin") == 0 ? thin : thick)) < 0) {
		p->made = 0;
		return rc;
	}
	if (!p->fstype)
		return 0;
	if ((rc = fsio_mkdir_p(p->mnt, 0700, 0700)) < 0) {
		rc = err_sys(rc, "cannot create '%s'", p->mnt);
		p->done = 1; /* nothing mounted: the removal starts at lvremove */
		return rc;
	}
	char opts[64];
	/* XFS refuses a second mount of the same UUID */
	snprintf(opts, sizeof(opts), "ro%s", strcmp(p->fstype, "xfs") == 0 ? ",nouuid" : "");
	const char *mount[] = { "mount", "-t", p->fstype, "-o", opts, p->snapdev, p->mnt, NULL };
	snprintf(what, sizeof(what), "mount LVM snapshot '%s'", p->snapdev);
	if ((rc = tool(NULL, what, mount)) < 0)
		p->done = 1;
	return rc;
}

/* ---- the set ---- */

int fssnap_create(fssnap **out, const fssnap_params *pp)
{
	fssnap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = pp->kind;
	s->g = pp->guard;
	s->pid = getpid();
	mount_table mt = MOUNT_TABLE_INIT;
	int rc = process_start(s->pid, &s->start);
	if (rc < 0)
		rc = err_sys(rc, "cannot read this process's start time");
	snprintf(s->tag, sizeof(s->tag), NAME_PREFIX "%d-%" PRIu64, (int)s->pid, s->start);
	if (rc == 0 && pp->kind != FSSNAP_BTRFS)
		rc = mount_table_load(&mt);
	/* every path first: refuse before anything is made */
	for (size_t i = 0; rc == 0 && i < pp->npaths; i++) {
		const char *path = pp->paths[i];
		rc = pp->kind == FSSNAP_BTRFS ? btrfs_add(s, path)
		   : pp->kind == FSSNAP_ZFS   ? zfs_add(s, &mt, path)
					      : lvm_add(s, &mt, path, pp->read_devices);
	}
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		snap *p = &s->v[i];
		rc = pp->kind == FSSNAP_BTRFS ? btrfs_make(s, p)
		   : pp->kind == FSSNAP_ZFS   ? zfs_make(s, p)
					      : lvm_make(s, p, &mt);
		/* not made: the guard must not try to remove it */
		for (size_t k = 0; rc < 0 && !p->made && s->g && k < p->nundo; k++)
			if (p->guard_id[k])
				guard_dismiss(s->g, p->guard_id[k]);
	}
	mount_table_release(&mt);
	if (rc == 0 && !(s->aliases = calloc(s->n ? s->n : 1, sizeof(*s->aliases))))
		rc = -ENOMEM;
	if (rc < 0) {
		/* keep the message of the failure, not of the clean-up */
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", err_msg(rc));
		fssnap_free(s);
		return err_set(rc, "%s", msg);
	}
	for (size_t i = 0; i < s->n; i++)
		s->aliases[i] = (backup_walk_alias){ s->v[i].live, s->v[i].read };
	*out = s;
	return 0;
}

const backup_walk_alias *fssnap_aliases(const fssnap *s, size_t *out_n)
{
	*out_n = s->n;
	return s->aliases;
}

int fssnap_remove(fssnap *s)
{
	int first = 0;
	for (size_t i = s->n; i-- > 0;) {
		snap *p = &s->v[i];
		int rc = snap_remove(s, p);
		if (rc < 0 && !first)
			first = rc;
	}
	return first;
}

void fssnap_free(fssnap *s)
{
	if (!s)
		return;
	fssnap_remove(s);
	for (size_t i = 0; i < s->n; i++)
		snap_release(&s->v[i]);
	free(s->v);
	free(s->aliases);
	free(s);
}
