/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * s3loc: the S3 repository URL, parsed and checked once (s3loc.h has the
 * syntax).  Nothing here is ever percent-encoded: each part is held to
 * characters that mean themselves in a URL, so that the URL a request
 * goes to and the one curl signs are the same bytes.
 */
#include "s3loc.h"
#include "../base/err.h"
#include "../base/num.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Four decimal octets, each 0..255, and nothing else. */
static int ipv4_first_octet(const char *h)
{
	unsigned v[4];
	int n = 0;
	if (sscanf(h, "%3u.%3u.%3u.%3u%n", &v[0], &v[1], &v[2], &v[3], &n) != 4 || h[n])
		return -1;
	for (int i = 0; i < 4; i++)
		if (v[i] > 255)
			return -1;
	return (int)v[0];
}

int s3loc_host_is_loopback(const char *host)
{
	size_t n = strlen(host);
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return 1;
	/* RFC 6761: names under .localhost are loopback; curl resolves them
	 * so itself, which virtual-host style against a local test server
	 * needs (bucket.localhost) */
	if (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0)
		return 1;
	return ipv4_first_octet(host) == 127;
}

int s3loc_bucket_is_dns(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63 || !is_lower_alnum(b[0]) || !is_lower_alnum(b[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '.' && (b[i + 1] == '.' || b[i + 1] == '-' || (i && b[i - 1] == '-')))
			return 0;
		if (!is_lower_alnum(b[i]) && b[i] != '-' && b[i] != '.')
			return 0;
	}
	return ipv4_first_octet(b) < 0; /* not formatted as an IP address */
}

/*
 * A bucket name as path-style requests may carry it: S3's rules for new
 * buckets, plus upper case and '_' (legacy buckets of us-east-1, and
 * what several S3-compatible servers allow).
 */
