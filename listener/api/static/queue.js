/* The web queue: tabs, filters, live clocks, row actions (same path as Slack's buttons), keyboard, live updates.
   Mention text, authors and names are untrusted: they only ever go into textContent, never innerHTML. */
"use strict";

const Q = {
  tab: "complaints",
  items: new Map(),      // mention_key -> item
  order: [],             // mention keys as shown
  selected: null,        // mention key of the focused row
  canAct: false,
  user: null,            // from a per-user token
  warned: new Set(),     // keys already cued as about to breach
  firstLoad: true,
  loading: null,
  again: false,
};

const qs = id => document.getElementById(id);
const ACTION_LABELS = {
  ack: "Acknowledge", assign: "Assign…", snooze: "Snooze…", not_complaint: "Not a complaint", replied: "Mark replied",
  confirm: "Confirm complaint",
};
const KEYS = { a: "ack", i: "assign", s: "snooze", n: "not_complaint", r: "replied", c: "confirm" };
// What each kind of row offers: a clock (confirm only while unsure), or an unsure judgement with no clock.
function actionsFor(item) {
  if (item.review) return ["confirm", "not_complaint"];
  return Object.keys(ACTION_LABELS).filter(action => action !== "confirm" || item.unsure);
}

function queueParams() {
  const params = { tab: Q.tab, since: qs("range").value, brand: qs("brand").value, limit: 200 };
  for (const select of document.querySelectorAll("#queue-filters select")) params[select.dataset.facet] = select.value;
  return params;
}

function clockState(item, nowMs) {
  const deadline = Date.parse(item.deadline), warnAt = Date.parse(item.warn_at);
  const left = (deadline - nowMs) / 1000;
  const status = nowMs >= deadline ? "breach" : nowMs >= warnAt ? "warning" : "ok";
  return { left, status };
}

function td(tr, text, cls) {
  const cell = document.createElement("td");
  cell.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) cell.className = cls;
  tr.appendChild(cell);
  return cell;
}

function who(item) {
  const parts = [];
  if (item.assigned_to) parts.push(`→ ${item.assigned_to}`);
  if (item.acked_by) parts.push(`acked by ${item.acked_by}`);
  if (item.snoozed_until && Date.parse(item.snoozed_until) > Date.now() + window.listenerState.offsetMs) {
    parts.push(`snoozed to ${item.snoozed_until.slice(11, 16)} UTC`);
  }
  return parts.join(" · ");
}

function button(label, onClick, attrs) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  for (const [k, v] of Object.entries(attrs || {})) b.setAttribute(k, v);
  b.addEventListener("click", onClick);
  return b;
}

function rowFor(item) {
  const tr = document.createElement("tr");
  tr.dataset.key = item.mention_key;
  tr.tabIndex = -1;
  if (item.unsure) tr.classList.add("unsure");  // timed, but never a breach until confirmed
  td(tr, "", "clock");
  td(tr, item.brand);
  td(tr, item.source);
  const policy = td(tr, item.review ? "(no clock)" : item.policy);
  if (item.unsure) {  // the model was unsure: shown for review, never alerted until confirmed
    const badge = document.createElement("span");
    badge.className = "badge unsure";
    badge.textContent = "unsure";
    badge.title = item.review ? "The model was unsure; probably not a complaint. Confirm or reject it."
      : "The model was unsure: timed, but never alerted until someone confirms it.";
    policy.appendChild(badge);
  }
  td(tr, item.author);
  td(tr, item.text, "text");
  td(tr, who(item), "who");
  const actions = td(tr, "", "actions");
  if (Q.canAct) {
    for (const action of actionsFor(item)) {
      actions.appendChild(button(ACTION_LABELS[action], () => startAction(item.mention_key, action),
                                 { "data-action": action }));
    }
  }
  if (item.url && /^https?:\/\//i.test(item.url)) {
    const a = document.createElement("a");
    a.href = item.url; a.rel = "noopener noreferrer"; a.target = "_blank"; a.textContent = "Open post ↗";
    a.dataset.action = "open";
    actions.appendChild(a);
  }
  tr.addEventListener("focus", () => select(item.mention_key, false));
  tr.addEventListener("click", event => { if (event.target === tr || event.target.tagName === "TD") select(item.mention_key, true); });
  return tr;
}

