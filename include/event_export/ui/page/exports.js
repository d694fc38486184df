// The Exports page's script: plain JS, no build step. Calls the JSON API beside it with relative
// URLs; every state change carries the X-EES-Request header the API requires (request_guard.py).
const state = {page: 1, page_size: OPTIONS.default_page_size, rows: []};
const $ = (s) => document.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g,
  (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

// Theme: follow the Airflow UI around the frame (next-themes sets class "dark" or "light" on its
// <html>, and keeps the choice in localStorage "theme"), else the system's preference.
function airflowRoot() {
  try { return window.parent !== window ? window.parent.document.documentElement : null; }
  catch { return null; }  // framed by another origin: its document is not ours to read
}
function wantedTheme() {
  const root = airflowRoot();
  if (root?.classList.contains("dark")) return "dark";
  if (root?.classList.contains("light")) return "light";
  let stored = null;
  try { stored = localStorage.getItem("theme"); } catch { /* storage blocked */ }
  if (stored === "dark" || stored === "light") return stored;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
function theme() {
  const dark = wantedTheme() === "dark";
  document.documentElement.classList.toggle("dark", dark);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}
theme();
if (airflowRoot()) {
  new MutationObserver(theme).observe(airflowRoot(), {attributes: true,
    attributeFilter: ["class", "style"]});
}
addEventListener("storage", (e) => { if (e.key === "theme") theme(); });
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", theme);

// Days are typed as ISO dates (YYYY-MM-DD): a date input would show the browser's locale format.
const DAY = /^\d{4}-\d{2}-\d{2}$/;
for (const input of document.querySelectorAll("input.day")) {
  Object.assign(input, {placeholder: "YYYY-MM-DD", pattern: "\\d{4}-\\d{2}-\\d{2}",
    inputMode: "numeric", autocomplete: "off", title: "a day, as YYYY-MM-DD"});
}
// An instant as "YYYY-MM-DD HH:MM <zone>": in UTC, or in the export's zone for its client days.
function inZone(iso, zone) {
  if (!iso) return "";
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-CA", {timeZone: zone, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"})
      .formatToParts(new Date(iso));
  } catch { return zone === "UTC" ? iso : inZone(iso, "UTC"); }  // an unknown zone (INVALID row)
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${zone}`;
}
const when = (iso) => inZone(iso, "UTC");
const utc = (iso) => iso ? new Date(iso).toISOString() : null;

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
const PERIODS = {day: "One day", date_range: "Several days, first to last",
  previous_month: "Last month, every day", current_month: "This month, up to yesterday"};
fill($("#once-form [name=period]"), OPTIONS.periods.map((p) => [p, PERIODS[p] || p]), false);
$("#howto-folder").textContent = OPTIONS.exports_dir;

function size(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0; while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// The toast: fixed at the top of the frame's viewport, named after the row it is about, which is
// highlighted; successes fade after a while, errors stay until dismissed or replaced.
let toastTimer = null;
const rowOf = (exportId) => [...document.querySelectorAll("#exports tbody tr[data-export]")]
  .find((tr) => tr.dataset.export === exportId);
function toast(text, ok, exportId) {
  const box = $("#toast");
  $("#toast-text").textContent = exportId ? `${exportId}: ${text}` : text;
  box.className = ok ? "ok" : "bad";
  box.dataset.export = exportId || "";
  $("#toast-row").hidden = !exportId;
  box.hidden = false;
  clearTimeout(toastTimer);
  if (ok) toastTimer = setTimeout(() => { box.hidden = true; }, 20000);
  const tr = exportId && rowOf(exportId);
  if (tr) { tr.classList.add("flash"); setTimeout(() => tr.classList.remove("flash"), 4000); }
}
$("#toast-close").addEventListener("click", () => { $("#toast").hidden = true; });
$("#toast-row").addEventListener("click", () => {
  rowOf($("#toast").dataset.export)?.scrollIntoView({block: "center"});
});

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
  for (const [k, v] of new FormData($("#filters"))) {
    const input = $(`#filters [name=${k}]`);
    if (v && !(input.classList.contains("day") && !DAY.test(v))) params.set(k, v);
  }
  params.set("page", state.page); params.set("page_size", state.page_size);
  return params;
}
function periodText(period) {
  if (!period) return "";
  if (period.day) return `day ${period.day}`;
  if (period.date_from) return `${period.date_from} to ${period.date_to}`;
  return PERIODS[period.period] || period.period || "";
}
function schemaText(s) {  // a delivery's schema_changes, counted (labels; escaped by the caller)
  if (!s.compared_with) return "schema: first delivery";
  const parts = [];
  if (s.events_changed) {
    const more = s.events_changed > s.events.length ? ", …" : "";
    parts.push(`+${s.new_columns}/-${s.vanished_columns} column(s) in ${s.events.join(", ")}${more}`);
  }
  if (s.new_events) parts.push(`${s.new_events} new event(s)`);
  if (s.vanished_events) parts.push(`${s.vanished_events} vanished event(s)`);
  if (s.dropped) parts.push(`${s.dropped} column(s) dropped (locked)`);
  return `schema vs ${s.compared_with}: ${parts.join("; ") || "unchanged"}`;
}
function lastRun(row) {
  const run = row.last_run;
  if (!run) return '<span class="sub">none yet</span>';
  const d = run.delivery;
  let text = `<div>${esc(run.state)} <span class="sub">${esc(when(run.finished_at))}</span></div>`;
  if (run.period) text += `<div class="sub">${esc(periodText(run.period))}</div>`;
  if (d) {
    text += `<div class="sub">${d.files} file(s)`;
    text += d.bytes != null ? `, ${esc(size(d.bytes))}` : "";
    text += d.request_id ? `, request ${esc(d.request_id)}` : "";
    text += "</div>";
    if (d.schema) {
      const changed = d.schema.changed ? " changed" : "";
      text += `<div class="sub schema${changed}">${esc(schemaText(d.schema))}</div>`;
    }
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
    const error = row.error ? `<div class="error">${esc(row.error.join("\n"))}</div>` : "";
    const next = row.next_run ? inZone(row.next_run, row.timezone || "UTC") : "";
    return `<tr data-export="${esc(row.export_id)}" data-row="${i}">
<td><b>${esc(row.export_id)}</b><div class="sub">${esc(row.client_id)}</div>${error}</td>
<td>${esc(row.destination.type)}<div class="sub">${esc(row.destination.name)}</div></td>
<td>${esc(row.kind_label || row.kind)}</td><td>${esc(row.format)}</td>
<td>${esc(row.frequency_label)}</td><td class="status">${status(row)}</td>
<td>${lastRun(row)}</td><td class="next">${esc(next)}</td>
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
  } catch (e) { toast(`Could not load exports: ${e.message}`, false); }
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
  const config = m.config ? `<h3>Config <span class="sub">${esc(m.config.path)}, read-only
here: change it by a commit (see "How to add or change an export")</span></h3>
<pre class="yaml" id="view-config">${esc(m.config.yaml)}</pre>` : "";
  $("#view-title").textContent = `Delivery: ${m.export_id}`;
  $("#view-body").innerHTML = `<p>Request id: <b id="view-request">${esc(m.request_id || "-")}</b>
</p><p class="sub">Run ${esc(m.run.run_id)}, finished ${esc(when(m.run.finished_at))}
${m.run.period ? `, ${esc(periodText(m.run.period))}` : ""}</p>
<p>Delivered to: ${esc(m.location)}<br>Manifest: ${esc(m.manifest)}</p>${config}
<h3>Files <span class="sub">${m.files.length}</span></h3>
<table><thead><tr><th>File</th><th>Size</th><th>SHA-256</th><th>Rows</th></tr></thead>
<tbody id="view-files">${files}</tbody></table>`;
  const box = $("#view");
  box.showModal();
  box.scrollTop = 0;  // at its top, with the request id, whatever got the focus
  $("#view-title").focus({preventScroll: true});
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
  await load();
  toast(done.message, true, row.export_id);
}
async function resume(row) {
  const text = `Resume export ${row.export_id}? Its DAG is unpaused and runs on its schedule.`;
  if (!(await confirmed(text, "Resume export"))) return;
  const done = await change(row, "resume");
  await load();
  toast(done.message, true, row.export_id);
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
  toast(`checking ${row.destination.type} ${row.destination.name}...`, true, row.export_id);
  const done = await change(row, "check");
  const steps = done.steps.map((s) => `${s.passed ? "\u2713" : "\u2717"} ${s.step}`).join(", ");
  const text = done.ok ? `destination OK (${steps})`
    : `${done.explanation}\nHow to fix it: ${done.fix}\n(${steps}; ${done.code})`;
  toast(text, done.ok, row.export_id);
}

// Run once: only the fields the chosen period needs are shown (and sent).
let onceRow = null;
function periodFields() {
  const form = $("#once-form");
  const period = form.period.value;
  for (const part of form.querySelectorAll("[data-period]")) {
    const on = part.dataset.period.split(" ").includes(period);
    part.hidden = !on;
    for (const input of part.querySelectorAll("input")) input.disabled = !on;
  }
  $("#once-month").textContent = {
    previous_month: "Every day of last month, in the export's time zone.",
    current_month: "From the 1st of this month to yesterday, in the export's time zone.",
  }[period] || "";
}
$("#once-form [name=period]").addEventListener("change", periodFields);
function once(row) {
  onceRow = row; $("#once-export").textContent = row.export_id;
  $("#once-form").reset(); periodFields();
  $("#once-zone").textContent = row.timezone || "UTC";
  $("#once-error").textContent = ""; $("#once").showModal();
}
$("#once-go").addEventListener("click", async () => {
  const body = {};
  for (const [k, v] of new FormData($("#once-form"))) body[k] = v || null;
  try {
    const done = await change(onceRow, "run-once", body);
    $("#once").close();
    await load();
    toast(`${done.message}, request id ${done.request_id}`, true, onceRow.export_id);
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
<td>${esc(when(r.window_start))} - ${esc(when(r.window_end))}</td>
<td>${esc(when(r.logical_date))}</td>
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
        await load();
        toast(done.message, true, backfillRow.export_id);
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
  } catch (e) { toast(e.message, false, row.export_id); }
});
load();
