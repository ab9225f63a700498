/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * route: the rights of the repository server, decided in one place
 * (docs/http-api.md, "Authentication and rights").  One table row per
 * request and kind of file says which right it needs; every request is
 * looked up here before any handler runs.  Pure: the caller says what it
 * knows of the file (whether it exists, whose lease it is, whether the
 * repository is initialised), the table says what that needs.
 */
#ifndef DV_SERVER_ROUTE_H
#define DV_SERVER_ROUTE_H

#include "../repo/layout.h"

/* The rights, each including the ones before it. */
typedef enum {
	RIGHT_NONE = 0,
	RIGHT_READ,
	RIGHT_APPEND,
	RIGHT_PRUNE,
	RIGHT_ADMIN,
} server_right;

typedef enum {
	ROUTE_READ,   /* GET, HEAD of a file; the repository's own GET */
	ROUTE_LIST,   /* GET of a directory */
	ROUTE_PUT,
	ROUTE_DELETE,
} route_op;

typedef struct {
	route_op op;
	layout_kind kind;   /* PUT and DELETE; LAYOUT_KINDS for a scratch store's files */
	int exists;         /* PUT: the file exists */
	int own;            /* leases: created by this client, or missing (store_lease_is_own) */
	int initialised;    /* the repository has its config */
} route_ask;

typedef struct {
	server_right right; /* what the request needs */
	const char *doing;  /* for messages: "removing a pack" */
	/*
	 * RIGHT_NONE, or the right from which any body will do: a client with
	 * less (but at least `right`) may store only a body that
	 * readlease_check() accepts, a read lease of its own.
	 */
	server_right any_body;
} route_need;

/* The right a request needs (never RIGHT_NONE). */
route_need route_right(const route_ask *a);

/* "read", "append", "prune", "admin" ("none" for RIGHT_NONE). */
const char *route_right_name(server_right r);
/* The right a word names: 0 and *out, or -EINVAL. */
int route_right_parse(const char *s, server_right *out);

#endif
