// What `corral loadtest` does on Ctrl-C, SIGTERM and SIGHUP: before the load, one ends the run
// saying nothing ran; during it, the first stops the load, a second abandons the run and says
// whether its report was written. (The real process and real signals:
// test/integration/loadtest.test.ts.)

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { outputFiles } from '../../src/loadtest/output.js';
import { StopSignals, type StopSignal } from '../../src/loadtest/stop-signals.js';

function harness(): { signals: StopSignals; send: (s: StopSignal) => void; stderr: string[]; left: number[]; stops: string[] } {
  const emitter = new EventEmitter();
  const stderr: string[] = [];
  const left: number[] = [];
  const stops: string[] = [];
  const signals = new StopSignals({ signals: emitter, stderr: { write: (t: string) => stderr.push(t) }, leave: (code) => left.push(code) });
  return { signals, send: (s) => emitter.emit(s, s), stderr, left, stops };
}

describe('loadtest stop signals', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`ends the run at once on ${signal} before the load began, saying no load ran and no result was written (exit ${code})`, () => {
      const h = harness();
      h.signals.listen();
      h.send(signal);
      assert.deepEqual(h.stderr, [`corral loadtest: stop signal (${signal}) before the load began: the run was stopped before any load ran, and no result was written (any earlier result.json and report.html in --out are left as they were)\n`]);
      assert.deepEqual(h.left, [code]);
    });
  }

  it('stops the load on the first signal, and abandons the run on a second, saying its report was not written', () => {
    const h = harness();
    h.signals.onInterrupt(() => h.stops.push('stop'));
    h.send('SIGTERM');
    assert.deepEqual(h.stops, ['stop']);
    assert.deepEqual(h.left, []);
    assert.equal(h.signals.first, 'SIGTERM');
    h.send('SIGINT');
    assert.deepEqual(h.stderr, ['corral loadtest: second stop signal (SIGINT): run abandoned; the report was not written (any earlier result.json and report.html in --out are left as they were)\n']);
    assert.deepEqual(h.left, [130]);
    assert.deepEqual(h.stops, ['stop'], 'the load is stopped once');
  });

  it('says where the report is when it was written before the second signal', () => {
    const h = harness();
    const remove = h.signals.onInterrupt(() => h.stops.push('stop'));
    h.send('SIGINT');
    h.signals.reportWritten(outputFiles('/runs/a'));
    remove();
    h.send('SIGHUP');
    assert.deepEqual(h.stderr, ['corral loadtest: second stop signal (SIGHUP): run abandoned; the report was written (result: /runs/a/result.json, report: /runs/a/report.html)\n']);
    assert.deepEqual(h.left, [129]);
  });

  it('leaves at once on a first signal once the report is written (the verdict still being printed)', () => {
    const h = harness();
    const remove = h.signals.onInterrupt(() => h.stops.push('stop'));
    h.signals.reportWritten(outputFiles('/runs/b'));
    remove();
    h.send('SIGTERM');
    assert.deepEqual(h.stops, []);
    assert.deepEqual(h.stderr, ['corral loadtest: stop signal (SIGTERM): run abandoned; the report was written (result: /runs/b/result.json, report: /runs/b/report.html)\n']);
    assert.deepEqual(h.left, [143]);
  });
});