function tickQueue() {
  const now = Date.now() + window.listenerState.offsetMs;
  let aboutToBreach = 0, fresh = 0;
  for (const tr of document.querySelectorAll("#queue tbody tr[data-key]")) {
    const item = Q.items.get(tr.dataset.key);
    if (!item) continue;
    if (item.review) { tr.cells[0].textContent = "to review"; continue; }
    const { left, status } = clockState(item, now);
    tr.dataset.clock = status;
    tr.classList.remove("clock-ok", "clock-warning", "clock-breach");
    tr.classList.add(`clock-${status}`);
    tr.cells[0].textContent = left >= 0 ? `${window.fmtDuration(left)} left` : `overdue ${window.fmtDuration(left)}`;
    if (status === "warning" && Q.tab !== "competitors" && !item.unsure) {
      aboutToBreach += 1;
      if (!Q.warned.has(item.mention_key)) {
        Q.warned.add(item.mention_key);
        if (!Q.firstLoad) fresh += 1;
      }
    }
  }
  const base = "listener · queue";
  document.title = aboutToBreach ? `(${aboutToBreach}) about to breach · ${base}` : base;
  if (fresh) cue(fresh);
}

function cue(count) {
  document.body.dataset.cue = String(Number(document.body.dataset.cue || 0) + count);
  if (!qs("sound").checked) return;
  try {  // a short two-tone beep; browsers allow it once the page has been interacted with
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.08;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.frequency.setValueAtTime(660, audio.currentTime + 0.15);
    tone.stop(audio.currentTime + 0.3);
  } catch (err) { /* no audio device: the title-bar cue remains */ }
}

function fillFacets(facets) {
  for (const select of document.querySelectorAll("#queue-filters select")) {
    const current = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const { value, count } of facets[select.dataset.facet] || []) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = `${value} (${count})`;
      select.appendChild(option);
    }
    select.value = [...select.options].some(o => o.value === current) ? current : "";
  }
}

function fillGroup(tbody, title, items, total) {
  tbody.textContent = "";
  if (!items.length) return;
  const head = document.createElement("tr");
  head.className = "group";
  const th = document.createElement("th");
  th.colSpan = 8;
  th.textContent = `${title} (${total > items.length ? `${items.length} of ${total}` : total})`;
  head.appendChild(th);
  tbody.appendChild(head);
  for (const item of items) tbody.appendChild(rowFor(item));
}

async function loadQueue() {
  if (Q.loading) { Q.again = true; return Q.loading; }
  if (document.querySelector("#queue tr.action-form")) {  // never redraw under someone typing a name
    setTimeout(() => loadQueue().catch(() => {}), 1000);
    return undefined;
  }
  Q.loading = (async () => {
    const active = document.activeElement;
    const hadFocus = Boolean(active && active.closest && active.closest("#queue tbody tr[data-key]"));
    const body = await window.api("/api/queue", queueParams());
    window.listenerState.offsetMs = Date.parse(body.now) - Date.now();
    const review = body.review || [];
    Q.items = new Map([...body.due, ...body.overdue, ...review].map(i => [i.mention_key, i]));
    Q.order = [...body.due, ...body.overdue, ...review].map(i => i.mention_key);
    for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
      tab.querySelector(".count").textContent = `(${body.counts[tab.dataset.tab]})`;
    }
    fillFacets(body.facets);
    fillGroup(qs("group-due"), "Due next", body.due, body.totals.due);
    fillGroup(qs("group-overdue"), "Overdue, newest breach first", body.overdue, body.totals.overdue);
    fillGroup(qs("group-review"), "Unsure, no clock: probably not complaints", review, body.totals.review);
    qs("queue-empty").hidden = Q.order.length > 0;
    qs("queue-scope").textContent = `opened in the last ${qs("range").selectedOptions[0].textContent}`;
    if (Q.selected && !Q.items.has(Q.selected)) Q.selected = Q.order[0] || null;
    if (Q.selected) markSelected(hadFocus || document.activeElement === document.body);
    tickQueue();
    Q.firstLoad = false;
  })();
  try {
    await Q.loading;
  } finally {
    Q.loading = null;
    if (Q.again) { Q.again = false; loadQueue(); }
  }
}

