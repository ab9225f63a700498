/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * web: the daemon's HTTP side (docs/daemon.md, "Web UI", "Local API"):
 * the web UI (the pages of web/, embedded in the binary), its JSON API,
 * /metrics, and the same API on a Unix socket for the `dvalin jobs`
 * command (STATE-DIR/control.sock, mode 0600: whoever may open it is
 * trusted, as whoever may read the state directory is).
 *
 * Every request except the login page, its assets and /metrics needs a
 * session; every POST also needs the session's CSRF token (header
 * X-CSRF-Token or form field csrf) and, when the browser sends one, an
 * Origin of this very site.  Session cookies are HttpOnly and
 * SameSite=Strict, and Secure over HTTPS.  The JSON documents are those
 * of report/ (the shapes `--json` prints); data of repositories comes from
 * dvalin's own commands run as children (snapshots, ls, dump, restore), so
 * the UI shows what the command line shows.
 */
#ifndef DV_DAEMON_WEB_H
#define DV_DAEMON_WEB_H

struct daemon_state;

/* Starts the web UI (when [web] listen is set) and, at_start, the local API. */
int web_start(struct daemon_state *d, int at_start);
/* Stops the web UI (and, final, the local API). */
void web_stop(struct daemon_state *d, int final);

#endif
