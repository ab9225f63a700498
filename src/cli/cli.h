/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli: what every command shares: the parsed global options, password
 * and repository look-up, human-readable numbers and the command table.
 *
 * Commands return the process exit status, one of the table below.
 */
#ifndef DV_CLI_CLI_H
#define DV_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "../jobs/snapsel.h"
#include "../notify/alert.h"
#include "../repo/repo.h"

/*
 * Exit statuses: one meaning each, so that a script, a systemd unit or
 * a job history can tell the outcomes apart (docs/dvalin.1, EXIT STATUS;
 * tests/e2e/test_exit.py pins them).  When several apply, the larger
 * finding wins over an error: a failing disk (5) outranks a warning (4),
 * which outranks a disk that could not be read (1).
 */
enum {
	EXIT_OK = 0,           /* done, nothing to report */
	EXIT_FAIL = 1,         /* an error: the command could not do its job */
	EXIT_USAGE = 2,        /* bad options or arguments; nothing was done */
	EXIT_PARTIAL = 3,      /* backup saved, but some files could not be read */
	EXIT_WARNING = 4,      /* disks, zpool-check: a disk or pool has a warning */
	EXIT_FAILING = 5,      /* disks, zpool-check: a disk or pool is failing */
	EXIT_DAMAGE = 6,       /* check found damaged or missing data; a drill did not match */
	/*
	 * Interrupted by SIGINT.  dvalin does not catch the signal: it dies
	 * of it, which shells report as 128 + 2, and a calling shell script
	 * stops too (exiting 130 instead would let the script go on).
	 */
	EXIT_INTERRUPTED = 130,
};

typedef struct {
	const char *repo;
	const char *password_file;
	int json;
	int quiet;
	int progress; /* show progress (stderr is a terminal, not quiet) */
	int compression; /* zstd level for new blobs, 0 = off */
	int no_cache;    /* --no-cache: no local metadata cache for a remote repository */
	const char *cmd;
	char opt_error[200]; /* cli_getopt's complaint, printed by cli_option_error */
} cli_ctx;

typedef struct {
	const char *name;
	int (*fn)(cli_ctx *ctx, int argc, char **argv);
	const char *summary;
	const char *usage; /* full --help text */
} cli_command;

/*
 * What Ctrl-C leaves when it ends the command, as one line for stderr
 * ("dvalin: backup interrupted: ..."; base/interrupt.h).  A command may
 * set a more precise note with interrupt_set_note().
 */
void cli_interrupt_note(char *out, size_t cap, const char *cmd);

