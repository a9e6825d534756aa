// What a reload applies of the settings it read, and what it tells the operator it does not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changedKeeperSettings, keptDataDir, overlappingBind, planReload, restartOnlyChanges } from '../../src/master/reload-plan.js';
import { captureLogger } from '../fixtures/capture-logger.js';

const load = (env: Record<string, string> = {}) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '2', ...env } });

test('a restart-only setting is needed against the value at start, and is new only when the reload before configured another', () => {
  const started = load().settings;
  const edited = load({ CORRAL_BACKLOG: '100' }).settings;
  assert.deepEqual(restartOnlyChanges(started, started, edited), [{ setting: 'CORRAL_BACKLOG', running: '2048', configured: '100', changed: true }]);
  // The same edit at the next reload: still needed, no longer a change.
  assert.deepEqual(restartOnlyChanges(started, edited, edited), [{ setting: 'CORRAL_BACKLOG', running: '2048', configured: '100', changed: false }]);
  // Edited back to the running value: nothing to say.
  assert.deepEqual(restartOnlyChanges(started, edited, started), []);
  // Settings a reload applies are not listed.
  assert.deepEqual(restartOnlyChanges(started, started, load({ CORRAL_TIMEOUT: '9' }).settings), []);
});

test('a new CORRAL_BIND overlapping the listening address on its port is kept; a distinct address or port is applied', () => {
  const running = { host: '127.0.0.1', port: 8080 };
  assert.deepEqual(overlappingBind(running, { host: '0.0.0.0', port: 8080 }, 8080, true), { setting: 'CORRAL_BIND', running: '127.0.0.1:8080', configured: '0.0.0.0:8080' });
  assert.equal(overlappingBind(running, { host: '127.0.0.2', port: 8080 }, 8080, true), undefined);
  assert.equal(overlappingBind(running, { host: '0.0.0.0', port: 8081 }, 8080, true), undefined);
  // Port 0 in CORRAL_BIND: the workers listen on the port they were given, which is what counts.
  assert.notEqual(overlappingBind({ host: '127.0.0.1', port: 0 }, { host: '0.0.0.0', port: 41234 }, 41234, true), undefined);
  // Nothing listens yet (no worker ready): nothing to overlap.
  assert.equal(overlappingBind(running, { host: '0.0.0.0', port: 8080 }, undefined, true), undefined);
  // A host name is resolved only at listen time: left to the boot; but localhost is loopback.
  assert.equal(overlappingBind(running, { host: 'app.internal', port: 8080 }, 8080, true), undefined);
  assert.deepEqual(overlappingBind({ host: '0.0.0.0', port: 8080 }, { host: 'localhost', port: 8080 }, 8080, true), { setting: 'CORRAL_BIND', running: '0.0.0.0:8080', configured: 'localhost:8080' });
  // Beside the loopback address it resolves to, localhost shares the running socket (node:cluster
  // keys its sockets by the resolved address); beside the other one it has its own: applied.
  assert.equal(overlappingBind(running, { host: 'localhost', port: 8080 }, 8080, true), undefined);
  assert.equal(overlappingBind({ host: 'localhost', port: 8080 }, running, 8080, true), undefined);
  assert.equal(overlappingBind({ host: '::1', port: 8080 }, { host: 'localhost', port: 8080 }, 8080, true), undefined);
  // `::` takes IPv4 too only when the host is dual-stack.
  assert.notEqual(overlappingBind(running, { host: '::', port: 8080 }, 8080, true), undefined);
  assert.equal(overlappingBind(running, { host: '::', port: 8080 }, 8080, false), undefined);
});

test('the keeper restarts only for a setting it reads', () => {
  const base = load().settings;
  assert.deepEqual(changedKeeperSettings(base, load({ CORRAL_WORKERS: '5', CORRAL_TIMEOUT: '9' }).settings), []);
  assert.deepEqual(changedKeeperSettings(base, load({ SHEET_CACHE_TTL: '7', CORRAL_LOG_LEVEL: 'debug' }).settings).sort(), ['CORRAL_LOG_LEVEL', 'SHEET_CACHE_TTL']);
});

