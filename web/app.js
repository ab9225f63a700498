// SPDX-License-Identifier: BSD-2-Clause
// dvalin's web UI: a few views over the daemon's JSON API (the documents
// `dvalin ... --json` prints, docs/json.md).  No libraries, no requests to
// anywhere but this daemon; every text goes in with textContent.
"use strict";

const state = { csrf: "", user: "", roots: [], timer: null, now: null };

function h(tag, attrs, ...kids) {
  const ns = ["svg", "polyline", "line", "text", "circle", "g", "title"].includes(tag) ? "http://www.w3.org/2000/svg" : null;
  const el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick" || k === "onsubmit") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(typeof kid === "string" || typeof kid === "number" ? document.createTextNode(String(kid)) : kid);
  }
  return el;
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (r.status === 401) { location.href = "/login"; throw new Error("login required"); }
  const doc = await r.json().catch(() => null);
  if (!r.ok) throw new Error((doc && doc.error) || ("HTTP " + r.status));
  return doc;
}

async function post(path, fields) {
  const body = new URLSearchParams(fields || {});
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin", body,
    headers: { "X-CSRF-Token": state.csrf, Accept: "application/json" },
  });
  if (r.status === 401) { location.href = "/login"; throw new Error("login required"); }
  const doc = await r.json().catch(() => null);
  if (!r.ok) throw new Error((doc && doc.error) || ("HTTP " + r.status));
  return doc;
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0, v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(v < 10 ? 2 : 1) : v) + " " + u[i];
}

function when(t) {
  if (!t) return "–";
  return t.slice(0, 10) + " " + t.slice(11, 19);
}

function ms(t) { return t ? Date.parse(t) : NaN; }

function ago(t) {
  if (!t) return "never";
  const now = state.now ? ms(state.now) : Date.now();
  let s = Math.max(0, Math.round((now - ms(t)) / 1000));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function badge(word, id) {
  return h("span", { class: "badge " + word, id }, word);
}

function jobStatus(j) {
  if (j.running) return "running";
  if (j.queued) return "queued";
  if (j.overdue) return "overdue";
  return j.last_run ? j.last_run.status : "never";
}

function card(title, ...kids) {
  return h("section", { class: "card" }, title ? h("h2", { text: title }) : null, ...kids);
}

function table(head, rows, cls) {
  return h("div", { class: "table-wrap" }, h("table", { class: cls },
    h("thead", {}, h("tr", {}, head.map(c => h("th", { class: c.cls || null }, c.t || c)))),
    h("tbody", {}, rows)));
}

// A line plot of [time ms, value] points as SVG.
function plot(points, opts) {
  const W = 640, H = opts.height || 160, L = 56, R = 10, T = 10, B = 22;
  const svg = h("svg", { class: "plot", viewBox: `0 0 ${W} ${H}`, role: "img", id: opts.id || null,
    "aria-label": opts.label || "plot" });
  if (!points.length) {
    svg.append(h("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no readings yet"));
    return svg;
  }
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(...ys);
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) y1 = y0 + 1;
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const Y = y => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  svg.append(h("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
    h("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    h("text", { x: L - 6, y: T + 8, "text-anchor": "end" }, opts.fmt ? opts.fmt(y1) : String(y1)),
    h("text", { x: L - 6, y: H - B, "text-anchor": "end" }, opts.fmt ? opts.fmt(y0) : String(y0)),
    h("text", { x: L, y: H - 6 }, new Date(x0).toISOString().slice(0, 16).replace("T", " ")),
    h("text", { x: W - R, y: H - 6, "text-anchor": "end" }, new Date(x1).toISOString().slice(0, 16).replace("T", " ")));
  svg.append(h("polyline", { class: "line", points: points.map(p => X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1)).join(" ") }));
  for (const p of points.length <= 60 ? points : [points[points.length - 1]])
    svg.append(h("circle", { class: "dot", cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: 2.5 },
      h("title", {}, when(new Date(p[0]).toISOString()) + ": " + (opts.fmt ? opts.fmt(p[1]) : p[1]))));
  return svg;
}

function setMain(...kids) {
  const m = document.getElementById("main");
  m.replaceChildren(...kids.flat().filter(k => k !== null && k !== undefined && k !== false));
}

function refreshIn(ms_, fn) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => { if (!document.hidden) fn(); else refreshIn(ms_, fn); }, ms_);
}

function errorView(e) {
  setMain(card(null, h("p", { class: "error", id: "error", text: String(e.message || e) })));
}

