import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isJournalFd, priorityOf } from '../../src/log/journal.js';
import { createLogger } from '../../src/log/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const LOGGER_MODULE = fileURLToPath(new URL('../../src/log/logger.js', import.meta.url));

/** Lines split into their `<N>` prefix and the JSON after it. */
function prefixed(text: string): Array<{ priority: string | undefined; json: Record<string, unknown> }> {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(<\d>)?(.*)$/.exec(l);
      return { priority: m?.[1], json: JSON.parse(m?.[2] ?? '') as Record<string, unknown> };
    });
}

test('with journal priorities each line starts with the syslog priority of its level, access lines with debug', () => {
  const file = join(dir, 'levels.log');
  const log = createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'trace' }, { role: 'worker', worker: 1, generation: 1 }, { sync: true, journal: true });
  log.logger.fatal({ event: 'a' }, 'fatal');
  log.logger.error({ event: 'b' }, 'error');
  log.logger.warn({ event: 'c' }, 'warn');
  log.logger.info({ event: 'd' }, 'info');
  log.logger.debug({ event: 'e' }, 'debug');
  log.logger.trace({ event: 'f' }, 'trace');
  log.logger.child({ request: 1 }).error({ event: 'g' }, 'from a child logger');
  log.access().info({ event: 'access', path: '/' }, 'GET /');
  log.flush();
  const lines = prefixed(readFileSync(file, 'utf8'));
  assert.deepEqual(
    lines.map((l) => [l.json.event, l.json.level, l.priority]),
    [
      ['a', 'fatal', '<2>'],
      ['b', 'error', '<3>'],
      ['c', 'warn', '<4>'],
      ['d', 'info', '<6>'],
      ['e', 'debug', '<7>'],
      ['f', 'trace', '<7>'],
      ['g', 'error', '<3>'],
      ['access', 'info', '<7>'],
    ],
  );
});

test('lines to a log file carry no priority prefix', () => {
  const file = join(dir, 'plain.log');
  const log = createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'info' }, { role: 'master' }, { sync: true });
  log.logger.error({ event: 'x' }, 'error');
  log.access().info({ event: 'access' }, 'GET /');
  log.flush();
  assert.deepEqual(
    prefixed(readFileSync(file, 'utf8')).map((l) => l.priority),
    [undefined, undefined],
  );
});

test('priorityOf reads the level a line begins with; anything else counts as info', () => {
  assert.equal(priorityOf('{"level":"error","time":"x"}\n'), '<3>');
  assert.equal(priorityOf('{"level":"warn"}\n'), '<4>');
  assert.equal(priorityOf('not json\n'), '<6>');
  assert.equal(priorityOf(''), '<6>');
});

test('a descriptor is the journal only when $JOURNAL_STREAM names its device and inode', () => {
  const fd = openSync(join(dir, 'stream'), 'w');
  try {
    const st = fstatSync(fd, { bigint: true });
    assert.equal(isJournalFd(fd, { dev: st.dev, ino: st.ino }), true);
    assert.equal(isJournalFd(fd, { dev: st.dev, ino: st.ino + 1n }), false, 'another inode: output was redirected');
    assert.equal(isJournalFd(fd, undefined), false, 'not started by systemd');
  } finally {
    closeSync(fd);
  }
  assert.equal(isJournalFd(fd, { dev: 0n, ino: 0n }), false, 'a closed descriptor is not the journal');
});

/** Runs a process that logs one error and one info line to stdout (a file here), with the given JOURNAL_STREAM. */
function logFromChild(name: string, journalStream: (st: { dev: bigint; ino: bigint }) => string | undefined): string {
  const out = join(dir, name);
  const fd = openSync(out, 'w');
  try {
    const st = fstatSync(fd, { bigint: true });
    const stream = journalStream(st);
    const script = `import { createLogger } from ${JSON.stringify(LOGGER_MODULE)};
const log = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'info' }, { role: 'master' }, { sync: true });
log.logger.error({ event: 'reload.failed' }, 'refused');
log.logger.info({ event: 'master.ready' }, 'ready');`;
    const env = { ...process.env };
    delete env.JOURNAL_STREAM;
    if (stream !== undefined) env.JOURNAL_STREAM = stream;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', fd, 'pipe'], env, timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr.toString());
  } finally {
    closeSync(fd);
  }
  return readFileSync(out, 'utf8');
}

test('a process whose stdout is the journal stream prefixes its lines by default; one whose stdout was redirected does not', () => {
  const journal = prefixed(logFromChild('child-journal.out', (st) => `${st.dev}:${st.ino}`));
  assert.deepEqual(
    journal.map((l) => [l.json.event, l.priority]),
    [
      ['reload.failed', '<3>'],
      ['master.ready', '<6>'],
    ],
  );
  const redirected = prefixed(logFromChild('child-redirected.out', (st) => `${st.dev}:${st.ino + 1n}`));
  assert.deepEqual(
    redirected.map((l) => l.priority),
    [undefined, undefined],
  );
  const outside = prefixed(logFromChild('child-outside.out', () => undefined));
  assert.deepEqual(
    outside.map((l) => l.priority),
    [undefined, undefined],
  );
});
