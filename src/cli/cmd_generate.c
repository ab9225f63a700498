/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * generate: shell completion for bash, zsh and fish, and the man page, as
 * restic's `generate` writes them.
 *
 * The completions are made from the command table and each command's
 * --help text, the one place where its options are listed: an option is
 * a "--name" (or "-x") at the start of an indented line of the usage text,
 * and it takes a value when an upper-case word follows it ("--target DIR").
 * So a new option or command is completed without anyone touching this
 * file.  The man page is docs/dvalin.1, built into the binary.
 */
#include "cli.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/strlist.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* docs/dvalin.1, included at build time (the Makefile makes this object depend on it). */
__asm__(".section .rodata\n"
	".global dvalin_man_page\n"
	".type dvalin_man_page, @object\n"
	"dvalin_man_page:\n"
	".incbin \"docs/dvalin.1\"\n"
	".global dvalin_man_page_end\n"
	"dvalin_man_page_end:\n"
	".byte 0\n"
	".previous\n");
extern const char dvalin_man_page[], dvalin_man_page_end[];

const char cmd_generate_usage[] =
	"usage: dvalin generate [--bash-completion FILE] [--zsh-completion FILE]\n"
	"                       [--fish-completion FILE] [--man DIR]\n\n"
	"Write shell completion scripts and the man page ('-' as FILE: stdout).\n"
	"'make install' installs all of them; by hand, for example:\n"
	"  dvalin generate --bash-completion /etc/bash_completion.d/dvalin\n"
	"  dvalin generate --zsh-completion /usr/local/share/zsh/site-functions/_dvalin\n"
	"  dvalin generate --fish-completion ~/.config/fish/completions/dvalin.fish\n"
	"  dvalin generate --man /usr/local/share/man/man1\n\n"
	"Options:\n"
	"      --bash-completion FILE  the bash completion script\n"
	"      --zsh-completion FILE   the zsh completion function (_dvalin)\n"
	"      --fish-completion FILE  the fish completions\n"
	"      --man DIR               the manual page, as DIR/dvalin.1\n";

/* Words that follow some commands (their subcommands and objects). */
static const struct {
	const char *cmd, *words;
} subwords[] = {
	{ "cat", "config snapshot tree blob" },
	{ "repair", "index snapshots" },
	{ "disks", "show" },
	{ "alert", "test" },
	{ "key", "list add remove passwd export import" },
	{ "jobs", "history log run" },
};

/* Values of options that take one of a few words. */
static const struct {
	const char *opt, *words;
} values[] = {
	{ "--overwrite", "if-changed always if-newer never" },
	{ "--compression", "auto off fast max" },
	{ "--group-by", "host paths tags host,paths host,paths,tags" },
};

typedef struct {
	char **flags; /* every option of the command */
	size_t n;
	char **valued; /* those that take a value */
	size_t nvalued;
} optlist;

static void optlist_release(optlist *o)
{
	strlist_free(o->flags, o->n);
	strlist_free(o->valued, o->nvalued);
}

static int has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* The options of a usage text (see the top of the file). */
static int options_of(const char *usage, optlist *out)
{
	int rc = 0;
	for (const char *line = usage; rc == 0 && *line;) {
		size_t len = strcspn(line, "\n");
		const char *p = line, *end = line + len;
		if (*p == ' ') {
			while (p < end && *p == ' ')
				p++;
			/* "-t, --target DIR   text", "--host H   text": a value
			 * after the last flag of a line goes with all of them */
			size_t first = out->n;
			int takes = 0;
			while (rc == 0 && p < end && *p == '-') {
				const char *q = p + 1 + (p[1] == '-');
				while (q < end && (isalnum((unsigned char)*q) || *q == '-'))
					q++;
				char name[64];
				size_t l = (size_t)(q - p);
				if (l < 2 || l >= sizeof(name))
					break;
				memcpy(name, p, l);
				name[l] = 0;
				if (!has(out->flags, out->n, name))
					rc = strlist_add(&out->flags, &out->n, name);
				takes = q + 1 < end && *q == ' ' && (isupper((unsigned char)q[1]) || q[1] == '"');
				p = q;
				if (p < end && *p == ',')
					p++;
				while (p < end && *p == ' ' && p[1] == '-')
					p++;
				if (p < end && *p == ' ')
					break; /* the value or the description */
			}
			for (size_t k = first; rc == 0 && takes && k < out->n; k++)
				if (!has(out->valued, out->nvalued, out->flags[k]))
					rc = strlist_add(&out->valued, &out->nvalued, out->flags[k]);
		}
		line = *end ? end + 1 : end;
	}
	return rc;
}

static const char *const globals[] = { "-r", "--repo", "--password-file", "--json", "-q", "--quiet",
				       "-h", "--help" };
static const char *const global_valued[] = { "-r", "--repo", "--password-file" };

