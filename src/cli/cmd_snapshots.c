/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../report/snapshot.h"
#include "../repo/snapshots.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char cmd_snapshots_usage[] =
	"usage: dvalin snapshots -r REPO [--host H] [--tag T] [--json]\n\n"
	"List the snapshots, oldest first: id, time, host, tags, paths, number of\n"
	"files and the bytes the backup added to the repository.\n\n"
	"Options:\n"
	"      --host H   only snapshots of host H\n"
	"      --tag T    only snapshots carrying tag T\n"
	"      --json     an array of objects: id, short_id, time (RFC 3339, ns),\n"
	"                 host, user, paths, tags, parent, tree, protected,\n"
	"                 damaged_paths (set by a repair) and a summary object;\n"
	"                 'cat snapshot' prints the same object (docs/json.md)\n";

static void print_json(snapshot **v, size_t n, const char *host, const char *tag,
		       const idmap *prot);

static int has_tag(const snapshot *s, const char *tag)
{
	for (size_t i = 0; i < s->ntags; i++)
		if (strcmp(s->tags[i], tag) == 0)
			return 1;
	return 0;
}

static int selected(const snapshot *s, const char *host, const char *tag)
{
	return (!host || strcmp(s->host, host) == 0) && (!tag || has_tag(s, tag));
}

int cmd_snapshots(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "tag", required_argument, NULL, 't' },
		{ 0 },
	};
	const char *host = NULL, *tag = NULL;
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'H')
			host = optarg;
		else if (c == 't')
			tag = optarg;
		else
			return cli_option_error(ctx);
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	repo *r;
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0)
		return cli_fail(rc);
	snapshot **v = NULL;
	size_t n = 0, damaged = 0;
	idmap prot = IDMAP_INIT;
	rc = repo_load_snapshots(r, &v, &n, &damaged);
	rc = rc ?: repo_load_protected(r, &prot);
	if (rc < 0) {
		repo_free_snapshots(v, n);
		idmap_release(&prot);
		repo_free(r);
		return cli_fail(rc);
	}
	if (damaged)
		log_warn("%s (%zu damaged snapshot file(s) skipped)", err_msg(0), damaged);
	if (ctx->json) {
		print_json(v, n, host, tag, &prot);
	} else {
		printf("%-8s  %-19s  %-12s  %-12s  %10s  %10s  %s\n", "ID", "Time", "Host", "Tags",
		       "Files", "Added", "Paths");
		size_t shown = 0;
		for (size_t i = 0; i < n; i++) {
			const snapshot *s = v[i];
			if (!selected(s, host, tag))
				continue;
			char hex[65], when[40], added[32], tags[256] = "";
			hex_encode(hex, s->id, 32);
			time_t t = (time_t)s->time;
			struct tm tm;
			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			cli_human_bytes(added, s->stats.bytes_added);
			for (size_t k = 0; k < s->ntags; k++) {
				size_t l = strlen(tags);
				snprintf(tags + l, sizeof(tags) - l, "%s%s", k ? "," : "", s->tags[k]);
			}
			if (idmap_get(&prot, s->id))
				snprintf(tags + strlen(tags), sizeof(tags) - strlen(tags), "%s(protected)",
					 s->ntags ? "," : "");
			printf("%.8s  %-19s  %-12s  %-12s  %10llu  %10s  %s\n", hex, when, s->host, tags,
			       (unsigned long long)s->stats.total_files, added,
			       s->npaths ? s->paths[0] : "");
			for (size_t k = 1; k < s->npaths; k++)
				printf("%*s%s\n", 82, "", s->paths[k]);
			shown++;
		}
		printf("%zu snapshot%s\n", shown, shown == 1 ? "" : "s");
	}
	repo_free_snapshots(v, n);
	idmap_release(&prot);
	repo_free(r);
	return damaged ? EXIT_FAIL : EXIT_OK;
}

static void print_json(snapshot **v, size_t n, const char *host, const char *tag,
		       const idmap *prot)
{
	json j;
	json_init(&j, stdout);
	json_arr_begin(&j);
	for (size_t i = 0; i < n; i++)
		if (selected(v[i], host, tag))
			report_snapshot(&j, v[i], idmap_get(prot, v[i]->id) != NULL);
	json_arr_end(&j);
	json_finish(&j);
}
