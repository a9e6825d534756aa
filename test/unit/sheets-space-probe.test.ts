// The keeper's probe for room on a full data disk (space-probe.ts): a probe that writes, syncs and
// removes its file; the schedule that stops at the first room found, at cancel() and at close().
// The disk itself filling and freeing is sheets-disk-full.test.ts, on a real tmpfs.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isNoRoom, probeRoom, SPACE_PROBE_FILE, SpaceProbe } from '../../src/sheets/keeper/space-probe.js';
import { FakeClock, settle } from '../fixtures/fake-clock.js';

test('probeRoom writes its block in a dir with room and leaves nothing behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-space-probe-'));
  try {
    assert.equal(await probeRoom(dir), true);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('probeRoom answers false, not an exception, where nothing can be written', async () => {
  const dir = join(tmpdir(), `corral-space-probe-missing-${process.pid}`);
  assert.equal(await probeRoom(dir), false);
  assert.equal(existsSync(join(dir, SPACE_PROBE_FILE)), false);
});

test('only a want of room is judged by a probe: ENOSPC and EDQUOT, not EIO, EROFS or EACCES', () => {
  assert.deepEqual(
    ['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EACCES', undefined].map((e) => isNoRoom(e)),
    [true, true, false, false, false, false],
  );
});

/** A SpaceProbe on a fake clock whose probes answer `answers` in turn (then false). */
function probeOn(answers: boolean[]) {
  const clock = new FakeClock();
  const calls: number[] = [];
  let rooms = 0;
  let release: (() => void) | undefined;
  const hold = { on: false };
  const probe = new SpaceProbe({
    dir: '/nowhere',
    clock,
    intervalMs: 5_000,
    onRoom: () => rooms++,
    probe: async () => {
      calls.push(clock.now());
      if (hold.on) await new Promise<void>((r) => (release = r));
      return answers.shift() ?? false;
    },
  });
  return { clock, probe, calls, rooms: () => rooms, hold, release: () => release?.() };
}

test('probes an interval after the last refusal, then every interval until one finds room, says so once, and stops', async () => {
  const p = probeOn([false, false, true]);
  p.probe.noRoom();
  await p.clock.advance(3_000);
  // Appends still refused are probes of their own: the probe waits an interval after the last.
  p.probe.noRoom();
  assert.equal(p.clock.pending(), 1, 'one timer, not one per refusal');
  await p.clock.advance(4_999);
  assert.equal(p.calls.length, 0, 'the first probe waits an interval');
  await p.clock.advance(1);
  assert.equal(p.calls.length, 1);
  await p.clock.advance(10_000);
  assert.equal(p.calls.length, 3);
  assert.equal(p.rooms(), 1);
  await p.clock.advance(60_000);
  assert.equal(p.calls.length, 3, 'no probe after room was found');
  assert.equal(p.clock.pending(), 0);
  // A later refusal for want of room starts it again.
  p.probe.noRoom();
  await p.clock.advance(5_000);
  assert.equal(p.calls.length, 4);
  p.probe.close();
});

test('cancel() stops the probes, and a probe in flight when cancelled or refused again says nothing', async () => {
  const p = probeOn([false, true, true]);
  p.probe.noRoom();
  await p.clock.advance(5_000);
  p.probe.cancel();
  await p.clock.advance(60_000);
  assert.equal(p.calls.length, 1);
  assert.equal(p.clock.pending(), 0);

  // Cancelled during its probe (an append written meanwhile): its room is not reported.
  p.hold.on = true;
  p.probe.noRoom();
  await p.clock.advance(5_000);
  assert.equal(p.calls.length, 2);
  p.probe.cancel();
  p.release();
  await settle();
  assert.equal(p.rooms(), 0);
  assert.equal(p.clock.pending(), 0);

  // Refused again during its probe: the refusal is newer than the probe's room, which is not
  // reported; the next probe comes an interval after the refusal.
  p.probe.noRoom();
  await p.clock.advance(5_000);
  assert.equal(p.calls.length, 3);
  p.probe.noRoom();
  p.release();
  await settle();
  assert.equal(p.rooms(), 0);
  assert.equal(p.clock.pending(), 1);
  p.probe.close();
});

test('close() is idempotent and final: no probe, no onRoom, noRoom() does nothing', async () => {
  const p = probeOn([true, true]);
  p.probe.noRoom();
  p.probe.close();
  p.probe.close();
  p.probe.noRoom();
  await p.clock.advance(60_000);
  assert.equal(p.calls.length, 0);
  assert.equal(p.rooms(), 0);
  assert.equal(p.clock.pending(), 0);
});
