// The keeper's process entry, forked as the master forks it: it beats from process start and
// leaves stopping to the master (a terminal's Ctrl-C reaches the whole process group).

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { identityEnv } from '../../src/config/identity.js';
import { IPC_TAG } from '../../src/ipc/messages.js';
import { readFile } from 'node:fs/promises';
import { EXIT } from '../../src/errors.js';
import { encodeRecord } from '../../src/sheets/keeper/journal-file.js';
import { acquireKeeperLock } from '../../src/sheets/keeper/lock.js';

const KEEPER_ENTRY = fileURLToPath(new URL('../../src/sheets/keeper-entry.js', import.meta.url));

interface Msg {
  readonly type: string;
  readonly [k: string]: unknown;
}

describe('keeper process', () => {
  let dir: string;
  let child: ChildProcess;
  const seen: Msg[] = [];
  let waiters: Array<() => void> = [];
  let exited: Promise<number | null>;

  /** Resolves with the first message (from index `from` on) that matches; bounded. */
  async function next(pred: (m: Msg) => boolean, from: number, what: string, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = seen.findIndex((m, j) => j >= from && pred(m));
      if (i >= 0) return i;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${what} (got ${seen.map((m) => m.type).join(', ')})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-keeper-main-'));
    child = fork(KEEPER_ENTRY, [], {
      cwd: dir,
      env: { CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_LOG_LEVEL: 'warn', ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    exited = new Promise((r) => child.once('exit', (code) => r(code)));
    child.on('message', (m) => {
      seen.push(m as Msg);
      for (const w of waiters.splice(0)) w();
    });
  });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('beats before it is ready, ignores SIGINT, and drains on the master\'s IPC drain', async () => {
    const ready = await next((m) => m.type === 'ready', 0, 'ready');
    assert.equal(seen[0]?.type, 'heartbeat', 'the first message is a heartbeat, sent while booting');
    child.kill('SIGINT');
    // Two beats after the signal: the keeper is still there (a drain would have exited by now).
    const beat = await next((m) => m.type === 'heartbeat', ready + 1, 'a heartbeat after SIGINT');
    await next((m) => m.type === 'heartbeat', beat + 1, 'a second heartbeat after SIGINT');
    assert.ok(!seen.some((m) => m.type === 'drained'), 'SIGINT did not drain the keeper');
    assert.equal(child.exitCode, null);
    child.send({ tag: IPC_TAG, type: 'drain', reason: 'test', gracefulMs: 5000 });
    await next((m) => m.type === 'drained', 0, 'drained');
    assert.equal(await exited, 0);
  });
});

describe('keeper process with damaged journal bytes it cannot save', () => {
  let dir: string;
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not start, says why with CORRAL_ERR_JOURNAL_QUARANTINE, and leaves the journal as it was', async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-keeper-main-'));
    // Tests run as root, whom permissions do not stop: the copy is made impossible instead by a data
    // dir so deep that the journal's path fits in PATH_MAX (4096 with its NUL) and the quarantine
    // file's (`sheets.journal.damaged-<time>`, 43 characters) does not (ENAMETOOLONG).
    let data = dir;
    while (data.length < 4052 - 201) data = join(data, 'd'.repeat(200));
    data = join(data, 'd'.repeat(4052 - data.length - 1));
    assert.equal(data.length, 4052);
    mkdirSync(data, { recursive: true });
    const journal = join(data, 'sheets.journal');
    const add = encodeRecord({ k: 'add', id: 'ev-1', r: 'Events', rows: [['ev-1', 'P001', 'goal', '', '2024-05-01']], at: 1 });
    const text = add + add.replace('goal', 'goaL') + add.slice(0, 20);
    writeFileSync(journal, text);

    const child = fork(KEEPER_ENTRY, [], {
      cwd: dir,
      env: { CORRAL_DATA_DIR: data, CORRAL_LOG_LEVEL: 'fatal', ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const seen: Msg[] = [];
    child.on('message', (m) => seen.push(m as Msg));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const failed = seen.find((m) => m.type === 'boot-failed');
    assert.equal(failed?.code, 'CORRAL_ERR_JOURNAL_QUARANTINE', `boot-failed with the code (got ${seen.map((m) => m.type).join(', ')})`);
    assert.match(String(failed?.message), /ENAMETOOLONG/);
    assert.equal(code, 7, 'EXIT.KEEPER_BOOT_ERROR: an operator must act');
    assert.equal(readFileSync(journal, 'utf8'), text, 'neither the damaged line nor the tail was removed');
    assert.deepEqual(readdirSync(data).filter((n) => n.includes('.damaged-')), []);
  });
});

describe('keeper process with a journal it may not open', { skip: process.getuid?.() === 0 ? false : 'runs the keeper as nobody through setpriv, which needs root' }, () => {
  let dir: string;
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a journal of root, mode 0600, with the keeper run as nobody: boot-failed CORRAL_ERR_JOURNAL_UNWRITABLE, keeper.boot_failed with path and errno, exit 7', async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-keeper-main-'));
    chmodSync(dir, 0o755);
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, 65534, 65534);
    const journal = join(data, 'sheets.journal');
    writeFileSync(journal, '', { mode: 0o600 });
    const logFile = join(dir, 'keeper.log');
    writeFileSync(logFile, '');
    chownSync(logFile, 65534, 65534);

    // fork() runs `execPath execArgv... module`: setpriv then execs node as nobody, the IPC channel's
    // descriptor inherited.
    const child = fork(KEEPER_ENTRY, [], {
      cwd: dir,
      execPath: 'setpriv',
      execArgv: ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath],
      env: { CORRAL_DATA_DIR: data, CORRAL_LOG_FILE: logFile, CORRAL_LOG_LEVEL: 'info', ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const seen: Msg[] = [];
    child.on('message', (m) => seen.push(m as Msg));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const failed = seen.find((m) => m.type === 'boot-failed');
    assert.equal(failed?.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE', `boot-failed with the code (got ${JSON.stringify(seen.filter((m) => m.type !== 'heartbeat'))})`);
    assert.match(String(failed?.message), new RegExp(`cannot write the journal ${journal}: EACCES`));
    assert.equal(code, 7, 'EXIT.KEEPER_BOOT_ERROR: an operator must act');
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.event === 'keeper.boot_failed');
    assert.deepEqual({ code: line?.code, path: line?.path, errno: line?.errno }, { code: 'CORRAL_ERR_JOURNAL_UNWRITABLE', path: journal, errno: 'EACCES' });
  });
});

