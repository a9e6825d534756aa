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
