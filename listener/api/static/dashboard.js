/* The dashboard: the web queue (queue.js), sentiment charts and SLA compliance; API access and start-up. */
"use strict";

const state = { offsetMs: 0, token: sessionStorage.getItem("listener-token") || "" };
window.listenerState = state;

const $ = id => document.getElementById(id);

function authHeaders() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

async function api(path, params, init) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  const headers = { ...authHeaders(), ...(init && init.body ? { "Content-Type": "application/json" } : {}) };
  const response = await fetch(url, { ...(init || {}), headers });
  if (response.status === 401) {
    $("login").hidden = false;
    throw new Error("an API token is needed");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

window.api = api;
window.authHeaders = authHeaders;

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
        // Green only when the share is good: a bar at 42 % is a problem, not a success.
        const band = row.within_target_share >= 0.9 ? "good" : row.within_target_share >= 0.75 ? "fair" : "poor";
        bar.className = `bar bar-${band}`;
        bar.dataset.band = band;
        bar.style.width = `${Math.round(Math.min(1, row.within_target_share) * 60)}px`;
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
    await Promise.all([window.Queue.load(), loadTrends(), loadSla()]);
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
  if (!started) {
    started = true;
    try {
      await window.Queue.start();
    } catch (err) {
      started = false;
      $("status").textContent = `error: ${err.message}`;
      return;
    }
    $("controls").addEventListener("change", refresh);
    setInterval(() => Promise.all([loadTrends(), loadSla()]).catch(() => {}), 300000);
  }
  await refresh();
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
