/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * announce: one notification for the notices of a check (the disks of a
 * disk scan, the pools of a pool check), through every alert channel.
 * The title says what and the worst of it ("dvalin on nas: disk FAILING"),
 * the body has one line per notice: "SUBJECT new: warning: MESSAGE".
 */
#ifndef DV_JOBS_ANNOUNCE_H
#define DV_JOBS_ANNOUNCE_H

#include <stddef.h>

#include "../disks/diskwatch.h"
#include "../notify/alert.h"

typedef struct {
	const char *subject;          /* "/dev/sda (MODEL SERIAL)", "pool tank" */
	const disk_notices *notices;
} announce_item;

/*
 * what names the kind in the title ("disk", "pool").  Sends nothing when
 * there is no notice.  Each refusal is logged and counted in *failed,
 * each acceptance in *sent.  <0 only when the message cannot be made.
 */
int announce_send(const alert_config *cfg, const char *what, const announce_item *items, size_t n,
		  size_t *sent, size_t *failed);

#endif
