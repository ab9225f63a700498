/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the alerts configuration (/etc/dvalin/alerts.conf).
 * alert_config_load() reads a path, so the harness hands it the input
 * through a memory file (memfd, opened by its /proc/self/fd name).  Every
 * channel of a configuration that loads must be complete (a url; from and
 * to for e-mail; a token for Gotify) and have a name.
 *
 * The INI syntax underneath has its own, faster target (ini, calling the
 * pure ini_parse()); this one covers what alert.c makes of it.
 */
#include "fuzz.h"

#include "base/err.h"
#include "notify/alert.h"

#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-alerts", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	alert_config c;
	if (alert_config_load(&c, path) == 0) {
		for (size_t i = 0; i < c.n; i++) {
			const alert_channel *ch = &c.v[i];
			FUZZ_CHECK(ch->url[0] && strcmp(alert_channel_name(ch), "?") != 0);
			FUZZ_CHECK(ch->type != CH_EMAIL || (ch->from[0] && ch->to[0]));
			FUZZ_CHECK(ch->type != CH_GOTIFY || ch->token[0]);
		}
		alert_config_release(&c);
	}
	err_clear();
	return 0;
}
