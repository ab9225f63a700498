/* SPDX-License-Identifier: BSD-2-Clause */
/* report/backup: the JSON of a backup and of a restore (docs/json.md, "Backup", "Restore"). */
#ifndef DV_REPORT_BACKUP_H
#define DV_REPORT_BACKUP_H

#include "../backend/backend.h"
#include "../base/json.h"
#include "../jobs/backup.h"
#include "../jobs/restore.h"
#include "../jobs/restore_device.h"

/* {snapshot_id, the snapshot's summary fields, files_changed_while_read, bytes_new, ...} */
/* req: the requests made (report_requests), or NULL */
void report_backup(json *j, const backup_result *res, const backend_requests *req);
void report_restore(json *j, const restore_stats *st, double seconds, int dry_run,
		    const backend_requests *req);
/* restore --to-device: {path, target, device, size, data, zeroed, duration_seconds} */
void report_restore_device(json *j, const char *path, const char *target,
			   const restore_device_stats *st, double seconds);

#endif
