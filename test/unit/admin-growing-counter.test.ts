// growingCounter: a counter over a total summed at scrape time never goes back when the sum dips
// (a process killed between two heartbeats), and adds only the growth past the highest total seen.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { growingCounter } from '../../src/master/admin/growing-counter.js';

async function valueOf(registry: Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, `${name} is registered`);
  return metric.values[0]?.value ?? 0;
}

describe('growingCounter', () => {
  it('follows the total, holds through a dip and adds only the growth past the highest seen', async () => {
    const registry = new Registry();
    let total = 0;
    growingCounter('test_things_total', 'Things.', [registry], () => total);
    const scrapes: number[] = [];
    for (const t of [0, 10, 25, 7, 20, 30]) {
      total = t;
      scrapes.push(await valueOf(registry, 'test_things_total'));
    }
    assert.deepEqual(scrapes, [0, 10, 25, 25, 25, 30]);
  });
});
