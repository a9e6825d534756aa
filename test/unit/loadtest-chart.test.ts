// The report's inline SVG charts: where the title, the legend and the plot go.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineChart, type ChartSpec } from '../../src/loadtest/svg-chart.js';

const series = (names: string[]): ChartSpec['series'] => names.map((name) => ({ name, color: '#000', values: [1, 2] }));
const spec = (title: string, names: string[]): ChartSpec => ({ id: 'c', title, unit: 'errors', xs: [0.5, 1.5], xMax: 2, series: series(names) });

function keysY(svg: string): number[] {
  return [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="10" height="10" fill="#000" class="key"\/>/g)].map((m) => Number(m[1]));
}

describe('line chart layout', () => {
  it('keeps a short title and its legend on one row', () => {
    const svg = lineChart(spec('Latency', ['p50', 'p95', 'p99']));
    assert.deepEqual(keysY(svg), [9, 9, 9]);
    assert.match(svg, /viewBox="0 0 880 230"/);
    assert.match(svg, /data-plot="56,30,/);
  });

  it('moves the legend under a title it would run into, and grows the chart by that row', () => {
    const svg = lineChart(spec('Errors per second, and requests still unanswered when the run ended', ['5xx', '429', 'timeouts', 'connection', 'unanswered', 'other']));
    const ys = keysY(svg);
    assert.equal(ys.length, 6);
    assert.ok(ys.every((y) => y >= 20), `legend keys below the title's baseline (18): ${ys.join(', ')}`);
    assert.match(svg, /viewBox="0 0 880 246"/);
    assert.match(svg, /data-plot="56,46,808,170"/, 'the plot keeps its height, under the legend');
  });
});

describe('line chart points', () => {
  const chart = (values: (number | null)[]): string => lineChart({ id: 'latency', title: 'Latency', unit: 'ms', xs: values.map((_, i) => i + 0.5), xMax: values.length, series: [{ name: 'p95', color: '#f08c00', values }] });
  const dots = (svg: string): string[] => [...svg.matchAll(/<circle class="point" data-series="p95" cx="([\d.]+)" cy="([\d.]+)" r="3" fill="#f08c00"\/>/g)].map((m) => `${m[1]},${m[2]}`);

  it('draws a point with a gap on both sides as a dot: a move alone draws nothing (a stalled target, a run stopped in its first second)', () => {
    // One answer after 4 s, then nothing: the y axis went to 4000 ms over an empty plot.
    const svg = chart([null, 4000, null, null, 120]);
    assert.match(svg, /d="M[\d.]+ [\d.]+ M[\d.]+ [\d.]+"/, 'two moves, no line');
    // At the middle of their seconds (1.5 s and 4.5 s of 5), 4000 ms halfway up an axis to 8000.
    assert.deepEqual(dots(svg), ['298.4,115', '783.2,197.5']);
    assert.deepEqual(dots(chart([42])), ['460,110.8']);
  });

  it('joins neighbours with a line and gives them no dot', () => {
    const svg = chart([10, 20, null, 30, 40]);
    assert.match(svg, /d="M[\d.]+ [\d.]+ L[\d.]+ [\d.]+ M[\d.]+ [\d.]+ L[\d.]+ [\d.]+"/);
    assert.deepEqual(dots(svg), []);
  });

  it('labels each x tick with its own time: the 2.5 s ticks of a 16-20 s run are not rounded to 3s, 8s, 13s', () => {
    const ticks = (xMax: number): string[] => [...lineChart({ ...spec('Users', ['users']), xMax }).matchAll(/class="xtick">([^<]*)</g)].map((m) => m[1] ?? '');
    assert.deepEqual(ticks(18), ['0s', '2.5s', '5s', '7.5s', '10s', '12.5s', '15s', '17.5s']);
    assert.deepEqual(ticks(24), ['0s', '5s', '10s', '15s', '20s']);
    assert.deepEqual(ticks(150), ['0s', '20s', '40s', '1:00', '1:20', '1:40', '2:00', '2:20']);
  });
});

describe('line chart time axis of a long run', () => {
  const ticks = (xMax: number): string[] => [...lineChart({ ...spec('Users', ['users']), xMax }).matchAll(/class="xtick">([^<]*)</g)].map((m) => m[1] ?? '');

  it('ticks a run of an hour or more at round times, with hours: a day was labelled 0s, 333:20, 666:40, 1000:00, 1333:20', () => {
    assert.deepEqual(ticks(86_400), ['0s', '3:00:00', '6:00:00', '9:00:00', '12:00:00', '15:00:00', '18:00:00', '21:00:00', '24:00:00']);
    assert.deepEqual(ticks(3600), ['0s', '10:00', '20:00', '30:00', '40:00', '50:00', '1:00:00']);
    assert.deepEqual(ticks(5400), ['0s', '15:00', '30:00', '45:00', '1:00:00', '1:15:00', '1:30:00']);
  });

  it('ticks a run of minutes at whole minutes, not at 1:40, 3:20, 5:00', () => {
    assert.deepEqual(ticks(600), ['0s', '2:00', '4:00', '6:00', '8:00', '10:00']);
    assert.deepEqual(ticks(180), ['0s', '30s', '1:00', '1:30', '2:00', '2:30', '3:00']);
  });
});
