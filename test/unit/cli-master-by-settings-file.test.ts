// mastersOfSettingsFile: the corral masters found through /proc by the settings file they read.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mastersOfSettingsFile } from '../../src/cli/master-by-settings-file.js';
import { procArgv } from '../../src/master/proc-identity.js';

/** Polls `found` until it holds a pid other than `except` (the child exec'd), within 10 s. */
async function foundBesides(file: string, except: number): Promise<number[]> {
  for (let i = 0; i < 200; i++) {
    const found = mastersOfSettingsFile(file);
    if (found.some((p) => p !== except)) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return mastersOfSettingsFile(file);
}

test('a command that runs corral start as its child (timeout, sudo, npx) is not named as a master, the corral start is', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-by-file-'));
  // A stand-in for bin/corral: its command line reads `node .../corral start`, as a master's does.
  const bin = join(dir, 'corral');
  writeFileSync(bin, 'setTimeout(() => {}, 60_000);\n');
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, '');
  let wrapper: ChildProcess | undefined;
  try {
    wrapper = spawn('timeout', ['60', process.execPath, bin, 'start'], { env: { ...process.env, CORRAL_ENV_FILE: envFile }, stdio: 'ignore' });
    const found = await foundBesides(envFile, wrapper.pid!);
    assert.equal(found.length, 1, `one master: ${found.map((p) => `${p}: ${procArgv(p)?.join(' ')}`).join('; ')}`);
    assert.notEqual(found[0], wrapper.pid, 'not timeout(1), its parent');
    assert.equal(procArgv(found[0]!)?.[0], process.execPath);
  } finally {
    wrapper?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
