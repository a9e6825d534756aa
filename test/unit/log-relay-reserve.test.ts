import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RESERVED_BYTES, relaySink } from '../../src/log/relay-sink.js';
import { LOG_BUFFER_MAX_BYTES } from '../../src/log/write-failure.js';

const LOGGER_MODULE = fileURLToPath(new URL('../../src/log/logger.js', import.meta.url));

/** A relayed access line shorter than any line the master logs: the buffer then fills to within less than one of them. */
const ACCESS_LINE = '{"level":"info","role":"worker","worker":1,"event":"access","n":0}\n';

/** Lines that fill the buffer past its cap in one turn, so that no write frees room meanwhile. */
const OVERFLOW_LINES = Math.ceil((LOG_BUFFER_MAX_BYTES * 1.1) / ACCESS_LINE.length);

/** Runs `body` in a process of its own after `log` is created for `identity` on stdout; returns its output's lines. */
function runLogging(identity: string, body: string): string[] {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER_MODULE)};
const log = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'info' }, ${identity});
${body}
log.flush();
process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 4 * LOG_BUFFER_MAX_BYTES });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.split('\n');
  assert.equal(out.pop(), '', 'the output ends on a whole line');
  return out;
}

/** The access lines written filled the buffer up to the reserve, and not into it. */
function assertFilledToReserve(accessBytes: number): void {
  assert.ok(accessBytes <= LOG_BUFFER_MAX_BYTES - RESERVED_BYTES, 'the access lines kept out of the reserve');
  assert.ok(accessBytes > LOG_BUFFER_MAX_BYTES - RESERVED_BYTES - 64 * 1024, 'the access lines use the rest');
}

test('a master whose stdout buffer is full of relayed access lines still writes its own last lines, and says how many relayed lines it dropped', () => {
  // As under load through a slow reader: the relay fills the master's stdout buffer faster than
  // the reader empties it, then a child's lifecycle line is relayed and the master exits. The
  // master's lines were dropped with the access lines past the buffer's cap, and log.dropped was
  // never said.
  const out = runLogging(
    "{ role: 'master' }",
    `const sink = log.stdoutSink();
const line = ${JSON.stringify(ACCESS_LINE)};
for (let i = 0; i < ${OVERFLOW_LINES}; i++) sink.write(line);
sink.write('{"level":"info","role":"worker","worker":1,"event":"worker.draining","msg":"draining"}\\n');
log.logger.info({ event: 'worker.exit', worker_id: 1 }, 'worker 1 exited');
await log.drained(5000);
log.logger.info({ event: 'master.exit', exit_code: 0 }, 'master exiting with code 0');`,
  );
  const relayed = out.filter((l) => l === ACCESS_LINE.slice(0, -1)).length;
  const own = out.filter((l) => l !== ACCESS_LINE.slice(0, -1)).map((l) => JSON.parse(l) as Record<string, unknown>);
  // As master/run.ts exits: the drops said at drained(), master.exit the last line.
  assert.deepEqual(own.map((l) => l.event), ['worker.draining', 'worker.exit', 'log.dropped', 'master.exit']);
  assert.equal(own.at(-2)?.dropped, OVERFLOW_LINES - relayed, 'every relayed line not written is counted');
  // Said as stdout's and the children's, not as "this process's" lines and "the log file" there is none of.
  assert.equal(own.at(-2)?.relayed, OVERFLOW_LINES - relayed);
  assert.equal(own.at(-2)?.msg, `${OVERFLOW_LINES - relayed} log lines of the master's children (relayed to stdout) dropped: lines came faster than stdout was read (the journal, or whatever reads corral's output)`);
  assertFilledToReserve(relayed * ACCESS_LINE.length);
});

test('a worker whose stdout buffer is full of its own access lines still writes its lifecycle lines, and says how many access lines it dropped', () => {
  // As when the master falls behind reading the worker's pipe: the worker's access lines filled
  // its one stdout buffer, and its worker.draining and exit lines were dropped with them.
  const out = runLogging(
    "{ role: 'worker', worker: 1 }",
    `const access = log.access();
for (let i = 0; i < ${OVERFLOW_LINES}; i++) access.info({ event: 'access', n: i });
log.logger.info({ event: 'worker.draining' }, 'draining');
await log.drained(5000);
log.logger.info({ event: 'worker.exit_clean' }, 'exiting');`,
  );
  const parsed = out.map((l) => JSON.parse(l) as Record<string, unknown>);
  const written = parsed.filter((l) => l.event === 'access').length;
  const own = parsed.filter((l) => l.event !== 'access');
  assert.deepEqual(own.map((l) => l.event), ['worker.draining', 'log.dropped', 'worker.exit_clean']);
  assert.equal(own[1]?.dropped, OVERFLOW_LINES - written, 'every access line not written is counted');
  assert.equal(own[1]?.relayed, 0, 'its own lines');
  assert.match(String(own[1]?.msg), /^\d+ log lines of this process dropped: lines came faster than the master read this process's stdout/);
  assertFilledToReserve(out.filter((l) => l.includes('"event":"access"')).reduce((n, l) => n + l.length + 1, 0));
});

test('past its share, a relayed chunk loses its access lines only; under it, it is written as it came', () => {
  const written: string[] = [];
  const dropped: string[] = [];
  const d = {
    _len: 0,
    write(data: string) {
      written.push(data);
      this._len += Buffer.byteLength(data);
      return true;
    },
    emit(_event: 'drop', data: string) {
      dropped.push(data);
      return true;
    },
  };
  const sink = relaySink(d);
  const chunk = `${ACCESS_LINE}{"event":"worker.draining"}\n${ACCESS_LINE}<6>{"event":"worker.exit"}\nan app's stray output`;
  sink.write(chunk);
  assert.deepEqual(written, [chunk]);
  d._len = LOG_BUFFER_MAX_BYTES - RESERVED_BYTES - 10;
  sink.write(chunk);
  assert.deepEqual(written.slice(1), [`{"event":"worker.draining"}\n<6>{"event":"worker.exit"}\nan app's stray output`]);
  assert.deepEqual(dropped, [ACCESS_LINE + ACCESS_LINE]);
  sink.write(ACCESS_LINE);
  assert.equal(written.length, 2, 'nothing to write: nothing written');
});
