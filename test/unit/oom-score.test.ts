// A worker raises its own oom_score_adj (worker/oom-score.ts), so that the kernel's OOM killer
// takes a worker before the master or the keeper; from what it inherited, within the kernel's range.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { preferForOomKill, WORKER_OOM_SCORE_BONUS } from '../../src/worker/oom-score.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-oom-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function adjFile(content: string): string {
  const path = join(dir, `adj-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, content);
  return path;
}

test('adds the bonus to what the worker inherited, up to the kernel\'s 1000', () => {
  assert.equal(WORKER_OOM_SCORE_BONUS, 200);
  for (const [inherited, expected] of [[0, 200], [-500, -300], [-1000, -800], [900, 1000], [1000, 1000]] as const) {
    const path = adjFile(`${inherited}\n`);
    assert.deepEqual(preferForOomKill(path), { ok: true, before: inherited, after: expected });
    assert.equal(readFileSync(path, 'utf8').trim(), String(expected));
  }
});

test('says why when it cannot: no such file (not Linux), not a number', () => {
  const missing = preferForOomKill(join(dir, 'none', 'oom_score_adj'));
  assert.equal(missing.ok, false);
  assert.match(missing.ok ? '' : missing.reason, /ENOENT/);
  const garbage = preferForOomKill(adjFile('lots\n'));
  assert.equal(garbage.ok, false);
  assert.match(garbage.ok ? '' : garbage.reason, /holds no number/);
});
