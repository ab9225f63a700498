/* SPDX-License-Identifier: BSD-2-Clause */
#include "key.h"
#include "report.h"

#include <string.h>

void report_keys(json *j, const keyring_entry *v, size_t n)
{
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		const char *hex = strchr(v[i].name, '/') + 1;
		char shorty[9];
		memcpy(shorty, hex, 8);
		shorty[8] = 0;
		json_obj_begin(j);
		report_str(j, "id", hex);
		report_str(j, "short_id", shorty);
		report_str(j, "kdf", "scrypt");
		json_key(j, "log_n"); json_uint(j, v[i].kdf.log_n);
		json_key(j, "r"); json_uint(j, v[i].kdf.r);
		json_key(j, "p"); json_uint(j, v[i].kdf.p);
		json_key(j, "current"); json_bool(j, v[i].current);
		json_obj_end(j);
	}
	json_arr_end(j);
}
