/* SPDX-License-Identifier: BSD-2-Clause */
#include "restore_device.h"
#include "treeio.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/interrupt.h"
#include "../base/log.h"
#include "../base/mountinfo.h"
#include "../core/blob.h"
#include "../repo/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The tree holding the file at path (in *t) and its index there. */
static int find_file(repo *r, const snapshot *s, const char *path, tree *t, size_t *out_i)
{
	int rc = treeio_load(r, s->tree, t);
	if (rc < 0)
		return rc;
	size_t depth = 0;
	for (const char *c = path;;) {
		while (*c == '/')
			c++;
		size_t l = strcspn(c, "/");
		const char *next = c + l;
		while (*next == '/')
			next++;
		if (l == 0 || ++depth > TREE_MAX_DEPTH)
			return err_set(-DV_ENOTFOUND, "no file '%s' in the snapshot", path);
		long i = tree_find(t, c, l);
		if (i < 0)
			return err_set(-DV_ENOTFOUND, "no file '%s' in the snapshot", path);
		const tree_node *n = &t->nodes[i];
		if (!*next) {
			if (n->type != NODE_FILE)
				return err_set(-EINVAL, "'%s' in the snapshot is not a file", path);
			*out_i = (size_t)i;
			return 0;
		}
		if (n->type != NODE_DIR)
			return err_set(-DV_ENOTFOUND, "no file '%s' in the snapshot", path);
		uint8_t id[32];
		memcpy(id, tree_child(t, n->subtree), 32);
		tree_release(t);
		if ((rc = treeio_load(r, id, t)) < 0)
			return rc;
		c = next;
	}
}

/* A sysfs directory of the device's holders (dm, md) with an entry: its name. */
static int held_by(unsigned maj, unsigned min, char *out, size_t len)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders", maj, min);
	DIR *d _cleanup_(closedirp) = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(out, len, "%s", e->d_name);
			return 1;
		}
	return 0;
}

/* Refuses a device that is mounted or held, or one of whose partitions is. */
static int check_unused(const char *target, dev_t dev)
{
	mount_table mt = MOUNT_TABLE_INIT;
	int rc = mount_table_load(&mt);
	if (rc < 0)
		return rc;
	/* the device itself, then each partition (sysfs entries with a "partition" file) */
	unsigned devs[65][2] = { { major(dev), minor(dev) } };
	size_t n = 1;
	char dir[96], holder[256];
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	DIR *d _cleanup_(closedirp) = opendir(dir);
	struct dirent *e;
	while (d && n < ARRAY_SIZE(devs) && (e = readdir(d))) {
		char p[400], num[32];
		snprintf(p, sizeof(p), "%s/%s/dev", dir, e->d_name);
		FILE *f = e->d_name[0] != '.' ? fopen(p, "re") : NULL;
		if (f && fgets(num, sizeof(num), f) && sscanf(num, "%u:%u", &devs[n][0], &devs[n][1]) == 2)
			n++;
		if (f)
			fclose(f);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const mount_entry *m = mount_table_by_dev(&mt, makedev(devs[i][0], devs[i][1]));
		if (m)
			rc = err_set(-EBUSY, "refusing to write to '%s': %s is mounted at '%s'", target,
				     i ? "a partition of it" : "it", m->target);
		else if (held_by(devs[i][0], devs[i][1], holder, sizeof(holder)))
			rc = err_set(-EBUSY, "refusing to write to '%s': %s is in use by '%s'", target,
				     i ? "a partition of it" : "it", holder);
	}
	mount_table_release(&mt);
	return rc;
}

