// Every metric /metrics serves is named in the README's admin API section: an operator builds
// dashboards and alerts from that page. Ten of them (corral_up, corral_generation, the per-child
// memory and loop-lag gauges, ...) were served but named nowhere.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function adminSection(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Admin API, capacity and the /admin dashboard\n');
  const end = readme.indexOf('\n## ', start + 1);
  assert.ok(start >= 0 && end > start, 'the README has an admin API section');
  return readme.slice(start, end);
}

test("every metric family /metrics serves is named in the README's admin API section", async () => {
  const keeper = child(0, 100, 'ready', { extra: { cacheHits: 1, cacheMisses: 1, redisConnected: true, sharedReads: 0, readTokensLeft: 1, writeTokensLeft: 1, journalBacklogRows: 0 } }, 'keeper');
  const view = createFakeView(testSettings(), [child(1, 101, 'ready', { extra: { l1Hits: 1 } }), keeper]);
  const host = { cpuPercent: 10, ramPercent: 20, ramUsedBytes: 1, ramTotalBytes: 5, cpuCount: 2, at: Date.now() };
  const text = await createAdminMetrics(view, () => host).render();
  const served = [...text.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1] as string);
  assert.ok(served.length > 30, `${served.length} families`);
  const section = adminSection();
  const missing = served.filter((name) => !new RegExp(`\`${name}(\`|\\{)`).test(section));
  assert.deepEqual(missing, [], 'name these in the README (Admin API, the /metrics row)');
});
