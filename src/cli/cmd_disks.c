/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../jobs/diskscan.h"
#include "../notify/alert.h"
#include "../report/disk.h"
#include "../daemon/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_STATE "/var/lib/dvalin/disks.db"
#define DEFAULT_ALERTS "/etc/dvalin/alerts.conf"

const char cmd_disks_usage[] =
	"usage: dvalin disks [--json] [--state FILE | --no-state] [--alerts FILE | --config FILE]\n"
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
	"      --config FILE  the channels of a daemon configuration (dvalin.conf's\n"
	"                     [notify] sections) instead\n"
	"      --json         {verdict, disks: [{device, model, serial, type, hours,\n"
	"                     temperature, smart_passed, verdict, error, findings:\n"
	"                     [{severity, code, message, source}]}], notifications_sent,\n"
	"                     notifications_failed} (docs/json.md)\n\n"
	"Exit status: 0 every disk ok, 1 operational error (smartctl missing, unreadable\n"
	"input), 4 a disk has a warning, 5 a disk is failing.\n";

const char cmd_alert_usage[] =
	"usage: dvalin alert test [--alerts FILE]\n"
	"       dvalin alert send [--alerts FILE] [--severity S] TITLE MESSAGE\n\n"
	"Send a test notification, or one of your own (scripts: the cold-drive unit\n"
	"says \"cold copy complete\" this way), through every channel of the alert\n"
	"configuration ($DVALIN_ALERTS, else " DEFAULT_ALERTS "): [email] (SMTP with\n"
	"STARTTLS), [webhook] (JSON POST), [ntfy], [gotify].  docs/disks.md shows the\n"
	"format.  --severity is ok (default), warning or failing.\n"
	"Exit status: 0 every channel accepted it, 1 otherwise.\n";

static void print_table(const diskscan_result *l, int all)
{
	printf("%-16s %-24s %-20s %7s %5s  %-8s %s\n", "DEVICE", "MODEL", "SERIAL", "HOURS", "TEMP",
	       "VERDICT", "WORST FINDING");
	for (size_t i = 0; i < l->n; i++) {
		const diskscan_disk *d = &l->v[i];
		if (d->error[0]) {
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

int cli_load_channels(const char *alerts, const char *config, alert_config *out)
{
	alert_config_init(out, alerts ? alerts : config ? config : "");
	if (alerts)
		return alert_config_load(out, alerts);
	if (!config)
		return 0;
	dconf *c;
	int nerr, rc = config_load(&c, config, &nerr);
	if (rc == -EINVAL)
		return err_set(rc, "'%s' has %d error%s (see above; 'dvalin daemon --check-config')", config, nerr,
			       nerr == 1 ? "" : "s");
	if (rc < 0)
		return rc;
	*out = c->alerts; /* moved out of the configuration */
	memset(&c->alerts, 0, sizeof(c->alerts));
	config_free(c);
	return 0;
}

/* ---------- the command ---------- */

int cmd_disks(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "state", required_argument, NULL, 's' },
		{ "no-state", no_argument, NULL, 'N' },
		{ "alerts", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'C' },
		{ 0 },
	};
	char **files = NULL;
	size_t nfiles = 0;
	const char *state = NULL, *alerts = NULL, *show = NULL, *config = NULL;
	int no_state = 0, c, rc = 0;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			rc = strlist_add(&files, &nfiles, optarg);
		else if (c == 's')
			state = optarg;
		else if (c == 'N')
			no_state = 1;
		else if (c == 'a')
			alerts = optarg;
		else if (c == 'C')
			config = optarg;
		else {
			strlist_free(files, nfiles);
			return cli_option_error(ctx);
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

	if (alerts && config) {
		strlist_free(files, nfiles);
		return cli_usage_error(ctx, "--alerts and --config exclude each other");
	}
	alert_config cfg = { NULL, 0, 0, "" };
	const char *apath = state && !config ? alerts_path(alerts) : NULL;
	if (rc == 0 && (alerts || config) && !state)
		log_warn("--alerts without a state: no alerts are sent (they are sent once per condition)");
	if (rc == 0 && (apath || (config && state)))
		rc = cli_load_channels(apath, config, &cfg);
	diskscan_opts o = { files, nfiles, show, state, apath || (config && state) ? &cfg : NULL,
			    (int64_t)time(NULL) };
	diskscan_result res;
	if (rc == 0)
		rc = diskscan_run(&o, &res);
	alert_config_release(&cfg);
	strlist_free(files, nfiles);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_diskscan(&j, &res);
		json_finish(&j);
	} else if (!ctx->quiet && res.n == 0) {
		printf("no SMART-capable disks found (smartctl --scan-open lists none)\n");
	} else if (!ctx->quiet) {
		print_table(&res, show != NULL);
	}
	int ex = res.verdict == SEV_FAILING ? EXIT_FAILING
	       : res.verdict == SEV_WARNING ? EXIT_WARNING
	       : res.unreadable ? EXIT_FAIL : EXIT_OK;
	diskscan_result_release(&res);
	return ex;
}

int cmd_alert(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "alerts", required_argument, NULL, 'a' },
		{ "severity", required_argument, NULL, 's' },
		{ 0 },
	};
	const char *path = NULL, *severity = "ok";
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			path = optarg;
		else if (c == 's')
			severity = optarg;
		else
			return cli_option_error(ctx);
	}
	int test = optind + 1 == argc && strcmp(argv[optind], "test") == 0;
	int send = optind + 3 == argc && strcmp(argv[optind], "send") == 0;
	if (!test && !send)
		return cli_usage_error(ctx, "expected 'alert test' or 'alert send TITLE MESSAGE'");
	if (strcmp(severity, "ok") != 0 && strcmp(severity, "warning") != 0 &&
	    strcmp(severity, "failing") != 0)
		return cli_usage_error(ctx, "invalid --severity '%s' (ok, warning or failing)", severity);
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
	if (send) {
		snprintf(title, sizeof(title), "%s", argv[optind + 1]);
		snprintf(body, sizeof(body), "%s", argv[optind + 2]);
	} else {
		snprintf(title, sizeof(title), "dvalin on %s: test notification", host);
		snprintf(body, sizeof(body), "This is a test of the alert channels configured in %s on %s.\n"
			 "If you read this, disk alerts will reach you here.", path, host);
	}
	int failed = 0;
	for (size_t i = 0; i < cfg.n; i++) {
		rc = alert_send(&cfg.v[i], title, body, send ? severity : "test");
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
