/* SPDX-License-Identifier: BSD-2-Clause */
/* report/config: the JSON of a repository's configuration and of `init` (docs/json.md). */
#ifndef DV_REPORT_CONFIG_H
#define DV_REPORT_CONFIG_H

#include "../base/json.h"
#include "../repo/repo.h"

/* {version, id, chunker: {...}, compression, encryption, kdf} */
void report_config(json *j, const repo_config *c);
/* {repository, created: true} */
void report_created(json *j, const char *path);
/* {version, repository_format, json_format}: what `dvalin version --json` says */
void report_version(json *j, const char *version);

#endif
