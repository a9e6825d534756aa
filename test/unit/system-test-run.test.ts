// The system tests' run() (test/system/container.ts) bounds debootstrap, which prepare-root.ts and
// each system test file wait on (and test/run.mjs waits on prepare-root): its timeout must end
// what the command started too. debootstrap is a shell script; its wget and chroot'd dpkg hold
// the output pipes, and a run() that killed the script alone resolved only once they ended.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { run } from '../system/container.js';

test('a command that outlives its timeout is killed with whatever it started, and run() resolves then', async () => {
  // A duration of this test's own, to find its sleep by; `; true` keeps sh from exec'ing it, so
  // sleep is the script's child, holding its pipes as debootstrap's wget does.
  const sleep = `sleep 31.${process.pid}`;
  const started = Date.now();
  const r = await run('sh', ['-c', `${sleep}; true`], { timeoutMs: 300 });
  const ms = Date.now() - started;
  assert.equal(r.signal, 'SIGKILL');
  assert.match(r.stderr, /killed after 300 ms/);
  assert.ok(ms < 5000, `run() resolved ${ms} ms after its start, its timeout 300 ms`);
  const left = spawnSync('pgrep', ['-f', `^${sleep}$`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(left, '', `no ${sleep} left behind`);
});
