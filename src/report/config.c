/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"
#include "report.h"
#include "../repo/format.h"

void report_config(json *j, const repo_config *c)
{
	json_obj_begin(j);
	json_key(j, "version"); json_uint(j, FORMAT_VERSION);
	report_id(j, "id", c->id);
	json_key(j, "chunker");
	json_obj_begin(j);
	json_key(j, "algorithm"); json_str(j, "fastcdc");
	json_key(j, "min_size"); json_uint(j, c->chunker.min);
	json_key(j, "avg_size"); json_uint(j, c->chunker.avg);
	json_key(j, "max_size"); json_uint(j, c->chunker.max);
	json_obj_end(j);
	json_key(j, "compression"); json_str(j, "zstd");
	json_key(j, "encryption"); json_str(j, "aes-256-gcm with per-message hmac-sha256 subkeys");
	json_key(j, "kdf"); json_str(j, "scrypt");
	json_obj_end(j);
}

void report_created(json *j, const char *path)
{
	json_obj_begin(j);
	report_str(j, "repository", path);
	json_key(j, "created"); json_bool(j, 1);
	json_obj_end(j);
}

void report_version(json *j, const char *version)
{
	json_obj_begin(j);
	json_key(j, "version"); json_str(j, version);
	json_key(j, "repository_format"); json_uint(j, FORMAT_VERSION);
	json_key(j, "json_format"); json_uint(j, REPORT_FORMAT);
	json_obj_end(j);
}
