/* SPDX-License-Identifier: BSD-2-Clause */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sdnotify(const char *text)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t l = strlen(path);
	if (l >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sa.sun_path, path, l);
	if (path[0] == '@')
		sa.sun_path[0] = 0; /* the abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t n = sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l));
	int e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

int64_t sdnotify_watchdog_usec(void)
{
	const char *u = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	if (!u || !*u)
		return 0;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	char *end;
	long long v = strtoll(u, &end, 10);
	return *end || v <= 0 ? 0 : (int64_t)v;
}
