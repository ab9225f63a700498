/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../repo/keyring.h"
#include "../report/key.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_key_usage[] =
	"usage: dvalin key list [--json]\n"
	"       dvalin key add [--new-password-file F] [--kdf-log-n N]\n"
	"       dvalin key remove ID\n"
	"       dvalin key passwd [--new-password-file F] [--kdf-log-n N]\n"
	"       dvalin key export [--file F]\n"
	"       dvalin key import FILE [--new-password-file F] [--kdf-log-n N]\n\n"
	"A repository has one or more key files; each holds the same master keys\n"
	"under its own password, so any of them opens the repository.\n\n"
	"  list     the key files, cheapest first; '*' marks the one the password opened\n"
	"  add      a key file for a new password (the current one keeps working)\n"
	"  remove   a key file, by a prefix of its id (not the one in use, not the last)\n"
	"  passwd   change the password: a key file for the new one is added, then\n"
	"           the one in use removed\n"
	"  export   the master keys as text to print on paper (checksummed, to be\n"
	"           typed back in): they read everything without any password, so\n"
	"           keep the paper safe and do not leave a file of it around\n"
	"  import   read such a text ('-': stdin) and store a key file for a new\n"
	"           password: the way back in when every password is lost (needs none;\n"
	"           the text must name this repository and open its snapshots)\n\n"
	"Options:\n"
	"      --new-password-file F  the new password is the first line of F (else it\n"
	"                             is asked twice on the terminal)\n"
	"      --kdf-log-n N          scrypt cost of the new key file, 10..22 (default 15)\n"
	"      --file F               export: write to F (created 0600) instead of stdout\n"
	"      --json                 list: an array of {id, short_id, kdf, log_n, r, p,\n"
	"                             current}\n";

typedef struct {
	const char *new_pass_file;
	const char *file;
	key_params kp;
} key_args;

static int list(cli_ctx *ctx, repo *r)
{
	keyring_entry *v;
	size_t n;
	int rc = keyring_list(r, &v, &n);
	if (rc < 0)
		return rc;
	if (ctx->json) {
		json j;
		json_init(&j, stdout);
		report_keys(&j, v, n);
		json_finish(&j);
	} else {
		printf(" %-10s %s\n", "ID", "KDF");
		for (size_t i = 0; i < n; i++)
			printf("%c%.8s   scrypt N=2^%u r=%u p=%u\n", v[i].current ? '*' : ' ',
			       strchr(v[i].name, '/') + 1, v[i].kdf.log_n, v[i].kdf.r, v[i].kdf.p);
		printf("%zu key%s\n", n, n == 1 ? "" : "s");
	}
	free(v);
	return 0;
}

static int add(cli_ctx *ctx, repo *r, const key_args *a, int passwd)
{
	char *pass = NULL, name[80];
	int rc = cli_new_password(a->new_pass_file, &pass);
	rc = rc ?: keyring_add(r, pass, &a->kp, name);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	if (rc < 0)
		return rc;
	char old[80];
	snprintf(old, sizeof(old), "%s", keyring_current(r));
	if (passwd) {
		/* the new key is stored: only now may the old one go */
		rc = keyring_remove(r, strchr(old, '/') + 1, 1, old);
		if (rc < 0)
			return err_set(rc, "the new key '%.8s' was added, but the old one could not be removed: %s",
				       strchr(name, '/') + 1, err_msg(rc));
	}
	if (!ctx->quiet && passwd)
		printf("password changed: key %.8s replaces key %.8s\n", strchr(name, '/') + 1,
		       strchr(old, '/') + 1);
	else if (!ctx->quiet)
		printf("added key %.8s\n", strchr(name, '/') + 1);
	return 0;
}

