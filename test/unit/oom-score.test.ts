// A worker's oom_score_adj is raised above the keeper's, the keeper's above the master's
// (src/oom-score.ts), so that the kernel's OOM killer takes the master last: by the master at the
// fork and by the child itself, the two making one raise, within the kernel's range.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { OOM_SCORE_BONUS, preferForOomKill } from '../../src/oom-score.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-oom-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function adjFile(content: string): string {
  const path = join(dir, `adj-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, content);
  return path;
}

test("sets the master's value plus the role's bonus, up to the kernel's 1000: a worker above the keeper", () => {
  assert.deepEqual(OOM_SCORE_BONUS, { worker: 200, keeper: 100 });
  for (const [master, worker, keeper] of [[0, 200, 100], [-500, -300, -400], [-1000, -800, -900], [900, 1000, 1000], [1000, 1000, 1000]] as const) {
    for (const [role, expected] of [['worker', worker], ['keeper', keeper]] as const) {
      const path = adjFile(`${master}\n`);
      assert.deepEqual(preferForOomKill(role, path, adjFile(`${master}\n`)), { ok: true, before: master, after: expected }, `${role} of a master at ${master}`);
      assert.equal(readFileSync(path, 'utf8').trim(), String(expected));
    }
  }
});

test("the master's raise and the worker's own make one: a worker already raised is left as it is, never lowered", () => {
  const master = adjFile('0\n');
  const worker = adjFile('0\n');
  assert.deepEqual(preferForOomKill('worker', worker, master), { ok: true, before: 0, after: 200 });
  assert.deepEqual(preferForOomKill('worker', worker, master), { ok: true, before: 200, after: 200 });
  assert.equal(readFileSync(worker, 'utf8').trim(), '200');
  // Raised further by someone else (choom): kept.
  const higher = adjFile('700\n');
  assert.deepEqual(preferForOomKill('worker', higher, master), { ok: true, before: 700, after: 700 });
  assert.equal(readFileSync(higher, 'utf8').trim(), '700');
});

test('says why when it cannot: no such file (not Linux), not a number, the master\'s unreadable', () => {
  const missing = preferForOomKill('worker', join(dir, 'none', 'oom_score_adj'), adjFile('0\n'));
  assert.equal(missing.ok, false);
  assert.match(missing.ok ? '' : missing.reason, /ENOENT/);
  const garbage = preferForOomKill('worker', adjFile('lots\n'), adjFile('0\n'));
  assert.equal(garbage.ok, false);
  assert.match(garbage.ok ? '' : garbage.reason, /holds no number/);
  const noMaster = preferForOomKill('worker', adjFile('0\n'), join(dir, 'gone', 'oom_score_adj'));
  assert.equal(noMaster.ok, false);
  assert.match(noMaster.ok ? '' : noMaster.reason, /ENOENT/);
});
