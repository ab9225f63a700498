/* SPDX-License-Identifier: BSD-2-Clause */
/* report/key: the JSON of `key list` (docs/json.md, "Keys"). */
#ifndef DV_REPORT_KEY_H
#define DV_REPORT_KEY_H

#include "../base/json.h"
#include "../repo/keyring.h"

/* [{id, short_id, kdf, log_n, r, p, current}...] */
void report_keys(json *j, const keyring_entry *v, size_t n);

#endif
