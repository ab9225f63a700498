/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * interrupted: what each command leaves when Ctrl-C ends it, said in the
 * one line printed then (base/interrupt.h).  Each claim rests on the
 * write order of docs/concurrency.md: packs before the index that names
 * them, the index before a snapshot, snapshot files and deletions one
 * file at a time; a process that is gone leaves a lease others see as
 * stale.
 */
#include "cli.h"
#include "../base/cleanup.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *cmd, *note;
} notes[] = {
	{ "init", "a repository exists once its config file is written; if 'dvalin snapshots' "
		  "finds none, run init again" },
	{ "backup", "no snapshot was saved; the repository is consistent, and the next backup "
		    "reuses the data stored so far" },
	{ "restore", "the target may hold part of the snapshot; the repository was not changed" },
	{ "forget", "each snapshot was removed whole or not at all; the repository is consistent" },
	{ "prune", "the repository is consistent; the next prune finishes the work" },
	{ "repair", "the repository is consistent; run repair again" },
	{ "protect", "each snapshot named is protected or not, as before or as asked" },
	{ "unprotect", "each snapshot named is protected or not, as before or as asked" },
	{ "unlock", "each lease named as removed is gone, the others are as they were" },
	{ "key", "a key file is written whole or not at all; the old key of a passwd goes only "
		 "after the new one is stored" },
	{ "drill", "the repository was not changed; the drill's scratch directory is removed" },
	{ "jobs", "the daemon and its runs are not affected (a run asked for goes on)" },
	{ "tag", "each snapshot has its old tags or its new ones (rarely both, as two snapshots: "
		 "forget the old one)" },
};

/* Commands that only read: whenever they stop, nothing was changed. */
static const char *const readers[] = { "snapshots", "ls", "check", "stats", "cat", "version",
				       "schedule", "zpool-check", "dump", "diff", "find" };

void cli_interrupt_note(char *out, size_t cap, const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(notes); i++)
		if (strcmp(notes[i].cmd, cmd) == 0) {
			snprintf(out, cap, "dvalin: %s interrupted: %s", cmd, notes[i].note);
			return;
		}
	for (size_t i = 0; i < ARRAY_SIZE(readers); i++)
		if (strcmp(readers[i], cmd) == 0) {
			snprintf(out, cap, "dvalin: %s interrupted: nothing was changed", cmd);
			return;
		}
	snprintf(out, cap, "dvalin: %s interrupted", cmd);
}
