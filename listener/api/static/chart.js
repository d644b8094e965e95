/* A tiny SVG line chart for the dashboard (no dependencies). */
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"];

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
  const yMax = Math.max(0.05, ...ys) * 1.1;
  const sx = t => pad.left + (x1 === x0 ? 0.5 : (t - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = v => height - pad.bottom - (v / yMax) * (height - pad.top - pad.bottom);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4, y = sy(v);
    svg.appendChild(svgEl("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    svg.appendChild(svgEl("text", { x: pad.left - 4, y: y + 3, "text-anchor": "end" }, `${(v * 100).toFixed(0)}%`));
  }
  svg.appendChild(svgEl("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: height - pad.bottom, class: "axis" }));
  const ticks = x1 === x0 ? [x0] : [x0, (x0 + x1) / 2, x1];
  ticks.forEach((t, i) => {
    const anchor = ticks.length === 1 ? "middle" : ["start", "middle", "end"][i];
    svg.appendChild(svgEl("text", { x: sx(t), y: height - 6, "text-anchor": anchor },
      new Date(t).toISOString().slice(0, 10)));
  });
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    let d = "", pen = false;
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    for (const p of sorted) {
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
