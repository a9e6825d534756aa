// The HTML report: its summary, said as exactly as the plan it is set against, and a report for
// a run of any length.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { chartPoints, MAX_CHART_POINTS } from '../../src/loadtest/chart-points.js';
import { charts, mixSummary, ranSummary, renderReport, usersSummary } from '../../src/loadtest/report-html.js';
import { serverFigures } from '../../src/loadtest/server-figures.js';
import { fakeResult, secondPoint } from '../fixtures/loadtest-result.js';

const run = (stoppedAtMs: number, interrupted = false, targetGoneAtMs: number | null = null) => ({ stoppedAtMs, interrupted, targetGoneAtMs });
const schedule = (totalMs: number, plannedMs = totalMs) => ({ totalMs, plannedMs, truncated: plannedMs !== totalMs });

describe('report summary', () => {
  it('says how long the run ran as exactly as the plan ("2.5s of 2.5s", not "3s of 2.5s")', () => {
    assert.equal(ranSummary(run(2500.28), schedule(2500)), '2.5s of 2.5s planned');
    assert.equal(ranSummary(run(1437.6, true), schedule(2500)), '1.438s of 2.5s planned — interrupted');
    // Stopped by itself, the target gone: no signal interrupted it (its exit code is 2, not 130).
    assert.equal(ranSummary(run(18_808.3, true, 13_766.4), schedule(30_000)), '18.808s of 30s planned — stopped: the target stopped answering at 13.766s');
    assert.equal(ranSummary(run(2000.4), schedule(2000, 3000)), '2s of 2s planned (cut from 3s by --duration)');
    assert.equal(ranSummary(run(90_000.2), schedule(90_000)), '1m30s of 1m30s planned');
  });

  it('says exports were skipped for want of the admin token, rather than calling the renormalised mix the default', () => {
    const asked = { read: 0.6, write: 0.3, export: 0.1 };
    const skipped = { read: 2 / 3, write: 1 / 3, export: 0 };
    assert.equal(mixSummary({ mix: skipped, mixRequested: asked, mixSource: 'default' }), 'read 66.667 %, write 33.333 %, export 0 %: exports skipped, as no admin token was given (asked: read 60 %, write 30 %, export 10 %, default)');
    assert.equal(mixSummary({ mix: asked, mixRequested: asked, mixSource: 'default' }), 'read 60 %, write 30 %, export 10 % (default)');
    const noExports = { read: 0.5, write: 0.5, export: 0 };
    assert.equal(mixSummary({ mix: noExports, mixRequested: noExports, mixSource: 'flag' }), 'read 50 %, write 50 %, export 0 % (flag)');
  });
});

describe('report summary: virtual users', () => {
  it('says how many players the users log in as, not a count of logins that disagrees with the route table', () => {
    assert.equal(usersSummary({ usersStarted: 300 }, { credentials: 20, usersFile: '/srv/Players.csv' }), '300 started, logging in round-robin as the 20 players of /srv/Players.csv');
    assert.equal(usersSummary({ usersStarted: 4 }, { credentials: 1, usersFile: '/srv/one.json' }), '4 started, logging in round-robin as the 1 player of /srv/one.json');
    assert.match(renderReport(fakeResult({ seconds: 10, sampleEveryS: 1 })), /<th>Virtual users<\/th><td>\d+ started, logging in round-robin as the \d+ players? of /);
  });
});

