/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * assets: the files of web/ (HTML, CSS, JavaScript, an icon), embedded in
 * the binary at build time by web/embed.sh, so the daemon needs no files
 * beside itself and the browser fetches nothing from elsewhere.
 */
#ifndef DV_DAEMON_ASSETS_H
#define DV_DAEMON_ASSETS_H

#include <stddef.h>

typedef struct {
	const char *path;           /* "/app.js" */
	const char *type;           /* its Content-Type */
	const unsigned char *data;
	size_t len;
} web_asset;

extern const web_asset web_assets[];
extern const size_t web_nassets;

#endif
