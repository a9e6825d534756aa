// corral /admin dashboard: the charts of the last minutes (uPlot), drawn from /api/admin/history.
// Loaded before dashboard.js, which calls renderHistory and sizeCharts; both share the page's
// global scope ($ is dashboard.js's, used only once the page runs).
/* global uPlot, $ */
'use strict';

const CHARTS = [
  { id: 'chart-rps', key: 'rps', label: 'requests/s', color: '#2b6cb0' },
  { id: 'chart-errors', key: 'errors_per_s', label: '5xx answers/s', color: '#c53030' },
  { id: 'chart-refused', key: 'refused_per_s', label: 'connections refused/s (server full)', color: '#9b2c2c' },
  { id: 'chart-p99', key: 'p99_ms', label: 'p99 latency (ms, all workers)', color: '#c05621' },
  { id: 'chart-cpu', key: 'cpu', label: 'CPU %', color: '#6b46c1', max: 100 },
  { id: 'chart-ram', key: 'ram', label: 'RAM %', color: '#2f855a', max: 100 },
  { id: 'chart-upstream', key: 'upstream_per_min', label: 'Sheets upstream calls/min', color: '#b7791f' },
];
const plots = new Map();
// The chart's box less its padding: never wider than the box, however narrow the screen.
const chartWidth = (el) => Math.max(120, el.clientWidth - 16);

// A phone turned, a window resized: the charts follow their boxes. Not while #main is hidden (the
// token form showing): its boxes measure 0 and the charts were left 120 px wide; they are sized
// when it is shown again.
function sizeCharts() {
  if ($('main').hidden) return;
  for (const c of CHARTS) {
    const plot = plots.get(c.id);
    if (plot) plot.setSize({ width: chartWidth($(c.id)), height: 160 });
  }
}
window.addEventListener('resize', sizeCharts);

// Tick labels as 950, 10k, 1.5M: uPlot's default (10,000) in its fixed 50 px gutter was cut to
// "0,000" from 10,000 req/s up. Two decimals at most, so neighbouring ticks stay apart (1.25k).
function compactNumber(n) {
  if (n === null || n === undefined) return '';
  const a = Math.abs(n);
  const [div, unit] = a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e3 ? [1e3, 'k'] : [1, ''];
  return `${Number((n / div).toFixed(2))}${unit}`;
}

// The y axis is as wide as its widest label (uPlot asks again, with the labels, until the size and
// the ticks agree): never a label cut at the chart's left edge.
function yAxisSize(u, values, axisIdx) {
  const axis = u.axes[axisIdx];
  if (!values) return 50;
  u.ctx.font = axis.font[0];
  const widest = Math.max(0, ...values.map((v) => (v === null || v === undefined ? 0 : u.ctx.measureText(String(v)).width)));
  return Math.ceil(axis.ticks.size + axis.gap + widest / (window.devicePixelRatio || 1)) + 2;
}

// Time-axis labels as the time of day alone, 03:27 (03:27:15 while ticks are under a minute
// apart): uPlot's default put the date on every tick ("11/27/26 3:28am"), too long for the ticks
// of the first minutes, which ran into each other and the leftmost was cut at the chart's edge.
// foundIncr is the ticks' spacing in seconds (the x scale is in seconds).
const X_LABEL_SPACE = 70; // px between ticks: room for "03:27:15" and a gap
// A tick at the plot's right or left edge has half its label beyond it: uPlot's padding on the
// right (25 px) cut "03:27:15" (55 px); the left has the y axis, at least 24 px, and 8 more.
const X_LABEL_HALF = 32;
// The steps the time axis may put between its ticks (seconds): uPlot's own go from 1 min straight
// to 5 min, and a history of 4 to 10 minutes got a single label (or one beyond its last sample).
const X_TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600];
function timeOfDay(u, splits, axisIdx, foundSpace, foundIncr) {
  const withSeconds = foundIncr % 60 !== 0;
  return splits.map((v) => {
    if (v === null || v === undefined) return '';
    const d = new Date(v * 1000);
    const parts = withSeconds ? [d.getHours(), d.getMinutes(), d.getSeconds()] : [d.getHours(), d.getMinutes()];
    return parts.map((n) => String(n).padStart(2, '0')).join(':');
  });
}

// A null in a series (a figure not measured then: host sampling failing, the first sample of a
// rate) is drawn as a gap, not bridged by a line across the time nothing was measured.
function renderHistory(samples) {
  if (typeof uPlot === 'undefined') return;
  const xs = samples.map((p) => p.t / 1000);
  for (const c of CHARTS) {
    const data = [xs, samples.map((p) => p[c.key])];
    let plot = plots.get(c.id);
    if (!plot) {
      const el = $(c.id);
      plot = new uPlot({
        title: c.label,
        width: chartWidth(el),
        height: 160,
        scales: { x: { time: true }, y: c.max ? { range: [0, c.max] } : { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [{}, { label: c.label, stroke: c.color, width: 2, spanGaps: false, points: { show: false } }],
        axes: [{ space: X_LABEL_SPACE, incrs: X_TICK_STEPS, values: timeOfDay }, { size: yAxisSize, values: (u, splits) => splits.map(compactNumber) }],
        legend: { show: false },
        padding: [null, X_LABEL_HALF, null, 8],
      }, data, el);
      plots.set(c.id, plot);
    } else {
      plot.setData(data);
    }
    // Until there are two samples, show the last ten minutes rather than uPlot's empty-data guess.
    if (xs.length < 2) plot.setScale('x', { min: Date.now() / 1000 - 600, max: Date.now() / 1000 });
  }
}
