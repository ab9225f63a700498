/* SPDX-License-Identifier: BSD-2-Clause */
#include "disk.h"
#include "report.h"

void report_findings(json *j, const disk_report *rep)
{
	json_arr_begin(j);
	for (size_t k = 0; k < rep->n; k++) {
		const disk_finding *f = &rep->v[k];
		json_obj_begin(j);
		json_key(j, "severity"); json_str(j, disks_severity_name(f->severity));
		json_key(j, "code"); json_str(j, f->code);
		json_key(j, "message"); json_str(j, f->message);
		json_key(j, "source"); json_str(j, f->source);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static const char *kind_name(int k)
{
	return k == DISK_ATA ? "ata" : k == DISK_NVME ? "nvme" : k == DISK_SCSI ? "scsi" : "unknown";
}

void report_disk(json *j, const diskscan_disk *d)
{
	const smart_reading *r = &d->r;
	int ok = !d->error[0];
	json_obj_begin(j);
	json_key(j, "device"); json_str(j, ok ? r->device : d->label);
	json_key(j, "model"); if (ok) json_str(j, r->model); else json_null(j);
	json_key(j, "serial"); if (ok) json_str(j, r->serial); else json_null(j);
	json_key(j, "type"); if (ok) json_str(j, kind_name(r->kind)); else json_null(j);
	json_key(j, "hours"); if (ok && r->has_hours) json_int(j, r->hours); else json_null(j);
	json_key(j, "temperature"); if (ok && r->has_temp) json_int(j, r->temp); else json_null(j);
	json_key(j, "smart_passed"); if (ok && r->has_passed) json_bool(j, r->passed); else json_null(j);
	json_key(j, "verdict"); json_str(j, ok ? disks_severity_name(d->rep.verdict) : "unknown");
	json_key(j, "error"); if (ok) json_null(j); else json_str(j, d->error);
	json_key(j, "findings"); report_findings(j, &d->rep);
	json_obj_end(j);
}

void report_pool(json *j, const zpool_pool *p)
{
	json_obj_begin(j);
	json_key(j, "name"); json_str(j, p->name);
	json_key(j, "state"); json_str(j, p->state);
	json_key(j, "verdict"); json_str(j, disks_severity_name(p->report.verdict));
	json_key(j, "findings"); report_findings(j, &p->report);
	json_obj_end(j);
}

void report_diskscan(json *j, const diskscan_result *res)
{
	json_obj_begin(j);
	json_key(j, "verdict"); json_str(j, disks_severity_name(res->verdict));
	json_key(j, "disks");
	json_arr_begin(j);
	for (size_t i = 0; i < res->n; i++)
		report_disk(j, &res->v[i]);
	json_arr_end(j);
	json_key(j, "notifications_sent"); json_uint(j, res->sent);
	json_key(j, "notifications_failed"); json_uint(j, res->send_failed);
	json_obj_end(j);
}

void report_poolscan(json *j, const poolscan_result *res)
{
	json_obj_begin(j);
	json_key(j, "verdict"); json_str(j, disks_severity_name(res->verdict));
	json_key(j, "pools");
	json_arr_begin(j);
	for (size_t i = 0; i < res->pools.n; i++)
		report_pool(j, &res->pools.v[i]);
	json_arr_end(j);
	json_key(j, "notifications_sent"); json_uint(j, res->sent);
	json_key(j, "notifications_failed"); json_uint(j, res->send_failed);
	json_obj_end(j);
}
