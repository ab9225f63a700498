/* SPDX-License-Identifier: BSD-2-Clause */
#include "unlock.h"
#include "../base/err.h"
#include "../base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int unlock_run(repo *r, const unlock_opts *o, unlock_result *out)
{
	memset(out, 0, sizeof(*out));
	lease_info *v;
	gcrule_verdict *verdict;
	uint8_t *gone;
	size_t n;
	gcrule_horizon h;
	lease *mine = repo_lease(r);
	int rc = lease_judge(repo_backend(r), mine ? lease_name(mine) : NULL, &v, &verdict, &gone, &n, &h);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		int stale = verdict[i].stale, what;
		const char *why;
		if (stale) {
			what = UNLOCK_REMOVED_STALE;
			why = gone[i] ? "its process is gone" : "nothing refreshed it for the lease expiry";
		} else if (o->remove_all) {
			what = UNLOCK_REMOVED_LIVE;
			why = "--remove-all";
		} else {
			what = UNLOCK_KEPT_LIVE;
			why = verdict[i].trust != GCRULE_TRUSTED ? gcrule_trust_reason(verdict[i].trust)
								 : "its process may be running";
		}
		if (what != UNLOCK_KEPT_LIVE) {
			int e = backend_remove(repo_backend(r), v[i].name);
			if (e < 0 && e != -ENOENT) {
				log_error("cannot remove lease '%s': %s", v[i].name, err_msg(e));
				out->failed++;
				continue;
			}
		}
		out->stale_removed += what == UNLOCK_REMOVED_STALE;
		out->live_kept += what == UNLOCK_KEPT_LIVE;
		out->live_removed += what == UNLOCK_REMOVED_LIVE;
		if (o->on_lease)
			o->on_lease(o->ud, &v[i], what, why);
	}
	free(v);
	free(verdict);
	free(gone);
	return 0;
}
