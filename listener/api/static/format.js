/* Number and time formats shared by the queue, charts and SLA table (same as the CLI's human_seconds). */
"use strict";

/** 45s, 12m 05s, 5h 07m, 3d 4h: never "2430h". */
function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(Math.abs(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  return m ? `${m}m ${String(r).padStart(2, "0")}s` : `${r}s`;
}

function fmtPct(value) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

window.fmtDuration = fmtDuration;
window.fmtPct = fmtPct;