function markSelected(focus) {
  for (const tr of document.querySelectorAll("#queue tr[aria-selected]")) tr.removeAttribute("aria-selected");
  const tr = document.querySelector(`#queue tr[data-key="${CSS.escape(Q.selected)}"]`);
  if (!tr) return;
  tr.setAttribute("aria-selected", "true");
  if (focus) tr.focus();
}

function select(key, focus) {
  Q.selected = key;
  markSelected(focus);
}

function move(step) {
  if (!Q.order.length) return;
  const at = Q.order.indexOf(Q.selected);
  const next = at < 0 ? 0 : Math.min(Q.order.length - 1, Math.max(0, at + step));
  select(Q.order[next], true);
}

function myName() {
  return Q.user || qs("my-name").value.trim() || "";
}

/* Assign and snooze ask one question in a small form below the row; the others act at once. */
function startAction(key, action) {
  select(key, false);
  closeForm();
  if (action !== "assign" && action !== "snooze") return send(key, action, {});
  const tr = document.querySelector(`#queue tr[data-key="${CSS.escape(key)}"]`);
  const formRow = document.createElement("tr");
  formRow.className = "action-form";
  const cell = document.createElement("td");
  cell.colSpan = 8;
  const form = document.createElement("form");
  form.dataset.action = action;
  const label = document.createElement("label");
  let field;
  if (action === "assign") {
    label.textContent = "Assign to ";
    field = document.createElement("input");
    field.name = "assignee";
    field.required = true;
    field.maxLength = 80;
    field.setAttribute("list", "people");
    field.value = myName();
  } else {
    label.textContent = "Snooze for ";
    field = document.createElement("select");
    field.name = "minutes";
    for (const [minutes, text] of [[30, "30 minutes"], [60, "1 hour"], [120, "2 hours"], [240, "4 hours"]]) {
      const option = document.createElement("option");
      option.value = String(minutes);
      option.textContent = text;
      field.appendChild(option);
    }
  }
  label.appendChild(field);
  form.appendChild(label);
  const ok = document.createElement("button");
  ok.type = "submit";
  ok.textContent = action === "assign" ? "Assign" : "Snooze";
  form.appendChild(ok);
  form.appendChild(button("Cancel", () => { closeForm(); select(key, true); }));
  form.addEventListener("submit", event => {
    event.preventDefault();
    const extra = action === "assign" ? { assignee: field.value.trim() } : { snooze_minutes: Number(field.value) };
    closeForm();
    send(key, action, extra);
  });
  form.addEventListener("keydown", event => {
    if (event.key === "Escape") { closeForm(); select(key, true); }
    // Enter on the duration list submits (Chromium would only open the list).
    if (event.key === "Enter" && event.target.tagName === "SELECT") { event.preventDefault(); form.requestSubmit(); }
  });
  cell.appendChild(form);
  formRow.appendChild(cell);
  tr.after(formRow);
  field.focus();
}

function closeForm() {
  for (const row of document.querySelectorAll("#queue tr.action-form")) row.remove();
}

async function send(key, action, extra) {
  const requestId = crypto.randomUUID();  // a retry of this click acts once (the same idempotency as Slack's)
  const tab = Q.tab;
  const status = qs("action-status");
  status.textContent = `${ACTION_LABELS[action].replace("…", "")}: sending…`;
  try {
    const body = await window.api("/api/actions", null, {
      method: "POST",
      body: JSON.stringify({ mention_key: key, action, request_id: requestId, by: myName() || undefined, ...extra }),
    });
    const text = { done: "done", duplicate: "already done", closed: "this clock is no longer open" }[body.result];
    status.textContent = `${ACTION_LABELS[action].replace("…", "")} by ${body.by}: ${text}`;
    status.dataset.result = body.result;
  } catch (err) {
    status.textContent = `${ACTION_LABELS[action].replace("…", "")} failed: ${err.message}`;
    status.dataset.result = "error";
  }
  await loadQueue();
  // The reply can come after the user has moved on (another tab, a filter, a name field): keep their focus.
  const active = document.activeElement;
  if (Q.tab !== tab || !(active === document.body || (active && active.closest("#queue")))) return;
  const tr = document.querySelector(`#queue tr[data-key="${CSS.escape(Q.selected || "")}"]`);
  if (tr) tr.focus(); else move(0);
}