async function runNow(name, button) {
  button.disabled = true;
  try {
    await post(`/api/jobs/${encodeURIComponent(name)}/run`);
    button.textContent = "queued";
  } catch (e) {
    button.textContent = e.message;
  }
  setTimeout(route, 500);
}

// ---------- views ----------

async function dashboard() {
  const [jobs, repos, disks] = await Promise.all([api("/api/jobs"), api("/api/repositories"), api("/api/disks")]);
  state.now = jobs.now;
  const rows = jobs.jobs.map(j => {
    const st = jobStatus(j);
    const btn = h("button", { class: "secondary run-now", id: "run-" + j.name, disabled: j.running || j.queued,
      onclick: ev => runNow(j.name, ev.target) }, "Run now");
    return h("tr", { id: "job-" + j.name },
      h("td", {}, h("a", { href: "#/jobs/" + encodeURIComponent(j.name) }, j.name), h("div", { class: "muted" }, j.kind)),
      h("td", {}, badge(st, "status-" + j.name), j.last_run && j.last_run.reason ? h("div", { class: "muted", text: j.last_run.reason }) : null),
      h("td", {}, ago(j.last_success), j.overdue ? h("div", { class: "error" }, "overdue") : null),
      h("td", { class: "hide-small" }, when(j.next_run)),
      h("td", {}, btn));
  });
  const repoCards = repos.repositories.map(r => {
    const pts = r.samples.map(s => [ms(s.time), s.size]);
    return h("div", { class: "card", id: "repo-" + r.name },
      h("h2", {}, h("a", { href: "#/repos/" + encodeURIComponent(r.name) }, r.name)),
      h("dl", { class: "kv" },
        h("dt", {}, "size"), h("dd", {}, r.latest ? bytes(r.latest.size) : "not measured yet"),
        h("dt", {}, "snapshots"), h("dd", {}, r.latest ? String(r.latest.snapshots) : "–"),
        h("dt", {}, "measured"), h("dd", {}, r.latest ? ago(r.latest.time) : (r.measuring ? "now" : "–"))),
      plot(pts, { fmt: bytes, height: 120, label: "repository size over time" }));
  });
  const run = disks.run, rep = run && run.result;
  const diskRows = rep && rep.disks ? rep.disks.map(d => h("tr", {},
    h("td", {}, h("a", { href: "#/disk?" + new URLSearchParams({ device: d.device, model: d.model || "", serial: d.serial || "" }) }, d.device)),
    h("td", { class: "hide-small" }, (d.model || "") + " " + (d.serial || "")),
    h("td", {}, badge(d.verdict)),
    h("td", { class: "num" }, d.temperature === null ? "–" : d.temperature + " °C"))) : [];
  setMain(
    h("h1", {}, "Dashboard"),
    card("Jobs", table(["Job", "Last result", "Last success", { t: "Next run", cls: "hide-small" }, ""], rows, "jobs")),
    h("h2", {}, "Repositories"),
    h("div", { class: "grid" }, repoCards.length ? repoCards : h("p", { class: "muted" }, "No repository configured.")),
    card("Disks", rep ? table(["Disk", { t: "Model, serial", cls: "hide-small" }, "Verdict", { t: "Temp.", cls: "num" }], diskRows, "disks")
      : h("p", { class: "muted" }, "No disk check has run yet."),
      run ? h("p", { class: "muted" }, "checked " + ago(run.end)) : null));
  refreshIn(5000, route);
}

function runRow(r) {
  return h("tr", { id: "run-row-" + r.id },
    h("td", {}, h("a", { href: "#/runs/" + r.id }, "#" + r.id)),
    h("td", {}, r.job),
    h("td", { class: "hide-small" }, r.trigger),
    h("td", {}, when(r.start)),
    h("td", {}, badge(r.status), r.reason ? h("div", { class: "muted", text: r.reason }) : null),
    h("td", { class: "num" }, r.duration_seconds.toFixed(1) + " s"),
    h("td", { class: "num hide-small" }, r.summary && r.summary.bytes_added !== undefined ? bytes(r.summary.bytes_added) : ""));
}

const runHead = ["Run", "Job", { t: "Trigger", cls: "hide-small" }, "Start", "Status", { t: "Time", cls: "num" }, { t: "Added", cls: "num hide-small" }];

async function historyView() {
  const doc = await api("/api/runs?limit=100");
  setMain(h("h1", {}, "History"), card(null, table(runHead, doc.runs.map(runRow), "runs")));
  refreshIn(10000, route);
}

