import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { mock, test } from 'node:test';
import { WRITE_RETRY_MS, watchWriteFailures } from '../../src/log/write-failure.js';

class FakeDestination extends EventEmitter {
  flushes = 0;
  readonly writes: string[] = [];
  write(data: string): boolean {
    this.writes.push(data);
    return true;
  }
  flushSync(): void {
    this.flushes++;
  }
}

test('a failed write is reported once per episode, flushSync is off until a write succeeds, and the recovery counts dropped lines', () => {
  let clock = 1000;
  const failed: string[] = [];
  const recovered: Array<[number, number]> = [];
  const w = watchWriteFailures({ failed: (err) => failed.push(err.message), recovered: (dropped, ms) => recovered.push([dropped, ms]), reopenFailed: () => assert.fail('no open failed'), dropped: () => assert.fail('drops are in the recovery') }, () => clock);
  const main = new FakeDestination();
  const access = new FakeDestination();
  w.watch(main);
  w.watch(access);

  main.emit('error', new Error('ENOSPC: no space left on device, write'));
  access.emit('error', new Error('ENOSPC again'));
  assert.deepEqual(failed, ['ENOSPC: no space left on device, write']);
  // Both share the file: neither may flush synchronously (sonic-boom would retry forever).
  main.flushSync();
  access.flushSync();
  assert.equal(main.flushes + access.flushes, 0);

  main.emit('drop', 'line 1\n');
  access.emit('drop', 'line 2\n');
  clock += 2500;
  access.emit('write', 120);
  assert.deepEqual(recovered, [[2, 2500]]);
  main.flushSync();
  access.flushSync();
  assert.equal(main.flushes + access.flushes, 2, 'flushSync works again');
  main.emit('write', 10);
  assert.equal(recovered.length, 1, 'a write while healthy reports nothing');

  main.emit('error', new Error('EIO'));
  assert.deepEqual(failed, ['ENOSPC: no space left on device, write', 'EIO'], 'a new episode is reported again');
});

test('a reopen that cannot open the file is reported as such, once until an open succeeds, and is not a write failure', () => {
  const reopenFailed: string[] = [];
  const failed: string[] = [];
  const w = watchWriteFailures({ failed: (err) => failed.push(err.message), recovered: () => assert.fail('nothing to recover from'), dropped: () => assert.fail('nothing dropped'), reopenFailed: (err) => reopenFailed.push(err.message) });
  const main = new FakeDestination();
  const access = new FakeDestination();
  w.watch(main);
  w.watch(access);
  const openError = () => Object.assign(new Error("EACCES: permission denied, open '/var/log/corral/corral.log'"), { code: 'EACCES', syscall: 'open' });
  main.emit('error', openError());
  access.emit('error', openError());
  assert.equal(reopenFailed.length, 1);
  // The old file is still open and written: flushSync stays on, no failure, no recovery line.
  main.flushSync();
  assert.equal(main.flushes, 1);
  main.emit('write', 10);
  assert.deepEqual(failed, []);
  // The reopen that works then closes the old fd twice (sonic-boom): EBADF on close is no failure.
  main.emit('ready');
  main.emit('error', Object.assign(new Error('EBADF: bad file descriptor, close'), { code: 'EBADF', syscall: 'close' }));
  assert.deepEqual(failed, []);
  // One that fails again: said again.
  main.emit('error', openError());
  assert.equal(reopenFailed.length, 2);
});

test('a reopen whose directory cannot be made (mkdir: a file in its place) is a failed reopen, not a failed write', () => {
  const reopenFailed: string[] = [];
  const w = watchWriteFailures({ failed: () => assert.fail('no write failed'), recovered: () => assert.fail('nothing to recover from'), dropped: () => assert.fail('nothing dropped'), reopenFailed: (err) => reopenFailed.push(err.message) });
  const main = new FakeDestination();
  w.watch(main);
  main.emit('error', Object.assign(new Error("EEXIST: file already exists, mkdir '/var/log/corral'"), { code: 'EEXIST', syscall: 'mkdir' }));
  assert.equal(reopenFailed.length, 1);
  main.flushSync();
  assert.equal(main.flushes, 1, 'the old file is still written');
  main.emit('write', 10);
});

