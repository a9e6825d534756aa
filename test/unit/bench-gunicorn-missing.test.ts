// compare skips gunicorn with a message when it cannot run it (README, "Benchmarks"): a gunicorn
// whose Python cannot be started at all is one such case, a BENCH_GUNICORN that names a directory
// another, not a crash of the whole bench.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunicornMissing } from '../../bench/lib/gunicorn.js';

/** gunicornMissing() with these environment variables (undefined: unset), in a scratch directory. */
function missingWith(env: (dir: string) => Record<string, string | undefined>): { why: string | undefined; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-gunicorn-'));
  const vars = env(dir);
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  try {
    set(vars);
    return { why: gunicornMissing(), dir };
  } finally {
    set(saved);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a gunicorn whose shebang names a Python that does not exist is skipped with a message', () => {
  const { why } = missingWith((dir) => {
    const bin = join(dir, 'gunicorn');
    writeFileSync(bin, `#!${join(dir, 'gone', 'python3')}\nprint("never")\n`);
    chmodSync(bin, 0o755);
    return { BENCH_GUNICORN: bin };
  });
  assert.ok(why !== undefined && why.includes('cannot be run'), `expected a reason to skip, got ${String(why)}`);
});

test('BENCH_GUNICORN naming a directory is skipped with a message naming the variable and what it should name', () => {
  // A directory passes access(X_OK); reading it as gunicorn's script threw EISDIR out of the bench.
  let venv = '';
  const { why } = missingWith((dir) => {
    venv = join(dir, 'venv');
    mkdirSync(join(venv, 'bin'), { recursive: true });
    return { BENCH_GUNICORN: venv };
  });
  assert.equal(why, `BENCH_GUNICORN=${venv} is not an executable (a directory): it should name the gunicorn program: a path such as /path/to/venv/bin/gunicorn, or a name on PATH`);
});

test('BENCH_GUNICORN naming a file that does not exist is skipped with a message', () => {
  const { why, dir } = missingWith((d) => ({ BENCH_GUNICORN: join(d, 'no-such-gunicorn') }));
  assert.match(why ?? '', new RegExp(`^BENCH_GUNICORN=${dir}/no-such-gunicorn is not an executable \\(no such file\\): it should name the gunicorn program`));
});

test('a directory called gunicorn on PATH is not taken for the program', () => {
  const { why } = missingWith((dir) => {
    mkdirSync(join(dir, 'gunicorn'));
    return { BENCH_GUNICORN: undefined, PATH: dir };
  });
  assert.equal(why, 'gunicorn is not on PATH');
  const named = missingWith((dir) => {
    mkdirSync(join(dir, 'gunicorn-venv'));
    return { BENCH_GUNICORN: 'gunicorn-venv', PATH: dir };
  });
  assert.equal(named.why, 'BENCH_GUNICORN=gunicorn-venv is not an executable (not found on PATH): it should name the gunicorn program: a path such as /path/to/venv/bin/gunicorn, or a name on PATH');
});
