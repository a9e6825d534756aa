// The self-contained HTML report: verdict, tables and inline SVG charts, with the full JSON result
// embedded. No CDN, no external file: it opens offline, from an e-mail attachment or a CI artefact.

import { MAX_CHART_POINTS, pointsPerStretch } from './chart-points.js';
import { cpuCoveringEach } from './cpu-covering.js';
import { ramNearestEach } from './ram-nearest.js';
import { formatExactDuration } from './duration.js';
import { maxOf } from './extremes.js';
import { formatMix } from './mix.js';
import { describeFailures } from './sampler.js';
import { segmentStatus } from './segments.js';
import type { LoadtestResult, SegmentResult, TallyResult } from './result.js';
import { escapeHtml, lineChart, type ChartSpec } from './svg-chart.js';
import { CRITERIA, formatMs, formatPercent } from './criteria.js';

const COLORS = { generator: '#adb5bd', users: '#4c6ef5', rps: '#2b8a3e', p50: '#74c0fc', p95: '#f08c00', p99: '#c92a2a', s5xx: '#c92a2a', s429: '#e8590c', timeouts: '#862e9c', unanswered: '#5f3dc4', connection: '#495057', other: '#f59f00', cpu: '#d6336c', ram: '#1c7ed6', conn: '#0ca678' };

/** JSON inside <script>: "</script>" and "<!--" must not appear literally. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** With the limit a figure is judged against, it is never rounded up to it (as in the verdict). */
function ms(v: number | null | undefined, limit?: number): string {
  return v === null || v === undefined ? '–' : formatMs(v, limit);
}

function pct(v: number | null, limit?: number): string {
  return v === null ? '–' : formatPercent(v, limit);
}

function errorsCell(t: TallyResult): string {
  const c = t.counts;
  const parts = [
    c.status5xx && `5xx ${c.status5xx}`,
    c.status429 && `429 ${c.status429}`,
    c.statusOther && `other ${c.statusOther}`,
    c.timeouts && `timeouts ${c.timeouts}`,
    c.connection && `conn ${c.connection}`,
  ].filter(Boolean);
  // Not sent by this machine (EMFILE): no error of the target, said apart.
  const notSent = c.generator > 0 ? `; ${c.generator} not sent (load generator)` : '';
  return `${parts.length ? `${c.errors} (${parts.join(', ')})` : '0'}${notSent}`;
}

/** The failed checks, and what this machine could not send, which fails nothing but proves nothing. */
function whyCell(s: SegmentResult): string[] {
  const generator = s.checks.find((c) => c.name === 'generator' && c.pass === null);
  return generator ? [...s.reasons, generator.detail] : [...s.reasons];
}

function segmentRow(s: SegmentResult): string {
  const word = segmentStatus(s);
  const status = `<td class="${word === 'pass' ? 'pass' : word === 'fail' ? 'fail' : 'skip'}">${word}</td>`;
  const users = s.usersFrom === s.usersTo ? `${s.users}` : `${s.usersFrom}→${s.usersTo}`;
  return `<tr>${status}<td>${escapeHtml(s.label)}</td><td>${users}</td><td>${s.counts.requests}</td><td>${s.rps}</td><td>${ms(s.latencyMs?.p50)}</td><td>${ms(s.latencyMs?.p95, CRITERIA.p95Ms)}</td><td>${ms(s.latencyMs?.p99)}</td><td>${errorsCell(s)}</td><td>${pct(s.server.cpuMean, CRITERIA.cpuPercent)}</td><td>${pct(s.server.ramMax, CRITERIA.ramPercent)}</td><td>${s.server.connectionsMax ?? '–'}</td><td class="reasons">${escapeHtml(whyCell(s).join('; '))}</td></tr>`;
}

function tallyRows(map: Record<string, TallyResult>): string {
  return Object.entries(map)
    .map(([k, t]) => `<tr><td>${escapeHtml(k)}</td><td>${t.counts.requests}</td><td>${ms(t.latencyMs?.p50)}</td><td>${ms(t.latencyMs?.p95, CRITERIA.p95Ms)}</td><td>${ms(t.latencyMs?.p99)}</td><td>${ms(t.latencyMs?.max)}</td><td>${errorsCell(t)}</td><td>${escapeHtml(Object.entries(t.statuses).map(([s, n]) => `${s}×${n}`).join(', '))}</td></tr>`)
    .join('\n');
}

/** ", 3 fetches without CPU/RAM (HTTP 503 ×3)": a gap in the server chart, explained. */
function serverFailures(r: LoadtestResult): string {
  const n = r.server.failures.length;
  return n === 0 ? '' : `, ${n} fetch${n === 1 ? '' : 'es'} without CPU/RAM (${describeFailures(r.server.failures)})`;
}

