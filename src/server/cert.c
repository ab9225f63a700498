/* SPDX-License-Identifier: BSD-2-Clause */
#include "cert.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/crypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VALID_DAYS 3650

/* "DNS:a,IP:127.0.0.1,..." for the subjectAltName extension */
static int alt_names(char *out, size_t cap, const char *const *names, size_t n)
{
	size_t at = 0;
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char a[16];
		int ip = inet_pton(AF_INET, names[i], a) == 1 || inet_pton(AF_INET6, names[i], a) == 1;
		for (const char *p = names[i]; *p; p++)
			if (*p == ',' || *p <= ' ')
				return err_set(-EINVAL, "invalid name for the certificate: '%s'", names[i]);
		int w = snprintf(out + at, cap - at, "%s%s:%s", at ? "," : "", ip ? "IP" : "DNS", names[i]);
		if (w < 0 || (size_t)w >= cap - at)
			return err_set(-E2BIG, "too many names for the certificate");
		at += (size_t)w;
	}
	return 0;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -EINVAL;
}

/* Opens path for writing a new file with mode. */
static FILE *create_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

int cert_make(const char *cert_path, const char *key_path, const char *const *names, size_t n)
{
	char san[4096];
	int rc = alt_names(san, sizeof(san), names, n);
	if (rc < 0)
		return rc;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *kf = NULL, *cf = NULL;
	uint8_t serial[16];
	rc = key && x ? crypto_random(serial, sizeof(serial)) : -ENOMEM;
	serial[0] &= 0x7f; /* a positive serial number */
	BIGNUM *bn = rc == 0 ? BN_bin2bn(serial, sizeof(serial), NULL) : NULL;
	if (rc == 0 && (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
			!X509_set_version(x, 2) || !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
			!X509_gmtime_adj(X509_getm_notAfter(x), (long)VALID_DAYS * 86400) ||
			!X509_set_pubkey(x, key)))
		rc = err_set(-EIO, "cannot make the TLS certificate");
	X509_NAME *nm = rc == 0 ? X509_get_subject_name(x) : NULL;
	if (nm && (!X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
					       (const unsigned char *)(n ? names[0] : "dvalin server"), -1,
					       -1, 0) ||
		   !X509_set_issuer_name(x, nm)))
		rc = err_set(-EIO, "cannot name the TLS certificate");
	if (rc == 0 && (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
			add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
			add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
			(san[0] && add_ext(x, NID_subject_alt_name, san) < 0)))
		rc = err_set(-EIO, "cannot add the TLS certificate's extensions");
	if (rc == 0 && !X509_sign(x, key, EVP_sha256()))
		rc = err_set(-EIO, "cannot sign the TLS certificate");
	if (rc == 0 && !(kf = create_file(key_path, 0600)))
		rc = err_sys(-errno, "cannot create the TLS key '%s'", key_path);
	if (rc == 0 && (!PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) || fflush(kf) ||
			fsync(fileno(kf))))
		rc = err_set(-EIO, "cannot write the TLS key '%s'", key_path);
	if (rc == 0 && !(cf = create_file(cert_path, 0644)))
		rc = err_sys(-errno, "cannot create the TLS certificate '%s'", cert_path);
	if (rc == 0 && (!PEM_write_X509(cf, x) || fflush(cf) || fsync(fileno(cf))))
		rc = err_set(-EIO, "cannot write the TLS certificate '%s'", cert_path);
	if (kf)
		fclose(kf);
	if (cf)
		fclose(cf);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int cert_fingerprint(const char *cert_path, char out[CERT_FP_LEN])
{
	FILE *f = fopen(cert_path, "re");
	if (!f)
		return err_sys(-errno, "cannot read the TLS certificate '%s'", cert_path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return err_set(-EINVAL, "'%s' is not a PEM certificate", cert_path);
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	X509_free(x);
	if (len <= 0)
		return err_set(-EINVAL, "cannot read the public key of '%s'", cert_path);
	uint8_t d[32];
	char h[65];
	crypto_sha256(d, der, (size_t)len);
	OPENSSL_free(der);
	hex_encode(h, d, 32);
	snprintf(out, CERT_FP_LEN, "SHA256:%s", h);
	return 0;
}
