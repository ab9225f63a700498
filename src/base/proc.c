/* SPDX-License-Identifier: BSD-2-Clause */
#include "proc.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int proc_capture(const char *const argv[], buf *out, size_t max, int *status)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = -posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc < 0) {
		close(fds[0]);
		return rc == -ENOENT ? err_set(-ENOENT, "'%s' not found", argv[0])
				     : err_sys(rc, "cannot run '%s'", argv[0]);
	}
	out->len = 0;
	char tmp[65536];
	for (;;) {
		ssize_t n = read(fds[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len + (size_t)n > max) {
			rc = err_set(-EFBIG, "output of '%s' is larger than %zu bytes", argv[0], max);
			break;
		}
		if ((rc = buf_append(out, tmp, (size_t)n)) < 0)
			break;
	}
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	/* posix_spawnp reports a missing program as exit 127 on glibc */
	if (rc == 0 && *status == 127 && out->len == 0)
		return err_set(-ENOENT, "'%s' not found", argv[0]);
	return rc;
}
