/* SPDX-License-Identifier: BSD-2-Clause */
#include "tz.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ZONEINFO "/usr/share/zoneinfo/"

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
/* While entered: $TZ before tz_enter() (NULL: it was unset), and whether we changed it. */
static char *saved_tz;
static bool switched;

static bool name_chars_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  c == '-' || c == '_' || c == '+' || c == '/';
		if (!ok || (c == '/' && name[i + 1] == '/'))
			return false;
	}
	return true;
}

bool tz_name_valid(const char *name)
{
	/* UTC works even where tzdata is not installed: libc falls back to it */
	if (strcmp(name, "UTC") == 0)
		return true;
	if (!name_chars_ok(name))
		return false;
	char path[sizeof(ZONEINFO) + TZ_NAME_MAX];
	snprintf(path, sizeof(path), ZONEINFO "%s", name);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	char magic[4];
	/* a regular file, so a short read means a short file */
	return read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
}

int tz_enter(const char *zone)
{
	pthread_mutex_lock(&tz_lock);
	switched = false;
	if (!zone)
		return 0;
	const char *cur = getenv("TZ");
	saved_tz = NULL;
	if (cur && !(saved_tz = strdup(cur))) {
		pthread_mutex_unlock(&tz_lock);
		return -ENOMEM;
	}
	/* ":" makes glibc read the file rather than parse a POSIX TZ rule */
	char val[TZ_NAME_MAX + 2];
	snprintf(val, sizeof(val), ":%s", zone);
	if (setenv("TZ", val, 1) < 0) {
		free(saved_tz);
		saved_tz = NULL;
		pthread_mutex_unlock(&tz_lock);
		return -ENOMEM;
	}
	switched = true;
	tzset();
	return 0;
}

void tz_leave(void)
{
	if (switched) {
		/* setenv can only fail for lack of memory; unsetting then at least avoids the foreign zone */
		if (!saved_tz || setenv("TZ", saved_tz, 1) < 0)
			unsetenv("TZ");
		free(saved_tz);
		saved_tz = NULL;
		switched = false;
		tzset();
	}
	pthread_mutex_unlock(&tz_lock);
}

bool tz_local_is_utc(void)
{
	pthread_mutex_lock(&tz_lock);
	tzset();
	bool utc = timezone == 0 && daylight == 0;
	pthread_mutex_unlock(&tz_lock);
	return utc;
}
