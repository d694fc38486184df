"""The Exports page: plain HTML and a little vanilla JS, no build step.

It calls the JSON API next to it with relative URLs, so it works wherever the app is mounted and
inside the Airflow UI's iframe; the browser sends Airflow's `_token` cookie with each call, and
every state-changing call carries the `X-EES-Request: 1` header the API requires (a page on another
origin cannot send it; see request_guard.py).
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exports</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#1a202c;background:#fff}
h1{font-size:20px;margin:0 0 12px}
#filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin-bottom:12px}
#filters label{display:flex;flex-direction:column;font-size:12px;color:#4a5568}
select,input,button{font:inherit;padding:4px 6px}
button{cursor:pointer;border:1px solid #cbd5e0;background:#f7fafc;border-radius:4px}
button.primary{background:#2b6cb0;color:#fff;border-color:#2b6cb0}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e2e8f0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f7fafc;font-size:12px;text-transform:uppercase;color:#4a5568}
.sub{color:#718096;font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.RUNNING{background:#bee3f8;color:#2a4365}.PENDING{background:#edf2f7;color:#2d3748}
.DONE{background:#c6f6d5;color:#22543d}.STOPPED{background:#fed7d7;color:#742a2a}
.FAILING{background:#feebc8;color:#7b341e}.FAILED{background:#fc8181;color:#63171b}.INVALID{background:#e9d8fd;color:#44337a}
.error{color:#9b2c2c;font-family:monospace;font-size:12px;white-space:pre-wrap;
  max-width:26em}
#banner{display:none;padding:8px 12px;margin-bottom:12px;border-radius:4px}
#banner.ok{display:block;background:#c6f6d5}#banner.bad{display:block;background:#fed7d7}
#pager{display:flex;gap:12px;align-items:center;margin-top:12px}
dialog{min-width:520px;max-width:90vw}
dialog table td,dialog table th{font-size:12px}
.actions{white-space:nowrap}.actions button{margin:0 4px 4px 0}
</style></head>
<body>
<h1>Exports</h1>
<div id="banner" role="status"></div>
<form id="filters" onsubmit="return false">
  <label>Destination<select name="destination"></select></label>
  <label>Type<select name="kind"></select></label>
  <label>Format<select name="format"></select></label>
  <label>Status<select name="status"></select></label>
  <label>Frequency<select name="frequency"></select></label>
  <label>Exported on, from<input type="date" name="exported_from"></label>
  <label>to<input type="date" name="exported_to"></label>
  <label>Search<input type="search" name="q" placeholder="export, client, request id"></label>
  <button type="button" id="reset-all">Reset all</button>
</form>
<table id="exports"><thead><tr>
<th>Export</th><th>Destination</th><th>Type</th><th>Format</th><th>Frequency</th>
<th>Status</th><th>Last run</th><th>Next run</th><th>Actions</th>
</tr></thead><tbody></tbody></table>
<div id="pager">
  <button type="button" id="prev">&lsaquo; Previous</button>
  <span id="position"></span>
  <button type="button" id="next">Next &rsaquo;</button>
  <label>Items per page <select id="page-size"></select></label>
</div>
<dialog id="view"><h2>Delivery</h2><div id="view-body"></div>
<form method="dialog"><button>Close</button></form></dialog>
<dialog id="confirm"><p id="confirm-text"></p>
<form method="dialog"><button value="no">Cancel</button>
<button value="yes" class="primary" id="confirm-yes">Stop export</button></form></dialog>
<dialog id="once"><h2>Run once: <span id="once-export"></span></h2>
<form id="once-form" method="dialog">
  <p><label>Period <select name="period"></select></label></p>
  <p><label>Day <input type="date" name="day"></label></p>
  <p><label>From <input type="date" name="date_from"></label>
     <label>to <input type="date" name="date_to"></label></p>
  <p class="sub">Whole days in the export's time zone, within the last 60 days.</p>
  <p id="once-error" class="error"></p>
  <button type="submit" value="cancel" formnovalidate>Cancel</button>
  <button type="button" class="primary" id="once-go">Export</button>
</form></dialog>
<dialog id="backfill"><h2>Backfill: <span id="backfill-export"></span></h2>
<form id="backfill-form" method="dialog">
  <p id="backfill-missed" class="sub"></p>
  <p><label>From <input type="date" name="date_from" required></label>
     <label>to <input type="date" name="date_to" required></label></p>
  <p><label>Reprocess <select name="reprocess">
    <option value="none">none: only days without a run</option>
    <option value="failed">failed: also days whose run failed</option>
    <option value="completed">completed: every day, delivered ones again</option></select></label>
     <label>Runs at a time <input type="number" name="max_active_runs" min="1" max="10"
       value="3"></label></p>
  <p class="sub">Whole days in the export's time zone, up to yesterday, not before its start
    date: one Airflow backfill run per day (per block for a recurring export).</p>
  <div id="backfill-preview"></div>
  <p id="backfill-error" class="error"></p>
  <button type="submit" value="cancel" formnovalidate>Cancel</button>
  <button type="button" id="backfill-dry">Preview (dry run)</button>
  <button type="button" class="primary" id="backfill-go">Backfill</button>
</form></dialog>
<script>
const OPTIONS = __OPTIONS__;
const state = {page: 1, page_size: OPTIONS.default_page_size, rows: []};
const $ = (s) => document.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g,
  (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
function fill(select, values, any) {
  select.innerHTML = (any ? '<option value="">All</option>' : "") + values.map((v) => {
    const [value, label] = Array.isArray(v) ? v : [v, v];
    return `<option value="${esc(value)}">${esc(label)}</option>`;
  }).join("");
}
for (const name of ["destination", "kind", "format", "status", "frequency"]) {
  fill(document.querySelector(`#filters [name=${name}]`), OPTIONS[name], true);
}
fill($("#page-size"), OPTIONS.page_sizes, false);
$("#page-size").value = state.page_size;
fill(document.querySelector("#once-form [name=period]"), OPTIONS.periods, false);
function size(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0; while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function when(iso) { return iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : ""; }
function utc(iso) { return iso ? new Date(iso).toISOString() : null; }
function banner(text, ok) {
  const b = $("#banner"); b.textContent = text; b.className = ok ? "ok" : "bad";
}
async function api(path, options) {
  const response = await fetch(path, {credentials: "same-origin", ...options});
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    throw new Error(`${response.status}: ${detail || response.statusText}`);
  }
  return body;
}
function query() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("#filters"))) if (v) params.set(k, v);
  params.set("page", state.page); params.set("page_size", state.page_size);
  return params;
}
function lastRun(row) {
  const run = row.last_run;
  if (!run) return '<span class="sub">none yet</span>';
  const d = run.delivery;
  const at = when(utc(run.finished_at));
  let text = `<div>${esc(run.state)} <span class="sub">${esc(at)}</span></div>`;
  if (d) {
    text += `<div class="sub">${d.files} file(s)`;
    text += d.bytes != null ? `, ${esc(size(d.bytes))}` : "";
    text += d.request_id ? `, request ${esc(d.request_id)}` : "";
    text += "</div>";
  }
  return text;
}
function status(row) {
  let text = `<span class="badge ${esc(row.status)}">${esc(row.status)}</span>`;
  text += `<div class="sub">${esc(row.status_detail)}</div>`;
  if (row.incident) text += `<div class="sub">${esc(row.incident.explanation)}</div>`;
  return text;
}
const LABELS = {view: "View", stop: "Stop", resume: "Resume", once: "Run once",
  backfill: "Backfill", check: "Check destination"};
function actions(row) {  // which buttons a row offers is decided by the API (row.actions)
  const offered = (row.actions || []).flatMap(  // Backfill beside Run once, when scheduled
    (a) => a === "once" && row.frequency !== "one_time" ? [a, "backfill"] : [a]);
  return offered.filter((a) => a in LABELS)
    .map((a) => `<button data-act="${a}">${LABELS[a]}</button>`).join("");
}
function render(data) {
  state.rows = data.items;
  const body = $("#exports tbody");
  body.innerHTML = data.items.map((row, i) => {
    const error = row.error ? `<div class="error">${esc(row.error.join("\\n"))}</div>` : "";
    return `<tr data-export="${esc(row.export_id)}" data-row="${i}">
<td><b>${esc(row.export_id)}</b><div class="sub">${esc(row.client_id)}</div>${error}</td>
<td>${esc(row.destination.type)}<div class="sub">${esc(row.destination.name)}</div></td>
<td>${esc(row.kind_label || row.kind)}</td><td>${esc(row.format)}</td>
<td>${esc(row.frequency_label)}</td><td class="status">${status(row)}</td>
<td>${lastRun(row)}</td><td>${esc(when(utc(row.next_run)))}</td>
<td class="actions">${actions(row)}</td></tr>`;
  }).join("") || '<tr><td colspan="9" class="sub">No exports match.</td></tr>';
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  const first = data.total ? (data.page - 1) * data.page_size + 1 : 0;
  const last = Math.min(data.total, data.page * data.page_size);
  $("#position").textContent = `${first}-${last} of ${data.total} (page ${data.page} of ${pages})`;
  $("#prev").disabled = data.page <= 1; $("#next").disabled = data.page >= pages;
}
let loads = 0;
async function load() {
  const mine = ++loads;  // answers can arrive out of order: only the latest request renders
  try {
    const data = await api(`api/exports?${query()}`);
    if (mine === loads) render(data);
  } catch (e) { banner(`Could not load exports: ${e.message}`, false); }
}
function reload() { state.page = 1; load(); }
$("#filters").addEventListener("change", reload);
$("#filters [name=q]").addEventListener("input", reload);
$("#reset-all").addEventListener("click", () => { $("#filters").reset(); reload(); });
$("#page-size").addEventListener("change", (e) => { state.page_size = +e.target.value; reload(); });
$("#prev").addEventListener("click", () => { state.page--; load(); });
$("#next").addEventListener("click", () => { state.page++; load(); });
async function view(row) {
  const run = row.last_run;
  const url = `api/exports/${encodeURIComponent(row.export_id)}/runs/` +
    `${encodeURIComponent(run.run_id)}/manifest`;
  const m = await api(url);
  const files = m.files.map((f) => `<tr><td>${esc(f.name)}</td><td>${esc(size(f.size))}</td>
<td><code>${esc(f.sha256)}</code></td><td>${esc(f.rows)}</td></tr>`).join("");
  $("#view-body").innerHTML = `<p><b>${esc(m.export_id)}</b> run ${esc(m.run.run_id)}</p>
<p>Request id: <b id="view-request">${esc(m.request_id || "-")}</b></p>
<p>Delivered to: ${esc(m.location)}<br>Manifest: ${esc(m.manifest)}</p>
<table><thead><tr><th>File</th><th>Size</th><th>SHA-256</th><th>Rows</th></tr></thead>
<tbody id="view-files">${files}</tbody></table>`;
  $("#view").showModal();
}
function confirmed(text, action) {
  // a <dialog>, not confirm(): the Airflow UI frames this page in a sandbox without modals
  const box = $("#confirm");
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = action;
  box.returnValue = "";
  box.showModal();
  return new Promise((done) => box.addEventListener("close",
    () => done(box.returnValue === "yes"), {once: true}));
}
async function stop(row) {
  const text = `Stop export ${row.export_id}? Its DAG is paused until someone resumes it.`;
  if (!(await confirmed(text, "Stop export"))) return;
  const done = await change(row, "stop");
  banner(`${row.export_id}: ${done.message}`, true);
  await load();
}
async function resume(row) {
  const text = `Resume export ${row.export_id}? Its DAG is unpaused and runs on its schedule.`;
  if (!(await confirmed(text, "Resume export"))) return;
  const done = await change(row, "resume");
  banner(`${row.export_id}: ${done.message}`, true);
  await load();
  if (done.missed) backfill(row, done.missed);  // offer exactly the days missed while stopped
}
function change(row, action, body) {
  // the custom header: a cross-origin page cannot send it (request_guard.py)
  const headers = {"X-EES-Request": "1"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return api(`api/exports/${encodeURIComponent(row.export_id)}/${action}`, {method: "POST",
    headers, body: body === undefined ? undefined : JSON.stringify(body)});
}
async function check(row) {
  banner(`${row.export_id}: checking ${row.destination.type} ${row.destination.name}...`, true);
  const done = await change(row, "check");
  const steps = done.steps.map((s) => `${s.passed ? "\u2713" : "\u2717"} ${s.step}`).join(", ");
  const text = done.ok ? `destination OK (${steps})`
    : `${done.explanation} ${done.fix} (${steps})`;
  banner(`${row.export_id}: ${text}`, done.ok);
}
let onceRow = null;
function once(row) {
  onceRow = row; $("#once-export").textContent = row.export_id;
  $("#once-error").textContent = ""; $("#once").showModal();
}
$("#once-go").addEventListener("click", async () => {
  const body = {};
  for (const [k, v] of new FormData($("#once-form"))) body[k] = v || null;
  try {
    const done = await change(onceRow, "run-once", body);
    $("#once").close();
    banner(`${onceRow.export_id}: ${done.message}, request id ${done.request_id}`, true);
    await load();
  } catch (e) { $("#once-error").textContent = e.message; }
});
let backfillRow = null;
function backfill(row, missed) {
  backfillRow = row; $("#backfill-export").textContent = row.export_id;
  const form = $("#backfill-form"); form.reset();
  $("#backfill-missed").textContent = missed
    ? `Missed while stopped: ${missed.from} to ${missed.to}. Backfill them?` : "";
  if (missed) { form.date_from.value = missed.from; form.date_to.value = missed.to; }
  $("#backfill-preview").innerHTML = ""; $("#backfill-error").textContent = "";
  $("#backfill").showModal();
}
function backfillBody(dry) {
  const form = $("#backfill-form");
  return {date_from: form.date_from.value || null, date_to: form.date_to.value || null,
    reprocess: form.reprocess.value, max_active_runs: +form.max_active_runs.value,
    dry_run: dry};
}
function backfillTable(done) {
  const runs = new Set((done.will_run || []).map((d) => utc(d)));
  const rows = done.runs.map((r) => `<tr><td>${esc(r.day)}</td><td>${esc(r.label)}</td>
<td>${esc(when(utc(r.window_start)))} - ${esc(when(utc(r.window_end)))}</td>
<td>${esc(when(utc(r.logical_date)))}</td>
<td>${runs.has(utc(r.logical_date)) ? "runs" : "skipped (already run)"}</td></tr>`).join("");
  return `<p>${esc(done.message)}</p><table id="backfill-runs"><thead><tr><th>Day</th>
<th>Label</th><th>Window (UTC)</th><th>Logical date</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>`;
}
for (const [id, dry] of [["#backfill-dry", true], ["#backfill-go", false]]) {
  $(id).addEventListener("click", async () => {
    $("#backfill-error").textContent = "";
    try {
      const done = await change(backfillRow, "backfill", backfillBody(dry));
      $("#backfill-preview").innerHTML = backfillTable(done);
      if (!dry) {
        banner(`${backfillRow.export_id}: ${done.message}`, true);
        await load();
      }
    } catch (e) { $("#backfill-error").textContent = e.message; }
  });
}
$("#exports").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-act]");
  if (!button) return;
  const row = state.rows[+button.closest("tr").dataset.row];
  try {
    if (button.dataset.act === "view") await view(row);
    if (button.dataset.act === "stop") await stop(row);
    if (button.dataset.act === "resume") await resume(row);
    if (button.dataset.act === "once") once(row);
    if (button.dataset.act === "backfill") backfill(row, null);
    if (button.dataset.act === "check") await check(row);
  } catch (e) { banner(`${row.export_id}: ${e.message}`, false); }
});
load();
</script>
</body></html>
"""
