// Line charts as inline SVG, rendered here so the report opens offline with no script at all.
// Each series carries the values it draws in data-values, so tests (and curious operators) can
// read the exact numbers behind a line: every point's, or past MAX_CHART_POINTS each stretch's
// lowest and highest (chart-points.ts; data-per-stretch says how many points a stretch holds).

import { chartPoints } from './chart-points.js';
import { maxOf } from './extremes.js';

export interface Series {
  readonly name: string;
  readonly color: string;
  /** One value per x; null leaves a gap (no answer in that second, no sample). */
  readonly values: readonly (number | null)[];
}

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  /** X positions in seconds since the start of the run. */
  readonly xs: readonly number[];
  readonly xMax: number;
  readonly series: readonly Series[];
  readonly thresholds?: readonly { readonly value: number; readonly label: string }[];
  /** Vertical lines, e.g. step boundaries. */
  readonly markers?: readonly { readonly x: number; readonly label: string }[];
  /** Fixed top of the y axis (100 for percentages). */
  readonly yMax?: number;
}

const W = 880;
const H = 230;
const M = { left: 56, right: 16, top: 30, bottom: 30 };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** 1, 2, 2.5, 5 × 10^n at or above v. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 2 : 1);
}

/**
 * An x tick's time, as exact as the tick: the step is 2.5 s for a run of 16 to 20 s, and its ticks
 * rounded to whole seconds were labelled 3s, 8s, 13s at 2.5, 7.5 and 12.5 s.
 */
