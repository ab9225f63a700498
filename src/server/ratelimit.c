/* SPDX-License-Identifier: BSD-2-Clause */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>

void ratelimit_init(ratelimit *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
}

void ratelimit_release(ratelimit *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* The slot of addr, or NULL (locked). */
static ratelimit_slot *find(ratelimit *r, const char *addr)
{
	for (size_t i = 0; i < RATELIMIT_SLOTS; i++)
		if (r->slot[i].fails && strcmp(r->slot[i].addr, addr) == 0)
			return &r->slot[i];
	return NULL;
}

int64_t ratelimit_wait(ratelimit *r, const char *addr, int64_t now)
{
	int64_t wait = 0;
	pthread_mutex_lock(&r->lock);
	ratelimit_slot *s = find(r, addr);
	if (s && now - s->start >= RATELIMIT_WINDOW_S)
		s->fails = 0; /* the window is over */
	else if (s && s->fails >= RATELIMIT_FAILS)
		wait = RATELIMIT_WINDOW_S - (now - s->start);
	pthread_mutex_unlock(&r->lock);
	return wait > 0 ? wait : 0;
}

void ratelimit_fail(ratelimit *r, const char *addr, int64_t now)
{
	pthread_mutex_lock(&r->lock);
	ratelimit_slot *s = find(r, addr);
	if (s && now - s->start >= RATELIMIT_WINDOW_S)
		s->fails = 0;
	if (!s || s->fails == 0) {
		if (!s) {
			/* a free slot, else the one whose window began first */
			s = &r->slot[0];
			for (size_t i = 0; i < RATELIMIT_SLOTS && s->fails; i++)
				if (!r->slot[i].fails || r->slot[i].start < s->start)
					s = &r->slot[i];
		}
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
		s->start = now;
		s->fails = 0;
	}
	s->fails++;
	pthread_mutex_unlock(&r->lock);
}
