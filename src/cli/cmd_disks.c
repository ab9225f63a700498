/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/proc.h"
#include "../base/strlist.h"
#include "../notify/alert.h"
#include "../disks/disks.h"
#include "../disks/diskwatch.h"
#include "../disks/smart.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_STATE "/var/lib/dvalin/disks.db"
#define DEFAULT_ALERTS "/etc/dvalin/alerts.conf"
#define SMARTCTL_MAX (16u << 20)

const char cmd_disks_usage[] =
	"usage: dvalin disks [--json] [--state FILE | --no-state] [--alerts FILE]\n"
	"       dvalin disks show DEVICE [--json]\n"
	"       dvalin disks --from FILE... [--state FILE] [--json]\n\n"
	"Check the health of every disk smartctl can see (smartctl --scan-open), or of\n"
	"saved `smartctl -x --json` outputs (or old `smartctl -a` texts) with --from.\n"
	"Every attribute, the error and self-test logs and their growth since the last\n"
	"run are judged, not only the drive's overall PASSED (docs/disks.md has the rules).\n"
	"One line per disk: device, model, serial, hours, temperature, verdict (ok,\n"
	"warning, failing) and the worst finding; 'show' lists every finding and the\n"
	"attribute or log entry behind it.\n\n"
	"Options:\n"
	"      --from FILE    evaluate a saved output (repeatable; more files may follow)\n"
	"      --state FILE   remember readings here, so growth is seen and alerts are sent\n"
	"                     once (default " DEFAULT_STATE " for live disks; none with --from)\n"
	"      --no-state     remember nothing, send no alerts\n"
	"      --alerts FILE  notification channels (default $DVALIN_ALERTS or\n"
	"                     " DEFAULT_ALERTS " if it exists); alerts need a state\n"
	"      --json         {\"disks\": [{device, model, serial, type, hours, temperature,\n"
	"                     verdict, findings: [{severity, code, message, source}]}]}\n\n"
	"Exit status: 0 every disk ok, 1 operational error (smartctl missing, unreadable\n"
	"input), 2 a disk has a warning, 3 a disk is failing.\n";

const char cmd_alert_usage[] =
	"usage: dvalin alert test [--alerts FILE]\n\n"
	"Send a test notification through every channel of the alert configuration\n"
	"($DVALIN_ALERTS, else " DEFAULT_ALERTS "): [email] (SMTP with STARTTLS),\n"
	"[webhook] (JSON POST), [ntfy], [gotify].  docs/disks.md shows the format.\n"
	"Exit status: 0 every channel accepted it, 1 otherwise.\n";

typedef struct {
	smart_reading r;
	disk_report rep;
	disk_notices notices;
	char label[256]; /* device or file name */
	int error;       /* could not be read */
} disk_item;

typedef struct {
	disk_item *v;
	size_t n, cap;
	int op_error;
} disk_list;

static void item_release(disk_item *d)
{
	smart_reading_release(&d->r);
	disk_report_release(&d->rep);
	disk_notices_release(&d->notices);
}

