/* SPDX-License-Identifier: BSD-2-Clause */
#include "announce.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/log.h"
#include "../disks/disks.h"

#include <stdio.h>
#include <unistd.h>

int announce_send(const alert_config *cfg, const char *what, const announce_item *items, size_t n,
		  size_t *sent, size_t *failed)
{
	static const char *const kinds[] = { "", "new", "worse", "recovered" };
	int worst = SEV_OK, rc = 0;
	buf body = BUF_INIT;
	char line[700];
	for (size_t i = 0; rc == 0 && i < n; i++) {
		for (size_t k = 0; rc == 0 && k < items[i].notices->n; k++) {
			const disk_notice *d = &items[i].notices->v[k];
			int len = snprintf(line, sizeof(line), "%s %s: %s: %s\n", items[i].subject,
					   kinds[d->kind >= 1 && d->kind <= 3 ? d->kind : 0],
					   d->kind == NOTICE_RECOVERED ? "ok" : disks_severity_name(d->severity),
					   d->message);
			rc = buf_append(&body, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
			if (d->kind != NOTICE_RECOVERED && d->severity > worst)
				worst = d->severity;
		}
	}
	if (rc == 0 && body.len) {
		char host[256] = "", title[400];
		gethostname(host, sizeof(host) - 1);
		snprintf(title, sizeof(title), "dvalin on %s: %s %s", host, what,
			 worst == SEV_FAILING ? "FAILING" : worst == SEV_WARNING ? "warning" : "recovered");
		rc = buf_put_u8(&body, 0);
		for (size_t c = 0; rc == 0 && c < cfg->n; c++) {
			int s = alert_send(&cfg->v[c], title, (const char *)body.data,
					   worst == SEV_OK ? "ok" : disks_severity_name(worst));
			if (s < 0) {
				log_error("%s", err_msg(s));
				(*failed)++;
			} else {
				(*sent)++;
			}
		}
	}
	buf_release(&body);
	return rc;
}
