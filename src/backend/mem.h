/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mem: an in-memory backend for tests (mem.c says how).  Reached through
 * backend_open() with mem:NAME (shared in the process) or mem: (private).
 */
#ifndef DV_BACKEND_MEM_H
#define DV_BACKEND_MEM_H

#include "backend.h"

/* Opens store name ("" for a private one); BACKEND_OPEN_CREATE makes it if missing. */
int mem_backend_open(backend **out, const char *name, unsigned flags);

#endif