test('planReload keeps the running CORRAL_DATA_DIR (its journal holds acknowledged rows only a keeper on it sends), says so once per edit, and does not restart the keeper for it', async () => {
  const log = await captureLogger();
  const root = mkdtempSync(join(tmpdir(), 'corral-reload-datadir-'));
  try {
    const [dirA, dirB] = [join(root, 'a'), join(root, 'b')];
    const current = load({ CORRAL_DATA_DIR: dirA });
    const wanted = load({ CORRAL_DATA_DIR: dirB, SHEET_CACHE_TTL: '7' });
    const input = { started: current.settings, current, next: wanted, listeningPort: 8080, refusedBind: undefined, masterLogFile: '(stdout)', configureLogs: undefined, log: log.logger };
    const plan = planReload(input);
    assert.equal(plan.next.settings.CORRAL_DATA_DIR, dirA, 'the new generation runs on the running dir');
    assert.equal(plan.next.childEnv.CORRAL_DATA_DIR, dirA, 'and its workers and keeper are started with it');
    assert.equal(plan.next.settings.SHEET_CACHE_TTL, 7, 'the rest is applied');
    assert.deepEqual(plan.restartNeeded, [{ setting: 'CORRAL_DATA_DIR', running: dirA, configured: dirB }]);
    assert.deepEqual(changedKeeperSettings(current.settings, plan.next.settings), ['SHEET_CACHE_TTL'], 'the keeper restarts for the TTL, on the same dir');
    assert.deepEqual(changedKeeperSettings(current.settings, load({ CORRAL_DATA_DIR: dirB }).settings), [], 'the data dir alone never restarts the keeper');
    const said = log.lines().filter((l) => l.event === 'config.restart_needed');
    assert.deepEqual(said.map((l) => [l.level, l.setting, l.running, l.configured]), [['warn', 'CORRAL_DATA_DIR', dirA, dirB]]);
    assert.match(String(said[0]?.msg), new RegExp(`keeps ${dirA}, whose journal \\(${join(dirA, 'sheets.journal')}\\)`));
    assert.match(String(said[0]?.msg), /sheets\.journal_backlog.*then restart/);
    // The same file at the next reload: still kept and listed, not said again.
    const again = planReload({ ...input, current: plan.next });
    assert.equal(again.next.settings.CORRAL_DATA_DIR, dirA);
    assert.deepEqual(again.restartNeeded.map((r) => r.setting), ['CORRAL_DATA_DIR']);
    assert.equal(log.lines().filter((l) => l.event === 'config.restart_needed').length, 1);
    // Another edit is said; an edit back to the running dir needs nothing.
    const dirC = join(root, 'c');
    assert.equal(keptDataDir(again.next, load({ CORRAL_DATA_DIR: dirC }))?.changed, true);
    assert.equal(keptDataDir(again.next, load({ CORRAL_DATA_DIR: dirA })), undefined);
  } finally {
    log.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('planReload keeps an overlapping bind, says so once per change, and lists what needs a restart', async () => {
  const log = await captureLogger();
  try {
    const current = load({ CORRAL_BIND: '127.0.0.1:8080' });
    const wanted = load({ CORRAL_BIND: '0.0.0.0:8080', CORRAL_BACKLOG: '100' });
    const input = { started: current.settings, current, next: wanted, listeningPort: 8080, refusedBind: undefined, masterLogFile: '(stdout)', configureLogs: undefined, log: log.logger };
    const plan = planReload(input);
    assert.deepEqual(plan.next.settings.CORRAL_BIND, { host: '127.0.0.1', port: 8080 });
    assert.equal(plan.next.childEnv.CORRAL_BIND, '127.0.0.1:8080');
    assert.equal(plan.next.settings.CORRAL_BACKLOG, 100);
    assert.deepEqual(plan.restartNeeded.map((r) => r.setting), ['CORRAL_BACKLOG', 'CORRAL_BIND']);
    assert.equal(plan.refusedBind, '0.0.0.0:8080');
    const said = log.lines().filter((l) => l.event === 'config.restart_needed').map((l) => l.setting);
    assert.deepEqual(said, ['CORRAL_BACKLOG', 'CORRAL_BIND']);
    assert.equal(log.lines().filter((l) => l.event === 'config.bind_moved').length, 0);
    // The same files read again: the same answer, and nothing logged a second time.
    const again = planReload({ ...input, current: plan.next, refusedBind: plan.refusedBind });
    assert.deepEqual(again.restartNeeded.map((r) => r.setting), ['CORRAL_BACKLOG', 'CORRAL_BIND']);
    assert.equal(log.lines().filter((l) => l.event === 'config.restart_needed').length, 2);
  } finally {
    log.close();
  }
});

test('planReload moves to a bind that does not overlap, and a log file the master cannot move needs a restart', async () => {
  const log = await captureLogger();
  try {
    const current = load({ CORRAL_BIND: '127.0.0.1:8080' });
    const next = load({ CORRAL_BIND: '127.0.0.1:9000', CORRAL_LOG_FILE: '/tmp/elsewhere.log' });
    const plan = planReload({ started: current.settings, current, next, listeningPort: 8080, refusedBind: undefined, masterLogFile: '(stdout)', configureLogs: () => false, log: log.logger });
    assert.deepEqual(plan.next.settings.CORRAL_BIND, { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(plan.restartNeeded, [{ setting: 'CORRAL_LOG_FILE', running: '(stdout)', configured: '/tmp/elsewhere.log' }]);
    assert.equal(plan.masterLogFile, '(stdout)');
    const moved = log.lines().find((l) => l.event === 'config.bind_moved');
    assert.equal(moved?.running, '127.0.0.1:8080');
    assert.equal(moved?.configured, '127.0.0.1:9000');
    // Applied: the reload answer names the new file.
    const applied = planReload({ started: current.settings, current, next, listeningPort: 8080, refusedBind: undefined, masterLogFile: '(stdout)', configureLogs: () => true, log: log.logger });
    assert.equal(applied.masterLogFile, '/tmp/elsewhere.log');
    assert.deepEqual(applied.restartNeeded, []);
  } finally {
    log.close();
  }
});

test('planReload keeps the running bind when the new one is where the admin API still listens (CORRAL_ADMIN_BIND moved in the file, which a reload does not apply)', async () => {
  const log = await captureLogger();
  try {
    const current = load({ CORRAL_BIND: '127.0.0.1:8080', CORRAL_ADMIN_BIND: '127.0.0.1:9090' });
    // The two ports swapped: judged whole, the file is fine, and a restart applies both.
    const swapped = load({ CORRAL_BIND: '0.0.0.0:9090', CORRAL_ADMIN_BIND: '127.0.0.1:9191' });
    const input = { started: current.settings, current, next: swapped, listeningPort: 8080, adminListening: { host: '127.0.0.1', port: 9090 }, refusedBind: undefined, masterLogFile: '(stdout)', configureLogs: undefined, log: log.logger };
    const plan = planReload(input);
    assert.deepEqual(plan.next.settings.CORRAL_BIND, { host: '127.0.0.1', port: 8080 }, 'new workers are not sent onto the admin listener (EADDRINUSE at every boot)');
    assert.equal(plan.next.childEnv.CORRAL_BIND, '127.0.0.1:8080');
    assert.deepEqual(plan.restartNeeded.map((r) => r.setting).sort(), ['CORRAL_ADMIN_BIND', 'CORRAL_BIND']);
    const said = log.lines().find((l) => l.event === 'config.restart_needed' && l.setting === 'CORRAL_BIND');
    assert.match(String(said?.msg), /overlaps 127\.0\.0\.1:9090, where the admin API listens until a restart/);
    assert.equal(log.lines().filter((l) => l.event === 'config.bind_moved').length, 0);
    // Once per edit.
    planReload({ ...input, current: plan.next, refusedBind: plan.refusedBind });
    assert.equal(log.lines().filter((l) => l.event === 'config.restart_needed' && l.setting === 'CORRAL_BIND').length, 1);
    // Another port, or another address on the admin's port, is applied.
    assert.deepEqual(planReload({ ...input, next: load({ CORRAL_BIND: '0.0.0.0:9092', CORRAL_ADMIN_BIND: '127.0.0.1:9191' }) }).next.settings.CORRAL_BIND, { host: '0.0.0.0', port: 9092 });
    assert.deepEqual(planReload({ ...input, next: load({ CORRAL_BIND: '127.0.0.2:9090', CORRAL_ADMIN_BIND: '127.0.0.1:9191' }) }).next.settings.CORRAL_BIND, { host: '127.0.0.2', port: 9090 });
  } finally {
    log.close();
  }
});
