// Every top-level key of /api/admin/stats is named in the README's admin API section: `alerts`
// (the capacity levels and host alerts that hold) was served and named nowhere.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { statsOf } from '../../src/master/admin/figures.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test("every top-level key of the stats is named in the README's admin API section", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Admin API, capacity and the /admin dashboard\n');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  assert.ok(start >= 0 && section.length > 1000, 'the README has an admin API section');
  const view = createFakeView(testSettings(), [child(1, 101, 'ready', {}), child(0, 100, 'ready', {}, 'keeper')]);
  const stats = statsOf(view, { host: undefined, upstreamPerMinute: null, alerts: { capacity: [], cpu: false, ram: false } });
  const missing = Object.keys(stats).filter((k) => !section.includes(`\`${k}\``) && !section.includes(`"${k}"`) && !section.includes(`\`${k}.`));
  assert.deepEqual(missing, [], 'name these in the README (Admin API, the stats row)');
});
