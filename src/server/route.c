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
} table[] = {
	{ ROUTE_READ, -1, ANY, RIGHT_READ, "reading" },
	{ ROUTE_LIST, -1, ANY, RIGHT_READ, "listing" },

	{ ROUTE_PUT, LAYOUT_PACK, ANY, RIGHT_APPEND, "storing a pack" },
	{ ROUTE_PUT, LAYOUT_INDEX, ANY, RIGHT_APPEND, "storing an index file" },
	{ ROUTE_PUT, LAYOUT_SNAPSHOT, ANY, RIGHT_APPEND, "storing a snapshot" },
	{ ROUTE_PUT, LAYOUT_KEY, BEFORE_INIT, RIGHT_APPEND, "storing the first key file" },
	{ ROUTE_PUT, LAYOUT_KEY, AFTER_INIT, RIGHT_ADMIN, "adding a key file to an initialised repository" },
	{ ROUTE_PUT, LAYOUT_CONFIG, BEFORE_INIT, RIGHT_APPEND, "storing the config of a new repository" },
	{ ROUTE_PUT, LAYOUT_CONFIG, AFTER_INIT, RIGHT_ADMIN, "replacing the config" },
	{ ROUTE_PUT, LAYOUT_LEASE, NEW, RIGHT_APPEND, "storing a lease" },
	{ ROUTE_PUT, LAYOUT_LEASE, OWN, RIGHT_APPEND, "refreshing its own lease" },
	{ ROUTE_PUT, LAYOUT_LEASE, OTHERS, RIGHT_PRUNE, "replacing another client's lease" },
	{ ROUTE_PUT, LAYOUT_GCREC, ANY, RIGHT_PRUNE, "writing a gc record" },
	/* a mark only keeps a snapshot from forget: adding one removes nothing */
	{ ROUTE_PUT, LAYOUT_PROTECTED, ANY, RIGHT_APPEND, "protecting a snapshot" },

	{ ROUTE_DELETE, LAYOUT_LEASE, OWN, RIGHT_APPEND, "removing its own lease" },
	{ ROUTE_DELETE, LAYOUT_LEASE, OTHERS, RIGHT_PRUNE, "removing another client's lease" },
	{ ROUTE_DELETE, LAYOUT_SNAPSHOT, ANY, RIGHT_PRUNE, "removing a snapshot" },
	{ ROUTE_DELETE, LAYOUT_PACK, ANY, RIGHT_PRUNE, "removing a pack" },
	{ ROUTE_DELETE, LAYOUT_INDEX, ANY, RIGHT_PRUNE, "removing an index file" },
	{ ROUTE_DELETE, LAYOUT_GCREC, ANY, RIGHT_PRUNE, "removing a gc record" },
	{ ROUTE_DELETE, LAYOUT_PROTECTED, ANY, RIGHT_ADMIN, "removing a snapshot's protection" },
	{ ROUTE_DELETE, LAYOUT_KEY, ANY, RIGHT_ADMIN, "removing a key file" },
	{ ROUTE_DELETE, LAYOUT_CONFIG, ANY, RIGHT_ADMIN, "removing the config" },

	/* a scratch store's files (store.h): no kind, nothing to protect */
	{ ROUTE_PUT, LAYOUT_KINDS, ANY, RIGHT_APPEND, "storing a file" },
	{ ROUTE_DELETE, LAYOUT_KINDS, ANY, RIGHT_PRUNE, "removing a file" },
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
			return (route_need){ table[i].right, table[i].doing };
	/* no row: nothing less than everything */
	return (route_need){ RIGHT_ADMIN, "this request" };
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