function onKey(event) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target.closest && target.closest("input, select, textarea, form.action-form, .action-form")) return;
  if (target.tagName === "INPUT" || target.tagName === "SELECT") return;
  if (event.key === "j" || event.key === "ArrowDown") { move(1); event.preventDefault(); return; }
  if (event.key === "k" || event.key === "ArrowUp") { move(-1); event.preventDefault(); return; }
  if (!Q.selected) return;
  if (event.key === "o") {
    const link = document.querySelector(`#queue tr[data-key="${CSS.escape(Q.selected)}"] a[data-action=open]`);
    if (link) link.click();
    return;
  }
  const action = KEYS[event.key];
  const item = Q.items.get(Q.selected);
  if (action && Q.canAct && item && actionsFor(item).includes(action)) {
    event.preventDefault();
    startAction(Q.selected, action);
  }
}

function selectTab(tab, focus) {
  Q.tab = tab;
  for (const button of document.querySelectorAll("#tabs [role=tab]")) {
    const on = button.dataset.tab === tab;
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
    if (on && focus) button.focus();
  }
  Q.selected = null;
  loadQueue().catch(err => { qs("status").textContent = `error: ${err.message}`; });
}

/* Server-sent events over fetch(), so the bearer token travels in a header as for every other request. */
async function listen() {
  const live = qs("live");
  for (;;) {
    try {
      const response = await fetch("/api/events", { headers: window.authHeaders(), cache: "no-store" });
      if (!response.ok || !response.body) throw new Error(response.statusText);
      live.dataset.state = "on";
      live.textContent = "● live";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = (frame.match(/^event: (.*)$/m) || [])[1];
          if (event === "queue") loadQueue().catch(() => {});
        }
      }
    } catch (err) { /* reconnect below */ }
    live.dataset.state = "off";
    live.textContent = "○ reconnecting";
    await new Promise(resolve => setTimeout(resolve, 3000));
  }
}

async function startQueue() {
  const me = await window.api("/api/whoami");
  Q.canAct = me.actions;
  Q.user = me.user;
  qs("readonly").hidden = me.actions;
  qs("signed-in").hidden = !me.user;
  qs("signed-in").textContent = me.user ? `signed in as ${me.user}` : "";
  qs("name-label").hidden = Boolean(me.user) || !me.actions;
  qs("my-name").value = localStorage.getItem("listener-name") || "";
  qs("my-name").addEventListener("change", () => localStorage.setItem("listener-name", qs("my-name").value.trim()));
  qs("sound").checked = localStorage.getItem("listener-sound") === "on";
  qs("sound").addEventListener("change", () => localStorage.setItem("listener-sound", qs("sound").checked ? "on" : "off"));
  const people = document.createElement("datalist");
  people.id = "people";
  for (const name of me.people) {
    const option = document.createElement("option");
    option.value = name;
    people.appendChild(option);
  }
  document.body.appendChild(people);
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab, false));
    tab.addEventListener("keydown", event => {
      const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
      const at = tabs.indexOf(tab);
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        const next = tabs[(at + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
        selectTab(next.dataset.tab, true);
        event.preventDefault();
      }
    });
  }
  qs("queue-filters").addEventListener("change", () => loadQueue().catch(() => {}));
  document.addEventListener("keydown", onKey);
  setInterval(tickQueue, 1000);
  setInterval(() => loadQueue().catch(() => {}), 60000);  // a safety net; events do the real work
  listen();
}

window.Queue = { load: loadQueue, start: startQueue };