static int bucket_is_valid(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63 || !is_alnum(b[0]) || !is_alnum(b[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(b[i]) && b[i] != '-' && b[i] != '.' && b[i] != '_')
			return 0;
	return 1;
}

/* The prefix: components of the backend's name characters, none starting with '.'. */
static int prefix_is_valid(const char *p)
{
	int start = 1;
	for (; *p; p++) {
		if (*p == '/') {
			if (start)
				return 0;
			start = 1;
			continue;
		}
		if (!(is_alnum(*p) || *p == '-' || *p == '_' || *p == '.') || (start && *p == '.'))
			return 0;
		start = 0;
	}
	return !start;
}

static int host_is_valid(const char *h)
{
	size_t n = strlen(h);
	if (n == 0)
		return 0;
	if (h[0] == '[') { /* an IPv6 literal: hex digits, ':' and '.', in brackets */
		if (n < 4 || h[n - 1] != ']')
			return 0;
		for (size_t i = 1; i + 1 < n; i++)
			if (!strchr("0123456789abcdefABCDEF:.", h[i]))
				return 0;
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
			return 0;
	return h[0] != '.' && h[0] != '-';
}

/* "5MiB", "32M", "1048576": bytes, with an optional binary unit. */
static int parse_size(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	if (num_parse_u64(s, &end, &v) < 0)
		return -EINVAL;
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = { { "", 0 }, { "k", 10 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
		      { "G", 30 }, { "GiB", 30 } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (v > (UINT64_MAX >> units[i].shift))
			return -EINVAL;
		*out = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

/* One "name=value" of the query (text is NUL-terminated, without '&'). */
static int parse_option(s3loc *l, const char *opt, const char *url, int *style)
{
	const char *eq = strchr(opt, '=');
	if (!eq)
		return err_set(-DV_EUSAGE, "S3 URL '%s': option '%s' has no value", url, opt);
	size_t kl = (size_t)(eq - opt);
	const char *v = eq + 1;
	if (kl == 5 && strncmp(opt, "style", 5) == 0) {
		if (strcmp(v, "auto") == 0)
			*style = 0;
		else if (strcmp(v, "path") == 0)
			*style = 1;
		else if (strcmp(v, "virtual") == 0)
			*style = 2;
		else
			return err_set(-DV_EUSAGE, "S3 URL '%s': style must be auto, path or virtual", url);
		return 0;
	}
	if (kl == 6 && strncmp(opt, "region", 6) == 0) {
		size_t n = strlen(v);
		if (n == 0 || n >= sizeof(l->region))
			return err_set(-DV_EUSAGE, "S3 URL '%s': invalid region", url);
		for (size_t i = 0; i < n; i++)
			if (!is_alnum(v[i]) && v[i] != '-' && v[i] != '_')
				return err_set(-DV_EUSAGE, "S3 URL '%s': invalid region '%s'", url, v);
		memcpy(l->region, v, n + 1);
		return 0;
	}
	if (kl == 9 && strncmp(opt, "part-size", 9) == 0) {
		uint64_t sz;
		if (parse_size(v, &sz) < 0 || sz < S3LOC_PART_MIN || sz > S3LOC_PART_MAX)
			return err_set(-DV_EUSAGE, "S3 URL '%s': part-size must be 5MiB to 5GiB", url);
		l->part_size = sz;
		return 0;
	}
	return err_set(-DV_EUSAGE, "S3 URL '%s': unknown option '%.*s' (style, region, part-size)", url,
		       (int)kl, opt);
}

int s3loc_parse(s3loc *l, const char *url)
{
	memset(l, 0, sizeof(*l));
	l->part_size = S3LOC_PART_DEFAULT;
	const char *p = url;
	if (strncmp(p, "https://", 8) == 0) {
		l->https = 1;
		p += 8;
	} else if (strncmp(p, "http://", 7) == 0) {
		p += 7;
	} else {
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s' must start with s3:https:// (or s3:http:// to a loopback address)",
			       url);
	}
	/* authority: host[:port], never credentials */
	size_t an = strcspn(p, "/?#");
	if (memchr(p, '@', an))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%.*s...' holds credentials: give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or ~/.aws/credentials",
			       (int)(p - url), url);
	size_t hn = an;
	const char *colon = NULL;
	if (p[0] == '[') {
		const char *close = memchr(p, ']', an);
		if (close && (size_t)(close - p + 1) < an && close[1] == ':')
			colon = close + 1;
	} else {
		colon = memchr(p, ':', an);
	}
	if (colon) {
		hn = (size_t)(colon - p);
		const char *end;
		uint64_t port;
		if (num_parse_u64(colon + 1, &end, &port) < 0 || end != p + an || port == 0 || port > 65535)
			return err_set(-DV_EUSAGE, "S3 URL 's3:%s': invalid port", url);
		l->port = (unsigned)port;
	}
	if (hn == 0 || hn >= sizeof(l->host))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': no host", url);
	memcpy(l->host, p, hn);
	l->host[hn] = 0;
	if (!host_is_valid(l->host))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': invalid host '%s'", url, l->host);
	if (!l->https && !s3loc_host_is_loopback(l->host))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': plain http is only for a loopback address; use https",
			       url);
	p += an;
	if (*p == '#')
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': a fragment ('#') is not allowed", url);
	if (*p != '/' || p[1] == '/' || p[1] == '?' || !p[1])
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s' names no bucket (s3:https://host/bucket/prefix)", url);
	p++;
	size_t bn = strcspn(p, "/?#");
	if (bn >= sizeof(l->bucket))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': bucket name too long", url);
	memcpy(l->bucket, p, bn);
	l->bucket[bn] = 0;
	if (!bucket_is_valid(l->bucket))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': invalid bucket name '%s'", url, l->bucket);
	p += bn;
	if (*p == '/') {
		p++;
		size_t pn = strcspn(p, "?#");
		while (pn && p[pn - 1] == '/')
			pn--; /* "bucket/prefix/" means "bucket/prefix" */
		if (pn > S3LOC_PREFIX_MAX)
			return err_set(-DV_EUSAGE, "S3 URL 's3:%s': prefix longer than %d bytes", url,
				       S3LOC_PREFIX_MAX);
		memcpy(l->prefix, p, pn);
		l->prefix[pn] = 0;
		if (pn && !prefix_is_valid(l->prefix))
			return err_set(-DV_EUSAGE, "S3 URL 's3:%s': the prefix may hold only A-Z a-z 0-9 - _ . and '/' between names (none starting with '.')",
				       url);
		p += strcspn(p, "?#");
	}
	if (*p == '#')
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': a fragment ('#') is not allowed", url);
	int style = 0;
	if (*p == '?') {
		char opts[512];
		size_t on = strlen(p + 1);
		if (on >= sizeof(opts))
			return err_set(-DV_EUSAGE, "S3 URL 's3:%s': options too long", url);
		memcpy(opts, p + 1, on + 1);
		for (char *o = opts; o && *o;) {
			char *amp = strchr(o, '&');
			if (amp)
				*amp = 0;
			int r = parse_option(l, o, url, &style);
			if (r < 0)
				return r;
			o = amp ? amp + 1 : NULL;
		}
	}
	if (style == 2 && !s3loc_bucket_is_dns(l->bucket))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': bucket '%s' cannot be a host name: use style=path",
			       url, l->bucket);
	if (style == 2 && (l->host[0] == '[' || ipv4_first_octet(l->host) >= 0))
		return err_set(-DV_EUSAGE, "S3 URL 's3:%s': virtual-host style needs a host name, not an address",
			       url);
	if (style == 0) {
		/* AWS wants virtual-host style (path style is deprecated
		 * there); a bucket with dots would not match its wildcard
		 * certificate.  Other servers take path style by default. */
		size_t n = strlen(l->host);
		l->virtual_host = n > 14 && strcasecmp(l->host + n - 14, ".amazonaws.com") == 0 &&
				  s3loc_bucket_is_dns(l->bucket) && !strchr(l->bucket, '.');
	} else {
		l->virtual_host = style == 2;
	}
	return 0;
}

static int host_part(const s3loc *l, char *out, size_t size)
{
	char port[16] = "";
	if (l->port)
		snprintf(port, sizeof(port), ":%u", l->port);
	int n = l->virtual_host ? snprintf(out, size, "%s://%s.%s%s", l->https ? "https" : "http",
					   l->bucket, l->host, port)
				: snprintf(out, size, "%s://%s%s", l->https ? "https" : "http", l->host, port);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

int s3loc_key(const s3loc *l, const char *name, char *out, size_t size)
{
	int n = l->prefix[0] ? snprintf(out, size, "%s/%s", l->prefix, name)
			     : snprintf(out, size, "%s", name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int s3loc_url(const s3loc *l, const char *key, char *out, size_t size)
{
	int h = host_part(l, out, size);
	if (h < 0)
		return h;
	int n;
	if (l->virtual_host)
		n = snprintf(out + h, size - (size_t)h, "/%s", key ? key : "");
	else
		n = snprintf(out + h, size - (size_t)h, "/%s%s%s", l->bucket, key ? "/" : "",
			     key ? key : "");
	return n < 0 || (size_t)n >= size - (size_t)h ? -ENAMETOOLONG : 0;
}

int s3loc_text(const s3loc *l, char *out, size_t size)
{
	char port[16] = "";
	if (l->port)
		snprintf(port, sizeof(port), ":%u", l->port);
	int n = snprintf(out, size, "s3:%s://%s%s/%s%s%s", l->https ? "https" : "http", l->host, port,
			 l->bucket, l->prefix[0] ? "/" : "", l->prefix);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
