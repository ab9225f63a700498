/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dvalin server: a repository server's data directory, tokens and
 * repositories, running it (server/serve.h), and keyless maintenance of
 * its repositories on the server itself.  dvalin serve --stdio: one
 * repository over an SSH session.
 */
#include "cli.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/log.h"
#include "../report/report.h"
#include "../server/cert.h"
#include "../server/datadir.h"
#include "../server/serve.h"
#include "../server/token.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_DATA "/var/lib/dvalin-server"

const char cmd_server_usage[] =
	"usage: dvalin server COMMAND [--data DIR] [OPTIONS]\n\n"
	"A backup server: repositories for other machines over HTTPS, with tokens\n"
	"whose rights can be append-only.  The server holds ciphertext only.\n\n"
	"Commands:\n"
	"  init [--address NAME]... [--user NAME]\n"
	"                               make the data directory, a TLS key and a self-\n"
	"                               signed certificate (for localhost, this host and\n"
	"                               each NAME); prints the fingerprint clients pin\n"
	"  run --listen ADDR [--tls-cert F --tls-key F | --no-tls]\n"
	"      [--max-connections N] [--max-per-address N] [--timeout S]\n"
	"      [--log-requests]\n"
	"                               serve until SIGTERM; --no-tls only on loopback\n"
	"  repo add NAME [--scratch]    a new (empty) repository; clients 'dvalin init' it\n"
	"                               (--scratch: any names, no checks, for testing a\n"
	"                               backend with the conformance suite; no backups)\n"
	"  repo list                    the repositories\n"
	"  token add --name NAME --rights read|append|prune|admin [--repo REPO]\n"
	"      [--expires 365d]         a token (printed once, on stdout); without --repo\n"
	"                               for every repository\n"
	"  token list                   the tokens (never their secrets)\n"
	"  token revoke NAME            refuse that token from now on\n"
	"  prune REPO [--max-unused P%] [--dry-run]\n"
	"                               prune a repository here, without the key\n"
	"  check REPO [--read-data | --read-data-subset S]\n"
	"                               check a repository here, without the key\n"
	"  fingerprint                  print the certificate's fingerprint again\n\n"
	"Options:\n"
	"      --data DIR   the data directory (default $DVALIN_SERVER_DATA, else\n"
	"                   " DEFAULT_DATA ")\n"
	"      --user NAME  as root: run as NAME (init gives NAME the directory);\n"
	"                   without it the owner of the data directory, never root\n\n"
	"Rights: read (get, list, and a read lease of its own, so that prunes wait\n"
	"for a pull), append (read, create new files, refresh and remove its own\n"
	"leases), prune (append, remove snapshots, packs, index files, gc\n"
	"records: what forget and prune need), admin (everything).  Expiry: N followed\n"
	"by s, m, h, d, w or y.  Clients: -r https://HOST:PORT/REPO with\n"
	"DVALIN_TOKEN_FILE (or DVALIN_TOKEN) and DVALIN_FINGERPRINT (docs/http-api.md).\n";

const char cmd_serve_usage[] =
	"usage: dvalin serve --stdio [--rights R | --append-only] [--name NAME] [--create] PATH\n\n"
	"Serve the repository in directory PATH over stdin and stdout, for a client\n"
	"that runs 'ssh HOST dvalin serve --stdio PATH' (a repository URL\n"
	"ssh://[USER@]HOST[:PORT]/PATH).  The protocol is the HTTPS server's, without\n"
	"tokens: the rights are the command line's.  For an authorized_keys line:\n"
	"  command=\"dvalin serve --stdio --append-only /srv/repos/nas\",restrict ssh-ed25519 ...\n\n"
	"Options:\n"
	"      --stdio          required: serve over stdin and stdout\n"
	"      --rights R       read, append, prune or admin (default admin)\n"
	"      --append-only    the same as --rights append\n"
	"      --name NAME      names this client in the server's log and as the owner\n"
	"                       of the leases it makes (default ssh)\n"
	"      --create         make PATH if missing (the client asks for it on init)\n"
	"A directory holding a file '.scratch' is a scratch store: any names, no\n"
	"checks (for the backend conformance suite; never for backups).\n";

/* ---------- shared ---------- */

static const char *data_dir(const char *given)
{
	const char *e = getenv("DVALIN_SERVER_DATA");
	return given ? given : e && *e ? e : DEFAULT_DATA;
}