export function charts(r: LoadtestResult): ChartSpec[] {
  // Each per-second figure is drawn at the middle of its second.
  const xs = r.timeline.map((p) => Math.round((p.t + p.span / 2) * 1000) / 1000);
  const xMax = maxOf(r.timeline.map((p) => p.t + p.span), r.run.stoppedAtMs / 1000);
  const markers = r.schedule.segments.slice(1).map((s) => ({ x: s.startMs / 1000, label: `${s.label.replace(/^step /, '')} · ${Math.max(s.usersFrom, s.usersTo)}u` }));
  const col = <K extends keyof (typeof r.timeline)[number]>(k: K): (typeof r.timeline)[number][K][] => r.timeline.map((p) => p[k]);
  const specs: ChartSpec[] = [
    { id: 'users', title: 'Virtual users', unit: 'users', xs, xMax, markers, series: [{ name: 'users', color: COLORS.users, values: col('users') }] },
    { id: 'throughput', title: 'Throughput', unit: 'req/s', xs, xMax, markers, series: [{ name: 'req/s', color: COLORS.rps, values: col('rps') }] },
    {
      id: 'latency',
      title: 'Latency',
      unit: 'ms',
      xs,
      xMax,
      markers,
      thresholds: [{ value: r.criteria.p95Ms, label: `p95 limit ${r.criteria.p95Ms} ms` }],
      series: [
        { name: 'p50', color: COLORS.p50, values: col('p50') },
        { name: 'p95', color: COLORS.p95, values: col('p95') },
        { name: 'p99', color: COLORS.p99, values: col('p99') },
      ],
    },
    {
      id: 'errors',
      title: 'Errors per second, and requests still unanswered when the run ended',
      unit: 'errors',
      xs,
      xMax,
      markers,
      series: [
        { name: '5xx', color: COLORS.s5xx, values: col('status5xx') },
        { name: '429', color: COLORS.s429, values: col('status429') },
        { name: 'timeouts', color: COLORS.timeouts, values: col('timeouts') },
        { name: 'connection', color: COLORS.connection, values: col('connection') },
        { name: 'unanswered', color: COLORS.unanswered, values: col('unanswered') },
        { name: 'other', color: COLORS.other, values: col('statusOther') },
        { name: 'not sent (load generator)', color: COLORS.generator, values: col('generator') },
      ],
    },
  ];
  const samples = r.server.samples;
  if (samples.length > 0) {
    const sx = samples.map((s) => Math.round(s.t) / 1000);
    if (samples.some((s) => s.cpu !== null || s.ram !== null)) {
      specs.push({
        id: 'server',
        title: 'Server CPU and RAM',
        unit: '%',
        xs: sx,
        xMax,
        markers,
        yMax: 100,
        thresholds: [
          { value: r.criteria.cpuPercent, label: `CPU limit ${r.criteria.cpuPercent} %` },
          { value: r.criteria.ramPercent, label: `RAM limit ${r.criteria.ramPercent} %` },
        ],
        series: [
          { name: 'CPU', color: COLORS.cpu, values: cpuCoveringEach(samples) },
          { name: 'RAM', color: COLORS.ram, values: ramNearestEach(samples) },
        ],
      });
    }
    if (samples.some((s) => s.connections !== null)) {
      specs.push({ id: 'connections', title: 'Server connections', unit: 'connections', xs: sx, xMax, markers, series: [{ name: 'connections', color: COLORS.conn, values: samples.map((s) => s.connections) }] });
    }
  }
  return specs;
}

