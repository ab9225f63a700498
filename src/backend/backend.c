/* SPDX-License-Identifier: BSD-2-Clause */
#include "backend.h"

#include <stdlib.h>

void bytes_release(bytes *b)
{
	if (b->release)
		b->release(b->priv, b->data, b->len);
	b->data = NULL;
	b->len = 0;
	b->release = NULL;
	b->priv = NULL;
	b->file_mapped = 0;
}

void backend_free(backend *b)
{
	if (b)
		b->ops->free(b);
}
