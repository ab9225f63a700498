/* SPDX-License-Identifier: BSD-2-Clause */
#include "prune.h"
#include "report.h"
#include "../base/cleanup.h"

void report_prune(json *j, const gc_result *g, bool dry_run, const backend_requests *req)
{
	json_obj_begin(j);
	json_key(j, "dry_run"); json_bool(j, dry_run);
	report_counter c[] = {
		{ "snapshots", g->snapshots }, { "trees", g->trees },
		{ "blobs_used", g->blobs_used }, { "packs", g->packs }, { "bytes", g->bytes },
		{ "bytes_used", g->bytes_used }, { "packs_young", g->packs_young },
		{ "packs_unindexed", g->packs_orphan }, { "packs_condemned", g->packs_condemned },
		{ "bytes_condemned", g->bytes_condemned }, { "packs_repacked", g->packs_repacked },
		{ "bytes_copied", g->bytes_copied },
		{ "index_files_replaced", g->index_files_replaced },
		{ "stale_leases_removed", g->stale_leases }, { "packs_deleted", g->packs_deleted },
		{ "bytes_deleted", g->bytes_deleted }, { "packs_returned", g->packs_returned },
		{ "records_waiting", g->records_waiting },
		{ "index_files_mended", g->index_files_mended },
		{ "temporaries_removed", g->temporaries },
		{ "bytes_temporaries_removed", g->bytes_temporaries },
	};
	report_counters(j, c, ARRAY_SIZE(c));
	report_requests(j, req);
	json_obj_end(j);
}