/* Opens the target: *is_dev, and for a device its size. */
static int open_target(const char *target, uint64_t need, int *is_dev, uint64_t *dev_size)
{
	struct stat st;
	*is_dev = 0;
	if (stat(target, &st) == 0 && S_ISBLK(st.st_mode)) {
		*is_dev = 1;
		int rc = check_unused(target, st.st_rdev);
		if (rc < 0)
			return rc;
		int fd = open(target, O_WRONLY | O_EXCL | O_CLOEXEC);
		if (fd < 0 && errno == EBUSY)
			return err_set(-EBUSY, "refusing to write to '%s': it is in use (a file system, swap "
				       "or another program holds it)", target);
		if (fd < 0)
			return err_sys(-errno, "cannot open '%s'", target);
		if ((rc = fsio_blockdev_size(fd, dev_size)) < 0) {
			close(fd);
			return err_sys(rc, "cannot read the size of '%s'", target);
		}
		if (*dev_size < need) {
			close(fd);
			return err_set(-ENOSPC, "refusing to write to '%s': it holds %llu bytes, the file "
				       "needs %llu", target, (unsigned long long)*dev_size,
				       (unsigned long long)need);
		}
		return fd;
	}
	if (stat(target, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(-EINVAL, "cannot restore to '%s': neither a block device nor a regular file",
			       target);
	int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(-errno, "cannot create '%s'", target);
	return fd;
}

/* Zeros [off, off + len) of a device: BLKZEROOUT on whole sectors, writes for the rest. */
static int zero_range(int fd, uint64_t off, uint64_t len, buf *zeros)
{
	uint64_t a = (off + 511) & ~(uint64_t)511, b = (off + len) & ~(uint64_t)511;
	if (a < b) {
		uint64_t range[2] = { a, b - a };
		if (ioctl(fd, BLKZEROOUT, range) == 0) {
			int rc = a > off ? zero_range(fd, off, a - off, zeros) : 0;
			return rc ?: (off + len > b ? zero_range(fd, b, off + len - b, zeros) : 0);
		}
	}
	/* unaligned pieces, or a device without BLKZEROOUT */
	if (!zeros->len) {
		int rc = buf_reserve(zeros, (size_t)1 << 20);
		if (rc < 0)
			return rc;
		memset(zeros->data, 0, (size_t)1 << 20);
		zeros->len = (size_t)1 << 20;
	}
	while (len) {
		size_t k = (size_t)MIN(len, (uint64_t)zeros->len);
		int rc = fsio_pwrite_all(fd, zeros->data, k, (off_t)off);
		if (rc < 0)
			return rc;
		off += k;
		len -= k;
	}
	return 0;
}

int restore_device_run(repo *r, const snapshot *s, const restore_device_opts *o, job_progress *prog,
		       restore_device_stats *out)
{
	memset(out, 0, sizeof(*out));
	tree t = TREE_INIT;
	size_t idx = 0;
	int rc = find_file(r, s, o->path, &t, &idx);
	if (rc < 0) {
		tree_release(&t);
		return rc;
	}
	const tree_node *n = &t.nodes[idx];
	out->size = n->size;
	atomic_store(&prog->est_bytes, n->size);
	atomic_store(&prog->est_files, 1);
	uint64_t dev_size = 0;
	int fd = open_target(o->target, n->size, &out->device, &dev_size);
	if (fd < 0) {
		tree_release(&t);
		return fd;
	}
	repo_session *rd = NULL;
	buf data = BUF_INIT, zeros = BUF_INIT;
	rc = repo_session_new(&rd, r);
	uint64_t off = 0;
	for (size_t i = 0; rc == 0 && i < n->nsegs; i++) {
		const tree_seg *sg = &n->segs[i];
		if ((rc = interrupt_check()) < 0)
			break;
		if (sg->ref) {
			rc = repo_session_load(rd, BLOB_DATA, tree_child(&t, sg->ref), &data, o->verify);
			if (rc == 0 && data.len != sg->len)
				rc = err_set(-DV_ECORRUPT, "a chunk of '%s' has the wrong length", o->path);
			if (rc == 0 && (rc = fsio_pwrite_all(fd, data.data, data.len, (off_t)off)) < 0)
				rc = err_sys(rc, "cannot write to '%s'", o->target);
			out->data += sg->len;
		} else if (out->device) {
			if ((rc = zero_range(fd, off, sg->len, &zeros)) < 0)
				rc = err_sys(rc, "cannot zero a range of '%s'", o->target);
			out->zeroed += sg->len;
		}
		off += sg->len;
		atomic_fetch_add(&prog->bytes, sg->len);
	}
	if (rc == 0 && !out->device && ftruncate(fd, (off_t)n->size) < 0)
		rc = err_sys(-errno, "cannot set the size of '%s'", o->target);
	if (rc == 0 && fsync(fd) < 0)
		rc = err_sys(-errno, "cannot flush '%s'", o->target);
	if (close(fd) < 0 && rc == 0)
		rc = err_sys(-errno, "cannot close '%s'", o->target);
	if (rc == 0)
		atomic_store(&prog->files, 1);
	if (rc == 0 && out->device && dev_size > n->size)
		log_warn("'%s' is larger than the restored file: its last %llu bytes are left as they were",
			 o->target, (unsigned long long)(dev_size - n->size));
	repo_session_free(rd);
	buf_release(&data);
	buf_release(&zeros);
	tree_release(&t);
	return rc;
}