describe('keeper process stopped with rows held for another sheet', () => {
  let dir: string;
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeper.drained does not say the journal is flushed: it warns of the held rows left in it', async () => {
    // SHEET_ID changed while rows waited: they are held (journal.held_for_other_sheet), never sent
    // here. A stop then said "keeper drained; journal flushed" (rowsLeftInJournal 0, info), the
    // very line an operator reads before moving or removing the data dir, and those acknowledged
    // rows went with it.
    dir = mkdtempSync(join(tmpdir(), 'corral-keeper-main-'));
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o700 });
    writeFileSync(join(data, 'sheets.journal'), encodeRecord({ k: 'add', id: 'held-1', r: 'Events', rows: [['ev-held', 'P001', 'goal', '', '2024-05-01']], at: Date.now(), d: 'google sheet old-sheet via https://sheets.googleapis.com' }));
    const logFile = join(dir, 'keeper.log');
    const child = fork(KEEPER_ENTRY, [], {
      cwd: dir,
      env: { CORRAL_DATA_DIR: data, CORRAL_LOG_FILE: logFile, CORRAL_LOG_LEVEL: 'info', CORRAL_BIND: '127.0.0.1:8080', ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    child.on('message', (m) => {
      if ((m as Msg).type === 'ready') child.send({ tag: IPC_TAG, type: 'drain', reason: 'shutdown', gracefulMs: 5000, hostStopping: true });
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    assert.equal(await exited, 0);
    clearTimeout(killer);
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l.event === 'journal.held_for_other_sheet'), 'the held row was said at start');
    const drained = lines.find((l) => l.event === 'keeper.drained');
    assert.ok(drained, 'keeper.drained logged');
    assert.doesNotMatch(String(drained.msg), /journal flushed/);
    assert.equal(drained.level, 'warn', 'a stop leaving acknowledged rows in the journal warns');
    assert.match(String(drained.msg), /1 acknowledged row held for another sheet/);
  });
});

