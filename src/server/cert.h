/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cert: the server's self-signed TLS certificate (OpenSSL's libcrypto)
 * and the fingerprint clients pin: SHA-256 of the certificate's public key
 * (its DER SubjectPublicKeyInfo), written "SHA256:" and 64 hex digits.
 * docs/http-api.md, "Pinning", says why the key and not the certificate.
 */
#ifndef DV_SERVER_CERT_H
#define DV_SERVER_CERT_H

#include <stddef.h>

#define CERT_FP_LEN 72 /* "SHA256:" 64 hex, NUL */

/*
 * Writes an ECDSA P-256 key (0600) and a self-signed certificate for it,
 * valid for ten years, for the names given (host names and IP addresses:
 * "localhost", "127.0.0.1", "backup.lan").  Neither file may exist.
 */
int cert_make(const char *cert_path, const char *key_path, const char *const *names, size_t n);
/* The pinned fingerprint of the certificate in cert_path. */
int cert_fingerprint(const char *cert_path, char out[CERT_FP_LEN]);

#endif