/* Takes "--NAME VALUE" or "--NAME=VALUE" out of argv (anywhere), so each subcommand parses the rest. */
static int take_option(cli_ctx *ctx, int *argc, char **argv, const char *name, const char **out)
{
	int w = 0;
	size_t nl = strlen(name);
	*out = NULL;
	for (int i = 0; i < *argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, name) == 0) {
			if (i + 1 >= *argc)
				return cli_usage_error(ctx, "--%s needs a value", name);
			*out = argv[++i];
		} else if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, nl) == 0 &&
			   argv[i][2 + nl] == '=') {
			*out = argv[i] + 3 + nl;
		} else {
			argv[w++] = argv[i];
		}
	}
	*argc = w;
	argv[w] = NULL;
	return 0;
}

static int open_data(const char *dir, datadir **out)
{
	int rc = datadir_open(out, dir, 0);
	return rc < 0 ? cli_fail(rc) : 0;
}

/* "365d" -> seconds */
static int parse_duration(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	static const struct {
		char c;
		int64_t mul;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
		      { 'y', 365 * 86400 } };
	if (end == s || errno || v <= 0 || !end[0] || end[1])
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (*end == units[i].c) {
			if (v > INT64_MAX / units[i].mul / 2)
				return -EINVAL;
			*out = v * units[i].mul;
			return 0;
		}
	return -EINVAL;
}

static void human_time(char out[REPORT_TIME_MAX], int64_t t)
{
	if (!t) {
		snprintf(out, REPORT_TIME_MAX, "-");
		return;
	}
	report_format_time(out, t, 0, 0);
	char *dot = strchr(out, '.');
	if (dot) /* whole seconds: drop the nanoseconds */
		memmove(dot, dot + 10, strlen(dot + 10) + 1);
}

/* ---------- init ---------- */

static int server_init(cli_ctx *ctx, const char *dir, int argc, char **argv)
{
	static const struct option opts[] = { { "address", required_argument, NULL, 'a' }, { 0 } };
	const char *names[34] = { "localhost", "127.0.0.1", "::1" };
	size_t n = 3;
	char host[256];
	if (gethostname(host, sizeof(host)) == 0 && host[0] && strcmp(host, "localhost") != 0) {
		host[sizeof(host) - 1] = 0;
		names[n++] = host;
	}
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'a')
			return cli_usage_error(ctx, "unknown option");
		if (n == ARRAY_SIZE(names))
			return cli_usage_error(ctx, "too many --address (at most %zu)", ARRAY_SIZE(names) - 4);
		names[n++] = optarg;
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	datadir *d;
	int rc = datadir_open(&d, dir, 1);
	if (rc < 0)
		return cli_fail(rc);
	char cert[PATH_MAX], key[PATH_MAX], fp[CERT_FP_LEN];
	rc = datadir_tls_paths(d, cert, key, sizeof(cert));
	struct stat st;
	int had = rc == 0 && stat(cert, &st) == 0;
	if (rc == 0 && !had)
		rc = cert_make(cert, key, names, n);
	rc = rc ?: cert_fingerprint(cert, fp);
	datadir_close(d);
	if (rc < 0)
		return cli_fail(rc);
	if (!ctx->quiet) {
		printf("%s the server's data directory '%s'\n", had ? "kept" : "made", dir);
		printf("certificate: %s%s\n", cert, had ? " (kept)" : "");
	}
	printf("fingerprint: %s\n", fp);
	return EXIT_OK;
}

/* ---------- run ---------- */

/*
 * As root, every server command runs as the user who owns the data
 * directory (or --user NAME, who must): the server never runs as root,
 * and no file it or an administrator's command makes (a token database's
 * journal) ends up owned by root where the server cannot write it.
 * `server init --user NAME` as root makes the directory for NAME.
 */
static int as_owner(const char *user, const char *dir, int create)
{
	if (geteuid() != 0)
		return 0;
	uid_t uid = 0;
	gid_t gid = 0;
	if (user) {
		struct passwd *pw = getpwnam(user);
		if (!pw)
			return err_set(-EINVAL, "no user '%s'", user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	struct stat st;
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || !create || !user)
			return errno == ENOENT && create
				       ? err_set(-EPERM, "as root, give --user NAME: the user the server will run as, who will own '%s'", dir)
				       : err_sys(-errno, "cannot stat '%s'", dir);
		int r = fsio_mkdirs(AT_FDCWD, dir, 1);
		if (r < 0 || chown(dir, uid, gid) < 0)
			return err_sys(r < 0 ? r : -errno, "cannot create '%s' for user '%s'", dir, user);
	} else if (!user) {
		uid = st.st_uid;
		gid = st.st_gid;
	} else if (st.st_uid != uid) {
		if (!create || st.st_uid != 0)
			return err_set(-EPERM, "'%s' is owned by uid %u, not by '%s'", dir, (unsigned)st.st_uid, user);
		if (chown(dir, uid, gid) < 0)
			return err_sys(-errno, "cannot give '%s' to user '%s'", dir, user);
	}
	if (uid == 0)
		return err_set(-EPERM, "refusing to run the server as root: give --user NAME, or chown the data directory '%s' to the user the server runs as",
			       dir);
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0 || setuid(0) == 0)
		return err_sys(-errno, "cannot drop root for uid %u", (unsigned)uid);
	return 0;
}

