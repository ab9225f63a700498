/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * s3: a backend on S3-compatible object storage (AWS, Ceph RGW, MinIO,
 * B2, Wasabi, ...); s3.c says how, docs/s3.md what it guarantees.
 * Reached through backend_open() with s3:https://HOST/BUCKET[/PREFIX]
 * (s3loc.h has the whole syntax).
 */
#ifndef DV_BACKEND_S3_H
#define DV_BACKEND_S3_H

#include "backend.h"

/*
 * Opens the repository location url (what follows "s3:") without a
 * request: the first failure that may mean a missing bucket, wrong
 * credentials or another region says which.  BACKEND_OPEN_CREATE checks
 * the bucket at once (one HEAD) and creates it if missing.  Credentials
 * and region: awscred.h.
 */
int s3_backend_open(backend **out, const char *url, unsigned flags);

#endif