static int add_item(disk_list *l, disk_item **out)
{
	int rc = array_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	if (rc < 0)
		return rc;
	*out = &l->v[l->n++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

/* A disk that could not be read is reported and kept as "unknown"; the
 * run goes on with the others. */
static int item_done(disk_list *l, disk_item *d, int rc)
{
	if (rc == 0 || rc == -ENOMEM)
		return rc;
	log_error("%s", err_msg(rc));
	d->error = 1;
	l->op_error = 1;
	return 0;
}

static int load_file(disk_list *l, const char *path)
{
	disk_item *d;
	int rc = add_item(l, &d);
	if (rc < 0)
		return rc;
	snprintf(d->label, sizeof(d->label), "%s", path);
	buf b = BUF_INIT;
	rc = fsio_read_file(AT_FDCWD, path, &b, SMARTCTL_MAX);
	if (rc < 0)
		rc = err_sys(rc, "cannot read '%s'", path);
	else if ((rc = smart_parse(&d->r, (const char *)b.data, b.len)) < 0)
		rc = err_set(rc, "'%s': %s", path, err_msg(rc));
	buf_release(&b);
	if (rc == 0 && !d->r.device[0])
		snprintf(d->r.device, sizeof(d->r.device), "%s", path);
	return item_done(l, d, rc);
}

static int smartctl(const char *const argv[], buf *out, int *status)
{
	int rc = proc_capture(argv, out, SMARTCTL_MAX, status);
	if (rc == -ENOENT)
		return err_set(-ENOENT, "smartctl not found: install smartmontools");
	return rc;
}

static int read_device(disk_list *l, const char *name, const char *type)
{
	disk_item *d;
	int rc = add_item(l, &d), status;
	if (rc < 0)
		return rc;
	snprintf(d->label, sizeof(d->label), "%s", name);
	buf b = BUF_INIT;
	const char *argv[] = { "smartctl", "-x", "--json", "-d", type, name, NULL };
	if (!type)
		argv[3] = name, argv[4] = NULL;
	rc = smartctl(argv, &b, &status);
	if (rc == 0 && (rc = smart_parse_json(&d->r, (const char *)b.data, b.len)) < 0)
		rc = err_set(rc, "smartctl gave no usable output for '%s' (exit status %d)", name, status);
	if (rc == 0) /* the name we asked for, whatever the output calls it */
		snprintf(d->r.device, sizeof(d->r.device), "%s", name);
	buf_release(&b);
	return rc == -ENOENT ? rc : item_done(l, d, rc);
}

struct scan_ctx {
	disk_list *l;
	const char *only;
};

static int scanned(void *ud, const char *name, const char *type)
{
	struct scan_ctx *c = ud;
	if (c->only && strcmp(c->only, name) != 0)
		return 0;
	return read_device(c->l, name, type);
}

/* smartctl --scan-open: every device it can open, with its type. */
static int scan(disk_list *l, const char *only)
{
	buf b = BUF_INIT;
	int status;
	const char *argv[] = { "smartctl", "--scan-open", "--json", NULL };
	int rc = smartctl(argv, &b, &status);
	struct scan_ctx c = { l, only };
	rc = rc ?: smart_parse_scan((const char *)b.data, b.len, scanned, &c);
	buf_release(&b);
	if (rc == 0 && only && l->n == 0)
		rc = read_device(l, only, NULL); /* not in the scan: ask directly */
	return rc;
}

/* ---------- output ---------- */

void cli_json_findings(json *j, const disk_report *rep)
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

static void print_json(const disk_list *l, size_t sent)
{
	json j;
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "disks");
	json_arr_begin(&j);
	for (size_t i = 0; i < l->n; i++) {
		const disk_item *d = &l->v[i];
		json_obj_begin(&j);
		json_key(&j, "device"); json_str(&j, d->error ? d->label : d->r.device);
		if (d->error) {
			json_key(&j, "verdict"); json_str(&j, "unknown");
			json_key(&j, "error"); json_str(&j, "could not be read");
			json_key(&j, "findings"); json_arr_begin(&j); json_arr_end(&j);
			json_obj_end(&j);
			continue;
		}
		json_key(&j, "model"); json_str(&j, d->r.model);
		json_key(&j, "serial"); json_str(&j, d->r.serial);
		json_key(&j, "type"); json_str(&j, kind_name(d->r.kind));
		json_key(&j, "hours");
		if (d->r.has_hours) json_int(&j, d->r.hours); else json_null(&j);
		json_key(&j, "temperature");
		if (d->r.has_temp) json_int(&j, d->r.temp); else json_null(&j);
		json_key(&j, "smart_passed");
		if (d->r.has_passed) json_bool(&j, d->r.passed); else json_null(&j);
		json_key(&j, "verdict"); json_str(&j, disks_severity_name(d->rep.verdict));
		json_key(&j, "findings");
		cli_json_findings(&j, &d->rep);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "notifications_sent"); json_uint(&j, sent);
	json_obj_end(&j);
	json_finish(&j);
}

static void print_table(const disk_list *l, int all)
{
	printf("%-16s %-24s %-20s %7s %5s  %-8s %s\n", "DEVICE", "MODEL", "SERIAL", "HOURS", "TEMP",
	       "VERDICT", "WORST FINDING");
	for (size_t i = 0; i < l->n; i++) {
		const disk_item *d = &l->v[i];
		if (d->error) {
			printf("%-16s %-24s %-20s %7s %5s  %-8s %s\n", d->label, "?", "?", "?", "?",
			       "unknown", "could not be read");
			continue;
		}
		char hours[24] = "-", temp[16] = "-";
		if (d->r.has_hours)
			snprintf(hours, sizeof(hours), "%lld", (long long)d->r.hours);
		if (d->r.has_temp)
			snprintf(temp, sizeof(temp), "%dC", d->r.temp);
		const disk_finding *w = disks_worst(&d->rep);
		printf("%-16.16s %-24.24s %-20.20s %7s %5s  %-8s %s\n", d->r.device, d->r.model,
		       d->r.serial, hours, temp, disks_severity_name(d->rep.verdict),
		       w ? w->message : "-");
		for (size_t k = 0; all && k < d->rep.n; k++) {
			const disk_finding *f = &d->rep.v[k];
			printf("  %-8s %s\n           from: %s\n", disks_severity_name(f->severity),
			       f->message, f->source);
		}
	}
}

/* ---------- alerts ---------- */

static const char *alerts_path(const char *opt)
{
	if (opt)
		return opt;
	const char *e = getenv("DVALIN_ALERTS");
	if (e && *e)
		return e;
	return access(DEFAULT_ALERTS, R_OK) == 0 ? DEFAULT_ALERTS : NULL;
}

static int notify(const disk_list *l, const alert_config *cfg, size_t *sent)
{
	int worst = SEV_OK, rc = 0;
	buf body = BUF_INIT;
	char line[512];
	for (size_t i = 0; i < l->n; i++) {
		const disk_item *d = &l->v[i];
		for (size_t k = 0; k < d->notices.n; k++) {
			const disk_notice *n = &d->notices.v[k];
			static const char *const kinds[] = { "", "new", "worse", "recovered" };
			int len = snprintf(line, sizeof(line), "%s %s (%s %s): %s: %s\n", d->r.device,
					   kinds[n->kind], d->r.model, d->r.serial,
					   n->kind == NOTICE_RECOVERED ? "ok" : disks_severity_name(n->severity),
					   n->message);
			if ((rc = buf_append(&body, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1)) < 0)
				break;
			if (n->severity > worst)
				worst = n->severity;
		}
	}
	if (rc == 0 && body.len) {
		char host[256] = "", title[400];
		gethostname(host, sizeof(host) - 1);
		snprintf(title, sizeof(title), "dvalin on %s: disk %s", host,
			 worst == SEV_FAILING ? "FAILING" : worst == SEV_WARNING ? "warning" : "recovered");
		rc = buf_put_u8(&body, 0);
		for (size_t c = 0; rc == 0 && c < cfg->n; c++) {
			int s = alert_send(&cfg->v[c], title, (const char *)body.data,
					   worst == SEV_OK ? "ok" : disks_severity_name(worst));
			if (s < 0)
				log_error("%s", err_msg(s));
			else
				(*sent)++;
		}
	}
	buf_release(&body);
	return rc;
}

/* ---------- the command ---------- */

int cmd_disks(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "state", required_argument, NULL, 's' },
		{ "no-state", no_argument, NULL, 'N' },
		{ "alerts", required_argument, NULL, 'a' },
		{ 0 },
	};
	char **files = NULL;
	size_t nfiles = 0;
	const char *state = NULL, *alerts = NULL, *show = NULL;
	int no_state = 0, c, rc = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			rc = strlist_add(&files, &nfiles, optarg);
		else if (c == 's')
			state = optarg;
		else if (c == 'N')
			no_state = 1;
		else if (c == 'a')
			alerts = optarg;
		else {
			strlist_free(files, nfiles);
			return cli_usage_error(ctx, "unknown option");
		}
	}
	int ai = optind;
	if (ai < argc && strcmp(argv[ai], "show") == 0) {
		if (ai + 2 != argc || nfiles) {
			strlist_free(files, nfiles);
			return cli_usage_error(ctx, "'disks show' takes one DEVICE (and no --from)");
		}
		show = argv[ai + 1];
	} else {
		for (; rc == 0 && ai < argc; ai++) {
			if (!nfiles) {
				strlist_free(files, nfiles);
				return cli_usage_error(ctx, "unexpected argument '%s'", argv[ai]);
			}
			rc = strlist_add(&files, &nfiles, argv[ai]);
		}
	}
	if (state && no_state) {
		strlist_free(files, nfiles);
		return cli_usage_error(ctx, "--state and --no-state exclude each other");
	}
	if (!state && !no_state && !nfiles)
		state = DEFAULT_STATE;

	disk_list l = { NULL, 0, 0, 0 };
	alert_config cfg = { NULL, 0, 0, "" };
	diskstate *st = NULL;
	size_t sent = 0;
	const char *apath = state ? alerts_path(alerts) : NULL;
	if (rc == 0 && alerts && !state)
		log_warn("--alerts without a state: no alerts are sent (they are sent once per condition)");
	if (rc == 0 && apath)
		rc = alert_config_load(&cfg, apath);
	for (size_t i = 0; rc == 0 && i < nfiles; i++)
		rc = load_file(&l, files[i]);
	if (rc == 0 && !nfiles)
		rc = scan(&l, show);
	if (rc == 0 && state)
		rc = diskstate_open(&st, state);
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		if (!l.v[i].error)
			rc = diskwatch_check(st, &l.v[i].r, now, &l.v[i].rep, &l.v[i].notices);
	if (rc == 0 && cfg.n)
		rc = notify(&l, &cfg, &sent);
	int verdict = SEV_OK;
	if (rc == 0) {
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].rep.verdict > verdict)
				verdict = l.v[i].rep.verdict;
		if (ctx->json)
			print_json(&l, sent);
		else if (!ctx->quiet && l.n == 0)
			printf("no SMART-capable disks found (smartctl --scan-open lists none)\n");
		else if (!ctx->quiet)
			print_table(&l, show != NULL);
	}
	for (size_t i = 0; i < l.n; i++)
		item_release(&l.v[i]);
	free(l.v);
	diskstate_close(st);
	alert_config_release(&cfg);
	strlist_free(files, nfiles);
	if (rc < 0)
		return cli_fail(rc);
	return verdict == SEV_FAILING ? 3 : verdict == SEV_WARNING ? 2 : l.op_error ? EXIT_FAIL : EXIT_OK;
}