describe('keeper process on a journal a newer build wrote (a rollback)', () => {
  let dir: string;
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not start: boot-failed CORRAL_ERR_JOURNAL_FORMAT, keeper.boot_failed naming both formats and what to do, exit 7, the journal as it was', async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-keeper-main-'));
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o700 });
    const journal = join(data, 'sheets.journal');
    // A record of a kind this build does not know, and one whose rows it cannot read: either would
    // have been passed over, or quarantined and dropped, and its rows lost.
    const text =
      encodeRecord({ k: 'format', v: 2 }) +
      encodeRecord({ k: 'add', id: 'ev-1', r: 'Events', rows: { packed: 'ev-1,P001,goal' }, at: Date.now() }) +
      encodeRecord({ k: 'acked', ids: ['ev-1'], at: Date.now() });
    writeFileSync(journal, text);
    const logFile = join(dir, 'keeper.log');
    const child = fork(KEEPER_ENTRY, [], {
      cwd: dir,
      env: { CORRAL_DATA_DIR: data, CORRAL_LOG_FILE: logFile, CORRAL_LOG_LEVEL: 'info', ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const seen: Msg[] = [];
    child.on('message', (m) => seen.push(m as Msg));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(killer);
    const failed = seen.find((m) => m.type === 'boot-failed');
    assert.equal(failed?.code, 'CORRAL_ERR_JOURNAL_FORMAT', `boot-failed with the code (got ${JSON.stringify(seen.filter((m) => m.type !== 'heartbeat'))})`);
    assert.match(String(failed?.message), new RegExp(`${journal} declares format 2, and this build of corral writes format 1`));
    assert.match(String(failed?.message), /Run the newer build again/);
    assert.equal(code, 7, 'EXIT.KEEPER_BOOT_ERROR: the master restarts it with its backoff, an operator must act');
    assert.equal(readFileSync(journal, 'utf8'), text, 'not a byte of the journal changed');
    assert.deepEqual(readdirSync(data).filter((n) => n.startsWith('sheets.journal')), ['sheets.journal'], 'no quarantine copy, no rewrite');
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.event === 'keeper.boot_failed');
    assert.equal(line?.code, 'CORRAL_ERR_JOURNAL_FORMAT');
    assert.match(String(line?.msg), /^keeper cannot start: the write journal .* declares format 2/);
    assert.equal(lines.some((l) => l.event === 'journal.damaged' || l.event === 'journal.torn_tail' || l.event === 'journal.replayed'), false);
  });
});

describe('keeper process whose lock another keeper takes', () => {
  it('leaves the journal to it: exits with KEEPER_LOCK_TAKEN, not as a crash', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-keeper-main-lock-'));
    const data = join(dir, 'data');
    const child = fork(KEEPER_ENTRY, [], {
      cwd: dir,
      env: { CORRAL_DATA_DIR: data, CORRAL_LOG_LEVEL: 'warn', ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let other: Awaited<ReturnType<typeof acquireKeeperLock>> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        child.on('message', (m) => (m as Msg).type === 'ready' && resolve());
        void exited.then((code) => reject(new Error(`keeper exited ${code} before ready`)));
      });
      // The lock removed under it, and taken by another process (this one) as a second corral's keeper would.
      rmSync(join(data, 'keeper.lock'));
      other = await acquireKeeperLock(data, 1000);
      // Found by its file check (every 2 s).
      assert.equal(await exited, EXIT.KEEPER_LOCK_TAKEN);
      assert.equal((await readFile(join(data, 'keeper.lock'), 'utf8')).split(' ')[0], String(process.pid), 'the holder keeps its lock');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await other?.release();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