static const char *subwords_of(const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(subwords); i++)
		if (strcmp(subwords[i].cmd, cmd) == 0)
			return subwords[i].words;
	return "";
}

static void join(FILE *f, char **v, size_t n, const char *sep)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? sep : "", v[i]);
}

static int bash(FILE *f)
{
	size_t nc;
	const cli_command *cmds = cli_commands(&nc);
	fputs("# bash completion for dvalin, written by 'dvalin generate --bash-completion'\n"
	      "_dvalin() {\n"
	      "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "    local cmd= i opts= words=\n"
	      "    local globals='", f);
	join(f, (char **)globals, ARRAY_SIZE(globals), " ");
	fputs("'\n"
	      "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "        case ${COMP_WORDS[i]} in\n"
	      "        -r|--repo|--password-file) ((i++)) ;;\n"
	      "        -*) ;;\n"
	      "        *) cmd=${COMP_WORDS[i]}; break ;;\n"
	      "        esac\n"
	      "    done\n"
	      "    case $prev in\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(values); i++)
		fprintf(f, "    %s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n", values[i].opt,
			values[i].words);
	fputs("    esac\n"
	      "    case $cmd in\n"
	      "    '')\n"
	      "        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$globals\" -- \"$cur\"))\n"
	      "        else COMPREPLY=($(compgen -W '", f);
	for (size_t i = 0; i < nc; i++)
		fprintf(f, "%s%s", i ? " " : "", cmds[i].name);
	fputs("' -- \"$cur\")); fi\n"
	      "        return ;;\n", f);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nc; i++) {
		optlist o = { 0 };
		rc = options_of(cmds[i].usage, &o);
		fprintf(f, "    %s)\n        opts='", cmds[i].name);
		join(f, o.flags, o.n, " ");
		fprintf(f, "'\n        words='%s'\n", subwords_of(cmds[i].name));
		if (o.nvalued) {
			fputs("        case $prev in ", f);
			join(f, o.valued, o.nvalued, "|");
			fputs(") return ;; esac\n", f); /* a value: the default, file names */
		}
		fputs("        ;;\n", f);
		optlist_release(&o);
	}
	fputs("    esac\n"
	      "    case $prev in -r|--repo|--password-file) return ;; esac\n"
	      "    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$opts $globals\" -- \"$cur\"))\n"
	      "    elif [[ -n $words ]]; then COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	      "    fi\n"
	      "}\n"
	      "complete -o default -F _dvalin dvalin\n", f);
	return rc;
}

/* A description for zsh and fish: quotes and colons made harmless. */
static void desc(FILE *f, const char *s, char quote)
{
	for (; *s; s++) {
		if (*s == quote)
			fputs(quote == '\'' ? "'\\''" : "\\\"", f);
		else if (*s == ':' && quote == '\'')
			fputs("\\:", f);
		else
			fputc(*s, f);
	}
}

static int zsh(FILE *f)
{
	size_t nc;
	const cli_command *cmds = cli_commands(&nc);
	fputs("#compdef dvalin\n"
	      "# zsh completion for dvalin, written by 'dvalin generate --zsh-completion'\n"
	      "_dvalin() {\n"
	      "  local -a commands opts subs valued\n"
	      "  local i cmd= cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
	      "  local -a globals=(", f);
	join(f, (char **)globals, ARRAY_SIZE(globals), " ");
	fputs(")\n  commands=(\n", f);
	for (size_t i = 0; i < nc; i++) {
		fprintf(f, "    '%s:", cmds[i].name);
		desc(f, cmds[i].summary, '\'');
		fputs("'\n", f);
	}
	fputs("  )\n"
	      "  for (( i = 2; i < CURRENT; i++ )); do\n"
	      "    case ${words[i]} in\n"
	      "      -r|--repo|--password-file) (( i++ )) ;;\n"
	      "      -*) ;;\n"
	      "      *) cmd=${words[i]}; break ;;\n"
	      "    esac\n"
	      "  done\n"
	      "  case $prev in\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(values); i++)
		fprintf(f, "    %s) compadd -- %s; return ;;\n", values[i].opt, values[i].words);
	fputs("    -r|--repo|--password-file) _files; return ;;\n"
	      "  esac\n"
	      "  if [[ -z $cmd ]]; then\n"
	      "    if [[ $cur == -* ]]; then compadd -- $globals; else _describe command commands; fi\n"
	      "    return\n"
	      "  fi\n"
	      "  case $cmd in\n", f);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nc; i++) {
		optlist o = { 0 };
		rc = options_of(cmds[i].usage, &o);
		fprintf(f, "    %s) opts=(", cmds[i].name);
		join(f, o.flags, o.n, " ");
		fputs(") valued=(", f);
		join(f, o.valued, o.nvalued, " ");
		fprintf(f, ") subs=(%s) ;;\n", subwords_of(cmds[i].name));
		optlist_release(&o);
	}
	fputs("  esac\n"
	      "  if (( ${valued[(Ie)$prev]} )); then _files; return; fi\n"
	      "  if [[ $cur == -* ]]; then compadd -- $opts $globals\n"
	      "  elif (( $#subs )); then compadd -- $subs; _files\n"
	      "  else _files\n"
	      "  fi\n"
	      "}\n"
	      "_dvalin \"$@\"\n", f);
	return rc;
}