static int server_run(cli_ctx *ctx, const char *dir, const char *user, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "no-tls", no_argument, NULL, 'n' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "max-per-address", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "log-requests", no_argument, NULL, 'r' },
		{ 0 },
	};
	server_opts o = SERVER_OPTS_INIT;
	o.data_dir = dir;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		long v;
		switch (c) {
		case 'l':
			o.listen = optarg;
			break;
		case 'c':
			o.tls_cert = optarg;
			break;
		case 'k':
			o.tls_key = optarg;
			break;
		case 'n':
			o.no_tls = 1;
			break;
		case 'm':
		case 'a':
		case 't':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 100000)
				return cli_usage_error(ctx, "invalid --%s '%s'",
						       c == 'm' ? "max-connections" : c == 'a' ? "max-per-address" : "timeout", optarg);
			if (c == 'm')
				o.max_connections = (unsigned)v;
			else if (c == 'a')
				o.max_per_ip = (unsigned)v;
			else
				o.timeout_s = (unsigned)v;
			break;
		case 'r':
			o.log_requests = 1;
			break;
		default:
			return cli_usage_error(ctx, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (!o.listen)
		return cli_usage_error(ctx, "run needs --listen ADDRESS:PORT (e.g. 0.0.0.0:8443)");
	if (!o.tls_cert != !o.tls_key)
		return cli_usage_error(ctx, "--tls-cert and --tls-key go together");
	if (o.no_tls && o.tls_cert)
		return cli_usage_error(ctx, "--no-tls and --tls-cert exclude each other");
	/* the signals that stop us wait for sigwait(), in this thread only */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	server *s;
	int rc = server_start(&s, &o);
	if (rc < 0)
		return cli_fail(rc);
	if ((rc = as_owner(user, dir, 0)) < 0) {
		server_stop(s);
		return cli_fail(rc);
	}
	char fp[CERT_FP_LEN] = "";
	if (!o.no_tls && !o.tls_cert) {
		char cert[PATH_MAX];
		snprintf(cert, sizeof(cert), "%s/tls/cert.pem", dir);
		if (cert_fingerprint(cert, fp) < 0)
			fp[0] = 0;
	}
	log_info("serving '%s' on %s, port %d (%s)%s%s", dir, o.listen, server_port(s),
		 o.no_tls ? "HTTP, loopback only" : "HTTPS", fp[0] ? ", certificate " : "", fp);
	int sig = 0;
	sigwait(&set, &sig);
	log_info("stopping (signal %d): finishing the requests in progress", sig);
	server_stop(s);
	return EXIT_OK;
}

/* ---------- repositories ---------- */

static int print_repo(void *ud, const char *name)
{
	(void)ud;
	printf("%s\n", name);
	return 0;
}

static int server_repo(cli_ctx *ctx, const char *dir, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(ctx, "repo needs 'add NAME' or 'list'");
	datadir *d;
	int rc;
	if (strcmp(argv[1], "add") == 0) {
		int scratch = argc == 4 && strcmp(argv[3], "--scratch") == 0;
		if (argc != 3 && !scratch)
			return cli_usage_error(ctx, "repo add needs one NAME (and maybe --scratch)");
		if ((rc = open_data(dir, &d)))
			return rc;
		rc = datadir_repo_add(d, argv[2], scratch);
		datadir_close(d);
		if (rc < 0)
			return cli_fail(rc);
		if (!ctx->quiet && scratch)
			printf("made scratch store '%s': any names, no checks; not for backups\n", argv[2]);
		else if (!ctx->quiet)
			printf("made repository '%s': a client initialises it with\n"
			       "  dvalin -r https://HOST:PORT/%s init\n", argv[2], argv[2]);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 2)
			return cli_usage_error(ctx, "repo list takes no arguments");
		if ((rc = open_data(dir, &d)))
			return rc;
		rc = datadir_repo_list(d, print_repo, NULL);
		datadir_close(d);
		return rc < 0 ? cli_fail(rc) : EXIT_OK;
	}
	return cli_usage_error(ctx, "unknown repo command '%s'", argv[1]);
}

