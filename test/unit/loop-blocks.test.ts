// Children whose heartbeats stopped for seconds and came back: said with how long, the first at
// once, then at most once a minute per role with the count and the longest; not a child killed as
// stuck meanwhile, nor the master's own stall.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopBlocks } from '../../src/master/loop-blocks.js';
import { newChildRecord, type ChildRecord } from '../../src/master/registry.js';
import { captureLogger } from '../fixtures/capture-logger.js';

function child(id: number, role: ChildRecord['role'] = 'worker'): ChildRecord {
  const c = newChildRecord({ id, slot: id, role, generation: 1, handle: { pid: 900 + id, send: () => true, kill() {} }, startedAt: 0, forkBatch: 1, beatIntervalMs: 1000 });
  return { ...c, state: 'ready', readyAt: 0, lastBeatAt: 0 };
}

test('a worker silent for seconds and beating again is said once its beats come back; more within the minute are counted into one line', async () => {
  const log = await captureLogger('worker');
  try {
    let now = 0;
    const blocks = new LoopBlocks(log.logger, () => now, () => 30);
    const [a, b] = [child(1), child(2)];
    // Beating every second: nothing.
    for (; now <= 5000; now += 250) {
      if (now % 1000 === 0) a.lastBeatAt = b.lastBeatAt = now;
      blocks.observe([a, b]);
    }
    assert.deepEqual(log.lines().filter((l) => l.event === 'worker.loop_blocked'), []);
    // Worker 1 silent from 5 s to 8.4 s.
    for (; now < 8400; now += 250) {
      b.lastBeatAt = Math.floor(now / 1000) * 1000;
      blocks.observe([a, b]);
    }
    assert.deepEqual(log.lines().filter((l) => l.event === 'worker.loop_blocked'), [], 'not while it is silent');
    a.lastBeatAt = now;
    blocks.observe([a, b]);
    const first = log.lines().filter((l) => l.event === 'worker.loop_blocked');
    assert.equal(first.length, 1);
    assert.equal(first[0]?.silent_ms, 3500);
    assert.equal(first[0]?.worker_id, 1);
    assert.equal(first[0]?.level, 'warn');
    assert.match(String(first[0]?.msg), /^worker 1 \(pid 901\) sent no heartbeat for 3\.5 s: its event loop was blocked .*or starved of CPU, and the requests it held waited as long; silent for CORRAL_TIMEOUT \(30 s\) it is killed as stuck$/);

    // Silences of both, one beat apart: the tick that sees the silence marks it, the one that sees
    // the next beat says it.
    const silence = (ms: number, ...cs: ChildRecord[]) => {
      for (const c of cs) c.lastBeatAt = now;
      blocks.observe([a, b]);
      now += ms;
      blocks.observe([a, b]);
      for (const c of cs) c.lastBeatAt = now;
      blocks.observe([a, b]);
    };
    // Within the minute of the first line: counted.
    silence(2500, a, b);
    silence(4000, a, b);
    assert.equal(log.lines().filter((l) => l.event === 'worker.loop_blocked').length, 1, 'within the minute: counted');
    // A minute on, the next one brings the line.
    now += 60_000;
    silence(3000, a);
    const lines = log.lines().filter((l) => l.event === 'worker.loop_blocked');
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.blocks, 5);
    assert.equal(lines[1]?.longest_ms, 4000);
    assert.match(String(lines[1]?.msg), /^5 more heartbeat silences of workers since the last such line, the longest 4 s \(worker \d\): event loops blocked or starved of CPU$/);
  } finally {
    log.close();
  }
});

test('a child killed as stuck meanwhile, one that left, and the master\'s own stall are not said; the keeper has its own line', async () => {
  const log = await captureLogger('worker');
  try {
    let now = 10_000;
    const blocks = new LoopBlocks(log.logger, () => now, () => 30);
    const [stuck, gone, keeper] = [child(1), child(2), child(0, 'keeper')];
    for (const c of [stuck, gone, keeper]) c.lastBeatAt = now;
    now += 3000;
    blocks.observe([stuck, gone, keeper]);
    // Killed as stuck (its kill says so), the other gone, and the master's stall discounted.
    stuck.state = 'killing';
    stuck.lastBeatAt = now;
    blocks.observe([stuck, keeper]);
    blocks.forget();
    keeper.lastBeatAt = now;
    blocks.observe([stuck, keeper]);
    assert.deepEqual(log.lines().filter((l) => String(l.event).endsWith('.loop_blocked')), []);
    // The keeper silent on its own.
    now += 2500;
    blocks.observe([keeper]);
    keeper.lastBeatAt = now;
    blocks.observe([keeper]);
    const said = log.lines().filter((l) => l.event === 'keeper.loop_blocked');
    assert.equal(said.length, 1);
    assert.match(String(said[0]?.msg), /^the keeper \(pid 900\) sent no heartbeat for 2\.5 s: .*the workers' reads and writes that needed it waited as long/);
  } finally {
    log.close();
  }
});
