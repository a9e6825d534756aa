// compare skips gunicorn with a message when it cannot run it (README, "Benchmarks"): a gunicorn
// whose Python cannot be started at all is one such case, not a crash of the whole bench.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunicornMissing } from '../../bench/lib/gunicorn.js';

test('a gunicorn whose shebang names a Python that does not exist is skipped with a message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-gunicorn-'));
  const bin = join(dir, 'gunicorn');
  writeFileSync(bin, `#!${join(dir, 'gone', 'python3')}\nprint("never")\n`);
  chmodSync(bin, 0o755);
  const saved = process.env.BENCH_GUNICORN;
  process.env.BENCH_GUNICORN = bin;
  try {
    const why = gunicornMissing();
    assert.ok(why !== undefined && why.includes('cannot be run'), `expected a reason to skip, got ${String(why)}`);
  } finally {
    if (saved === undefined) delete process.env.BENCH_GUNICORN;
    else process.env.BENCH_GUNICORN = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
