// Generation numbers across reloads, queued reloads and rollbacks, and the reload answer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { Generations } from '../../src/master/generations.js';

const loaded = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '2' } });

test('a reload starts the next generation and remembers the one it started from', () => {
  const g = new Generations();
  assert.equal(g.current, 1);
  g.workerReady(1_700_000_000_000);
  // 4 workers: CORRAL_WORKERS=2 moved by two TTINs, which the settings do not hold.
  assert.equal(g.start(loaded, 4, 5000, [], loaded), 2);
  assert.deepEqual(g.reload, { previous: loaded, previousGeneration: 1, previousWorkers: 4, startedAt: 5000, previousReadyAt: 1_700_000_000_000 });
  assert.deepEqual(g.outcome, { outcome: 'started', generation: 2, restartNeeded: [], envOverrides: [] });
  g.end();
  assert.equal(g.reload, undefined);
  assert.equal(g.current, 2);
});

test('a generation is ready from its first ready worker; a reload starts the next one not ready', () => {
  const g = new Generations();
  assert.equal(g.readyAt, undefined);
  g.workerReady(1000);
  g.workerReady(2000);
  assert.equal(g.readyAt, 1000, 'the first worker ready');
  g.start(loaded, 2, 0, [], loaded);
  assert.equal(g.readyAt, undefined, 'the new generation boots');
  g.workerReady(3000);
  g.end();
  assert.equal(g.readyAt, 3000);
});

test('after a rollback the old generation serves, and its number is not given out again', () => {
  const g = new Generations();
  g.workerReady(1000);
  g.start(loaded, 2, 0, [], loaded);
  g.workerReady(2000);
  assert.equal(g.rollBack()?.previousGeneration, 1);
  assert.equal(g.current, 1);
  assert.equal(g.readyAt, 1000, 'ready since its own first worker, not the rolled-back one');
  assert.equal(g.reload, undefined);
  assert.equal(g.rollBack(), undefined);
  assert.equal(g.start(loaded, 2, 0, [], loaded), 3);
});

test('reloads asked for during one are queued as one, named by the generation it will boot', () => {
  const g = new Generations();
  g.start(loaded, 2, 0, [], loaded);
  assert.equal(g.queue(), true);
  assert.equal(g.queue(), false);
  assert.deepEqual(g.outcome, { outcome: 'queued', generation: 3, behind: 2 });
  g.rollBack();
  // Rolled back to 1, the queued one still boots 3: 2 is spent.
  assert.equal(g.takePending(), true);
  assert.equal(g.takePending(), false);
  assert.equal(g.start(loaded, 2, 0, [], loaded), 3);
});

test('a reload asked for has no outcome until handled; a refused one says why', () => {
  const g = new Generations();
  g.refused('CORRAL_ERR_CONFIG_INVALID', 'bad value');
  assert.deepEqual(g.outcome, { outcome: 'refused', code: 'CORRAL_ERR_CONFIG_INVALID', message: 'bad value' });
  g.asked();
  assert.equal(g.outcome, undefined);
});

test('a rolled-back reload says what a restart would apply, which it read; a refused one leaves the last word standing', () => {
  const g = new Generations();
  g.start(loaded, 2, 0, [{ setting: 'CORRAL_ACCEPT', running: 'shared', configured: 'round-robin' }], loaded);
  g.end();
  g.ended('completed', undefined, 'reload done', 1000);
  assert.deepEqual(g.lastEnd?.restartNeeded, ['CORRAL_ACCEPT']);
  // Rolled back: the master's own settings were never changed, so a restart would apply these.
  g.start(loaded, 2, 0, [{ setting: 'corral code', running: 'build a', configured: 'build b on disk' }], loaded);
  g.rollBack();
  g.ended('rolled_back', 'CORRAL_ERR_APP_LOAD', 'last reload rolled back', 2000);
  assert.deepEqual(g.lastEnd?.restartNeeded, ['corral code']);
  // Refused before it started (invalid settings): what the last reload said still stands.
  g.ended('refused', 'CORRAL_ERR_CONFIG_INVALID', 'last reload refused', 3000);
  assert.deepEqual(g.lastEnd?.restartNeeded, ['corral code']);
  g.start(loaded, 2, 0, [], loaded);
  g.end();
  g.ended('completed', undefined, 'reload done', 4000);
  assert.deepEqual(g.lastEnd?.restartNeeded, []);
});