/* ---------- tokens ---------- */

static int print_token(void *ud, const token_info *t)
{
	char created[REPORT_TIME_MAX], expires[REPORT_TIME_MAX];
	int64_t now = *(int64_t *)ud;
	human_time(created, t->created);
	human_time(expires, t->expires);
	const char *state = t->revoked ? "revoked" : t->expires && t->expires <= now ? "expired" : "valid";
	printf("%-24s %-12s %-7s %-7s %-20s %s\n", t->name, t->repo[0] ? t->repo : "*",
	       route_right_name(t->right), state, created, expires);
	return 0;
}

static int token_add_cmd(cli_ctx *ctx, datadir *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "rights", required_argument, NULL, 'R' },
		{ "expires", required_argument, NULL, 'e' },
		{ 0 },
	};
	/* --repo is the global option (main.c takes it out of argv) */
	const char *name = NULL, *repo_name = ctx->repo;
	server_right right = RIGHT_NONE;
	int64_t expires = 0, dur;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'R' && route_right_parse(optarg, &right) < 0)
			return cli_usage_error(ctx, "invalid --rights '%s' (read, append, prune or admin)", optarg);
		else if (c == 'e' && parse_duration(optarg, &dur) < 0)
			return cli_usage_error(ctx, "invalid --expires '%s' (e.g. 30d, 12h, 1y)", optarg);
		else if (c == 'e')
			expires = (int64_t)time(NULL) + dur;
		else if (c != 'R')
			return cli_usage_error(ctx, "unknown option");
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (!name || right == RIGHT_NONE)
		return cli_usage_error(ctx, "token add needs --name and --rights");
	if (repo_name) {
		store *st;
		int rc = datadir_repo_open(d, repo_name, &st);
		if (rc == -ENOENT)
			return cli_fail(err_set(-ENOENT, "no repository '%s' (make it with 'dvalin server repo add %s')",
						repo_name, repo_name));
		if (rc < 0)
			return cli_fail(rc);
		store_free(st);
	}
	char text[TOKEN_TEXT_MAX];
	int rc = token_add(datadir_db(d), name, repo_name, right, expires, text);
	if (rc < 0)
		return cli_fail(rc);
	printf("%s\n", text);
	explicit_bzero(text, sizeof(text));
	if (!ctx->quiet) {
		char until[REPORT_TIME_MAX];
		human_time(until, expires);
		fprintf(stderr, "token '%s': right '%s' on %s%s%s, %s%s; shown only this once\n", name,
			route_right_name(right), repo_name ? "repository '" : "every repository",
			repo_name ? repo_name : "", repo_name ? "'" : "", expires ? "expires " : "does not expire", expires ? until : "");
	}
	return EXIT_OK;
}

static int server_token(cli_ctx *ctx, const char *dir, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(ctx, "token needs add, list or revoke");
	datadir *d;
	int rc = open_data(dir, &d);
	if (rc)
		return rc;
	if (strcmp(argv[1], "add") == 0) {
		rc = token_add_cmd(ctx, d, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "list") == 0) {
		int64_t now = (int64_t)time(NULL);
		if (argc != 2) {
			rc = cli_usage_error(ctx, "token list takes no arguments");
		} else {
			printf("%-24s %-12s %-7s %-7s %-20s %s\n", "NAME", "REPOSITORY", "RIGHTS", "STATE",
			       "CREATED", "EXPIRES");
			rc = token_list(datadir_db(d), print_token, &now);
			rc = rc < 0 ? cli_fail(rc) : EXIT_OK;
		}
	} else if (strcmp(argv[1], "revoke") == 0) {
		if (argc != 3)
			rc = cli_usage_error(ctx, "token revoke needs one NAME");
		else if ((rc = token_revoke(datadir_db(d), argv[2], (int64_t)time(NULL))) < 0)
			rc = cli_fail(rc);
		else if (!ctx->quiet)
			printf("revoked token '%s'\n", argv[2]);
	} else {
		rc = cli_usage_error(ctx, "unknown token command '%s'", argv[1]);
	}
	datadir_close(d);
	return rc;
}

/* ---------- maintenance here ---------- */

