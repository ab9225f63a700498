/* SPDX-License-Identifier: BSD-2-Clause */
/* mem: an in-memory backend for unit tests; same contract as local. */
#include "backend.h"
#include "../base/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mem_file {
	struct mem_file *next;
	char *name;
	uint8_t *data;
	size_t len;
	int64_t mtime_ns;
} mem_file;

typedef struct {
	backend base;
	mem_file *files;
} mem_backend;

static mem_file **find(backend *b, const char *name)
{
	mem_file **p = &((mem_backend *)b)->files;
	while (*p && strcmp((*p)->name, name) != 0)
		p = &(*p)->next;
	return p;
}

static int mem_put(backend *b, const char *name, const void *p, size_t n)
{
	mem_file **slot = find(b, name);
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, n);
	if (*slot) {
		free((*slot)->data);
	} else {
		mem_file *f = calloc(1, sizeof(*f));
		if (!f || !(f->name = strdup(name))) {
			free(f);
			free(copy);
			return -ENOMEM;
		}
		*slot = f;
	}
	(*slot)->data = copy;
	(*slot)->len = n;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	(*slot)->mtime_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return 0;
}

static void release_copy(void *priv, const uint8_t *data, size_t len)
{
	(void)priv;
	(void)len;
	free((void *)data);
}

static int mem_get(backend *b, const char *name, bytes *out)
{
	mem_file *f = *find(b, name);
	if (!f)
		return err_set(-ENOENT, "cannot open 'mem:%s': no such file", name);
	uint8_t *copy = malloc(f->len ? f->len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, f->data, f->len);
	out->data = copy;
	out->len = f->len;
	out->release = release_copy;
	out->priv = NULL;
	out->file_mapped = 0;
	return 0;
}

static int mem_get_range(backend *b, const char *name, uint64_t off, void *p, size_t n)
{
	mem_file *f = *find(b, name);
	if (!f)
		return err_set(-ENOENT, "cannot open 'mem:%s': no such file", name);
	if (off > f->len || n > f->len - off)
		return err_set(-ENODATA, "cannot read 'mem:%s': file is truncated", name);
	memcpy(p, f->data + off, n);
	return 0;
}

/* A handle keeps the backend and name: reads see the current contents. */
struct backend_file {
	backend *b;
	char *name;
};

static int mem_open_read(backend *b, const char *name, backend_file **out)
{
	if (!*find(b, name))
		return err_set(-ENOENT, "cannot open 'mem:%s': no such file", name);
	backend_file *f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(name))) {
		free(f);
		return -ENOMEM;
	}
	f->b = b;
	*out = f;
	return 0;
}

static int mem_file_read(backend_file *f, uint64_t off, void *p, size_t n)
{
	return mem_get_range(f->b, f->name, off, p, n);
}

static void mem_file_close(backend_file *f)
{
	free(f->name);
	free(f);
}

static int mem_stat(backend *b, const char *name, backend_stat_t *out)
{
	mem_file *f = *find(b, name);
	if (!f)
		return -ENOENT;
	out->size = f->len;
	out->mtime_ns = f->mtime_ns;
	return 0;
}

static int mem_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	size_t dl = strlen(dir);
	for (mem_file *f = ((mem_backend *)b)->files; f; f = f->next) {
		if (strncmp(f->name, dir, dl) == 0 && f->name[dl] == '/') {
			int r = fn(ud, f->name);
			if (r)
				return r;
		}
	}
	return 0;
}

static int mem_remove(backend *b, const char *name)
{
	mem_file **slot = find(b, name), *f = *slot;
	if (!f)
		return -ENOENT;
	*slot = f->next;
	free(f->name);
	free(f->data);
	free(f);
	return 0;
}

static void mem_free(backend *b)
{
	mem_file *f = ((mem_backend *)b)->files;
	while (f) {
		mem_file *next = f->next;
		free(f->name);
		free(f->data);
		free(f);
		f = next;
	}
	free(b->location);
	free(b);
}

static const struct backend_ops mem_ops = {
	mem_put, mem_get, mem_get_range, mem_stat, mem_list, mem_remove,
	mem_open_read, mem_file_read, mem_file_close, mem_free,
};

int mem_backend_new(backend **out)
{
	mem_backend *m = calloc(1, sizeof(*m));
	if (!m || !(m->base.location = strdup("mem"))) {
		free(m);
		return -ENOMEM;
	}
	m->base.ops = &mem_ops;
	*out = &m->base;
	return 0;
}
