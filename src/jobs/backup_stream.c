/* SPDX-License-Identifier: BSD-2-Clause */
#include "backup_stream.h"
#include "treeio.h"
#include "../archive/meta.h"
#include "../archive/seglist.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int backup_stream_path(const char *name, char **out)
{
	size_t n = strlen(name), k = 0, depth = 0;
	_cleanup_free_ char *p = malloc(n + 2);
	if (!p)
		return -ENOMEM;
	for (const char *c = name; *c;) {
		size_t l = strcspn(c, "/");
		if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return err_set(-DV_EUSAGE, "invalid stream name '%s': '.' and '..' are not allowed",
				       name);
		if (l > TREE_NAME_MAX)
			return err_set(-DV_EUSAGE, "invalid stream name '%s': a name longer than %d bytes",
				       name, TREE_NAME_MAX);
		if (l) {
			p[k++] = '/';
			memcpy(p + k, c, l);
			k += l;
			depth++;
		}
		c += l + (c[l] == '/');
	}
	p[k] = 0;
	if (!depth)
		return err_set(-DV_EUSAGE, "invalid stream name '%s': no file name", name);
	if (depth > TREE_MAX_DEPTH)
		return err_set(-DV_EUSAGE, "invalid stream name '%s': deeper than %d levels", name,
			       TREE_MAX_DEPTH);
	*out = take_ptr(p);
	return 0;
}

/* A node as lstat would describe the entry: this process's ids. */
static void synth_node(tree_node *n, meta_names *names, mode_t mode, int64_t t, const char *name,
		       size_t len)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_uid = getuid();
	st.st_gid = getgid();
	st.st_nlink = 1;
	st.st_mtim.tv_sec = st.st_ctim.tv_sec = (time_t)t;
	memset(n, 0, sizeof(*n));
	meta_from_stat(n, &st, names);
	n->name = (const uint8_t *)name;
	n->name_len = len;
}

/* The trees from "/" down to the stream's file, innermost first. */
static int store_trees(const backup_stream_params *p, const seglist *segs, uint8_t out_root[32],
		       snapshot_stats *st)
{
	meta_names *names = NULL;
	int rc = meta_names_new(&names);
	if (rc < 0)
		return rc;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	const char *path = p->path, *base = strrchr(path, '/') + 1;
	tree_writer tw = TREE_WRITER_INIT;
	tree_node n;
	_cleanup_free_ tree_seg *ts = NULL;
	synth_node(&n, names, S_IFREG | (p->mode & 07777), now.tv_sec, base, strlen(base));
	n.mtime_ns = n.ctime_ns = (uint32_t)now.tv_nsec;
	rc = seglist_to_node(segs, &tw, &ts);
	if (rc == 0) {
		n.segs = ts;
		n.nsegs = segs->n;
		n.size = seglist_size(segs);
		rc = tree_writer_add(&tw, &n);
	}
	uint8_t id[32];
	rc = rc ?: treeio_store(p->r, &tw, id);
	st->files_new++;
	st->total_files++;
	st->total_bytes += n.size;
	/* each directory up to the root holds the one below it */
	for (const char *end = base - 1; rc == 0 && end > path;) {
		const char *start = end;
		while (start[-1] != '/')
			start--;
		synth_node(&n, names, S_IFDIR | 0755, p->time, start, (size_t)(end - start));
		rc = tree_writer_ref(&tw, id, &n.subtree);
		rc = rc ?: tree_writer_add(&tw, &n);
		rc = rc ?: treeio_store(p->r, &tw, id);
		st->dirs++;
		end = start - 1;
	}
	if (rc == 0)
		memcpy(out_root, id, 32);
	tree_writer_release(&tw);
	meta_names_free(names);
	return rc;
}

int backup_stream(const backup_stream_params *p, uint8_t out_root[32], snapshot_stats *st,
		  backup_stream_result *res)
{
	const char *cmd = p->command ? p->command[0] : NULL;
	int fd = p->fd, status = 0;
	pid_t pid = -1;
	memset(res, 0, sizeof(*res));
	res->status = -1;
	if (!cmd && isatty(fd))
		return err_set(-EINVAL, "refusing to read a stream from a terminal: pipe it into dvalin");
	if (cmd) {
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) < 0)
			return err_sys(-errno, "cannot run '%s'", cmd);
		proc_spec s = { p->command, PROC_INHERIT, fds[1], PROC_INHERIT, 0 };
		int rc = proc_spawn(&pid, &s);
		close(fds[1]);
		if (rc < 0) {
			close(fds[0]);
			return rc;
		}
		fd = fds[0];
	}
	repo_session *rd = NULL;
	buf rbuf = BUF_INIT;
	seglist segs = SEGLIST_INIT;
	ingest_status ist;
	memset(&ist, 0, sizeof(ist));
	int rc = repo_session_new(&rd, p->r);
	rc = rc ?: ingest_fd(p->ingest, rd, &rbuf, fd, &segs, &ist);
	/* a failure of the seal pool shows here, before the command is judged */
	rc = rc ?: ingest_wait(p->ingest);
	repo_session_free(rd);
	buf_release(&rbuf);
	res->bytes = ist.bytes;
	if (cmd) {
		close(fd);
		/* dvalin failed: the rest of the dump is not wanted */
		int r2 = rc < 0 || ist.source_err ? proc_terminate(pid, 0, 2000, &status)
						  : proc_wait(pid, &status);
		res->status = status;
		rc = rc ?: r2;
	}
	if (rc == 0 && ist.source_err)
		rc = cmd ? err_sys(ist.source_err, "cannot read the output of '%s'", cmd)
			 : err_sys(ist.source_err, "cannot read the stream from stdin");
	if (rc == 0 && cmd && status > 128)
		rc = err_set(-ECANCELED, "'%s' was killed by signal %d: nothing was saved", cmd, status - 128);
	else if (rc == 0 && cmd && status != 0)
		rc = err_set(-ECANCELED, "'%s' exited with status %d: nothing was saved", cmd, status);
	rc = rc ?: store_trees(p, &segs, out_root, st);
	seglist_release(&segs);
	return rc;
}