// On a phone (360 px) the steps and route tables are wider than the screen, and a chart scaled to
// it draws its 10 px labels 4 px tall: each table and chart scrolls sideways in its own box, the
// page keeps the screen's width, and under 700 px a chart keeps 640 px and larger tick labels.
// A chart's border is inside its width (border-box): at width 100 % plus 2 px of border, every chart
// overflowed its box by 2 px and had a scrollbar of its own on a desktop screen.
const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:940px;color:#212529;padding:0 12px;overflow-wrap:break-word}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#666}.verdict{border-radius:6px;padding:12px 16px;margin:16px 0;font-size:16px}
.verdict.pass{background:#ebfbee;border:1px solid #8ce99a}.verdict.fail{background:#fff5f5;border:1px solid #ffa8a8}
.verdict p{margin:4px 0;font-size:14px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e9ecef;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f8f9fa}
td.pass{color:#2b8a3e;font-weight:600}td.fail{color:#c92a2a;font-weight:600}td.skip{color:#868e96}td.reasons{font-size:12px;color:#495057}
.chart{display:block;box-sizing:border-box;margin:8px 0 2px;background:#fff;border:1px solid #e9ecef;border-radius:4px}
.chart .title{font-weight:600;font-size:13px}.chart .grid{stroke:#f1f3f5}.chart .ytick{font-size:10px;text-anchor:end;fill:#868e96}
.chart .xtick{font-size:10px;text-anchor:middle;fill:#868e96}.chart .marker{stroke:#adb5bd;stroke-dasharray:3 3}
.chart .mlabel{font-size:10px;fill:#868e96}.chart .threshold{stroke:#e03131;stroke-dasharray:6 4}
.chart .tlabel{font-size:10px;text-anchor:end;fill:#e03131}.chart .legend{font-size:11px}.chart .hover{fill:transparent}
#tip{position:fixed;pointer-events:none;background:#212529;color:#fff;font-size:12px;padding:4px 8px;border-radius:4px;display:none;white-space:pre}
ul.notes{padding-left:18px;color:#495057}
.scroll{overflow-x:auto}#summary td{overflow-wrap:anywhere}
@media (max-width:700px){.chart{min-width:640px}.chart .ytick,.chart .xtick,.chart .mlabel,.chart .tlabel{font-size:13px}}`;

// Hover readout: the nearest second's values of every series under the pointer (of a long run,
// the nearest stretch's extremes, as drawn). Optional: the charts are complete without it. Each
// series' values are parsed once, not at every move of the pointer.
const SCRIPT = `
(function(){var tip=document.getElementById('tip');
document.querySelectorAll('svg.chart').forEach(function(svg){
 var xs=JSON.parse(svg.getAttribute('data-xs'));var xmax=+svg.getAttribute('data-xmax');var g=svg.getAttribute('data-plot').split(',').map(Number);
 var series=[].slice.call(svg.querySelectorAll('path.series')).map(function(p){return {name:p.getAttribute('data-series'),values:JSON.parse(p.getAttribute('data-values'))};});
 var unit=svg.getAttribute('data-unit');var per=+svg.getAttribute('data-per-stretch')||1;
 svg.addEventListener('mousemove',function(e){var pt=svg.createSVGPoint();pt.x=e.clientX;pt.y=e.clientY;
  var p=pt.matrixTransform(svg.getScreenCTM().inverse());var x=(p.x-g[0])/g[2]*xmax;
  if(!xs.length||p.x<g[0]||p.x>g[0]+g[2]){tip.style.display='none';return;}
  var best=0;for(var i=1;i<xs.length;i++){if(Math.abs(xs[i]-x)<Math.abs(xs[best]-x))best=i;}
  var lines=[per>1?'t ≈ '+xs[best]+' s (of '+per+' points: the lowest and highest)':'t = '+xs[best]+' s'];series.forEach(function(s){var v=s.values[best];
   lines.push(s.name+': '+(v===null?'–':v)+' '+unit);});
  tip.textContent=lines.join('\\n');tip.style.display='block';tip.style.left=(e.clientX+14)+'px';tip.style.top=(e.clientY+10)+'px';});
 svg.addEventListener('mouseleave',function(){tip.style.display='none';});});})();`;

/** What the charts of a long run draw: each stretch's extremes (chart-points.ts); '' when every point is drawn. */
function stretchNote(r: LoadtestResult): string {
  const per = pointsPerStretch(Math.max(r.timeline.length, r.server.samples.length));
  if (per === 1) return '';
  return `<p class="meta" id="stretch-note">A chart draws ${MAX_CHART_POINTS} points at the most: over that, each stretch of up to ${per} points (seconds of the run, or server samples) is drawn as its lowest and highest value, so no spike is lost. The result JSON holds every one.</p>\n`;
}

/** "2.5s of 2.5s planned (cut from 3s by --duration)": the summary's Ran row. */
export function ranSummary(run: Pick<LoadtestResult['run'], 'stoppedAtMs' | 'interrupted' | 'targetGoneAtMs'>, schedule: Pick<LoadtestResult['schedule'], 'totalMs' | 'plannedMs' | 'truncated'>): string {
  // To the millisecond, as the plan is: rounded to the second, 2.5 s of 2.5 s read "3s of 2.5s".
  const elapsed = formatExactDuration(Math.round(run.stoppedAtMs));
  // A run the target's going away ended is no interruption: "interrupted" read as a Ctrl-C.
  const stopped = run.targetGoneAtMs !== null ? ` — stopped: the target stopped answering at ${formatExactDuration(Math.round(run.targetGoneAtMs))}` : run.interrupted ? ' — interrupted' : '';
  return `${elapsed} of ${formatExactDuration(schedule.totalMs)} planned${schedule.truncated ? ` (cut from ${formatExactDuration(schedule.plannedMs)} by --duration)` : ''}${stopped}`;
}

/**
 * The Mix row. Exports left out for want of the admin token renormalise the mix: said as
 * "read 66.667 %, ... (default)", the default looked like 66/33/0 and the report nowhere near it
 * said exports were skipped.
 */
export function mixSummary(o: Pick<LoadtestResult['options'], 'mix' | 'mixRequested' | 'mixSource'>): string {
  if (o.mixRequested.export > 0 && o.mix.export === 0) {
    return `${formatMix(o.mix)}: exports skipped, as no admin token was given (asked: ${formatMix(o.mixRequested)}, ${o.mixSource})`;
  }
  return `${formatMix(o.mix)} (${o.mixSource})`;
}

/**
 * The Virtual users row: the users started, and the players they log in as. "300 started, 20
 * logins from FILE" read as 20 logins beside the 300 of the route table: 20 was the players.
 */
export function usersSummary(run: Pick<LoadtestResult['run'], 'usersStarted'>, o: Pick<LoadtestResult['options'], 'credentials' | 'usersFile'>): string {
  return `${run.usersStarted} started, logging in round-robin as the ${o.credentials} ${o.credentials === 1 ? 'player' : 'players'} of ${o.usersFile}`;
}

export function renderReport(r: LoadtestResult): string {
  const v = r.verdict;
  const t = r.totals;
  const summary: [string, string][] = [
    ['Target', r.target],
    ['Mode', r.mode === 'steps' ? `progressive steps ${r.options.steps.join(', ')} × ${formatExactDuration(r.options.stepDurationMs ?? 0)}` : r.mode === 'profile' ? `profile ${r.options.profileFile ?? ''} × time scale ${r.options.timeScale}` : `${r.options.users} users constant`],
    ['Ran', ranSummary(r.run, r.schedule)],
    ['Requests', `${t.counts.requests} (${t.rps} req/s), ${t.counts.errors} errors; at the end ${t.counts.unanswered} still waiting after ${r.criteria.p95Ms} ms or more (their waits count in the latency) and ${t.counts.aborted} in flight for less (dropped)`],
    // The p95 as the steps table and the verdict say it: 499.96 ms read "p95 500 ms" here and 499.9 ms there.
    ['Latency', t.latencyMs ? `p50 ${ms(t.latencyMs.p50)}, p95 ${ms(t.latencyMs.p95, CRITERIA.p95Ms)}, p99 ${ms(t.latencyMs.p99)}, max ${ms(t.latencyMs.max)}` : 'no answers'],
    ['Mix', mixSummary(r.options)],
    ['Virtual users', usersSummary(r.run, r.options)],
    ['Load generator CPU', `${r.run.generatorCpuPercent} % of this host (all cores)`],
    ['Server figures', r.server.available ? `${r.server.samples.length} samples from ${r.options.admin ?? ''}${serverFailures(r)}` : (r.server.problem ?? 'not sampled')],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>corral loadtest — ${escapeHtml(r.target)} — ${escapeHtml(r.startedAt)}</title>
<style>${STYLE}</style></head>
<body>
<h1>corral loadtest</h1>
<div class="meta">${escapeHtml(r.target)} · started ${escapeHtml(r.startedAt)} · corral ${escapeHtml(r.tool.version)} · node ${escapeHtml(r.tool.node)}</div>
<div class="verdict ${v.pass ? 'pass' : 'fail'}" id="verdict"><strong>${escapeHtml(v.headline)}</strong>${v.lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</div>
<div class="scroll"><table id="summary">${summary.map(([k, val]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(val)}</td></tr>`).join('')}</table></div>
<h2>Steps</h2>
<p class="meta">Criteria per step: p95 &lt; ${r.criteria.p95Ms} ms, no 5xx, no timeouts, no connection errors, no 429, no unexpected status, CPU &lt; ${r.criteria.cpuPercent} % (mean), RAM &lt; ${r.criteria.ramPercent} % (max).</p>
<div class="scroll"><table id="segments"><tr><th></th><th>step</th><th>users</th><th>requests</th><th>req/s</th><th>p50</th><th>p95</th><th>p99</th><th>errors</th><th>CPU</th><th>RAM</th><th>conn</th><th>why</th></tr>
${r.segments.map(segmentRow).join('\n')}</table></div>
<h2>Over time</h2>
${stretchNote(r)}${charts(r).map((c) => `<div class="scroll">${lineChart(c)}</div>`).join('\n')}
<h2>By request kind</h2>
<div class="scroll"><table id="by-kind"><tr><th>kind</th><th>requests</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>errors</th><th>statuses</th></tr>${tallyRows(r.byKind)}</table></div>
<h2>By route</h2>
<div class="scroll"><table id="by-route"><tr><th>route</th><th>requests</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>errors</th><th>statuses</th></tr>${tallyRows(r.byRoute)}</table></div>
${r.notes.length ? `<h2>Notes</h2><ul class="notes">${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
<div id="tip"></div>
<script type="application/json" id="loadtest-result">${scriptJson(r)}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
