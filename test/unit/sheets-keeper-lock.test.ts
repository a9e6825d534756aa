// The keeper's data dir lock when several keepers start at once. Each contender stands in for a
// separate process (its own pid, all of them alive), so the race runs in one test process.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { waitFor } from '../helpers/corral.js';
import { acquireKeeperLock, FOREIGN_LOCK_STALE_MS, UNNAMED_TEMP_AGE_MS, type KeeperLock, type LockSelf } from '../../src/sheets/keeper/lock.js';

const LOCK_MODULE = new URL('../../src/sheets/keeper/lock.js', import.meta.url).href;

const DEAD_PID = 999_999;
/** The real start time comes from reading /proc: async, and its latency varies. */
const jitter = () => new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
const contender = (pid: number): LockSelf => ({
  pid,
  alive: (p) => p !== DEAD_PID,
  startTime: async () => {
    await jitter();
    return undefined;
  },
});

async function race(dir: string, n: number, firstPid: number): Promise<KeeperLock[]> {
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => acquireKeeperLock(dir, 0, undefined, contender(firstPid + i))));
  for (const r of results) {
    if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'CORRAL_ERR_JOURNAL');
  }
  return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

describe('keeper lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('exactly one of several keepers starting at once wins, round after round', async () => {
    for (let round = 0; round < 30; round++) {
      const winners = await race(dir, 6, 1000 + round * 10);
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} keepers hold the lock`);
      await winners[0]?.release();
    }
    assert.deepEqual(readdirSync(dir), [], 'no lock or temporary file left behind');
  });

  it('a released lock is not written back by a check of it that comes after the release (the file watch, in flight at the close)', async () => {
    const lock = await acquireKeeperLock(dir, 0, undefined, contender(3000));
    await lock.release();
    assert.equal(await lock.verify(), undefined);
    assert.deepEqual(readdirSync(dir), [], 'the data dir is the next keeper\'s: no lock of this one left in it');
  });

  it("exactly one takes over a dead keeper's lock", async () => {
    for (let round = 0; round < 30; round++) {
      writeFileSync(join(dir, 'keeper.lock'), `${DEAD_PID} \n`);
      const winners = await race(dir, 6, 2000 + round * 10);
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} keepers hold the lock`);
      await winners[0]?.release();
    }
  });

  it('a live owner is waited for, then its released lock is taken', async () => {
    const first = await acquireKeeperLock(dir, 0, undefined, contender(3001));
    const waited: number[] = [];
    const second = acquireKeeperLock(dir, 5000, (pid) => waited.push(pid), contender(3002));
    for (const deadline = Date.now() + 5000; waited.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    await first.release();
    const lock = await second;
    assert.deepEqual(waited, [3001]);
    await lock.release();
  });

  it('a held lock removed under its keeper is written again, and one another keeper took meanwhile is named', async () => {
    const held = await acquireKeeperLock(dir, 0, undefined, contender(3101));
    assert.equal(await held.verify(), undefined, 'its own lock: nothing to do');
    const line = readFileSync(join(dir, 'keeper.lock'), 'utf8');

    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    assert.deepEqual(await held.verify(), { state: 'restored' });
    assert.equal(readFileSync(join(dir, 'keeper.lock'), 'utf8'), line, 'the same line: its release still removes it');
    // A second keeper starting now waits for the first instead of taking the data dir.
    await assert.rejects(acquireKeeperLock(dir, 100, undefined, contender(3102)), { code: 'CORRAL_ERR_JOURNAL' });

    rmSync(join(dir, 'keeper.lock'));
    const other = await acquireKeeperLock(dir, 0, undefined, contender(3103));
    assert.deepEqual(await held.verify(), { state: 'taken', holderPid: 3103 });
    await held.release();
    assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^3103 /, "a keeper's release never removes another's lock");
    await other.release();
  });

  // What a power loss may leave of a lock whose link reached the disk before its content: nothing,
  // NUL bytes, or the start of the line. Every pid here is alive (pid 1 is, on any host): only the
  // form of the line tells that no live keeper wrote it.
  for (const [what, content] of [
    ['empty', ''],
    ['NUL bytes', '\0'.repeat(24)],
    ['cut short', '1'],
    ['cut short after the pid', '4242 1'],
  ] as const) {
    it(`a lock file found ${what} at start is taken over at once, not waited for`, async () => {
      writeFileSync(join(dir, 'keeper.lock'), content);
      const waited: number[] = [];
      const started = Date.now();
      const lock = await acquireKeeperLock(dir, 2000, (pid) => waited.push(pid), contender(5001));
      assert.deepEqual(waited, [], 'no owner waited for');
      assert.ok(Date.now() - started < 1000, `taken in ${Date.now() - started} ms`);
      assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^5001 - [0-9a-f]{16}\n$/);
      await lock.release();
      assert.deepEqual(readdirSync(dir), []);
    });
  }

  it('a whole lock line of a live owner is still waited for, then refused', async () => {
    writeFileSync(join(dir, 'keeper.lock'), '4242 - 0123456789abcdef\n');
    const waited: number[] = [];
    await assert.rejects(acquireKeeperLock(dir, 300, (pid) => waited.push(pid), contender(5002)), { code: 'CORRAL_ERR_JOURNAL' });
    assert.deepEqual(waited, [4242]);
  });

  it('a keeper stopped (SIGTERM, process.exit) while it waits for the lock, in the middle of writing its temporary file, leaves no temporary file', async () => {
    // Held by this (live) process: the child waits. Its first link() of a temporary file sends
    // it SIGTERM and never returns, and its SIGTERM handler exits as keeper-main's does while
    // booting: the exit comes between two awaits of the lock's write, the temporary file there.
    writeFileSync(join(dir, 'keeper.lock'), `${process.pid} - 0123456789abcdef\n`);
    const child = `
      import { createRequire, syncBuiltinESMExports } from 'node:module';
      import { existsSync } from 'node:fs';
      const fsp = createRequire(import.meta.url)('node:fs/promises');
      fsp.link = async (tmp) => {
        console.log(JSON.stringify({ linking: tmp, present: existsSync(tmp) }));
        process.kill(process.pid, 'SIGTERM');
        return new Promise(() => {});
      };
      syncBuiltinESMExports();
      process.on('SIGTERM', () => process.exit(0));
      // The hung link leaves nothing else pending: without this the loop would end before the signal.
      setInterval(() => {}, 1000);
      const { acquireKeeperLock } = await import(${JSON.stringify(LOCK_MODULE)});
      await acquireKeeperLock(${JSON.stringify(dir)}, 30000);
      process.exit(3);
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', child], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const seen = JSON.parse(out.trim().split('\n')[0] ?? '{}') as { linking?: string; present?: boolean };
    assert.match(seen.linking ?? '', /keeper\.lock\.tmp-[0-9]+-[0-9A-Za-z-]+-[0-9a-f]{12}$/);
    assert.equal(seen.present, true, 'the temporary file was there when the keeper was stopped');
    assert.deepEqual(readdirSync(dir), ['keeper.lock'], 'only the holder\'s lock is left');
  });

  it("the keeper that takes the lock removes temporary files of dead processes, never those of a live keeper still writing one", async () => {
    const hex = '0123456789ab';
    const files = {
      dead: `keeper.lock.tmp-${DEAD_PID}---${hex}`,
      deadBreaker: `keeper.lock.break-0123456789abcdef.tmp-${DEAD_PID}-55-${hex}`,
      reusedPid: `keeper.lock.tmp-4243-111-${hex}`,
      live: `keeper.lock.tmp-4242-777-${hex}`,
      liveNoProc: `keeper.lock.tmp-4244---${hex}`,
      olderBuildOld: `keeper.lock.tmp-${hex}`,
      olderBuildRecent: 'keeper.lock.tmp-ba9876543210',
      other: 'sheets.journal',
    };
    for (const name of Object.values(files)) writeFileSync(join(dir, name), '');
    const old = (Date.now() - UNNAMED_TEMP_AGE_MS - 60_000) / 1000;
    utimesSync(join(dir, files.olderBuildOld), old, old);
    const starts: Record<number, string> = { 4242: '777', 4243: '222' };
    const self: LockSelf = { pid: 5003, alive: (p) => p !== DEAD_PID, startTime: async (p) => starts[p] };
    const lock = await acquireKeeperLock(dir, 0, undefined, self);
    assert.deepEqual(readdirSync(dir).sort(), ['keeper.lock', files.live, files.liveNoProc, files.olderBuildRecent, files.other].sort());
    await lock.release();
  });

  describe('a keeper of another pid namespace (another container on the same data dir)', () => {
    // Its pid means nothing here: dead, or another process. Judged by pid, its live lock was broken at once.
    const inNs = (pid: number, ns: string, heartbeatMs?: number): LockSelf => ({
      pid,
      alive: (p) => p === pid,
      startTime: async () => undefined,
      pidNamespace: async () => ns,
      ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    });

    it('is waited for while its lock is refreshed, then refused', async () => {
      const theirs = await acquireKeeperLock(dir, 0, undefined, inNs(7, 'pid:[1001]'));
      try {
        assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^7 - [0-9a-f]{16} pid:\[1001\]\n$/);
        const waited: number[] = [];
        await assert.rejects(acquireKeeperLock(dir, 300, (pid) => waited.push(pid), inNs(7, 'pid:[2002]')), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'CORRAL_ERR_JOURNAL');
          assert.match(err.message, /another pid namespace \(pid:\[1001\]/);
          return true;
        });
        assert.deepEqual(waited, [7]);
        assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /pid:\[1001\]/, 'still theirs');
      } finally {
        await theirs.release();
      }
    });

    it('is taken over once its lock went unrefreshed FOREIGN_LOCK_STALE_MS (its container killed)', async () => {
      writeFileSync(join(dir, 'keeper.lock'), '7 - 0123456789abcdef pid:[1001]\n');
      const old = (Date.now() - FOREIGN_LOCK_STALE_MS - 1000) / 1000;
      utimesSync(join(dir, 'keeper.lock'), old, old);
      const lock = await acquireKeeperLock(dir, 2000, undefined, inNs(7, 'pid:[2002]'));
      assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /pid:\[2002\]\n$/);
      await lock.release();
    });

    it("is refreshed by its holder, so a long-held lock is never taken for a dead keeper's", async () => {
      const theirs = await acquireKeeperLock(dir, 0, undefined, inNs(7, 'pid:[1001]', 20));
      try {
        const old = (Date.now() - FOREIGN_LOCK_STALE_MS - 1000) / 1000;
        utimesSync(join(dir, 'keeper.lock'), old, old);
        // Its holder's next heartbeat (every 20 ms) brings the file's time back: waited for, not a
        // fixed 200 ms a loaded box may outlast (the lock then taken as a dead keeper's, a false failure).
        await waitFor(() => Date.now() - statSync(join(dir, 'keeper.lock')).mtimeMs < FOREIGN_LOCK_STALE_MS, 10_000, 'the holder refreshing its lock');
        await assert.rejects(acquireKeeperLock(dir, 100, undefined, inNs(8, 'pid:[2002]')), { code: 'CORRAL_ERR_JOURNAL' });
      } finally {
        await theirs.release();
      }
      assert.deepEqual(readdirSync(dir), [], 'released');
    });

    it("a keeper of another host whose pid namespace has the same name (every host's initial one is pid:[4026531836]) is judged by its heartbeat, not by a pid of that host", async () => {
      // Two hosts running corral from one NFS-mounted directory (CORRAL_DATA_DIR defaults to
      // `data`, relative): outside containers both name the kernel's initial pid namespace, a
      // constant. Judged by pid, the other host's live keeper was "dead" here and its lock broken
      // at once: two keepers flushed, and rewrote, one journal.
      const onHost = (pid: number, host: string): LockSelf => ({ ...inNs(pid, 'pid:[4026531836]', 20), hostId: async () => host });
      const theirs = await acquireKeeperLock(dir, 0, undefined, onHost(7, 'host-a'));
      try {
        await assert.rejects(acquireKeeperLock(dir, 300, undefined, onHost(8, 'host-b')), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'CORRAL_ERR_JOURNAL');
          assert.match(err.message, /another host/);
          return true;
        });
        assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^7 - [0-9a-f]{16} pid:\[4026531836\] host-a\n$/, 'still theirs');
      } finally {
        await theirs.release();
      }
      // Its lock left unrefreshed (the host died with its keeper) is taken over once seen unchanged
      // FOREIGN_LOCK_STALE_MS here (its time is the other host's clock's, not this one's).
      writeFileSync(join(dir, 'keeper.lock'), '7 - 0123456789abcdef pid:[4026531836] host-a\n');
      const old = (Date.now() - FOREIGN_LOCK_STALE_MS - 1000) / 1000;
      utimesSync(join(dir, 'keeper.lock'), old, old);
      const lock = await acquireKeeperLock(dir, FOREIGN_LOCK_STALE_MS + 3000, undefined, onHost(8, 'host-b'));
      assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^8 .* host-b\n$/);
      await lock.release();
    });

    it("a live keeper of another host whose clock is behind this one's is waited for: its lock's time is judged by its changes, not by this host's clock", async () => {
      // Host A's clock 10 s behind host B's (no NTP yet, a drifting VM): the time A's heartbeat
      // writes (utimes with A's now) reads 10 s old on B at every look. Judged by B's clock, A's
      // live lock was a dead keeper's, broken at once: two keepers on one journal.
      const lockPath = join(dir, 'keeper.lock');
      writeFileSync(lockPath, '7 - 0123456789abcdef pid:[4026531836] host-a\n');
      const beatBehind = () => {
        const t = (Date.now() - 10_000) / 1000;
        utimesSync(lockPath, t, t);
      };
      beatBehind();
      const beat = setInterval(beatBehind, 200);
      try {
        await assert.rejects(acquireKeeperLock(dir, FOREIGN_LOCK_STALE_MS + 1500, undefined, { ...inNs(8, 'pid:[4026531836]'), hostId: async () => 'host-b' }), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'CORRAL_ERR_JOURNAL');
          assert.match(err.message, /another host \(host-a/);
          return true;
        });
        assert.match(readFileSync(lockPath, 'utf8'), /host-a\n$/, 'still theirs');
      } finally {
        clearInterval(beat);
      }
    });

    it("a dead keeper of another host whose lock's time is ahead of this host's clock is taken over once it stops changing", async () => {
      // This host's clock behind the other's (a board without a battery-backed clock, before NTP):
      // by this clock the dead keeper's lock read as refreshed in the future, and was waited for
      // until the wait ran out, at every start.
      writeFileSync(join(dir, 'keeper.lock'), '7 - 0123456789abcdef pid:[4026531836] host-a\n');
      const future = (Date.now() + 3600_000) / 1000;
      utimesSync(join(dir, 'keeper.lock'), future, future);
      const lock = await acquireKeeperLock(dir, FOREIGN_LOCK_STALE_MS + 3000, undefined, { ...inNs(8, 'pid:[4026531836]'), hostId: async () => 'host-b' });
      assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^8 .* host-b\n$/);
      await lock.release();
    });

    it("the same host's own dead keeper (its previous boot, a power loss) is still judged by pid: taken at once, whatever the clock says of its lock's time", async () => {
      writeFileSync(join(dir, 'keeper.lock'), `${DEAD_PID} - 0123456789abcdef pid:[4026531836] host-a\n`);
      // A clock behind the lock's time (no battery-backed clock, NTP not yet synced): a heartbeat
      // judge would wait for it.
      const future = (Date.now() + 3600_000) / 1000;
      utimesSync(join(dir, 'keeper.lock'), future, future);
      const started = Date.now();
      const lock = await acquireKeeperLock(dir, 2000, undefined, { ...inNs(9, 'pid:[4026531836]'), alive: (p) => p !== DEAD_PID, hostId: async () => 'host-a' });
      assert.ok(Date.now() - started < 1000);
      await lock.release();
    });

    it("the same host's dead keeper of another pid namespace (its container, before the host's clock was set back) is taken over once its lock stops changing, not waited for until the clock catches up", async () => {
      // A container restarted after a reboot or an NTP step back: a new pid namespace, the same
      // hostname, and the lock its killed keeper refreshed last carries a time ahead of this
      // clock. Judged by its age on this clock it read as refreshed in the future (age < 0), so
      // every start waited the whole lock wait and failed CORRAL_ERR_JOURNAL ("refreshed -3600 s
      // ago") until the clock passed that time: no keeper, every write 503, for the step's length.
      writeFileSync(join(dir, 'keeper.lock'), '7 - 0123456789abcdef pid:[1001] host-a\n');
      const future = (Date.now() + 3600_000) / 1000;
      utimesSync(join(dir, 'keeper.lock'), future, future);
      const lock = await acquireKeeperLock(dir, FOREIGN_LOCK_STALE_MS + 3000, undefined, { ...inNs(8, 'pid:[2002]'), hostId: async () => 'host-a' });
      assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^8 .* pid:\[2002\] host-a\n$/);
      await lock.release();
    });

    it('the same namespace is still judged by pid: a dead keeper\'s lock is taken at once', async () => {
      writeFileSync(join(dir, 'keeper.lock'), `${DEAD_PID} - 0123456789abcdef pid:[1001]\n`);
      const started = Date.now();
      const lock = await acquireKeeperLock(dir, 2000, undefined, { ...inNs(9, 'pid:[1001]'), alive: (p) => p !== DEAD_PID });
      assert.ok(Date.now() - started < 1000);
      await lock.release();
    });
  });
});