/* prune or check of a repository of the data directory, keyless, as the local commands do. */
static int server_maint(cli_ctx *ctx, const char *dir, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return cli_usage_error(ctx, "%s needs the repository's NAME", argv[0]);
	datadir *d;
	int rc = open_data(dir, &d);
	if (rc)
		return rc;
	store *st;
	char path[PATH_MAX];
	rc = datadir_repo_open(d, argv[1], &st);
	if (rc == 0)
		store_free(st);
	rc = rc == -ENOENT ? err_set(rc, "no repository '%s' in '%s'", argv[1], dir) : rc;
	rc = rc ?: datadir_repo_path(d, argv[1], path, sizeof(path));
	datadir_close(d);
	if (rc < 0)
		return cli_fail(rc);
	cli_ctx sub = *ctx;
	sub.repo = path;
	/* argv[1] (the name) becomes the command's own argv[0] */
	if (strcmp(argv[0], "prune") == 0)
		return cmd_prune(&sub, argc - 1, argv + 1);
	char *args[64];
	if (argc > 60)
		return cli_usage_error(ctx, "too many arguments");
	int n = 0;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = "--no-key";
	args[n] = NULL;
	return cmd_check(&sub, n, args);
}

int cmd_server(cli_ctx *ctx, int argc, char **argv)
{
	const char *given, *user;
	int rc = take_option(ctx, &argc, argv, "data", &given);
	rc = rc ?: take_option(ctx, &argc, argv, "user", &user);
	if (rc)
		return rc;
	const char *dir = data_dir(given);
	if (argc < 2)
		return cli_usage_error(ctx, "needs a command: init, run, repo, token, prune, check, fingerprint");
	const char *sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "run") == 0)
		return server_run(ctx, dir, user, argc, argv); /* binds first, then drops root */
	if ((rc = as_owner(user, dir, strcmp(sub, "init") == 0)) < 0)
		return cli_fail(rc);
	if (strcmp(sub, "init") == 0)
		return server_init(ctx, dir, argc, argv);
	if (strcmp(sub, "repo") == 0)
		return server_repo(ctx, dir, argc, argv);
	if (strcmp(sub, "token") == 0)
		return server_token(ctx, dir, argc, argv);
	if (strcmp(sub, "prune") == 0 || strcmp(sub, "check") == 0)
		return server_maint(ctx, dir, argc, argv);
	if (strcmp(sub, "fingerprint") == 0) {
		char cert[PATH_MAX], fp[CERT_FP_LEN];
		snprintf(cert, sizeof(cert), "%s/tls/cert.pem", dir);
		if ((rc = cert_fingerprint(cert, fp)) < 0)
			return cli_fail(rc);
		printf("%s\n", fp);
		return EXIT_OK;
	}
	return cli_usage_error(ctx, "unknown command '%s'", sub);
}

int cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdio", no_argument, NULL, 's' },
		{ "rights", required_argument, NULL, 'r' },
		{ "append-only", no_argument, NULL, 'a' },
		{ "name", required_argument, NULL, 'n' },
		{ "create", no_argument, NULL, 'c' },
		{ 0 },
	};
	server_opts o = SERVER_OPTS_INIT;
	int stdio = 0, create = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			stdio = 1;
		else if (c == 'c')
			create = 1;
		else if (c == 'r' && route_right_parse(optarg, &o.rights) < 0)
			return cli_usage_error(ctx, "invalid --rights '%s' (read, append, prune or admin)", optarg);
		else if (c == 'a')
			o.rights = RIGHT_APPEND;
		else if (c == 'n' && !token_name_is_valid(optarg))
			return cli_usage_error(ctx, "invalid --name '%s'", optarg);
		else if (c == 'n')
			o.client_name = optarg;
		else if (c != 'r')
			return cli_usage_error(ctx, "unknown option");
	}
	if (!stdio)
		return cli_usage_error(ctx, "only --stdio is supported (for ssh; 'dvalin server run' for HTTPS)");
	if (optind + 1 != argc)
		return cli_usage_error(ctx, "needs the repository directory PATH");
	o.repo_path = argv[optind];
	/* dvalin init over ssh: the directory, as a local init makes it */
	if (create && o.rights >= RIGHT_APPEND && mkdir(o.repo_path, 0700) < 0 && errno != EEXIST)
		return cli_fail(err_sys(-errno, "cannot create repository directory '%s'", o.repo_path));
	log_also_syslog("dvalin-serve"); /* the server's owner sees refusals there, not only the client */
	int rc = server_serve_stdio(&o, STDIN_FILENO, STDOUT_FILENO);
	return rc < 0 ? cli_fail(rc) : EXIT_OK;
}