async function jobView(name) {
  const [jobs, runs] = await Promise.all([api("/api/jobs"), api(`/api/jobs/${encodeURIComponent(name)}/runs?limit=50`)]);
  state.now = jobs.now;
  const j = jobs.jobs.find(x => x.name === name);
  if (!j) throw new Error("no job " + name);
  const btn = h("button", { id: "run-" + j.name, class: "run-now", disabled: j.running || j.queued, onclick: ev => runNow(j.name, ev.target) }, "Run now");
  setMain(
    h("h1", {}, j.kind + " " + j.name),
    card(null, h("dl", { class: "kv" },
      h("dt", {}, "status"), h("dd", {}, badge(jobStatus(j), "status-" + j.name)),
      h("dt", {}, "repository"), h("dd", {}, j.repository || "–"),
      h("dt", {}, "schedule"), h("dd", {}, j.schedule || "only when asked"),
      h("dt", {}, "next run"), h("dd", {}, when(j.next_run)),
      h("dt", {}, "last success"), h("dd", {}, ago(j.last_success)),
      h("dt", {}, "max age"), h("dd", {}, j.max_age_seconds ? Math.round(j.max_age_seconds / 3600) + " h" : "–"),
      j.journal ? [h("dt", {}, "change journal"), h("dd", { id: "journal-" + j.name },
        j.journal.recorder + (j.journal.recorder !== "recording" && j.journal.reason ? ": " + j.journal.reason : ""))] : null),
      h("p", {}, btn)),
    card("Runs", table(runHead, runs.runs.map(runRow), "runs")));
  refreshIn(j.running || j.queued ? 1500 : 8000, route);
}

async function runView(id) {
  const r = await api("/api/runs/" + encodeURIComponent(id));
  const sum = r.summary;
  setMain(
    h("h1", {}, `Run #${r.id}: ${r.kind} ${r.job}`),
    card(null, h("dl", { class: "kv" },
      h("dt", {}, "status"), h("dd", {}, badge(r.status, "run-status")),
      r.reason ? [h("dt", {}, "reason"), h("dd", { class: "error", id: "run-reason", text: r.reason })] : null,
      h("dt", {}, "exit status"), h("dd", {}, r.exit_code === null ? "–" : String(r.exit_code)),
      h("dt", {}, "trigger"), h("dd", {}, r.trigger),
      h("dt", {}, "start"), h("dd", {}, when(r.start)),
      h("dt", {}, "end"), h("dd", {}, when(r.end)),
      h("dt", {}, "duration"), h("dd", {}, r.duration_seconds.toFixed(1) + " s"),
      sum && r.kind === "drill" ? [h("dt", {}, "files checked"), h("dd", {}, String(sum.files)),
        h("dt", {}, "restored"), h("dd", {}, bytes(sum.bytes)),
        h("dt", {}, "mismatches"), h("dd", { id: "run-mismatches" }, String(sum.mismatches)),
        h("dt", {}, "throughput"), h("dd", {}, bytes(Math.round(sum.bytes_per_second)) + "/s"),
        h("dt", {}, "full restore"), h("dd", {}, "about " + Math.ceil(sum.estimate_seconds / 60) + " min")] : null,
      sum && r.kind === "sync" ? [h("dt", {}, "snapshots copied"), h("dd", {}, String(sum.snapshots_copied)),
        h("dt", {}, "not copied"), h("dd", { id: "run-skipped" }, String(sum.snapshots_skipped)),
        h("dt", {}, "read"), h("dd", {}, bytes(sum.bytes_read)),
        h("dt", {}, "written"), h("dd", {}, bytes(sum.bytes_written)),
        h("dt", {}, "rate"), h("dd", {}, bytes(Math.round(sum.bytes_per_second)) + "/s")] : null,
      sum && r.kind !== "drill" && r.kind !== "sync" ? [h("dt", {}, "files"), h("dd", {}, String(sum.files)),
        h("dt", {}, "read"), h("dd", {}, bytes(sum.bytes_read)),
        h("dt", {}, "added"), h("dd", {}, bytes(sum.bytes_added))] : null,
      sum && sum.journal ? [h("dt", {}, "journal"), h("dd", { id: "run-journal" }, sum.journal.used
        ? `used: ${sum.journal.directories} directories walked` : "not used: " + sum.journal.reason)] : null,
      sum && r.kind !== "sync" ? [h("dt", {}, "snapshot"), h("dd", {}, sum.snapshot_id ? sum.snapshot_id.slice(0, 8) : "–")] : null),
      h("p", {}, h("a", { href: "#/jobs/" + encodeURIComponent(r.job) }, "all runs of " + r.job))),
    card("Log", h("pre", { class: "log", id: "run-log", text: r.log || "(nothing written)" })),
    r.result ? card("Result (--json)", h("pre", { class: "log", id: "run-result", text: JSON.stringify(r.result, null, 2) })) : null);
  if (r.status === "running") refreshIn(1500, route);
}