function clock(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s - h * 3600) / 60);
  const rest = Math.round((s - h * 3600 - m * 60) * 10) / 10;
  const sec = Number.isInteger(rest) ? String(rest) : rest.toFixed(1);
  const ss = sec.padStart(Number.isInteger(rest) ? 2 : 4, '0');
  // Hours of their own: a day's ticks read 333:20 and 1333:20, minutes and seconds.
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${ss}`;
  return m > 0 ? `${m}:${ss}` : `${sec}s`;
}

/** Steps of the time axis past 20 s: whole minutes and hours, as a clock is read. */
const TIME_STEPS_S = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200];

/**
 * The x tick step for about eight ticks: 1, 2, 2.5, 5, 10 or 20 s, then round times. niceCeil alone
 * ticked a 10 min run at 1:40, 3:20, 5:00 and a day at 333:20, 666:40, 1000:00.
 */
function timeStep(xMax: number): number {
  const rough = xMax / 8;
  if (rough <= 20) return Math.max(1, niceCeil(rough));
  return TIME_STEPS_S.find((s) => s >= rough) ?? 86_400 * Math.ceil(rough / 86_400);
}

/** Rough advance of one character of the 13 px bold title and the 11 px legend (system-ui). */
const TITLE_CHAR_PX = 7.5;
const LEGEND_CHAR_PX = 7;
/** Radius of the dot that draws a point with no neighbour to join (a little over the line's width). */
const DOT_R = 3;
/** Height of the row the legend moves to when it would run into the title. */
const LEGEND_ROW = 16;

export function lineChart(spec: ChartSpec): string {
  const titleText = `${spec.title}${spec.unit ? ` (${spec.unit})` : ''}`;
  const legendWidth = spec.series.reduce((w, s) => w + 12 + s.name.length * LEGEND_CHAR_PX + 16, 0);
  // A long title and a long legend share the top row only if they fit side by side; otherwise the
  // legend gets a row of its own under the title, and the chart grows by that row.
  const ownRow = M.left + titleText.length * TITLE_CHAR_PX + 16 > W - M.right - legendWidth;
  const extra = ownRow ? LEGEND_ROW : 0;
  const h = H + extra;
  const top = M.top + extra;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const dataMax = maxOf((spec.thresholds ?? []).map((t) => t.value), maxOf(spec.series.map((s) => maxOf(s.values, 0)), 0));
  // Four gridlines at a round step, so integer figures (users, errors) get integer ticks.
  const yMax = spec.yMax ?? 4 * niceCeil((dataMax * 1.05) / 4);
  const xMax = Math.max(1, spec.xMax);
  const x = (v: number): number => Math.round((M.left + (v / xMax) * pw) * 10) / 10;
  const y = (v: number): number => Math.round((top + ph - (Math.min(v, yMax) / yMax) * ph) * 10) / 10;
  // The axis is scaled to every point (dataMax above); the lines draw each stretch's extremes.
  const drawn = chartPoints(spec.xs, spec.series.map((s) => s.values));
  const out: string[] = [];
  out.push(`<svg class="chart" id="chart-${escapeHtml(spec.id)}" data-chart="${escapeHtml(spec.id)}" data-unit="${escapeHtml(spec.unit)}" data-xs="${escapeHtml(JSON.stringify(drawn.xs))}" data-per-stretch="${drawn.perStretch}" data-xmax="${xMax}" data-plot="${M.left},${top},${pw},${ph}" viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="${escapeHtml(spec.title)}" xmlns="http://www.w3.org/2000/svg">`);
  out.push(`<text x="${M.left}" y="18" class="title">${escapeHtml(titleText)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${M.left - 6}" y="${y(v) + 4}" class="ytick">${fmt(v)}</text>`);
  }
  const xStep = timeStep(xMax);
  for (let v = 0; v <= xMax + 1e-9; v += xStep) out.push(`<text x="${x(v)}" y="${h - 10}" class="xtick">${clock(v)}</text>`);
  for (const m of spec.markers ?? []) {
    out.push(`<line x1="${x(m.x)}" x2="${x(m.x)}" y1="${top}" y2="${top + ph}" class="marker"/><text x="${x(m.x) + 3}" y="${top + 10}" class="mlabel">${escapeHtml(m.label)}</text>`);
  }
  for (const t of spec.thresholds ?? []) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t.value)}" y2="${y(t.value)}" class="threshold"/><text x="${W - M.right - 4}" y="${y(t.value) - 4}" class="tlabel">${escapeHtml(t.label)}</text>`);
  }
  let legendX = W - M.right;
  const legend: string[] = [];
  for (const s of [...spec.series].reverse()) {
    legendX -= 12 + s.name.length * LEGEND_CHAR_PX + 16;
    legend.push(`<rect x="${legendX}" y="${9 + extra}" width="10" height="10" fill="${s.color}" class="key"/><text x="${legendX + 14}" y="${18 + extra}" class="legend">${escapeHtml(s.name)}</text>`);
  }
  for (const l of legend) out.push(l);
  spec.series.forEach((s, k) => {
    const values = drawn.values[k] ?? [];
    const at = (i: number): number | null => (drawn.xs[i] === undefined ? null : (values[i] ?? null));
    let d = '';
    // A point with a gap on both sides (a stalled target's one answer, a run stopped in its first
    // second) is a move with no line from it, which draws nothing: it gets a dot of its own.
    const dots: string[] = [];
    values.forEach((v, i) => {
      const xv = drawn.xs[i];
      if (v === null || xv === undefined) return;
      const pen = at(i - 1) !== null;
      d += `${pen ? 'L' : 'M'}${x(xv)} ${y(v)} `;
      if (!pen && at(i + 1) === null) dots.push(`<circle class="point" data-series="${escapeHtml(s.name)}" cx="${x(xv)}" cy="${y(v)}" r="${DOT_R}" fill="${s.color}"/>`);
    });
    out.push(`<path class="series" data-series="${escapeHtml(s.name)}" data-values="${escapeHtml(JSON.stringify(values))}" d="${d.trim()}" stroke="${s.color}" fill="none" stroke-width="1.8"/>`);
    for (const dot of dots) out.push(dot);
  });
  out.push(`<rect x="${M.left}" y="${top}" width="${pw}" height="${ph}" class="hover"/>`);
  out.push('</svg>');
  return out.join('\n');
}
