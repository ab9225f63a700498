/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * options: getopt_long as every command uses it, with one line of our
 * own for a bad option instead of getopt's message plus ours.
 *
 * getopt prints its complaint under argv[0] (the command word, not
 * "dvalin CMD") and a command then printed a second line; here opterr is
 * off, the optstring starts with ':' so that a missing value is told
 * apart from an unknown option, and the complaint is kept in the context
 * until the command prints it with cli_option_error() (after releasing
 * what it had parsed so far).
 */
#include "cli.h"
#include "../base/strlist.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <strings.h>

#include <stdio.h>
#include <string.h>

/* The long options that start with the len bytes of typed, for a message. */
static size_t prefix_matches(const struct option *longopts, const char *typed, size_t len,
			     char *list, size_t cap)
{
	size_t n = 0, used = 0;
	list[0] = 0;
	for (const struct option *o = longopts; o->name; o++) {
		if (strncmp(o->name, typed, len) != 0)
			continue;
		if (used < cap) {
			int w = snprintf(list + used, cap - used, "%s--%s", n ? ", " : "", o->name);
			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}

static const struct option *find_long(const struct option *longopts, const char *name, size_t len)
{
	for (const struct option *o = longopts; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

int cli_getopt(cli_ctx *ctx, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, int *longindex)
{
	char spec[64];
	int idx = -1;
	snprintf(spec, sizeof(spec), ":%s", shortopts);
	opterr = 0;
	int c = getopt_long(argc, argv, spec, longopts, &idx);
	if (longindex)
		*longindex = idx;
	if (c != '?' && c != ':')
		return c;
	/* what the user typed: the argument getopt just stepped over */
	const char *typed = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	int is_long = typed[0] == '-' && typed[1] == '-';
	char *msg = ctx->opt_error;
	size_t cap = sizeof(ctx->opt_error);
	if (!is_long) {
		snprintf(msg, cap, c == ':' ? "option '-%c' needs a value" : "unknown option '-%c'",
			 optopt);
		return '?';
	}
	const char *name = typed + 2;
	size_t len = strcspn(name, "=");
	const struct option *o = find_long(longopts, name, len);
	char list[160];
	if (c == ':') {
		/* getopt_long leaves idx unset here; the option is the one with optopt */
		for (o = longopts; o->name && !(o->val == optopt && o->has_arg == required_argument); o++)
			;
		snprintf(msg, cap, "option '--%s' needs a value", o->name ? o->name : "?");
	} else if (o && o->has_arg == no_argument && name[len] == '=') {
		snprintf(msg, cap, "option '--%s' takes no value", o->name);
	} else if (!o && prefix_matches(longopts, name, len, list, sizeof(list)) > 1) {
		snprintf(msg, cap, "option '--%.*s' is ambiguous (%s)", (int)len, name, list);
	} else {
		snprintf(msg, cap, "unknown option '--%.*s'", (int)len, name);
	}
	return '?';
}

int cli_option_error(const cli_ctx *ctx)
{
	return cli_usage_error(ctx, "%s", ctx->opt_error[0] ? ctx->opt_error : "unknown option");
}

int cli_add_csv(char ***v, size_t *n, const char *arg)
{
	for (const char *p = arg; *p;) {
		size_t l = strcspn(p, ",");
		if (l) {
			char *t = strndup(p, l);
			int rc = t ? strlist_add(v, n, t) : -ENOMEM;
			free(t);
			if (rc < 0)
				return rc;
		}
		p += l + (p[l] == ',');
	}
	return 0;
}
