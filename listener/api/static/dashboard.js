/* The dashboard: open complaints with live clocks, sentiment charts and SLA compliance. */
"use strict";

const state = { offsetMs: 0, queue: [], token: sessionStorage.getItem("listener-token") || "" };

const $ = id => document.getElementById(id);

async function api(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
  const response = await fetch(url, { headers });
  if (response.status === 401) {
    $("login").hidden = false;
    throw new Error("an API token is needed");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(Math.abs(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  return m ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

function fmtPct(value) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function filters() {
  return { since: $("range").value, brand: $("brand").value };
}

/* -- open complaints queue ------------------------------------------------------------------ */

function clockOf(item, nowMs) {
  const deadline = Date.parse(item.deadline), warnAt = Date.parse(item.warn_at);
  const left = (deadline - nowMs) / 1000;
  const status = nowMs >= deadline ? "breach" : nowMs >= warnAt ? "warning" : "ok";
  return { left, status };
}

function tickClocks() {
  const now = Date.now() + state.offsetMs;
  for (const tr of $("queue").tBodies[0].rows) {
    const item = state.queue[Number(tr.dataset.index)];
    const { left, status } = clockOf(item, now);
    tr.className = `clock-${status}`;
    tr.dataset.clock = status;
    tr.cells[0].textContent = left >= 0 ? `${fmtDuration(left)} left` : `overdue ${fmtDuration(left)}`;
  }
}

async function loadQueue() {
  const body = await api("/api/complaints", { state: "open", limit: 200, brand: $("brand").value });
  state.offsetMs = Date.parse(body.now) - Date.now();
  state.queue = body.items;
  const tbody = $("queue").tBodies[0];
  tbody.textContent = "";
  body.items.forEach((item, i) => {
    const tr = document.createElement("tr");
    tr.dataset.index = String(i);
    tr.dataset.key = item.mention_key;
    cell(tr, "", "clock");
    cell(tr, item.brand + (item.competitor ? " (competitor)" : ""));
    cell(tr, item.source);
    cell(tr, item.author);
    const text = cell(tr, item.text, "text");
    if (item.url && /^https?:\/\//.test(item.url)) {
      const a = document.createElement("a");
      a.href = item.url; a.rel = "noopener noreferrer"; a.target = "_blank"; a.textContent = " ↗";
      text.appendChild(a);
    }
    cell(tr, item.opened_at.slice(0, 16).replace("T", " "));
    tbody.appendChild(tr);
  });
  $("queue-count").textContent = `(${body.items.length}${body.next ? "+" : ""})`;
  $("queue-empty").hidden = body.items.length > 0;
  tickClocks();
}

/* -- charts ---------------------------------------------------------------------------------- */

async function loadTrends() {
  const by = $("by").value;
  const body = await api("/api/trends", { ...filters(), every: $("every").value, by });
  const groups = new Map();
  for (const row of body.rows) {
    const label = String(row[by]);
    if (!groups.has(label)) groups.set(label, { negative: [], complaint: [] });
    const x = new Date(row.bucket.length === 10 ? `${row.bucket}T00:00:00Z` : row.bucket);
    groups.get(label).negative.push({ x, y: row.negative_share });
    groups.get(label).complaint.push({ x, y: row.complaint_rate });
  }
  const labels = [...groups.keys()].sort();
  window.drawLineChart($("negative-chart"), $("negative-legend"),
    labels.map(l => ({ label: l, points: groups.get(l).negative })));
  window.drawLineChart($("complaint-chart"), $("complaint-legend"),
    labels.map(l => ({ label: l, points: groups.get(l).complaint })));
}

/* -- SLA table ------------------------------------------------------------------------------- */

async function loadSla() {
  const body = await api("/api/sla", { since: $("range").value, by: "brand" });
  const tbody = $("sla").tBodies[0];
  tbody.textContent = "";
  for (const row of body.rows) {
    const tr = document.createElement("tr");
    tr.dataset.brand = row.brand;
    if (row.competitor) tr.className = "competitor";
    cell(tr, row.brand + (row.competitor ? " (competitor)" : ""));
    const fields = [
      ["complaints", String(row.complaints)],
      ["response_rate", fmtPct(row.response_rate)],
      ["median_business_s", fmtDuration(row.median_business_s)],
      ["p90_business_s", fmtDuration(row.p90_business_s)],
      ["median_response_s", fmtDuration(row.median_response_s)],
      ["p90_response_s", fmtDuration(row.p90_response_s)],
      ["within_target_share", fmtPct(row.within_target_share)],
      ["breaches", String(row.breaches)],
      ["open", String(row.open)],
      ["not_complaint", String(row.not_complaint)],
      ["other_unanswered", String(row.other_unanswered)],
    ];
    for (const [name, text] of fields) {
      const td = cell(tr, "", "num");
      td.dataset.field = name;
      if (name === "within_target_share" && row.within_target_share !== null) {
        const bar = document.createElement("span");
        bar.className = "bar";
        bar.style.width = `${Math.round(row.within_target_share * 60)}px`;
        td.appendChild(bar);
      }
      td.appendChild(document.createTextNode(text));
    }
    tbody.appendChild(tr);
  }
}

async function loadMeta() {
  const body = await api("/api/meta");
  const select = $("brand");
  for (const b of body.brands) {
    const option = document.createElement("option");
    option.value = b.name;
    option.textContent = b.name + (b.competitor ? " (competitor)" : "");
    select.appendChild(option);
  }
}

async function refresh() {
  document.body.dataset.loaded = "false";
  try {
    await Promise.all([loadQueue(), loadTrends(), loadSla()]);
    $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = "true";
  } catch (err) {
    $("status").textContent = `error: ${err.message}`;
  }
}

let started = false;

async function start() {
  try {
    await loadMeta();
  } catch (err) {
    $("status").textContent = `error: ${err.message}`;
    return;
  }
  await refresh();
  if (started) return;
  started = true;
  $("controls").addEventListener("change", refresh);
  setInterval(tickClocks, 1000);
  setInterval(refresh, 30000);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", event => {
    event.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("listener-token", state.token);
    $("login").hidden = true;
    start();
  });
  start();
});
