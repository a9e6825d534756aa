// mastersOfSettingsFile: the corral masters found through /proc by the settings file they read.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

test('a corral start in another mount namespace (a container) whose settings file has the same path is not this file\'s master', { skip: process.getuid?.() !== 0 || spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status !== 0 ? 'needs root and unshare(1)' : false }, async () => {
  // Here: host/corral.env. In the namespace: another directory bound over host/, its own
  // corral.env at the very same path, read by a corral start there.
  const root = mkdtempSync(join(tmpdir(), 'corral-by-file-ns-'));
  const host = join(root, 'host');
  const other = join(root, 'other');
  mkdirSync(host);
  mkdirSync(other);
  writeFileSync(join(host, 'corral.env'), '');
  writeFileSync(join(other, 'corral.env'), '');
  writeFileSync(join(other, 'corral'), 'setTimeout(() => {}, 60_000);\n');
  let inside: ChildProcess | undefined;
  try {
    inside = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind ${other} ${host} && exec ${process.execPath} ${join(host, 'corral')} start`], {
      env: { ...process.env, CORRAL_ENV_FILE: join(host, 'corral.env') },
      stdio: 'ignore',
    });
    const pid = inside.pid!;
    for (let i = 0; i < 200 && procArgv(pid)?.[0] !== process.execPath; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(procArgv(pid), [process.execPath, join(host, 'corral'), 'start'], 'the corral start runs in its namespace');
    assert.deepEqual(mastersOfSettingsFile(join(host, 'corral.env')), [], 'another file at the same path');
    assert.deepEqual(mastersOfSettingsFile(join(other, 'corral.env')), [pid], 'the file it read, seen from here under its own path');
  } finally {
    inside?.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
