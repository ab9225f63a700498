/* SPDX-License-Identifier: BSD-2-Clause */
#include "route.h"
#include "../base/cleanup.h"

#include <errno.h>
#include <string.h>

/* When a row applies, besides its request and kind. */
enum {
	ANY,
	NEW,          /* PUT: no file of that name yet */
	OWN,          /* leases: created by this client, or missing */
	OTHERS,       /* leases: another client's */
	BEFORE_INIT,  /* the repository has no config yet */
	AFTER_INIT,
};

/*
 * The table.  The first row that matches decides.  Content-addressed
 * files (packs, index files, snapshots, keys) that exist hold the same
 * bytes as any upload under their name, so putting one again is never
 * a replacement: those rows say ANY.
 */
static const struct row {
	route_op op;
	int kind; /* layout_kind, or -1: any */
	int when;
	server_right right;
	const char *doing;
	server_right any_body; /* below this right the body is checked (route.h); 0: never */
} table[] = {
	{ ROUTE_READ, -1, ANY, RIGHT_READ, "reading", RIGHT_NONE },
	{ ROUTE_LIST, -1, ANY, RIGHT_READ, "listing", RIGHT_NONE },

	{ ROUTE_PUT, LAYOUT_PACK, ANY, RIGHT_APPEND, "storing a pack", RIGHT_NONE },
	{ ROUTE_PUT, LAYOUT_INDEX, ANY, RIGHT_APPEND, "storing an index file", RIGHT_NONE },
	{ ROUTE_PUT, LAYOUT_SNAPSHOT, ANY, RIGHT_APPEND, "storing a snapshot", RIGHT_NONE },
	{ ROUTE_PUT, LAYOUT_KEY, BEFORE_INIT, RIGHT_APPEND, "storing the first key file", RIGHT_NONE },
	{ ROUTE_PUT, LAYOUT_KEY, AFTER_INIT, RIGHT_ADMIN, "adding a key file to an initialised repository", RIGHT_NONE },
	{ ROUTE_PUT, LAYOUT_CONFIG, BEFORE_INIT, RIGHT_APPEND, "storing the config of a new repository", RIGHT_NONE },
	{ ROUTE_PUT, LAYOUT_CONFIG, AFTER_INIT, RIGHT_ADMIN, "replacing the config", RIGHT_NONE },
	/* a read token's lease of its own, a read lease only (readlease.h):
	 * it keeps a prune from deleting what a pull reads */
	{ ROUTE_PUT, LAYOUT_LEASE, NEW, RIGHT_READ, "storing a lease", RIGHT_APPEND },
	{ ROUTE_PUT, LAYOUT_LEASE, OWN, RIGHT_READ, "refreshing its own lease", RIGHT_APPEND },
	{ ROUTE_PUT, LAYOUT_LEASE, OTHERS, RIGHT_PRUNE, "replacing another client's lease", RIGHT_NONE },
	{ ROUTE_PUT, LAYOUT_GCREC, ANY, RIGHT_PRUNE, "writing a gc record", RIGHT_NONE },
	/* a mark only keeps a snapshot from forget: adding one removes nothing */
	{ ROUTE_PUT, LAYOUT_PROTECTED, ANY, RIGHT_APPEND, "protecting a snapshot", RIGHT_NONE },

	{ ROUTE_DELETE, LAYOUT_LEASE, OWN, RIGHT_READ, "removing its own lease", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_LEASE, OTHERS, RIGHT_PRUNE, "removing another client's lease", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_SNAPSHOT, ANY, RIGHT_PRUNE, "removing a snapshot", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_PACK, ANY, RIGHT_PRUNE, "removing a pack", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_INDEX, ANY, RIGHT_PRUNE, "removing an index file", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_GCREC, ANY, RIGHT_PRUNE, "removing a gc record", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_PROTECTED, ANY, RIGHT_ADMIN, "removing a snapshot's protection", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_KEY, ANY, RIGHT_ADMIN, "removing a key file", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_CONFIG, ANY, RIGHT_ADMIN, "removing the config", RIGHT_NONE },

	/* a scratch store's files (store.h): no kind, nothing to protect */
	{ ROUTE_PUT, LAYOUT_KINDS, ANY, RIGHT_APPEND, "storing a file", RIGHT_NONE },
	{ ROUTE_DELETE, LAYOUT_KINDS, ANY, RIGHT_PRUNE, "removing a file", RIGHT_NONE },
};

static int applies(const struct row *w, const route_ask *a)
{
	if (w->op != a->op || (w->kind >= 0 && w->kind != (int)a->kind))
		return 0;
	switch (w->when) {
	case NEW:
		return !a->exists;
	case OWN:
		return a->own;
	case OTHERS:
		return !a->own;
	case BEFORE_INIT:
		return !a->initialised;
	case AFTER_INIT:
		return a->initialised;
	default:
		return 1;
	}
}

route_need route_right(const route_ask *a)
{
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (applies(&table[i], a))
			return (route_need){ table[i].right, table[i].doing, table[i].any_body };
	/* no row: nothing less than everything */
	return (route_need){ RIGHT_ADMIN, "this request", RIGHT_NONE };
}

static const char *const names[] = { "none", "read", "append", "prune", "admin" };

const char *route_right_name(server_right r)
{
	return (size_t)r < ARRAY_SIZE(names) ? names[r] : "none";
}

int route_right_parse(const char *s, server_right *out)
{
	for (size_t i = 1; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (server_right)i;
			return 0;
		}
	return -EINVAL;
}