static int export_keys(cli_ctx *ctx, repo *r, const key_args *a)
{
	buf _cleanup_(buf_releasep) text = BUF_INIT;
	int rc = keyring_export(r, &text);
	FILE *f = stdout;
	if (rc == 0 && a->file) {
		int fd = open(a->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			if (fd >= 0)
				close(fd);
			rc = err_sys(-errno, "cannot create '%s'", a->file);
		}
	}
	if (rc == 0) {
		fwrite(text.data, 1, text.len, f);
		if ((f != stdout ? fclose(f) : fflush(f)) != 0)
			rc = err_sys(-EIO, "cannot write the paper key");
	}
	explicit_bzero(text.data, text.len);
	if (rc == 0 && !ctx->quiet)
		log_info("dvalin: these are the master keys: they read everything in the repository without a password. Print them, keep the paper safe, and delete any file of them.");
	return rc;
}

static int import_keys(cli_ctx *ctx, repo *r, const char *from, const key_args *a)
{
	char **lines = NULL;
	size_t n = 0;
	buf text = BUF_INIT;
	/* read verbatim (a paper key has no comments) and joined again */
	int rc = cli_read_list(from, CLI_LIST_VERBATIM, &lines, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = buf_append(&text, lines[i], strlen(lines[i]));
		rc = rc ?: buf_put_u8(&text, '\n');
	}
	for (size_t i = 0; i < n; i++)
		explicit_bzero(lines[i], strlen(lines[i]));
	strlist_free(lines, n);
	char *pass = NULL, name[80];
	rc = rc ?: cli_new_password(a->new_pass_file, &pass);
	rc = rc ?: keyring_import(r, (const char *)text.data, text.len, pass, &a->kp, name);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	if (text.data)
		explicit_bzero(text.data, text.len);
	buf_release(&text);
	if (rc == 0 && !ctx->quiet)
		printf("imported the paper key as key %.8s: its new password opens the repository\n",
		       strchr(name, '/') + 1);
	return rc;
}

int cmd_key(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "new-password-file", required_argument, NULL, 'P' },
		{ "kdf-log-n", required_argument, NULL, 'n' },
		{ "file", required_argument, NULL, 'f' },
		{ 0 },
	};
	static const char *const verbs[] = { "list", "add", "remove", "passwd", "export", "import" };
	key_args a = { NULL, NULL, KEY_PARAMS_INIT };
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'P') {
			a.new_pass_file = optarg;
		} else if (c == 'f') {
			a.file = optarg;
		} else if (c == 'n') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < KEY_LOG_N_MIN || v > KEY_LOG_N_MAX)
				return cli_usage_error(ctx, "--kdf-log-n must be %d..%d", KEY_LOG_N_MIN, KEY_LOG_N_MAX);
			a.kp.log_n = (unsigned)v;
		} else {
			return cli_option_error(ctx);
		}
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "what to do? list, add, remove, passwd, export or import");
	const char *verb = argv[optind];
	size_t k = 0;
	while (k < ARRAY_SIZE(verbs) && strcmp(verb, verbs[k]))
		k++;
	if (k == ARRAY_SIZE(verbs))
		return cli_usage_error(ctx, "unknown key command '%s' (list, add, remove, passwd, export or import)", verb);
	int want = k == 2 || k == 5; /* remove ID, import FILE */
	if (argc - optind - 1 != want)
		return cli_usage_error(ctx, want ? "'key %s' needs one argument" : "'key %s' takes no argument", verb);
	if (a.file && k != 4)
		return cli_usage_error(ctx, "--file goes with 'key export'");
	repo *r;
	/* import is for when no password works: it opens without one */
	int rc = cli_open_repo_as(ctx, NULL, k == 5 ? CLI_KEYLESS : 0, &r);
	if (rc < 0)
		return cli_fail(rc);
	char removed[80];
	switch (k) {
	case 0: rc = list(ctx, r); break;
	case 1: rc = add(ctx, r, &a, 0); break;
	case 2:
		rc = keyring_remove(r, argv[optind + 1], 0, removed);
		if (rc == 0 && !ctx->quiet)
			printf("removed key %.8s\n", strchr(removed, '/') + 1);
		break;
	case 3: rc = add(ctx, r, &a, 1); break;
	case 4: rc = export_keys(ctx, r, &a); break;
	default: rc = import_keys(ctx, r, argv[optind + 1], &a); break;
	}
	repo_free(r);
	return rc < 0 ? cli_fail(rc) : EXIT_OK;
}
