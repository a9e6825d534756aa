// What `corral loadtest` does on Ctrl-C, SIGTERM and SIGHUP: before the load, one ends the run
// saying nothing ran; during it, the first stops the load, a second abandons the run and says
// whether its report was written (the first one delivered twice is not a second). (The real process and real signals:
// test/integration/loadtest.test.ts.)

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckedOutput } from '../../src/loadtest/checked-output.js';
import { exitAfterStdout, LOADTEST_EXIT } from '../../src/loadtest/exit.js';
import { createOutputDir, outputFiles } from '../../src/loadtest/output.js';
import { StopSignals, type StopSignal } from '../../src/loadtest/stop-signals.js';

function harness(): { signals: StopSignals; send: (s: StopSignal) => void; stderr: string[]; left: number[]; stops: string[]; clock: { ms: number } } {
  const emitter = new EventEmitter();
  const stderr: string[] = [];
  const left: number[] = [];
  const stops: string[] = [];
  const clock = { ms: 5000 };
  const signals = new StopSignals({ signals: emitter, stderr: { write: (t: string) => stderr.push(t) }, leave: (code) => left.push(code), now: () => clock.ms });
  return { signals, send: (s) => emitter.emit(s, s), stderr, left, stops, clock };
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

  it('removes, on abandoning the run, the --out directories it made while they are still empty, and says so', () => {
    const root = mkdtempSync(join(tmpdir(), 'corral-loadtest-abandon-'));
    try {
      const made = createOutputDir(outputFiles(join(root, 'runs', 'first')));
      assert.deepEqual(made.created, [join(root, 'runs'), join(root, 'runs', 'first')]);
      const h = harness();
      h.signals.onInterrupt(() => h.stops.push('stop'), made.created);
      h.send('SIGTERM');
      assert.equal(existsSync(made.files.dir), true, 'a stopped run writes its report there');
      h.send('SIGHUP');
      assert.deepEqual(h.stderr, [
        `corral loadtest: second stop signal (SIGHUP): run abandoned; the report was not written (any earlier result.json and report.html in --out are left as they were); the --out directory it had created, still empty, was removed (${made.files.dir}, with the parent it had created)\n`,
      ]);
      assert.deepEqual(readdirSync(root), []);
      assert.deepEqual(h.left, [129]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('leaves a directory it made that holds anything by then, and the parents above it', () => {
    const root = mkdtempSync(join(tmpdir(), 'corral-loadtest-abandon-'));
    try {
      const made = createOutputDir(outputFiles(join(root, 'runs', 'second')));
      writeFileSync(join(made.files.dir, 'notes.txt'), 'put there during the run');
      const h = harness();
      h.signals.onInterrupt(() => h.stops.push('stop'), made.created);
      h.send('SIGINT');
      h.send('SIGTERM');
      assert.deepEqual(h.stderr, ['corral loadtest: second stop signal (SIGTERM): run abandoned; the report was not written (any earlier result.json and report.html in --out are left as they were)\n']);
      assert.deepEqual(readdirSync(made.files.dir), ['notes.txt']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes the first signal again within a second as the same stop (timeout and npm deliver it twice), and the next one as a second', () => {
    const h = harness();
    h.signals.onInterrupt(() => h.stops.push('stop'));
    h.send('SIGTERM');
    h.clock.ms += 2;
    h.send('SIGTERM');
    assert.deepEqual(h.stops, ['stop']);
    assert.deepEqual(h.left, [], 'the run goes on to write its report');
    assert.deepEqual(h.stderr, [
      'corral loadtest: SIGTERM again within 1 s of the first: taken as the same stop (a wrapper such as timeout or npm passes a signal on twice); send it once more to abandon the run\n',
    ]);
    h.clock.ms += 1000;
    h.send('SIGTERM');
    assert.equal(h.stderr[1], 'corral loadtest: second stop signal (SIGTERM): run abandoned; the report was not written (any earlier result.json and report.html in --out are left as they were)\n');
    assert.deepEqual(h.left, [143]);
    assert.deepEqual(h.stops, ['stop']);
  });

  const written = (signals: StopSignals, dir: string, exitCode: () => number, headline = 'supports 2 concurrent users: yes (p95 41 ms, 0 errors, CPU not measured)'): void =>
    signals.reportWritten({ files: outputFiles(dir), headline, exitCode });

  // The report is written and the verdict is being printed: the run has its result, and a signal
  // cannot stop or abandon anything any more. It leaves at once (what is left is printing), saying
  // where the results are and the verdict, with the code those results call for.
  for (const [verdict, code, headline] of [
    ['passed', LOADTEST_EXIT.PASS, 'supports 2 concurrent users: yes (p95 41 ms, 0 errors, CPU 35 %)'],
    ['failed', LOADTEST_EXIT.CRITERIA_FAILED, 'supports 2 concurrent users: no (p95 612 ms, 0 errors, CPU 35 %)'],
  ] as const) {
    it(`on a first signal once the report of a run that ${verdict} is written, says the results are already written and where, and exits ${code}, the verdict's code`, () => {
      const h = harness();
      const remove = h.signals.onInterrupt(() => h.stops.push('stop'));
      written(h.signals, '/runs/b', () => code, headline);
      remove();
      h.send('SIGTERM');
      assert.deepEqual(h.stops, []);
      assert.deepEqual(h.stderr, [
        `corral loadtest: stop signal (SIGTERM) after the report was written: nothing was abandoned; the results are already written (result: /runs/b/result.json, report: /runs/b/report.html); verdict: ${headline}\n`,
      ]);
      assert.deepEqual(h.left, [code]);
    });
  }

  it('on a second signal once the report of a run the first one stopped is written, keeps the first signal\'s code, which the result says', () => {
    const h = harness();
    const remove = h.signals.onInterrupt(() => h.stops.push('stop'));
    h.send('SIGINT');
    written(h.signals, '/runs/a', () => h.signals.exitCode(LOADTEST_EXIT.INTERRUPTED), 'supports 2 concurrent users: no (partial)');
    remove();
    h.send('SIGHUP');
    assert.deepEqual(h.stderr, [
      'corral loadtest: second stop signal (SIGHUP) after the report was written: nothing was abandoned; the results are already written (result: /runs/a/result.json, report: /runs/a/report.html); verdict: supports 2 concurrent users: no (partial)\n',
    ]);
    assert.deepEqual(h.left, [130]);
    assert.deepEqual(h.stops, ['stop']);
  });

  it('counts a failed write as a lost verdict only up to the verdict: the lines after it failing leave the verdict given', async () => {
    // The reader left once it had the verdict: only the lines after it meet the closed pipe.
    const given = new CheckedOutput({
      write: (text, callback) => queueMicrotask(() => callback(text.startsWith('result:') ? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) : null)),
    });
    given.write('step 1\n');
    given.write('verdict: supports 2 concurrent users: yes\n');
    given.verdictWritten();
    given.write('result: /runs/c/result.json\n');
    assert.equal(await given.settled(), undefined, 'the reader took the verdict and left');
    const lost = new CheckedOutput({ write: (_text, callback) => queueMicrotask(() => callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))) });
    lost.write('step 1\n');
    lost.write('verdict: supports 2 concurrent users: yes\n');
    lost.verdictWritten();
    assert.equal(((await lost.settled()) as NodeJS.ErrnoException | undefined)?.code, 'EPIPE', 'the verdict itself met the closed pipe');
  });

  it('gives a late signal the code the run ends with when stdout did not take a passing verdict (141, not 0)', async () => {
    const h = harness();
    const stdout = new CheckedOutput({ write: (_text, callback) => queueMicrotask(() => callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))) });
    const remove = h.signals.onInterrupt(() => h.stops.push('stop'));
    written(h.signals, '/runs/c', () => exitAfterStdout(h.signals.exitCode(LOADTEST_EXIT.PASS), stdout.lost !== undefined));
    remove();
    stdout.write('verdict: supports 2 concurrent users: yes\n');
    await stdout.settled();
    h.send('SIGINT');
    assert.deepEqual(h.left, [LOADTEST_EXIT.STDOUT_CLOSED]);
  });
});