int cmd_alert(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "alerts", required_argument, NULL, 'a' },
		{ 0 },
	};
	const char *path = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			path = optarg;
		else
			return cli_usage_error(ctx, "unknown option");
	}
	if (optind + 1 != argc || strcmp(argv[optind], "test") != 0)
		return cli_usage_error(ctx, "expected 'alert test'");
	path = alerts_path(path);
	if (!path)
		return cli_fail(err_set(-ENOENT, "no alert configuration: give --alerts FILE, set DVALIN_ALERTS or create " DEFAULT_ALERTS));
	alert_config cfg;
	int rc = alert_config_load(&cfg, path);
	if (rc < 0)
		return cli_fail(rc);
	if (cfg.n == 0) {
		alert_config_release(&cfg);
		return cli_fail(err_set(-EINVAL, "'%s' configures no channel", path));
	}
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char title[300], body[600];
	snprintf(title, sizeof(title), "dvalin on %s: test notification", host);
	snprintf(body, sizeof(body), "This is a test of the alert channels configured in %s on %s.\n"
		 "If you read this, disk alerts will reach you here.", path, host);
	int failed = 0;
	for (size_t i = 0; i < cfg.n; i++) {
		rc = alert_send(&cfg.v[i], title, body, "test");
		if (rc < 0) {
			log_error("%s", err_msg(rc));
			failed++;
		} else if (!ctx->quiet) {
			printf("%-8s %s: sent\n", alert_channel_name(&cfg.v[i]), cfg.v[i].url);
		}
	}
	alert_config_release(&cfg);
	return failed ? EXIT_FAIL : EXIT_OK;
}