test('lines dropped while the file is written, too slowly, are counted and said at most once a minute', () => {
  let clock = 0;
  const said: number[] = [];
  const w = watchWriteFailures({ failed: () => assert.fail('no write failed'), recovered: () => assert.fail('nothing failed'), reopenFailed: () => assert.fail('no open failed'), dropped: (n) => said.push(n) }, () => clock);
  const d = new FakeDestination();
  w.watch(d);
  d.emit('write', 100);
  assert.deepEqual(said, [], 'nothing dropped, nothing said');
  d.emit('drop', 'a\n');
  d.emit('drop', 'b\n');
  d.emit('write', 100);
  assert.deepEqual(said, [2]);
  d.emit('drop', 'c\n');
  clock += 30_000;
  d.emit('write', 100);
  assert.deepEqual(said, [2], 'not again within the minute');
  clock += 30_000;
  d.emit('write', 100);
  assert.deepEqual(said, [2, 1]);
});

test('at an exit, the lines dropped since the last report are said at once, a relayed chunk counting its lines, and nothing while writes fail', () => {
  let clock = 0;
  const said: number[] = [];
  const failed: string[] = [];
  const w = watchWriteFailures({ failed: (err) => failed.push(err.message), recovered: () => undefined, reopenFailed: () => assert.fail('no open failed'), dropped: (n) => said.push(n) }, () => clock);
  const d = new FakeDestination();
  w.watch(d);
  w.sayDropped();
  assert.deepEqual(said, [], 'nothing dropped, nothing said');
  d.emit('drop', 'a\n');
  d.emit('write', 100);
  assert.deepEqual(said, [1]);
  // Within the minute of that report: said by nothing but the exit (the master's log ended with
  // thousands of relayed lines gone and no word of them).
  d.emit('drop', 'b\n');
  d.emit('drop', 'c\nd\ne\n');
  clock += 1000;
  d.emit('write', 100);
  assert.deepEqual(said, [1]);
  w.sayDropped();
  assert.deepEqual(said, [1, 4]);
  w.sayDropped();
  assert.deepEqual(said, [1, 4], 'once');
  d.emit('error', Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', syscall: 'write' }));
  d.emit('drop', 'f\n');
  w.sayDropped();
  assert.deepEqual(said, [1, 4], 'a failure says its drops at its recovery');
  assert.equal(failed.length, 1);
});

test('on stdout, where the master writes its children\'s lines too, the dropped lines are told apart: its own (its pid) from those it relayed', () => {
  const said: [number, number, number][] = [];
  const w = watchWriteFailures({ failed: () => assert.fail('no write failed'), recovered: () => undefined, reopenFailed: () => assert.fail('no open failed'), dropped: (n, o, r) => said.push([n, o, r]) }, () => 0, '"pid":42,');
  const d = new FakeDestination();
  w.watch(d);
  d.emit('drop', '{"level":"info","pid":42,"event":"worker.exit"}\n');
  d.emit('drop', '{"pid":7,"event":"access"}\n{"pid":8,"event":"access"}\nan app\'s console.log\n');
  d.emit('write', 100);
  assert.deepEqual(said, [[4, 0, 3]]);
  // Without a mark (a log file: only this process's lines), none is relayed.
  const plain: number[] = [];
  const f = watchWriteFailures({ failed: () => undefined, recovered: () => undefined, reopenFailed: () => undefined, dropped: (_n, _o, r) => plain.push(r) }, () => 0);
  const e = new FakeDestination();
  f.watch(e);
  e.emit('drop', '{"pid":7}\n');
  e.emit('write', 1);
  assert.deepEqual(plain, [0]);
});

test('a line logged while a reopen is in flight reaches the old file when the open fails, with nothing else logged after it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-reopen-'));
  const file = join(dir, 'corral.log');
  const d = pino.destination({ dest: file, append: true, sync: false });
  try {
    await once(d, 'ready');
    const reopenFailed: string[] = [];
    watchWriteFailures({ failed: () => assert.fail('no write failed'), recovered: () => undefined, dropped: () => undefined, reopenFailed: (err) => reopenFailed.push(err.message) }).watch(d);
    renameSync(file, `${file}.1`);
    mkdirSync(file); // the new file cannot be opened (EISDIR)
    d.reopen();
    // Logged while the open is in flight (as a worker's line is when its other destination's
    // reopen failed first): buffered, since the destination is busy opening.
    d.write('{"event":"while-reopening"}\n');
    await once(d, 'error');
    assert.equal(reopenFailed.length, 1);
    const deadline = Date.now() + 3000;
    while (!readFileSync(`${file}.1`, 'utf8').includes('while-reopening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(readFileSync(`${file}.1`, 'utf8'), /while-reopening/, 'the buffered line is written to the file open before');
  } finally {
    d.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a line longer than the buffer cap is dropped and said as such, not as lines coming faster than the file is written', async () => {
  const { createLogger } = await import('../../src/log/logger.js');
  const { LOG_BUFFER_MAX_BYTES } = await import('../../src/log/write-failure.js');
  const dir = mkdtempSync(join(tmpdir(), 'corral-oversized-'));
  const file = join(dir, 'corral.log');
  const log = createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'info' }, { role: 'worker', worker: 1, generation: 1 });
  try {
    await log.opened(5000);
    // A handler that logs a whole upload, say: one line over the cap.
    log.logger.info({ event: 'fixture.big', body: 'x'.repeat(LOG_BUFFER_MAX_BYTES + 1) }, 'big');
    log.logger.info({ event: 'fixture.after' }, 'after');
    const deadline = Date.now() + 5000;
    const lines = () => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    while (!lines().some((l) => l.event === 'log.dropped') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const dropped = lines().find((l) => l.event === 'log.dropped');
    assert.ok(dropped, `log.dropped in ${JSON.stringify(lines().map((l) => l.event))}`);
    assert.deepEqual([dropped.dropped, dropped.oversized, dropped.code], [1, 1, 'CORRAL_ERR_LOG_WRITE']);
    assert.match(String(dropped.msg), /^1 log line of this process dropped: each longer than the 16 MiB a line may take/);
    assert.ok(lines().some((l) => l.event === 'fixture.after'), 'the next line is written');
  } finally {
    log.flush();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('while the file fails, an empty write is no recovery, and what the destinations hold is tried again every second until a write works', () => {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    const failed: string[] = [];
    const recovered: Array<[number, number]> = [];
    const w = watchWriteFailures({ failed: (err) => failed.push(err.message), recovered: (dropped, ms) => recovered.push([dropped, ms]), reopenFailed: () => assert.fail('no open failed'), dropped: () => assert.fail('drops are in the recovery') });
    const main = new FakeDestination();
    const access = new FakeDestination();
    w.watch(main);
    w.watch(access);
    main.emit('error', new Error('ENOSPC: no space left on device, write'));
    // The access lines' periodic flush of an empty buffer: 0 bytes, written on a full disk too.
    access.emit('write', 0);
    assert.deepEqual(recovered, [], 'nothing written is no recovery');
    main.emit('error', new Error('ENOSPC: no space left on device, write'));
    assert.equal(failed.length, 1, 'the same failure goes on: said once');
    // Nothing logged meanwhile: each destination is asked to write what it holds, every second.
    mock.timers.tick(WRITE_RETRY_MS);
    assert.deepEqual([main.writes, access.writes], [[''], ['']]);
    mock.timers.tick(WRITE_RETRY_MS);
    assert.equal(main.writes.length, 2);
    main.emit('write', 4096);
    assert.equal(recovered.length, 1, 'the buffered lines written: recovered');
    mock.timers.tick(10 * WRITE_RETRY_MS);
    assert.equal(main.writes.length, 2, 'no more tries once a write worked');
  } finally {
    mock.timers.reset();
  }
});

test("a failed write's held chunk goes out again on a line of its own, once, where other processes append to the file; not on stdout, where this process writes alone", () => {
  const quiet = { failed: () => undefined, recovered: () => undefined, reopenFailed: () => undefined, dropped: () => undefined };
  // sonic-boom's chunk in write (a string: none of it written yet) and its count of bytes held.
  const held = () => Object.assign(new FakeDestination(), { _writingBuf: '{"event":"worker.exit"}\n', _len: 24 });
  const shared = held();
  watchWriteFailures(quiet).watch(shared);
  shared.emit('error', new Error('ENOSPC'));
  shared.emit('error', new Error('ENOSPC: the retry failed too'));
  assert.equal(shared._writingBuf, '\n{"event":"worker.exit"}\n');
  assert.equal(shared._len, 25);
  const stdout = held();
  watchWriteFailures(quiet, Date.now, '"pid":42,', false).watch(stdout);
  stdout.emit('error', new Error('EAGAIN'));
  assert.equal(stdout._writingBuf, '{"event":"worker.exit"}\n');
  // Part of it written already (sonic-boom then holds its rest as a Buffer): that rest ends the
  // line begun, and goes out as it is.
  const cut = Object.assign(new FakeDestination(), { _writingBuf: Buffer.from('xit"}\n'), _len: 6 });
  watchWriteFailures(quiet).watch(cut);
  cut.emit('error', new Error('ENOSPC'));
  assert.deepEqual(cut._writingBuf, Buffer.from('xit"}\n'));
});
