/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/json.h"
#include "../jobs/poolscan.h"
#include "../report/disk.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char cmd_zpool_check_usage[] =
	"usage: dvalin zpool-check [--from STATUS.txt [--zdb ZDB.txt]] [--state FILE]\n"
	"                          [--alerts FILE | --config FILE] [--json]\n\n"
	"Check ZFS pools: state not ONLINE, read/write/checksum errors, permanent\n"
	"errors, redundant vdevs mixed with single-disk ones (or no redundancy at all),\n"
	"different or too small ashift, /dev/sdX names instead of /dev/disk/by-id,\n"
	"a last scrub older than 35 days (or none), a resilver in progress, spares in\n"
	"use (docs/disks.md has the reasons).  Runs `zpool status -P` and `zdb -C`\n"
	"(when present), or reads saved outputs.\n\n"
	"Options:\n"
	"      --from FILE  the saved text of `zpool status -P`\n"
	"      --zdb FILE   the saved text of `zdb -C` (per-vdev ashift)\n"
	"      --state FILE remember each pool's conditions here (the disks' state file,\n"
	"                   e.g. /var/lib/dvalin/disks.db), so each one is alerted once,\n"
	"                   again when it worsens, and when it goes away\n"
	"      --alerts FILE  notification channels (alerts.conf format); needs --state\n"
	"      --config FILE  ... or the channels of a daemon configuration (dvalin.conf)\n"
	"      --json       {verdict, pools: [{name, state, verdict, findings: [...]}]}\n"
	"                   (docs/json.md)\n\n"
	"Exit status: 0 every pool ok, 1 operational error, 4 warning, 5 failing.\n";

int cmd_zpool_check(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "zdb", required_argument, NULL, 'z' },
		{ "state", required_argument, NULL, 's' },
		{ "alerts", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'C' },
		{ 0 },
	};
	const char *from = NULL, *zdbf = NULL, *state = NULL, *alerts = NULL, *config = NULL;
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			from = optarg;
		else if (c == 'z')
			zdbf = optarg;
		else if (c == 's')
			state = optarg;
		else if (c == 'a')
			alerts = optarg;
		else if (c == 'C')
			config = optarg;
		else
			return cli_option_error(ctx);
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (zdbf && !from)
		return cli_usage_error(ctx, "--zdb goes with --from");
	if ((alerts || config) && !state)
		return cli_usage_error(ctx, "--alerts and --config need --state (alerts are sent once per condition)");
	if (alerts && config)
		return cli_usage_error(ctx, "--alerts and --config exclude each other");
	alert_config cfg;
	int rc = cli_load_channels(alerts, config, &cfg);
	if (rc < 0)
		return cli_fail(rc);
	poolscan_opts o = { from, zdbf, (int64_t)time(NULL), state, (alerts || config) ? &cfg : NULL };
	poolscan_result res;
	rc = poolscan_run(&o, &res);
	alert_config_release(&cfg);
	if (rc < 0)
		return cli_fail(rc);
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_poolscan(&j, &res);
		json_finish(&j);
	} else if (!ctx->quiet) {
		for (size_t i = 0; i < res.pools.n; i++) {
			const zpool_pool *p = &res.pools.v[i];
			printf("pool %s: %s (state %s)\n", p->name, disks_severity_name(p->report.verdict),
			       p->state);
			for (size_t k = 0; k < p->report.n; k++)
				printf("  %-8s %s\n           from: %s\n",
				       disks_severity_name(p->report.v[k].severity), p->report.v[k].message,
				       p->report.v[k].source);
		}
	}
	int ex = res.verdict == SEV_FAILING ? EXIT_FAILING : res.verdict == SEV_WARNING ? EXIT_WARNING : EXIT_OK;
	poolscan_result_release(&res);
	return ex;
}
