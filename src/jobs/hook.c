/* SPDX-License-Identifier: BSD-2-Clause */
#include "hook.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/log.h"
#include "../base/proc.h"

#include <errno.h>
#include <string.h>

typedef struct {
	const hook *h;
	hook_log_fn log;
	void *ud;
} hook_out;

static void on_line(void *ud, const char *line)
{
	hook_out *o = ud;
	if (o->log)
		o->log(o->ud, o->h, line);
	else
		log_info("dvalin: %s: %s", o->h->name, line);
}

int hook_run(const hook *h, hook_log_fn log, void *ud)
{
	const char *argv[] = { "/bin/sh", "-c", h->command, NULL };
	hook_out o = { h, log, ud };
	/*
	 * A Ctrl-C or SIGTERM while the hook runs stops it (its process group:
	 * SIGTERM, SIGKILL after a grace) and the job with it.  A hook started
	 * after the stop was asked (backup's after hook, which is cleanup) runs
	 * to its end; a second signal then ends dvalin, and the hook, in its own
	 * group, still finishes.
	 */
	interrupt_scope scope;
	interrupt_scope_enter(&scope);
	proc_run_opts po = {
		.argv = argv, .in = -1, .with_stderr = 1, .new_group = 1,
		.timeout = h->timeout, .interruptible = !interrupt_pending(), .line = on_line, .ud = &o,
	};
	proc_result res;
	int rc = proc_run(&po, NULL, &res);
	interrupt_scope_leave(&scope);
	if (rc == -EINTR)
		return err_set(-EINTR, "interrupted: the %s hook was stopped", h->name);
	if (rc < 0)
		return err_set(rc, "cannot run the %s hook: %s", h->name, err_msg(rc));
	if (res.timed_out)
		return err_set(-ETIMEDOUT, "the %s hook timed out after %g s (stopped)", h->name,
			       h->timeout);
	if (res.status > 128)
		return err_set(-ECANCELED, "the %s hook was killed by signal %d", h->name,
			       res.status - 128);
	if (res.status != 0)
		return err_set(-ECANCELED, "the %s hook failed: exit status %d", h->name, res.status);
	return 0;
}
