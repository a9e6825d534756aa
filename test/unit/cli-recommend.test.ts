import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recommend, type SizingInput } from '../../src/cli/commands/recommend.js';

const MiB = 1048576;
const base: SizingInput = {
  cpus: 4,
  ramTotalBytes: 4096 * MiB,
  ramBudgetPercent: 50,
  workerRssBytes: 100 * MiB,
  keeperRssBytes: 60 * MiB,
  masterRssBytes: 50 * MiB,
  connectionBytes: 32 * 1024,
  fdLimit: 1024,
  measuredFrom: 'test',
};

describe('corral recommend sizing', () => {
  it('uses one worker per core when RAM allows, and the fd limit bounds connections', () => {
    const s = recommend(base);
    assert.equal(s.workers, 4);
    assert.equal(s.workerConnections, 1024 - 64);
    assert.equal(s.maxConnections, 4 * 960);
    assert.ok(s.reasons.some((r) => r.includes('CORRAL_WORKERS=4')));
  });

  it('lets RAM bound the workers and the connections on a small host', () => {
    // 1 GiB, 50 % = 512 MiB; minus 110 MiB fixed = 402 MiB -> 2 workers of 150 MiB fit (8 CPUs).
    const s = recommend({ ...base, cpus: 8, ramTotalBytes: 1024 * MiB, workerRssBytes: 150 * MiB, fdLimit: 1_000_000 });
    assert.equal(s.workers, 2);
    // 402 - 300 = 102 MiB left / 2 workers / 32 KiB = 1632 connections each.
    assert.equal(s.workerConnections, 1632);
    assert.equal(s.maxConnections, 3264);
  });

  it('never recommends fewer than one worker or connection', () => {
    const s = recommend({ ...base, ramTotalBytes: 64 * MiB });
    assert.equal(s.workers, 1);
    assert.equal(s.workerConnections, 1);
  });
});