async function repoView(name) {
  const [repos, snaps] = await Promise.all([api("/api/repositories"), api(`/api/repositories/${encodeURIComponent(name)}/snapshots`)]);
  const r = repos.repositories.find(x => x.name === name);
  const rows = snaps.slice().reverse().map(s => h("tr", { id: "snap-" + s.short_id },
    h("td", {}, h("a", { href: `#/browse/${encodeURIComponent(name)}/${s.id}?path=/`, class: "snapshot" }, s.short_id)),
    h("td", {}, when(s.time)),
    h("td", { class: "hide-small" }, s.host),
    h("td", {}, s.paths.join(", ")),
    h("td", { class: "num" }, bytes(s.summary.total_bytes)),
    h("td", { class: "num hide-small" }, bytes(s.summary.bytes_added))));
  setMain(
    h("h1", {}, "Repository " + name),
    r ? card(null, h("dl", { class: "kv" },
      h("dt", {}, "location"), h("dd", {}, r.location),
      h("dt", {}, "size"), h("dd", {}, r.latest ? bytes(r.latest.size) : "–"),
      h("dt", {}, "snapshots"), h("dd", {}, String(snaps.length))),
      h("h2", {}, "Size over time"), plot(r.samples.map(s => [ms(s.time), s.size]), { fmt: bytes, id: "growth", label: "size" })) : null,
    card("Snapshots", table(["Snapshot", "Time", { t: "Host", cls: "hide-small" }, "Paths", { t: "Size", cls: "num" }, { t: "Added", cls: "num hide-small" }], rows, "snapshots")));
}

function dumpUrl(repo, snap, path, tar) {
  return `/api/repositories/${encodeURIComponent(repo)}/dump?` + new URLSearchParams({ snapshot: snap, path, tar: tar ? "1" : "0" });
}

async function browseView(repo, snap, path) {
  const nodes = await api(`/api/repositories/${encodeURIComponent(repo)}/ls?` + new URLSearchParams({ snapshot: snap, path }));
  // ls --depth 1 lists the path itself first (unless it is the root), then its entries
  const entries = nodes.filter(n => n.path !== path && n.path !== path.replace(/\/+$/, ""));
  const parts = path.split("/").filter(Boolean);
  const crumbs = [h("a", { href: `#/browse/${encodeURIComponent(repo)}/${snap}?path=/` }, "/")];
  parts.forEach((p, i) => {
    const sub = "/" + parts.slice(0, i + 1).join("/");
    crumbs.push(" ", h("a", { href: `#/browse/${encodeURIComponent(repo)}/${snap}?` + new URLSearchParams({ path: sub }) }, p), " /");
  });
  const rows = entries.map(n => {
    const isDir = n.type === "dir";
    const link = isDir
      ? h("a", { class: "entry dir", "data-name": n.name, href: `#/browse/${encodeURIComponent(repo)}/${snap}?` + new URLSearchParams({ path: n.path }) }, n.name + "/")
      : h("span", { class: "entry " + n.type, "data-name": n.name }, n.name + (n.type === "symlink" ? " → " + n.link_target : ""));
    return h("tr", {},
      h("td", {}, link),
      h("td", { class: "hide-small" }, n.type),
      h("td", { class: "num" }, isDir ? "" : bytes(n.size)),
      h("td", { class: "hide-small" }, when(n.mtime)),
      h("td", {}, n.type === "file" || isDir
        ? h("a", { class: "download", "data-name": n.name, href: dumpUrl(repo, snap, n.path, isDir), download: true }, isDir ? "tar" : "download")
        : ""));
  });
  const target = h("input", { id: "restore-target", placeholder: state.roots.length ? state.roots[0] + "/…" : "no restore-root configured", value: state.roots.length ? state.roots[0] + "/restored" : "" });
  const msg = h("span", { class: "muted", id: "restore-message" });
  const form = h("form", { class: "restore-form", onsubmit: async ev => {
    ev.preventDefault();
    try {
      const r = await post(`/api/repositories/${encodeURIComponent(repo)}/restore`, { snapshot: snap, path, target: target.value });
      msg.replaceChildren("restore started: ", h("a", { href: "#/runs/" + r.run_id }, "run #" + r.run_id));
    } catch (e) { msg.textContent = e.message; msg.className = "error"; }
  } }, h("div", { class: "grow" }, h("label", { for: "restore-target" }, "Restore " + path + " to a directory on this machine"), target),
  h("button", { type: "submit", id: "restore-button", disabled: !state.roots.length }, "Restore"), msg);
  setMain(
    h("h1", {}, "Snapshot " + snap.slice(0, 8) + " of " + repo),
    h("div", { class: "crumbs" }, crumbs),
    card(null, h("p", { class: "row" }, h("a", { class: "button secondary", id: "download-dir", href: dumpUrl(repo, snap, path, true), download: true }, "Download " + (path === "/" ? "everything" : parts[parts.length - 1]) + " as tar")),
      table(["Name", { t: "Type", cls: "hide-small" }, { t: "Size", cls: "num" }, { t: "Modified", cls: "hide-small" }, ""], rows, "entries"), form));
}

