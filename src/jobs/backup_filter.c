/* SPDX-License-Identifier: BSD-2-Clause */
#include "backup_filter.h"
#include "quote.h"
#include "../base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The first bytes of a valid CACHEDIR.TAG (Cache Directory Tagging Specification 1.0). */
static const char cachedir_signature[] = "Signature: 8a477f597d28d172789f06886806bc55";

int backup_filter_init(backup_filter *f, const backup_filter_params *p)
{
	memset(f, 0, sizeof(*f));
	f->p = p;
	int rc = match_add_list(&f->patterns, p->excludes, p->nexcludes, 0);
	rc = rc ?: match_add_list(&f->patterns, p->iexcludes, p->niexcludes, MATCH_ICASE);
	struct stat st;
	if (rc == 0 && p->repo_dirfd >= 0 && fstat(p->repo_dirfd, &st) == 0) {
		f->has_repo = 1;
		f->repo_dev = st.st_dev;
		f->repo_ino = st.st_ino;
	}
	if (rc < 0)
		backup_filter_release(f);
	return rc;
}

void backup_filter_release(backup_filter *f)
{
	match_release(&f->patterns);
}

int backup_filter_entry(backup_filter *f, const buf *path, const struct stat *st)
{
	int out = 0;
	if (f->has_repo && S_ISDIR(st->st_mode) && st->st_dev == f->repo_dev && st->st_ino == f->repo_ino) {
		if (!f->repo_said) {
			buf q = BUF_INIT;
			log_info("dvalin: not backing up '%s': it is the repository this backup writes to",
				 quote_path(&q, path->data, path->len));
			buf_release(&q);
			f->repo_said = 1;
		}
		out = 1;
	} else if (f->p->larger_than && S_ISREG(st->st_mode) && (uint64_t)st->st_size > f->p->larger_than) {
		out = 1;
	} else {
		out = match_path(&f->patterns, path->data, path->len, S_ISDIR(st->st_mode));
	}
	f->excluded += out;
	return out;
}

/* 1 when dirfd/CACHEDIR.TAG is a regular file that starts with the signature. */
static int has_cachedir_tag(int dirfd)
{
	int fd = openat(dirfd, "CACHEDIR.TAG", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char head[sizeof(cachedir_signature) - 1];
	struct stat st;
	ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, head, sizeof(head)) : -1;
	close(fd);
	return n == (ssize_t)sizeof(head) && memcmp(head, cachedir_signature, sizeof(head)) == 0;
}

const char *backup_filter_tagged(backup_filter *f, int dirfd)
{
	if (f->p->caches && has_cachedir_tag(dirfd))
		return "CACHEDIR.TAG";
	for (size_t i = 0; i < f->p->nif_present; i++) {
		struct stat st;
		if (fstatat(dirfd, f->p->if_present[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			return f->p->if_present[i];
	}
	return NULL;
}
