// A master that served does not give up on the boots that failed while a worker still served.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ready, setup } from '../helpers/arbiter-harness.js';

/** Two workers, the second failing at every boot (a fork refused under TasksMax=): ready degraded with the first. */
async function degraded() {
  const t = await setup({ CORRAL_WORKERS: '2', CORRAL_BOOT_ATTEMPTS: '3' });
  t.arbiter.tick();
  const a = t.children[0]!;
  ready(a);
  const failOthers = () => {
    for (const c of t.children.slice(1)) {
      if (!c.exited && !c.kills.includes('SIGKILL')) {
        c.say({ type: 'boot-failed', code: 'CORRAL_ERR_FORK', message: 'fork failed: EAGAIN' });
        c.exit(1);
      }
    }
  };
  for (let i = 0; i < 400 && !t.log.lines().some((l) => l.event === 'master.ready'); i++) {
    failOthers();
    t.run(250, [a]);
  }
  assert.ok(t.log.lines().some((l) => l.event === 'master.ready' && l.degraded === true), 'ready degraded');
  return { t, a, failOthers };
}

test('a master ready degraded whose serving worker is OOM-killed replaces it, and gives up only after CORRAL_BOOT_ATTEMPTS boots fail with none ready', async () => {
  const { t, a, failOthers } = await degraded();
  try {
    t.run(60_000, [a]);
    failOthers();
    const forked = t.children.length;
    a.exit(null, 'SIGKILL');
    t.run(250);
    assert.equal(t.log.lines().find((l) => l.event === 'boot.exhausted'), undefined, 'not given up at the first tick with none ready');
    assert.deepEqual(t.exits, []);
    // Its replacements fail as the second worker's boots did: three attempts with none ready end it.
    for (let i = 0; i < 400 && t.exits.length === 0; i++) {
      failOthers();
      t.run(250);
    }
    assert.ok(t.children.length > forked, 'replacements were forked');
    const exhausted = t.log.lines().find((l) => l.event === 'boot.exhausted');
    assert.equal(exhausted?.exit_code, 3);
    assert.deepEqual(t.exits, [3]);
  } finally {
    t.log.close();
  }
});

test('a master ready degraded whose serving worker is killed as stuck replaces it rather than exit', async () => {
  const { t, a } = await degraded();
  try {
    // a's loop blocks for good: killed at CORRAL_TIMEOUT.
    t.run(6000);
    assert.deepEqual(a.kills, ['SIGKILL']);
    a.exit(null, 'SIGKILL');
    t.run(60_000, t.children.slice(-1));
    assert.equal(t.log.lines().find((l) => l.event === 'boot.exhausted'), undefined);
    assert.ok(t.children.some((c) => c !== a && !c.exited), 'a replacement boots');
    assert.deepEqual(t.exits, []);
  } finally {
    t.log.close();
  }
});
