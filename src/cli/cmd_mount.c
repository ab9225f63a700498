/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/err.h"
#include "../base/log.h"
#include "../jobs/mount.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

const char cmd_mount_usage[] =
	"usage: dvalin mount -r REPO MOUNTPOINT [--allow-other] [--cache SIZE]\n\n"
	"Mount the repository read-only at MOUNTPOINT (FUSE) and serve it until\n"
	"unmounted ('fusermount3 -u MOUNTPOINT', or Ctrl-C here):\n"
	"  snapshots/<time>/...      every snapshot, by the time it was made\n"
	"  hosts/<host>/<time>/...   the snapshots of each host, and\n"
	"  hosts/<host>/latest       a symlink to the newest of them\n"
	"  tags/<tag>/<time>/...     the same by tag, with tags/<tag>/latest\n"
	"Files show the size, mode, owner, times, extended attributes and ACLs they\n"
	"were backed up with; hard links are links; reads fetch only the parts they\n"
	"touch, and holes of sparse files fetch nothing.  Snapshots made after the\n"
	"mount appear after mounting again.  Needs root, or a user allowed to use\n"
	"FUSE (fusermount3).\n\n"
	"Options:\n"
	"      --allow-other  let other users in too (each sees what the recorded\n"
	"                     modes and owners allow; non-root needs user_allow_other\n"
	"                     in /etc/fuse.conf)\n"
	"      --cache SIZE   memory for file contents read (default 64M)\n";

static void say_mounted(void *ud)
{
	const char *mp = ud;
	log_info("mounted at '%s': Ctrl-C or 'fusermount3 -u %s' unmounts", mp, mp);
}

int cmd_mount(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allow-other", no_argument, NULL, 'a' },
		{ "cache", required_argument, NULL, 'c' },
		{ 0 },
	};
	mount_opts o;
	memset(&o, 0, sizeof(o));
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'a': o.allow_other = 1; break;
		case 'c':
			if (cli_parse_size(optarg, &v) < 0 || v < (1 << 20) || v > ((uint64_t)1 << 40))
				return cli_usage_error(ctx, "invalid --cache '%s' (1M to 1T)", optarg);
			o.blob_cache = (size_t)v;
			break;
		default: return cli_option_error(ctx);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(ctx, argc - optind ? "give one mount point" : "no mount point given");
	o.mountpoint = argv[optind];
	o.mounted = say_mounted;
	o.ud = (void *)o.mountpoint;
	repo *r;
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0)
		return cli_fail(rc);
	snapfs_stats st;
	/* libfuse installs its handlers (which end the loop and unmount) only
	 * over the default action: main's interrupt note would kill us first */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	rc = mount_run(r, &o, &st);
	repo_free(r);
	if (rc < 0)
		return cli_fail(rc);
	char b[32];
	cli_human_bytes(b, st.bytes_fetched);
	log_info("unmounted '%s': %llu chunks fetched (%llu bytes, %s), %llu directory trees read",
		 o.mountpoint, (unsigned long long)st.blobs_fetched,
		 (unsigned long long)st.bytes_fetched, b, (unsigned long long)st.trees_loaded);
	return EXIT_OK;
}
