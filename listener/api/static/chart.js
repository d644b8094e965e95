/* A tiny SVG line chart for the dashboard (no dependencies). */
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
// Series colours: none is the breach red, the warning orange or the on-time green of the queue's clocks.
const PALETTE = ["#1f5fa8", "#7b4fb8", "#00838f", "#8c6d1f", "#546e7a", "#3949ab", "#8e5572", "#4e7d8c"];

/** Round tick values for a 0..max share axis, never above 100 %: steps of 1, 2, 2.5 or 5 times a power of ten. */
function shareTicks(max) {
  const top = Math.min(1, Math.max(max, 0.01));
  const raw = top / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * power).find(s => s >= raw);
  const ticks = [];
  for (let v = 0; v < top + step * 0.999 && v <= 1 + 1e-9; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

/** Percent label with only the decimals the step needs. */
function pctLabel(v, step) {
  const decimals = step * 100 >= 1 ? 0 : step * 100 >= 0.1 ? 1 : 2;
  return `${(v * 100).toFixed(decimals)}%`;
}

/** At most `room` date ticks, on whole buckets (the points' own dates), evenly spaced. */
function dateTicks(xs, room) {
  const unique = [...new Set(xs)].sort((a, b) => a - b);
  const every = Math.max(1, Math.ceil(unique.length / room));
  return unique.filter((_, i) => i % every === 0);
}

function dateLabel(t) {
  return new Date(t).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Draw series [{label, points: [{x: Date, y: number|null}]}] into an <svg>; y is a 0..1 share.
 * Missing values (null) break the line instead of dropping to zero.
 */
function drawLineChart(svg, legend, series) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  legend.textContent = "";
  const width = svg.clientWidth || 600, height = svg.clientHeight || 220;
  const pad = { left: 44, right: 12, top: 10, bottom: 22 };
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const xs = series.flatMap(s => s.points.map(p => p.x.getTime()));
  const ys = series.flatMap(s => s.points.filter(p => p.y !== null).map(p => p.y));
  if (!xs.length) {
    svg.appendChild(svgEl("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, "no data"));
    return;
  }
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const uniqueXs = [...new Set(xs)].sort((a, b) => a - b);
  const step = Math.min(Infinity, ...uniqueXs.slice(1).map((t, i) => t - uniqueXs[i]));
  const yTicks = shareTicks(ys.length ? Math.max(...ys) : 0);
  const yMax = yTicks[yTicks.length - 1];
  const sx = t => pad.left + (x1 === x0 ? 0.5 : (t - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = v => height - pad.bottom - (Math.min(v, yMax) / yMax) * (height - pad.top - pad.bottom);
  for (const v of yTicks) {
    const y = sy(v);
    svg.appendChild(svgEl("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    svg.appendChild(svgEl("text", { x: pad.left - 4, y: y + 3, "text-anchor": "end", class: "y-tick" },
      pctLabel(v, yTicks[1] - yTicks[0])));
  }
  svg.appendChild(svgEl("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: height - pad.bottom, class: "axis" }));
  const room = Math.max(2, Math.floor((width - pad.left - pad.right) / 70));
  for (const t of dateTicks(xs, room)) {
    const x = sx(t);
    const anchor = x - pad.left < 25 ? "start" : width - pad.right - x < 25 ? "end" : "middle";
    svg.appendChild(svgEl("text", { x, y: height - 6, "text-anchor": anchor, class: "x-tick" }, dateLabel(t)));
  }
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    let d = "", pen = false, last = null;
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    for (const p of sorted) {
      // A period with no row (no mentions) breaks the line rather than bridging the gap.
      if (last !== null && p.x.getTime() - last > step * 1.5) pen = false;
      last = p.x.getTime();
      if (p.y === null) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${sx(p.x.getTime()).toFixed(1)},${sy(p.y).toFixed(1)}`;
      pen = true;
    }
    const path = svgEl("path", { d: d || "M0,0", class: "series", stroke: colour, "data-label": s.label });
    path.appendChild(svgEl("title", {}, s.label));
    svg.appendChild(path);
    for (const p of sorted) {
      if (p.y === null) continue;
      const dot = svgEl("circle", { cx: sx(p.x.getTime()), cy: sy(p.y), r: 2.2, fill: colour });
      dot.appendChild(svgEl("title", {}, `${s.label} ${p.x.toISOString().slice(0, 10)}: ${(p.y * 100).toFixed(1)}%`));
      svg.appendChild(dot);
    }
    const key = document.createElement("span");
    key.textContent = s.label;
    key.style.setProperty("--swatch", colour);
    legend.appendChild(key);
  });
}

window.drawLineChart = drawLineChart;
window.shareTicks = shareTicks;
