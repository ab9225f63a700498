/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * readlease: the one file a token that may only read may write, a read
 * lease of its own (docs/http-api.md, "Read leases").  A pull holds one
 * on the server so that prunes there keep the packs it reads
 * (docs/concurrency.md, "Sync").  What it may store is checked here so
 * that the lease protects no more than a real reader's would: it must
 * parse, be of kind read, carry times of now (the server's clock, within
 * the skew allowance), keep its start, host and pid when refreshed, and
 * it lives at most READLEASE_MAX_S.  A damaged lease, one claiming an
 * old start, or one refreshed for ever would hold back every prune's
 * deletions; those are refused.  Pure: the caller reads the files.
 */
#ifndef DV_SERVER_READLEASE_H
#define DV_SERVER_READLEASE_H

#include <stddef.h>
#include <stdint.h>

/* The longest a read lease may be kept (from its start): a day. */
#define READLEASE_MAX_S 86400

/*
 * 0 when text (n bytes) may be stored by a read-only token as a lease,
 * replacing old (old_n bytes; NULL for a new lease); else -EACCES and
 * the reason in why.  now_ns is the server's clock, skew_ns what the
 * writer's may be off it.
 */
int readlease_check(const char *text, size_t n, const char *old, size_t old_n, int64_t now_ns,
		    int64_t skew_ns, char *why, size_t cap);

#endif
