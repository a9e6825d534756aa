import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { relayedStderrPriority } from '../../src/log/journal.js';
import { createSpawner } from '../../src/master/spawner.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-relay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Forks `source` as the keeper and collects what the master relays to its own stderr. */
async function relayedStderr(source: string, stderrJournal: boolean, done = (lines: readonly string[]) => lines.length >= 3): Promise<string[]> {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(script, source);
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const spawner = createSpawner({ workerExec: script, keeperExec: script, listenSocket: { accept: 'shared', backlog: 16 }, stderrJournal });
    await new Promise<void>((resolve) => spawner.spawn({ role: 'keeper', workerId: 0, generation: 1 }, {}, { onMessage: () => {}, onExit: () => resolve() }));
    // The pipe may still hold the child's last lines when its exit is seen.
    const deadline = Date.now() + 5000;
    while (!done(lines) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  } finally {
    process.stderr.write = write;
  }
  return lines;
}

const CHILD = `process.stderr.write('{"level":"error","event":"log.write_failed"}\\n{"level":"info","event":"x"}\\n(node) a warning\\n');`;

test("a child's stderr line reaches the journal at its own level when it is a JSON line of ours, as a warning otherwise", async () => {
  assert.deepEqual(await relayedStderr(CHILD, true), ['<3>{"level":"error","event":"log.write_failed"}\n', '<6>{"level":"info","event":"x"}\n', '<4>(node) a warning\n']);
});

test("a child's stderr lines are relayed as they are when stderr is not the journal", async () => {
  assert.deepEqual(await relayedStderr(CHILD, false), ['{"level":"error","event":"log.write_failed"}\n', '{"level":"info","event":"x"}\n', '(node) a warning\n']);
});

test('relayedStderrPriority: the level of a pino line, warning for anything else', () => {
  assert.equal(relayedStderrPriority('{"level":"fatal"}\n'), '<2>');
  assert.equal(relayedStderrPriority('{"level":"error"}\n'), '<3>');
  assert.equal(relayedStderrPriority('{"level":"debug"}\n'), '<7>');
  assert.equal(relayedStderrPriority('Error: boom\n'), '<4>');
  assert.equal(relayedStderrPriority(''), '<4>');
});

test("a child's stdout is relayed in whole lines only, however the pipe cuts it; a last unfinished line gets its newline", async () => {
  const { PassThrough } = await import('node:stream');
  const { relayStdout } = await import('../../src/master/stdout-relay.js');
  const pipe = new PassThrough();
  const writes: string[] = [];
  const relay = relayStdout(pipe, { write: (text: string) => writes.push(text) });
  pipe.write('{"a":1}\n{"b":');
  pipe.write('2}\n{"c"');
  pipe.write(':3}\n{"killed mid-line"');
  pipe.end();
  await relay.ended(5000);
  assert.deepEqual(writes, ['{"a":1}\n', '{"b":2}\n', '{"c":3}\n', '{"killed mid-line"\n']);
  for (const w of writes) assert.ok(w.endsWith('\n'));
});

test("a child's stderr that never ends its line (a progress bar redrawn with \\r) is relayed in pieces of at most RELAY_MAX_PARTIAL, not held whole", async () => {
  const { RELAY_MAX_PARTIAL } = await import('../../src/master/stdout-relay.js');
  // 3 MiB with no newline, then its end and one more line. The master held all of it (and split
  // all of it again at every 64 KiB chunk: quadratic) until the newline came.
  const child = `const bar = 'progress 42% [=====>    ]\\r'.repeat(4096); for (let n = 0; n < ${3 * 1048576}; n += bar.length) process.stderr.write(bar); process.stderr.write('\\nafter\\n');`;
  const lines = await relayedStderr(child, false, (l) => l.at(-1)?.endsWith('after\n') === true);
  assert.equal(lines.at(-1), 'after\n', 'the line after the long one is a line of its own');
  assert.ok(lines.length >= 4, `the long line came in pieces (${lines.length} writes)`);
  for (const line of lines) {
    assert.ok(line.endsWith('\n'), 'every write ends its line: the next child line cannot run on from it');
    // At most the cap, plus the chunk that crossed it, plus the newline.
    assert.ok(line.length <= RELAY_MAX_PARTIAL + 65536 + 1, `a write of ${line.length} characters`);
  }
  const bar = 'progress 42% [=====>    ]\r'.repeat(4096).length;
  const written = Math.ceil((3 * 1048576) / bar) * bar;
  assert.equal(lines.join('').replaceAll('\n', '').length, written + 'after'.length, 'nothing lost');
});

test("with the child named, its stdout lines outside corral's logger are relayed as JSON lines of that child's; its own lines as they are", async () => {
  const { PassThrough } = await import('node:stream');
  const { relayStdout } = await import('../../src/master/stdout-relay.js');
  const relay = async (chunks: string[], journal: boolean) => {
    const pipe = new PassThrough();
    const writes: string[] = [];
    const r = relayStdout(pipe, { write: (text: string) => writes.push(text) }, { role: 'worker', workerId: 3, generation: 2, pid: 4242, journal });
    for (const c of chunks) pipe.write(c);
    pipe.end();
    await r.ended(5000);
    return writes.join('').split('\n').slice(0, -1);
  };
  const ours = '{"level":"info","time":"t","event":"access"}';
  const lines = await relay([`${ours}\nhello from console.log\n`, `50%${ours}\n`, '{ id: 7 }\n', `${ours.slice(0, 20)}`], false);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    parsed.map((l) => (l.event === 'stdout.raw' ? ['raw', l.msg, l.role, l.worker, l.pid, l.gen, l.level] : ['ours', l.event])),
    [
      ['ours', 'access'],
      ['raw', 'hello from console.log', 'worker', 3, 4242, 2, 'info'],
      // A partial line of the app's, the next log line run on from it: each said as what it is.
      ['raw', '50%', 'worker', 3, 4242, 2, 'info'],
      ['ours', 'access'],
      // console.log of an object: begins with { but is no line of ours.
      ['raw', '{ id: 7 }', 'worker', 3, 4242, 2, 'info'],
      // A line of ours cut short by a kill.
      ['raw', ours.slice(0, 20), 'worker', 3, 4242, 2, 'info'],
    ],
  );
  assert.equal(lines[0], ours, 'a line of ours is relayed unchanged');
  // Journal: lines of ours carry their priority; a wrapped one gets info's.
  const journal = await relay([`<6>${ours}\nplain\n`, `50%<7>${ours}\n`], true);
  assert.equal(journal[0], `<6>${ours}`);
  assert.match(journal[1] ?? '', /^<6>\{"level":"info",.*"event":"stdout\.raw","msg":"plain"\}$/);
  // A partial line of the app's, a line of ours run on from it: ours keeps its priority (debug for
  // an access line), the app's text does not take it.
  assert.match(journal[2] ?? '', /^<6>\{"level":"info",.*"event":"stdout\.raw","msg":"50%"\}$/);
  assert.equal(journal[3], `<7>${ours}`);
});