const cli_command *cli_find_command(const char *name);
/* The command table, in --help's order. */
const cli_command *cli_commands(size_t *n);
void cli_print_usage(const char *cmd);
/* Prints "dvalin CMD: msg" for bad usage and returns EXIT_USAGE. */
int cli_usage_error(const cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * getopt_long without getopt's own messages: a bad option returns '?' and
 * keeps one line naming it ("unknown option '--frob'", "option '--tag'
 * needs a value") for cli_option_error(), which prints it and returns
 * EXIT_USAGE.  shortopts as for getopt_long, without a leading ':'.
 */
struct option;
int cli_getopt(cli_ctx *ctx, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, int *longindex);
int cli_option_error(const cli_ctx *ctx);
/*
 * Options that choose snapshots (jobs/snapsel.h; cli/select.c): --host,
 * --path and --tag narrow what 'latest' (and an id prefix) names and what
 * a listing shows; --snapshot ID also, for commands that read several
 * snapshots (find, drill).  CLI_SELECT_OPTIONS (and CLI_SELECT_SNAPSHOT)
 * go into a command's struct option table, CLI_SELECT_HELP into its usage
 * text; cli_select_option() takes each option: 1 when it was one of them
 * (added to f), 0 when not, < 0 (message set) when its value is bad.
 */
#define CLI_SELECT_OPTIONS                                                                    \
	{ "host", required_argument, NULL, SNAPSEL_OPT_HOST },                                \
	{ "path", required_argument, NULL, SNAPSEL_OPT_PATH },                                \
	{ "tag", required_argument, NULL, SNAPSEL_OPT_TAG }
#define CLI_SELECT_SNAPSHOT { "snapshot", required_argument, NULL, SNAPSEL_OPT_SNAPSHOT }
#define CLI_SELECT_HELP                                                                       \
	"      --host H           only snapshots of host H (repeatable: any of them)\n"        \
	"      --path P           only snapshots whose paths include P (repeatable: all)\n"    \
	"      --tag T[,T...]     only snapshots carrying every tag of the list\n"            \
	"                         (repeatable: any of the lists)\n"
int cli_select_option(int c, const char *arg, snapsel_filter *f);
/*
 * Reads the names or patterns of a list file ("-": stdin) and appends them
 * to *list (cli/listfile.c says how each mode reads).
 */
enum { CLI_LIST_PATTERNS, CLI_LIST_VERBATIM, CLI_LIST_RAW };
#define CLI_LIST_MAX_BYTES (256 << 20)
int cli_read_list(const char *path, int mode, char ***list, size_t *n);
/* Logs err_msg(code) as one line; returns EXIT_USAGE for -DV_EUSAGE, else EXIT_FAIL. */
int cli_fail(int code);

/* Reads the password (confirm: ask twice on a terminal). Caller frees. */
int cli_password(const cli_ctx *ctx, int confirm, char **out);
/* A new password (key add, passwd, import): from file, else asked twice on the terminal. */
int cli_new_password(const char *file, char **out);
const char *cli_repo_path(const cli_ctx *ctx);
/* Opens the repository named by the options with a read lease, asking for the password. */
int cli_open_repo(const cli_ctx *ctx, repo **out);
/* CLI_NO_CACHE: the repository itself, never local copies (check, repair judge what is stored) */
enum { CLI_KEYLESS = 1, CLI_EXCLUSIVE = 2, CLI_TOLERANT = 4, CLI_SOURCE = 8, CLI_NO_CACHE = 16 };
/* Opens it with a lease of the given kind (NULL: none) and CLI_* flags. */
int cli_open_repo_as(const cli_ctx *ctx, const char *kind, int flags, repo **out);
/*
 * The requests the repository's backend made so far, into *out: out, or
 * NULL for a backend that makes none (for report_requests).
 */
const backend_requests *cli_requests(repo *r, backend_requests *out);
/* Appends the items of a comma-separated list (--tag a,b), empty ones dropped. */
int cli_add_csv(char ***v, size_t *n, const char *arg);
/*
 * Fails with "WHAT refused: <the server's reason>INSTEAD" when r's
 * storage lets this client add files but not remove them (an append
 * token or ssh key); changes nothing.
 */
int cli_check_may_remove(repo *r, const char *what, const char *instead);
/*
 * Opens the repository at url with a password already read (NULL or
 * CLI_KEYLESS: keyless); CLI_SOURCE: the source of a copy (its server
 * credentials may be DVALIN_FROM_*, backend.h).
 */
int cli_open_url(const cli_ctx *ctx, const char *url, const char *kind, int flags, const char *pass,
		 repo **out);
/* Parses --threads N (1..64). */
int cli_parse_threads(const char *s, int *out);
/* Parses --compression auto|off|fast|max|N into a zstd level. */
int cli_parse_compression(const char *s, int *out_level);

/* "100", "100K", "5m", "2GiB", "1TB": bytes, binary units (find, --exclude-larger-than). */
int cli_parse_size(const char *s, uint64_t *out);
/* "2026-01-01", "2026-01-01 12:00", "2026-01-01T12:00:00": local time. */
int cli_parse_date(const char *s, int64_t *out);

/* "1.23 GiB" */
void cli_human_bytes(char out[32], uint64_t n);
/* "1:02:03" or "2:03" */
void cli_human_duration(char out[32], double seconds);


int cmd_init(cli_ctx *ctx, int argc, char **argv);
int cmd_backup(cli_ctx *ctx, int argc, char **argv);
int cmd_snapshots(cli_ctx *ctx, int argc, char **argv);
int cmd_ls(cli_ctx *ctx, int argc, char **argv);
int cmd_restore(cli_ctx *ctx, int argc, char **argv);
int cmd_cat(cli_ctx *ctx, int argc, char **argv);
int cmd_version(cli_ctx *ctx, int argc, char **argv);
int cmd_forget(cli_ctx *ctx, int argc, char **argv);
int cmd_prune(cli_ctx *ctx, int argc, char **argv);
int cmd_check(cli_ctx *ctx, int argc, char **argv);
int cmd_repair(cli_ctx *ctx, int argc, char **argv);
int cmd_stats(cli_ctx *ctx, int argc, char **argv);
int cmd_protect(cli_ctx *ctx, int argc, char **argv);
int cmd_unprotect(cli_ctx *ctx, int argc, char **argv);
int cmd_disks(cli_ctx *ctx, int argc, char **argv);
int cmd_alert(cli_ctx *ctx, int argc, char **argv);
int cmd_zpool_check(cli_ctx *ctx, int argc, char **argv);
int cmd_schedule(cli_ctx *ctx, int argc, char **argv);
int cmd_generate(cli_ctx *ctx, int argc, char **argv);
int cmd_tag(cli_ctx *ctx, int argc, char **argv);
int cmd_key(cli_ctx *ctx, int argc, char **argv);
int cmd_unlock(cli_ctx *ctx, int argc, char **argv);
int cmd_journal(cli_ctx *ctx, int argc, char **argv);
int cmd_dump(cli_ctx *ctx, int argc, char **argv);
int cmd_drill(cli_ctx *ctx, int argc, char **argv);
int cmd_diff(cli_ctx *ctx, int argc, char **argv);
int cmd_find(cli_ctx *ctx, int argc, char **argv);
int cmd_mount(cli_ctx *ctx, int argc, char **argv);
int cmd_daemon(cli_ctx *ctx, int argc, char **argv);
int cmd_jobs(cli_ctx *ctx, int argc, char **argv);
int cmd_server(cli_ctx *ctx, int argc, char **argv);
int cmd_serve(cli_ctx *ctx, int argc, char **argv);
int cmd_sync(cli_ctx *ctx, int argc, char **argv);
int cmd_cache(cli_ctx *ctx, int argc, char **argv);

extern const char cmd_init_usage[], cmd_backup_usage[], cmd_snapshots_usage[], cmd_ls_usage[],
	cmd_restore_usage[], cmd_cat_usage[], cmd_version_usage[], cmd_forget_usage[],
	cmd_prune_usage[], cmd_check_usage[], cmd_repair_usage[], cmd_stats_usage[],
	cmd_protect_usage[], cmd_unprotect_usage[], cmd_disks_usage[], cmd_alert_usage[],
	cmd_zpool_check_usage[], cmd_schedule_usage[], cmd_generate_usage[],
	cmd_tag_usage[], cmd_key_usage[], cmd_unlock_usage[], cmd_journal_usage[], cmd_dump_usage[],
	cmd_drill_usage[], cmd_diff_usage[], cmd_find_usage[],
	cmd_mount_usage[], cmd_daemon_usage[], cmd_jobs_usage[], cmd_server_usage[],
	cmd_serve_usage[], cmd_sync_usage[], cmd_cache_usage[];

/*
 * Notification channels from an alerts.conf (alerts), or from a daemon
 * configuration's [notify] sections (config), or none (both NULL).
 */
int cli_load_channels(const char *alerts, const char *config, alert_config *out);

/* The daemon's configuration file: opt, else $DVALIN_CONFIG, else the default. */
const char *cli_config_path(const char *opt);

/* "5%" or "5" -> 0.05; -1 if invalid. */
int cli_parse_percent(const char *s, double *out);
/* Runs prune (its own keyless, exclusive open) and prints the report. */
int cli_run_prune(cli_ctx *ctx, double max_unused, int dry, int threads);

#define DVALIN_VERSION "0.1.0"

#endif
