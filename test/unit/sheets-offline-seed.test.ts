// Seeding the offline sheet from the sample sheet: the keeper does it before it takes the data
// dir's lock, so two keepers starting at once on a fresh data dir may seed together; each must end
// with the whole sheet, and never leave one missing tabs (a dir that exists is not seeded again).

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, it } from 'node:test';
import { seedOfflineSheet } from '../../src/sheets/offline/backend.js';

let root: string;
let sample: string;
const TABS = 5;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'corral-offline-seed-'));
  sample = mkdtempSync(join(root, 'sample-'));
  for (let i = 0; i < TABS; i++) writeFileSync(join(sample, `T${i}.csv`), 'a,b\n'.repeat(200), { mode: 0o644 });
  writeFileSync(join(sample, 'README.md'), 'not a tab\n');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

it('seeds once, privately, and leaves a second start alone', async () => {
  const dir = join(root, 'sheet');
  assert.equal(await seedOfflineSheet(dir, sample), true);
  assert.deepEqual(readdirSync(dir).sort(), ['T0.csv', 'T1.csv', 'T2.csv', 'T3.csv', 'T4.csv']);
  assert.equal((statSync(join(dir, 'T0.csv')).mode & 0o777).toString(8), '600');
  assert.equal(await seedOfflineSheet(dir, sample), false);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('sheet')), ['sheet'], 'no temporary dir left beside it');
});

it('two seeders at once on a fresh dir both succeed, with the whole sheet, one of them saying it created it', async () => {
  for (let k = 0; k < 40; k++) {
    const dir = join(root, `sheet${k}`);
    const results = await Promise.allSettled([seedOfflineSheet(dir, sample), sleep(k % 5).then(() => seedOfflineSheet(dir, sample))]);
    const outcomes = results.map((r) => (r.status === 'fulfilled' ? r.value : String((r.reason as Error).message)));
    assert.ok(
      outcomes.every((o) => typeof o === 'boolean'),
      `round ${k}: ${JSON.stringify(outcomes)}`,
    );
    assert.equal(outcomes.filter((o) => o === true).length, 1, `round ${k}: ${JSON.stringify(outcomes)}`);
    assert.equal(readdirSync(dir).length, TABS, `round ${k}: every tab`);
  }
  assert.deepEqual(readdirSync(root).filter((n) => n.includes('.seeding')), [], 'no temporary dir left');
});