static const char *values_of(const char *flag)
{
	for (size_t i = 0; i < ARRAY_SIZE(values); i++)
		if (strcmp(values[i].opt, flag) == 0)
			return values[i].words;
	return NULL;
}

static void fish_flag(FILE *f, const char *cond, const char *flag, int valued)
{
	const char *w = values_of(flag);
	fprintf(f, "complete -c dvalin -n '%s' %s %s", cond, flag[1] == '-' ? "-l" : "-s",
		flag + (flag[1] == '-' ? 2 : 1));
	if (w)
		fprintf(f, " -x -a '%s'", w);
	else if (valued)
		fputs(" -r", f);
	fputc('\n', f);
}

static int fish(FILE *f)
{
	size_t nc;
	const cli_command *cmds = cli_commands(&nc);
	fputs("# fish completion for dvalin, written by 'dvalin generate --fish-completion'\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(globals); i++) {
		int valued = 0;
		for (size_t k = 0; k < ARRAY_SIZE(global_valued); k++)
			valued |= strcmp(globals[i], global_valued[k]) == 0;
		fish_flag(f, "true", globals[i], valued);
	}
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nc; i++) {
		fprintf(f, "complete -c dvalin -f -n __fish_use_subcommand -a %s -d \"", cmds[i].name);
		desc(f, cmds[i].summary, '"');
		fputs("\"\n", f);
		char cond[96];
		snprintf(cond, sizeof(cond), "__fish_seen_subcommand_from %s", cmds[i].name);
		optlist o = { 0 };
		rc = options_of(cmds[i].usage, &o);
		for (size_t k = 0; k < o.n; k++)
			fish_flag(f, cond, o.flags[k], has(o.valued, o.nvalued, o.flags[k]));
		const char *w = subwords_of(cmds[i].name);
		if (*w)
			fprintf(f, "complete -c dvalin -f -n '%s' -a '%s'\n", cond, w);
		optlist_release(&o);
	}
	return rc;
}

/* Writes with fn to path ('-': stdout), through a temporary file and a rename. */
static int write_to(const char *path, int (*fn)(FILE *))
{
	if (strcmp(path, "-") == 0) {
		int rc = fn(stdout);
		return rc < 0 ? rc : fflush(stdout) ? err_sys(-errno, "cannot write output") : 0;
	}
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp-%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return err_sys(-errno, "cannot write '%s'", path);
	int rc = fn(f);
	if (fflush(f) != 0 || ferror(f))
		rc = rc ?: err_sys(-errno, "cannot write '%s'", path);
	if (fclose(f) != 0)
		rc = rc ?: err_sys(-errno, "cannot write '%s'", path);
	if (rc == 0 && chmod(tmp, 0644) < 0)
		rc = err_sys(-errno, "cannot write '%s'", path);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = err_sys(-errno, "cannot write '%s'", path);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int man(FILE *f)
{
	size_t n = (size_t)(dvalin_man_page_end - dvalin_man_page);
	return fwrite(dvalin_man_page, 1, n, f) == n ? 0 : err_sys(-EIO, "cannot write the man page");
}

int cmd_generate(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bash-completion", required_argument, NULL, 'b' },
		{ "zsh-completion", required_argument, NULL, 'z' },
		{ "fish-completion", required_argument, NULL, 'f' },
		{ "man", required_argument, NULL, 'm' },
		{ 0 },
	};
	const char *out[4] = { NULL, NULL, NULL, NULL };
	int c;
	optind = 1;
	while ((c = cli_getopt(ctx, argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': out[0] = optarg; break;
		case 'z': out[1] = optarg; break;
		case 'f': out[2] = optarg; break;
		case 'm': out[3] = optarg; break;
		default: return cli_option_error(ctx);
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (!out[0] && !out[1] && !out[2] && !out[3])
		return cli_usage_error(ctx, "nothing to generate: give --bash-completion, --zsh-completion, --fish-completion or --man");
	int (*const fns[4])(FILE *) = { bash, zsh, fish, man };
	for (int i = 0; i < 4; i++) {
		if (!out[i])
			continue;
		_cleanup_free_ char *path = NULL;
		const char *p = out[i];
		if (i == 3 && strcmp(p, "-") != 0) {
			if (asprintf(&path, "%s/dvalin.1", p) < 0)
				return cli_fail(-ENOMEM);
			p = path;
		}
		int rc = write_to(p, fns[i]);
		if (rc < 0)
			return cli_fail(rc);
	}
	return EXIT_OK;
}
