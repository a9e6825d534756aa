// A signal that reaches the master as soon as its pidfile names it: `corral reload` or `corral stop`
// run right after a start, logrotate's `kill -USR1 "$(cat /run/corral/corral.pid)"`. The master's
// listeners used to be added some 50-100 ms after the pidfile was written (after the logger, the
// notifier, the arbiter): meanwhile SIGHUP's default action killed the master, leaving a stale
// pidfile, and SIGUSR1's had Node open the V8 inspector on 127.0.0.1:9229 for the master's whole
// life, where any local user could run code as corral's user.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { REPO_ROOT, startCorral } from '../helpers/corral.js';

const PROBE = pathToFileURL(join(REPO_ROOT, 'test', 'fixtures', 'signal-at-pidfile.mjs')).href;

// The directory is the test's own (the probe must know the pidfile's path before the start), so the
// test removes it: startCorral removes only the directories it made.
async function startSignalledAtPidfile(signal: NodeJS.Signals) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-early-signal-'));
  try {
    return await startCorral({ cwd: dir, app: 'basic.mjs', workers: 1, env: { NODE_OPTIONS: `--import=${PROBE}`, PROBE_PIDFILE: join(dir, 'corral.pid'), PROBE_SIGNAL: signal } });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

test('SIGHUP the moment the pidfile is written is a reload asked for, not the death of the master', async () => {
  const c = await startSignalledAtPidfile('SIGHUP');
  try {
    await c.waitForLog((l) => l.event === 'reload.done' || l.event === 'reload.queued' || l.event === 'reload.start', 30_000, 'the early SIGHUP acted on');
  } finally {
    const exit = await c.stop();
    rmSync(c.dir, { recursive: true, force: true });
    assert.deepEqual(exit, { code: 0, signal: null }, `the master stopped cleanly; stderr:\n${c.stderr()}`);
  }
});

test('SIGUSR1 the moment the pidfile is written reopens the log; it opens no inspector', async () => {
  const c = await startSignalledAtPidfile('SIGUSR1');
  try {
    await c.waitForLog((l) => l.event === 'logs.reopen' && l.trigger === 'USR1', 30_000, 'the early USR1 acted on');
    assert.doesNotMatch(c.stderr(), /Debugger listening/, 'no V8 inspector opened in the master');
  } finally {
    const exit = await c.stop();
    rmSync(c.dir, { recursive: true, force: true });
    assert.deepEqual(exit, { code: 0, signal: null }, `the master stopped cleanly; stderr:\n${c.stderr()}`);
  }
});
