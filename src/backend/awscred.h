/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * awscred: S3 credentials and region the way AWS tools find them.
 *
 * Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
 * AWS_SESSION_TOKEN) when set; otherwise the profile AWS_PROFILE (else
 * "default") of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
 * else ~/.aws/credentials): aws_access_key_id, aws_secret_access_key,
 * aws_session_token.
 *
 * Region: the repository URL's region= option; else AWS_REGION, else
 * AWS_DEFAULT_REGION; else "region" in that profile of the config file
 * (AWS_CONFIG_FILE, else ~/.aws/config, where the section of profile P is
 * "[profile P]" and the default one "[default]"); else us-east-1.
 *
 * The parsers of the two files are pure (awscred_parse_*), for tests and
 * fuzzing; both files go through base/ini.c with its caps.
 */
#ifndef DV_BACKEND_AWSCRED_H
#define DV_BACKEND_AWSCRED_H

#include <stddef.h>

typedef struct {
	char access_key[129];
	char secret_key[257];
	char session_token[4097]; /* "" when none (STS tokens are 1-2 KB) */
	char region[64];
	char source[320]; /* where the keys came from, for messages */
} aws_creds;

/*
 * Finds credentials and region as above (region_override from the URL,
 * or "").  -EACCES with a one-line message saying what to set when there
 * are none; -EINVAL when a value cannot be used.
 */
int awscred_load(aws_creds *out, const char *region_override);

/*
 * The keys of profile in a credentials file's text (name for messages)
 * into out->access_key, secret_key, session_token.  Returns 1 if the
 * profile was found with both keys, 0 if not, < 0 on a syntax error or an
 * unusable value.
 */
int awscred_parse_credentials(aws_creds *out, const char *text, size_t n, const char *name,
			      const char *profile);

/* The region of profile in a config file's text into out->region: 1 found, 0 not, < 0 error. */
int awscred_parse_config(aws_creds *out, const char *text, size_t n, const char *name,
			 const char *profile);

/* Zeroes the secrets. */
void awscred_wipe(aws_creds *c);

#endif
