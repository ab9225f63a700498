/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the daemon's configuration (/etc/dvalin/dvalin.conf,
 * src/daemon/config.c).  config_load() reads a path, so the input goes
 * through a memory file (memfd, opened by its /proc/self/fd name), and the
 * "FILE:LINE: reason" lines it logs for a bad file go to /dev/null while
 * it runs.  A configuration that loads must be complete, as the daemon
 * relies on: every job has a valid unique name and its repository (backup,
 * prune, check) with a location, every backup a path, a web UI has users
 * and HTTPS beyond loopback, a failed load reports at least one error.
 */
#include "fuzz.h"

#include "base/err.h"
#include "daemon/config.h"
#include "http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1, devnull = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-daemon-config", MFD_CLOEXEC);
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || devnull < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	int saved = dup(2);
	if (saved < 0 || dup2(devnull, 2) < 0)
		abort();
	dconf *c = NULL;
	int nerr = 0;
	int rc = config_load(&c, path, &nerr);
	dup2(saved, 2);
	close(saved);
	if (rc == -EINVAL)
		FUZZ_CHECK(nerr > 0 && c == NULL);
	if (rc == 0) {
		FUZZ_CHECK(c->concurrency >= 1 && c->history >= 1 && c->state_dir && c->state_dir[0] == '/');
		for (size_t i = 0; i < c->njobs; i++) {
			const dconf_job *j = &c->jobs[i];
			FUZZ_CHECK(j->name[0] && config_find_job(c, j->name) == j);
			if (j->kind == JOB_BACKUP || j->kind == JOB_PRUNE || j->kind == JOB_CHECK)
				FUZZ_CHECK(j->repo && j->repo->location && j->repo->location[0]);
			if (j->kind == JOB_BACKUP)
				FUZZ_CHECK(j->npaths > 0);
			FUZZ_CHECK(!j->schedule_text == !j->schedule);
		}
		if (c->listen) {
			int loop = 0;
			FUZZ_CHECK(http_listen_check(c->listen, &loop) == 0);
			FUZZ_CHECK(c->nusers > 0 && c->nusers == c->nhashes && (loop || c->tls_cert));
		}
		config_free(c);
	}
	err_clear();
	return 0;
}
