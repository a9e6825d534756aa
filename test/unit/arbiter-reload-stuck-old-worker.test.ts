// A worker of the generation a reload replaces, still serving (not yet told to drain), that gets
// stuck is killed, and nothing forks it again: the master forks the reload's generation only, which
// brings its successor. Its worker.timeout line said "killing and replacing it".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setup } from '../helpers/arbiter-harness.js';

test('an old-generation worker stuck during a reload, before its drain, is said not to be replaced, and is not', async () => {
  const t = await setup({ CORRAL_TIMEOUT: '5' });
  try {
    t.bootAll();
    const [stuck, other] = t.children.filter((c) => c.identity.generation === 1);
    assert.ok(stuck && other);
    t.arbiter.record('reload');
    t.arbiter.tick();
    const fresh = t.children.filter((c) => c.identity.generation === 2);
    assert.equal(fresh.length, 2, "the reload's generation is booting");
    assert.ok(stuck.sent.every((m) => m.type !== 'drain'), 'not told to drain: no replacement is ready yet');
    // The reload's workers boot on (beating) while one of the old generation falls silent.
    t.run(6000, [other, ...fresh]);
    assert.deepEqual(stuck.kills, ['SIGKILL']);
    const timeout = t.log.lines().find((l) => l.event === 'worker.timeout' && l.worker_pid === stuck.pid);
    assert.ok(timeout, 'worker.timeout logged for the stuck old worker');
    assert.equal(timeout.draining, false);
    assert.equal(timeout.replaced_by_reload, 2);
    assert.match(String(timeout.msg), /; killing it, not replaced: the reload to generation 2 brings its successor, ready when that generation's workers are \(a reload whose boots fail goes back to this generation's settings, which fork it again\)$/);
    assert.doesNotMatch(String(timeout.msg), /replacing/);
    const forked = t.children.length;
    stuck.exit(null, 'SIGKILL');
    t.run(2000, [other, ...fresh]);
    assert.equal(t.children.length, forked, 'nothing was forked in its place');
  } finally {
    t.log.close();
  }
});
