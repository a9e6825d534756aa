// The HTML report: its summary, said as exactly as the plan it is set against, and a report for
// a run of any length.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { mixSummary, ranSummary, renderReport } from '../../src/loadtest/report-html.js';
import { serverFigures } from '../../src/loadtest/verdict.js';
import { fakeResult } from '../fixtures/loadtest-result.js';

const run = (stoppedAtMs: number, interrupted = false) => ({ stoppedAtMs, interrupted });
const schedule = (totalMs: number, plannedMs = totalMs) => ({ totalMs, plannedMs, truncated: plannedMs !== totalMs });

describe('report summary', () => {
  it('says how long the run ran as exactly as the plan ("2.5s of 2.5s", not "3s of 2.5s")', () => {
    assert.equal(ranSummary(run(2500.28), schedule(2500)), '2.5s of 2.5s planned');
    assert.equal(ranSummary(run(1437.6, true), schedule(2500)), '1.438s of 2.5s planned — interrupted');
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

describe('report of a long run', () => {
  it('renders a day of per-second points (7 error series × 86,400 s; the stack overflowed from about 17,600 s)', () => {
    const html = renderReport(fakeResult({ seconds: 86_400, sampleEveryS: 1 }));
    const charts = [...html.matchAll(/<svg class="chart" id="chart-([a-z]+)"/g)].map((m) => m[1]);
    assert.deepEqual(charts, ['users', 'throughput', 'latency', 'errors', 'server', 'connections']);
    // The x axis spans the day, and the latency axis is scaled to the figures (max 46 ms: 50).
    assert.match(html, /id="chart-latency"[^>]*data-xmax="86400"/);
    assert.match(html, /class="ytick">50<\/text>/);
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