async function disksView() {
  const [disks, pools] = await Promise.all([api("/api/disks"), api("/api/pools")]);
  const rep = disks.run && disks.run.result;
  const cards = rep && rep.disks ? rep.disks.map(d => card(d.device,
    h("p", {}, badge(d.verdict), " ", d.model || "", " ", d.serial || ""),
    h("p", {}, h("a", { class: "disk-link", href: "#/disk?" + new URLSearchParams({ device: d.device, model: d.model || "", serial: d.serial || "" }) }, "attributes over time")),
    d.findings.length ? h("ul", {}, d.findings.map(f => h("li", {}, badge(f.severity), " ", f.message))) : h("p", { class: "muted" }, "no findings"))) : [h("p", { class: "muted" }, "No disk check has run yet.")];
  const prep = pools.run && pools.run.result;
  const pcards = prep && prep.pools ? prep.pools.map(p => card("pool " + p.name, h("p", {}, badge(p.verdict), " ", p.state),
    p.findings.length ? h("ul", {}, p.findings.map(f => h("li", {}, badge(f.severity), " ", f.message))) : null)) : [];
  setMain(h("h1", {}, "Disks"), ...cards, ...pcards);
}

const SERIES = [
  ["temperature", "Temperature", v => v + " °C"],
  ["ata.5", "Reallocated sectors"],
  ["ata.197", "Pending sectors"],
  ["ata.198", "Offline uncorrectable"],
  ["ata.199", "Interface CRC errors"],
  ["nvme.media_errors", "NVMe media errors"],
  ["nvme.err_entries", "NVMe error log entries"],
  ["scsi.grown", "SCSI grown defects"],
  ["power_on_hours", "Power-on hours"],
];

async function diskView(params) {
  const doc = await api("/api/disks/history?" + params);
  const by = {};
  for (const r of doc.readings) (by[r.key] = by[r.key] || []).push([ms(r.time), r.value]);
  const cards = SERIES.filter(s => by[s[0]]).map(s => card(s[1], plot(by[s[0]], { id: "plot-" + s[0].replace(/\./g, "-"), fmt: s[2], label: s[1] })));
  const p = new URLSearchParams(params);
  setMain(h("h1", {}, "Disk " + (p.get("device") || "")), h("p", { class: "muted" }, (p.get("model") || "") + " " + (p.get("serial") || "")),
    ...(cards.length ? cards : [card(null, h("p", { class: "muted" }, "No readings kept for this disk yet."))]));
}

// ---------- routing ----------

async function route() {
  clearTimeout(state.timer);
  const hash = location.hash.replace(/^#/, "") || "/";
  const [pathPart, query] = hash.split("?");
  const seg = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (!seg.length) await dashboard();
    else if (seg[0] === "history") await historyView();
    else if (seg[0] === "jobs" && seg[1]) await jobView(seg[1]);
    else if (seg[0] === "runs" && seg[1]) await runView(seg[1]);
    else if (seg[0] === "repos" && seg[1]) await repoView(seg[1]);
    else if (seg[0] === "browse" && seg[2]) await browseView(seg[1], seg[2], new URLSearchParams(query || "").get("path") || "/");
    else if (seg[0] === "disks") await disksView();
    else if (seg[0] === "disk") await diskView(query || "");
    else throw new Error("no such page");
  } catch (e) {
    errorView(e);
  }
}

async function start() {
  try {
    const s = await api("/api/session");
    state.csrf = s.csrf;
    state.user = s.user;
    state.roots = s.restore_roots;
    state.now = s.now;
    document.getElementById("logout-csrf").value = s.csrf;
    document.getElementById("footer-user").textContent = "logged in as " + s.user;
  } catch (e) {
    return errorView(e);
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
