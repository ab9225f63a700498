/* SPDX-License-Identifier: BSD-2-Clause */
#include "metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *name, const char *v, int first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int fmt_seconds(char v[64], int64_t us);

static void seconds(FILE *f, int64_t us)
{
	char v[64];
	fmt_seconds(v, us);
	fprintf(f, " %s\n", v);
}

/* A job's value as text into v; 0 leaves the job out of the family. */
typedef int (*job_value)(const metrics_job *j, char v[64]);

static void job_family(FILE *f, const metrics_state *s, const char *name, const char *type,
		       const char *help, job_value value)
{
	family(f, name, type, help);
	for (size_t i = 0; i < s->njobs; i++) {
		const metrics_job *j = &s->jobs[i];
		char v[64];
		if (!value(j, v))
			continue;
		fprintf(f, "%s{", name);
		label(f, "job_name", j->name, 1);
		label(f, "kind", j->kind, 0);
		fprintf(f, "} %s\n", v);
	}
}

static int fmt_seconds(char v[64], int64_t us)
{
	snprintf(v, 64, "%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000 < 0 ? -(us % 1000000) : us % 1000000);
	return 1;
}

static int v_success(const metrics_job *j, char v[64])
{
	return j->last_success_us && fmt_seconds(v, j->last_success_us);
}

static int v_end(const metrics_job *j, char v[64])
{
	return j->last_end_us && fmt_seconds(v, j->last_end_us);
}

static int v_duration(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%.3f", j->last_duration_s);
	return j->last_end_us != 0;
}

static int v_exit(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%d", j->last_exit);
	return j->last_exit >= 0;
}

static int v_bytes(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%" PRIu64, j->last_bytes_added);
	return j->has_bytes;
}

static int v_drill_files(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%" PRIu64, j->drill_files);
	return j->has_drill;
}

static int v_drill_mismatches(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%" PRIu64, j->drill_mismatches);
	return j->has_drill;
}

static int v_drill_rate(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%.1f", j->drill_bytes_per_second);
	return j->has_drill;
}

static int v_drill_estimate(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%.3f", j->drill_estimate_s);
	return j->has_drill;
}

static int v_running(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%d", j->running);
	return 1;
}

static int v_overdue(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%d", j->overdue);
	return 1;
}

static int v_next(const metrics_job *j, char v[64])
{
	return j->next_us && fmt_seconds(v, j->next_us);
}

static int v_journal_up(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%d", j->journal_up);
	return j->journal;
}

static int v_journal_restarts(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%" PRIu64, j->journal_restarts);
	return j->journal;
}

static int v_journal_used(const metrics_job *j, char v[64])
{
	snprintf(v, 64, "%d", j->journal_used);
	return j->journal_used >= 0;
}

/* One family of a repository value (a uint64_t at off in metrics_repo), measured ones only. */
static void repo_family(FILE *f, const metrics_state *s, const char *name, const char *help, size_t off)
{
	family(f, name, "gauge", help);
	for (size_t i = 0; i < s->nrepos; i++) {
		if (!s->repos[i].time_us)
			continue;
		uint64_t v;
		memcpy(&v, (const char *)&s->repos[i] + off, sizeof(v));
		fprintf(f, "%s{", name);
		label(f, "repository", s->repos[i].name, 1);
		fprintf(f, "} %" PRIu64 "\n", v);
	}
}

static void disk_labels(FILE *f, const char *name, const metrics_disk *d)
{
	fprintf(f, "%s{", name);
	label(f, "device", d->device, 1);
	label(f, "model", d->model, 0);
	label(f, "serial", d->serial, 0);
	fputc('}', f);
}

static void disk_counter(FILE *f, const metrics_state *s, const char *name, const char *help,
			 size_t off)
{
	family(f, name, "gauge", help);
	for (size_t i = 0; i < s->ndisks; i++) {
		int64_t v;
		memcpy(&v, (const char *)&s->disks[i] + off, sizeof(v));
		if (v < 0)
			continue;
		disk_labels(f, name, &s->disks[i]);
		fprintf(f, " %" PRId64 "\n", v);
	}
}

void metrics_write(FILE *f, const metrics_state *s)
{
	family(f, "dvalin_build_info", "gauge", "The version of dvalin serving these metrics.");
	fprintf(f, "dvalin_build_info{");
	label(f, "version", s->version, 1);
	fputs("} 1\n", f);
	family(f, "dvalin_daemon_start_time_seconds", "gauge", "When the daemon started (Unix time).");
	fputs("dvalin_daemon_start_time_seconds", f);
	seconds(f, s->start_us);
	family(f, "dvalin_daemon_uptime_seconds", "gauge", "How long the daemon has been running.");
	fputs("dvalin_daemon_uptime_seconds", f);
	seconds(f, s->now_us - s->start_us);
	family(f, "dvalin_daemon_jobs_running", "gauge", "Jobs running now.");
	fprintf(f, "dvalin_daemon_jobs_running %d\n", s->running);
	family(f, "dvalin_daemon_jobs_queued", "gauge", "Jobs due and waiting for a free slot or a conflicting job.");
	fprintf(f, "dvalin_daemon_jobs_queued %d\n", s->queued);
	family(f, "dvalin_notifications_sent_total", "counter", "Notifications a channel accepted since the start.");
	fprintf(f, "dvalin_notifications_sent_total %" PRIu64 "\n", s->notices_sent);
	family(f, "dvalin_notifications_failed_total", "counter", "Notifications a channel refused since the start.");
	fprintf(f, "dvalin_notifications_failed_total %" PRIu64 "\n", s->notices_failed);

	job_family(f, s, "dvalin_job_last_success_timestamp_seconds", "gauge",
		   "When the job last finished successfully (Unix time).", v_success);
	job_family(f, s, "dvalin_job_last_run_timestamp_seconds", "gauge",
		   "When the job's last run ended, successful or not (Unix time).", v_end);
	job_family(f, s, "dvalin_job_last_duration_seconds", "gauge", "How long the job's last run took.",
		   v_duration);
	job_family(f, s, "dvalin_job_last_exit_status", "gauge",
		   "The exit status of the job's last run (dvalin(1), EXIT STATUS; 128+N: killed by signal N).",
		   v_exit);
	job_family(f, s, "dvalin_job_last_added_bytes", "gauge",
		   "Bytes the job's last backup added to its repository (after deduplication and compression).",
		   v_bytes);
	job_family(f, s, "dvalin_drill_last_files", "gauge",
		   "Files the drill's last run restored and checked.", v_drill_files);
	job_family(f, s, "dvalin_drill_last_mismatches", "gauge",
		   "Entries of the drill's last run that did not match the snapshot or the live file, or did not restore.",
		   v_drill_mismatches);
	job_family(f, s, "dvalin_drill_last_restore_bytes_per_second", "gauge",
		   "The restore throughput the drill's last run measured.", v_drill_rate);
	job_family(f, s, "dvalin_drill_full_restore_estimate_seconds", "gauge",
		   "How long a full restore of the drilled snapshot would take, by the drill's last run.",
		   v_drill_estimate);
	job_family(f, s, "dvalin_job_running", "gauge", "1 while the job runs.", v_running);
	job_family(f, s, "dvalin_job_overdue", "gauge",
		   "1 when the job has not succeeded within its max-age (the dead man's switch).", v_overdue);
	job_family(f, s, "dvalin_job_next_run_timestamp_seconds", "gauge",
		   "When the job's schedule next fires (Unix time).", v_next);
	job_family(f, s, "dvalin_job_journal_recorder_up", "gauge",
		   "1 while the change-journal recorder of a backup job with journal = yes records.", v_journal_up);
	job_family(f, s, "dvalin_job_journal_recorder_restarts_total", "counter",
		   "Times the job's change-journal recorder ended (or could not start) and was started again.",
		   v_journal_restarts);
	job_family(f, s, "dvalin_job_journal_used", "gauge",
		   "1 when the job's last backup walked only what the change journal named, 0 when it walked everything.",
		   v_journal_used);

	repo_family(f, s, "dvalin_repository_size_bytes", "Bytes the repository's packs take on its storage.",
		    offsetof(metrics_repo, size));
	repo_family(f, s, "dvalin_repository_logical_bytes",
		    "Bytes of file contents summed over the repository's snapshots (what restoring all of them writes).",
		    offsetof(metrics_repo, logical));
	repo_family(f, s, "dvalin_repository_snapshots", "Snapshots in the repository.",
		    offsetof(metrics_repo, snapshots));
	family(f, "dvalin_repository_sample_timestamp_seconds", "gauge",
	       "When the repository's size and snapshot count were measured (Unix time).");
	for (size_t i = 0; i < s->nrepos; i++)
		if (s->repos[i].time_us) {
			fputs("dvalin_repository_sample_timestamp_seconds{", f);
			label(f, "repository", s->repos[i].name, 1);
			fputc('}', f);
			seconds(f, s->repos[i].time_us);
		}

	family(f, "dvalin_disk_verdict", "gauge",
	       "The disk's verdict from its last check: 0 ok, 1 warning, 2 failing, -1 could not be read.");
	for (size_t i = 0; i < s->ndisks; i++) {
		disk_labels(f, "dvalin_disk_verdict", &s->disks[i]);
		fprintf(f, " %d\n", s->disks[i].verdict);
	}
	family(f, "dvalin_disk_temperature_celsius", "gauge", "The disk's temperature at its last check.");
	for (size_t i = 0; i < s->ndisks; i++)
		if (s->disks[i].has_temp) {
			disk_labels(f, "dvalin_disk_temperature_celsius", &s->disks[i]);
			fprintf(f, " %d\n", s->disks[i].temp);
		}
	family(f, "dvalin_disk_power_on_seconds", "gauge", "The disk's power-on time.");
	for (size_t i = 0; i < s->ndisks; i++)
		if (s->disks[i].has_hours) {
			disk_labels(f, "dvalin_disk_power_on_seconds", &s->disks[i]);
			fprintf(f, " %" PRId64 "\n", s->disks[i].hours * 3600);
		}
	disk_counter(f, s, "dvalin_disk_reallocated_sectors", "Reallocated sectors (ATA attribute 5).",
		     offsetof(metrics_disk, reallocated));
	disk_counter(f, s, "dvalin_disk_pending_sectors", "Sectors waiting to be reallocated (ATA attribute 197).",
		     offsetof(metrics_disk, pending));
	disk_counter(f, s, "dvalin_disk_uncorrectable_sectors", "Offline uncorrectable sectors (ATA attribute 198).",
		     offsetof(metrics_disk, uncorrectable));
	disk_counter(f, s, "dvalin_disk_crc_errors", "Interface CRC errors (ATA attribute 199): a cable or port.",
		     offsetof(metrics_disk, crc_errors));
	disk_counter(f, s, "dvalin_disk_media_errors", "NVMe media and data integrity errors.",
		     offsetof(metrics_disk, media_errors));
}
