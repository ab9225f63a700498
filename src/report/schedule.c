/* SPDX-License-Identifier: BSD-2-Clause */
#include "schedule.h"
#include "report.h"

void report_schedule(json *j, const report_schedule_item *s)
{
	json_obj_begin(j);
	report_str(j, "original", s->original);
	if (s->error) {
		report_str(j, "error", s->error);
		json_obj_end(j);
		return;
	}
	report_str(j, "normalized", s->normalized);
	json_key(j, "zone");
	if (s->zone)
		json_str(j, s->zone);
	else
		json_null(j);
	json_key(j, "next");
	json_arr_begin(j);
	for (size_t i = 0; i < s->n; i++) {
		/* floor division: the times are after 1970, but stay exact regardless */
		int64_t sec = s->next[i] / 1000000 - (s->next[i] % 1000000 < 0);
		uint32_t nsec = (uint32_t)(s->next[i] - sec * 1000000) * 1000;
		report_time(j, sec, nsec, s->offset[i]);
	}
	json_arr_end(j);
	json_obj_end(j);
}