describe('report of a long run', () => {
  it('renders a day of per-second points (7 error series × 86,400 s; the stack overflowed from about 17,600 s)', () => {
    const html = renderReport(fakeResult({ seconds: 86_400, sampleEveryS: 1 }));
    const charts = [...html.matchAll(/<svg class="chart" id="chart-([a-z]+)"/g)].map((m) => m[1]);
    assert.deepEqual(charts, ['users', 'throughput', 'latency', 'errors', 'server', 'connections']);
    // The x axis spans the day, and the latency axis is scaled to the figures (max 46 ms: 50).
    assert.match(html, /id="chart-latency"[^>]*data-xmax="86400"/);
    assert.match(html, /class="ytick">50<\/text>/);
  });

  it('draws a day in at most MAX_CHART_POINTS points a chart, each stretch as its extremes: one second of 5xx, a latency spike and a stall keep their exact values', () => {
    const day = 86_400;
    const timeline = Array.from({ length: day }, (_, t) => {
      const p = secondPoint(t);
      if (t === 50_000) return { ...p, status5xx: 7, errors: 7 };
      if (t === 60_000) return { ...p, p95: 900 };
      if (t === 70_000) return { ...p, rps: 0 };
      return p;
    });
    const html = renderReport(fakeResult({ seconds: day, timeline, sampleEveryS: 1 }));
    const paths = [...html.matchAll(/<path class="series" data-series="([^"]+)" data-values="([^"]+)"/g)].map((m) => ({ series: m[1], values: JSON.parse((m[2] ?? '').replaceAll('&quot;', '"')) as (number | null)[] }));
    assert.equal(paths.length, 15);
    for (const p of paths) assert.ok(p.values.length <= MAX_CHART_POINTS, `${p.series}: ${p.values.length} points`);
    const values = (name: string) => paths.find((p) => p.series === name)?.values ?? [];
    assert.equal(Math.max(...values('5xx').map((v) => v ?? 0)), 7, 'the one second of 5xx');
    assert.equal(Math.max(...values('p95').map((v) => v ?? 0)), 900, 'the latency spike');
    assert.equal(Math.min(...values('req/s').map((v) => v ?? Infinity)), 0, 'the stall');
    assert.match(html, /data-per-stretch="99"/);
    assert.match(html, /id="stretch-note">A chart draws 1760 points at the most/);
    const svgBytes = [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].reduce((n, m) => n + m[0].length, 0);
    assert.ok(svgBytes < 1_000_000, `charts of ${svgBytes} bytes`);
    // The embedded result keeps every second.
    const embedded = JSON.parse(/<script type="application\/json" id="loadtest-result">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? 'null') as { timeline: unknown[] };
    assert.equal(embedded.timeline.length, day);
  });

  it('draws a run of up to MAX_CHART_POINTS points point for point, with no note', () => {
    const html = renderReport(fakeResult({ seconds: 1700, sampleEveryS: 1 }));
    const p95 = /data-series="p95" data-values="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.equal((JSON.parse(p95.replaceAll('&quot;', '"')) as unknown[]).length, 1700);
    assert.match(html, /data-per-stretch="1"/);
    assert.doesNotMatch(html, /stretch-note/);
  });

  it('takes the server figures of a day of samples', () => {
    const samples = fakeResult({ seconds: 200_000, sampleEveryS: 1 }).server.samples;
    assert.deepEqual(serverFigures(samples), { cpuMean: 34.5, cpuMax: 39, ramMax: 20, connectionsMax: 10 });
  });

  it('spreads no list into the arguments of a call anywhere in src/loadtest (Math.max(...values) overflows the stack past about 100,000 values)', () => {
    const dir = fileURLToPath(new URL('../../../src/loadtest/', import.meta.url));
    const found: string[] = [];
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      readFileSync(dir + name, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(?:\/\/|\*|\/\*)/.test(line)) return;
          // A spread as a call's argument: "f(...x" or ", ...x" inside parentheses (not [ ... ] or { ... }).
          if (/(?:\b(?:max|min|push|unshift|apply)\(\s*|\(\s*[^()[\]{}]*,\s*)\.\.\.[A-Za-z_(]/.test(line)) found.push(`${name}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(found, []);
  });
});

describe('chart points', () => {
  it('draws each stretch as its lowest and highest value in the order they came, a stretch with no value as a gap', () => {
    const xs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const falling = [5, 9, 1, 4, null, null, null, null, 3, null, 8, 2];
    const drawn = chartPoints(xs, [falling], 6);
    assert.equal(drawn.perStretch, 4);
    assert.deepEqual(drawn.xs, [0, 3, 4, 7, 8, 11]);
    // 9 came before 1; the empty stretch stays a gap; 8 before 2.
    assert.deepEqual(drawn.values, [[9, 1, null, null, 8, 2]]);
    const rising = chartPoints(xs, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]], 6);
    assert.deepEqual(rising.values, [[1, 4, 5, 8, 9, 12]]);
    const few = chartPoints(xs, [falling], 12);
    assert.equal(few.perStretch, 1);
    assert.equal(few.values[0], falling, 'under the cap: the same list, drawn as it is');
  });
});

describe('report figures as the verdict says them', () => {
  it('never rounds the p95 of the summary up to the 500 ms limit the steps table and the verdict say it is under', () => {
    const r = fakeResult({ seconds: 10 });
    const lat = { p50: 120, p95: 499.96, p99: 620, max: 900, mean: 150 };
    const seg = r.segments[0]!;
    const html = renderReport({ ...r, totals: { ...r.totals, latencyMs: lat }, segments: [{ ...seg, latencyMs: lat }] });
    assert.match(html, /<td>499\.9 ms<\/td>/, 'the steps table');
    assert.doesNotMatch(html, /<th>Latency<\/th><td>[^<]*p95 500 ms/, 'the summary said "p95 500 ms" of a run the verdict passed at 499.9 ms');
  });
});

describe('report charts: RAM in time with the steps table', () => {
  it('draws RAM when the master measured it: a figure measured at 59.9 s, in step 1, is not drawn only over step 2', () => {
    // The master measures every 5 s (at 4.9 s, 9.9 s, ...); the admin API is fetched every second
    // and returns its last measurement. RAM 60 % was measured at 59.9 s: the steps table judges it
    // in step 1 ([0, 60 s)), which fails on it.
    const base = fakeResult({ seconds: 120 });
    const samples = Array.from({ length: 120 }, (_, j) => {
      const t = j * 1000;
      const hostT = Math.floor((t + 100) / 5000) * 5000 - 100;
      return { t, cpu: 30, ram: hostT === 59_900 ? 60 : 20, hostT, hostDated: true, connections: 10, maxConnections: 1000, status: 'ok' };
    });
    const seg = (label: string, startMs: number, endMs: number) => ({ label, kind: 'step' as const, startMs, endMs, usersFrom: 10, usersTo: 10 });
    const r = { ...base, schedule: { ...base.schedule, segments: [seg('step 1/2', 0, 60_000), seg('step 2/2', 60_000, 120_000)] }, server: { ...base.server, available: true, problem: null, samples } };
    const server = charts(r).find((c) => c.id === 'server');
    assert.ok(server);
    const ram = server.series.find((s) => s.name === 'RAM')?.values ?? [];
    const inStep1 = server.xs.flatMap((x, i) => (x < 60 ? [ram[i] ?? null] : []));
    assert.ok(inStep1.includes(60), `RAM over step 1 in the chart: max ${Math.max(...inStep1.map((v) => v ?? 0))} %, while the steps table fails step 1 on RAM 60 %`);
  });
});
