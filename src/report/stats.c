/* SPDX-License-Identifier: BSD-2-Clause */
#include "stats.h"
#include "report.h"
#include "../base/cleanup.h"

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

double report_stats_dedup_ratio(const stats_result *s)
{
	return ratio(s->logical_bytes, s->data_raw_used);
}

double report_stats_compression_ratio(const stats_result *s)
{
	return ratio(s->raw_used, s->stored_used);
}

uint64_t report_stats_unused(const stats_result *s)
{
	return s->index_stored > s->stored_used ? s->index_stored - s->stored_used : 0;
}

void report_stats(json *j, const stats_result *s)
{
	json_obj_begin(j);
	report_counter c[] = {
		{ "snapshots", s->snapshots },
		{ "logical_files", s->logical_files },
		{ "logical_bytes", s->logical_bytes },
		{ "blobs_used", s->blobs_used },
		{ "trees_used", s->trees },
		{ "unique_raw_bytes", s->raw_used },
		{ "unique_stored_bytes", s->stored_used },
		{ "index_blobs", s->index_blobs },
		{ "unused_stored_bytes", report_stats_unused(s) },
		{ "packs", s->packs },
		{ "pack_bytes", s->pack_bytes },
	};
	report_counters(j, c, ARRAY_SIZE(c));
	json_key(j, "dedup_ratio"); json_double(j, report_stats_dedup_ratio(s));
	json_key(j, "compression_ratio"); json_double(j, report_stats_compression_ratio(s));
	json_obj_end(j);
}
