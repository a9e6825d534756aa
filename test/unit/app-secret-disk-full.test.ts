// The session secret generated in a data dir whose disk is full (app/secret.ts): the boot fails
// on ENOSPC and leaves no temp file behind, so boots that retry do not pile them up.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSessionSecret } from '../../src/app/secret.js';

const root = process.getuid?.() === 0;

test('a full disk fails the secret with ENOSPC and leaves no temp file', { skip: root ? false : 'mounts a small tmpfs: needs root' }, async (t) => {
  const mnt = mkdtempSync(join(tmpdir(), 'corral-secret-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8k', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    rmSync(mnt, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs here: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`);
    return;
  }
  try {
    const data = join(mnt, 'data');
    mkdirSync(data);
    writeFileSync(join(mnt, 'fill'), Buffer.alloc(8192));
    for (let boot = 0; boot < 3; boot++) {
      await assert.rejects(loadSessionSecret(undefined, data), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC');
    }
    assert.deepEqual(readdirSync(data), [], 'no session-secret.tmp-* left by the three boots');
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});

test("a temp file of a worker killed while making the secret is removed at the next making; a live worker's is left", async () => {
  const { spawnSync } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const data = mkdtempSync(join(tmpdir(), 'corral-secret-temps-'));
  try {
    // A pid that ran and has exited: nothing is alive under it now.
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    const deadTemp = join(data, `session-secret.tmp-${dead}-0123456789ab`);
    const liveTemp = join(data, `session-secret.tmp-${process.pid}-ba9876543210`);
    writeFileSync(deadTemp, 'candidate\n');
    writeFileSync(liveTemp, 'candidate\n');
    // The file made already by the others: the sweep runs all the same.
    writeFileSync(join(data, 'session-secret'), `${'s'.repeat(64)}\n`);
    await loadSessionSecret(undefined, data);
    assert.equal(existsSync(deadTemp), false, 'the dead worker\'s candidate is gone');
    assert.equal(existsSync(liveTemp), true, 'a live one racing for the file is left');
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
