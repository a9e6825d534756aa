// The pidfile guard (master/pidfile-guard.ts) taken over while other starts race for it. A start
// that found the guard gone, or stale, removed whatever stood at its path before making its own:
// the guard another start had made in that instant went with it, and both went on to check and
// write the pidfile as if alone. Each interleaving is made here by a statSync that lets "the other
// start" act between this start's look at the guard and what it does next.

import assert from 'node:assert/strict';
import fs, { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GUARD_STALE_MS, guardFile, underPidfileGuard } from '../../src/master/pidfile-guard.js';

type StatSync = typeof fs.statSync;

/**
 * Runs `body` with the first statSync of `guard` letting "the other start" act: `before` it looks,
 * `after` it has looked (whatever it found).
 */
function withStatOf(guard: string, meanwhile: { readonly before?: () => void; readonly after?: () => void }, body: () => void): void {
  const mutableFs = fs as unknown as { statSync: StatSync };
  const realStat = fs.statSync;
  let done = false;
  mutableFs.statSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    if (done || String(path) !== guard) return (realStat as (...a: unknown[]) => unknown)(path, ...rest);
    done = true;
    meanwhile.before?.();
    try {
      return (realStat as (...a: unknown[]) => unknown)(path, ...rest);
    } finally {
      meanwhile.after?.();
    }
  }) as StatSync;
  syncBuiltinESMExports();
  try {
    body();
  } finally {
    mutableFs.statSync = realStat;
    syncBuiltinESMExports();
  }
}

describe('the pidfile guard, raced for', () => {
  it('a stale guard another start took over in the same instant is not removed: this start is refused, the other keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-guard-'));
    try {
      const file = join(dir, 'corral.pid');
      const guard = guardFile(file);
      writeFileSync(guard, '');
      const old = (Date.now() - GUARD_STALE_MS - 1000) / 1000;
      utimesSync(guard, old, old);
      // Both starts saw it stale; the other one removed it and made its own first.
      withStatOf(
        guard,
        {
          after: () => {
            rmSync(guard);
            writeFileSync(guard, 'the other start');
          },
        },
        () => {
          let wrote = false;
          assert.throws(
            () => underPidfileGuard(file, () => (wrote = true)),
            (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_ALREADY_RUNNING',
          );
          assert.equal(wrote, false, 'checked and wrote the pidfile while another start held the guard');
        },
      );
      assert.equal(readFileSync(guard, 'utf8'), 'the other start', "the other start's guard is where it was");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a guard gone when looked at, and made again by a third start meanwhile, is not removed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-guard-'));
    try {
      const file = join(dir, 'corral.pid');
      const guard = guardFile(file);
      writeFileSync(guard, 'the first start');
      // The first start finishes before this one looks (stat: ENOENT), then a third start takes it.
      withStatOf(
        guard,
        { before: () => rmSync(guard), after: () => writeFileSync(guard, 'the third start') },
        () => {
          let wrote = false;
          assert.throws(
            () => underPidfileGuard(file, () => (wrote = true)),
            (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_ALREADY_RUNNING',
          );
          assert.equal(wrote, false);
        },
      );
      assert.equal(readFileSync(guard, 'utf8'), 'the third start');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a stale guard is still taken over, and nothing is left beside it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-guard-'));
    try {
      const file = join(dir, 'corral.pid');
      const guard = guardFile(file);
      writeFileSync(guard, '');
      const old = (Date.now() - GUARD_STALE_MS - 1000) / 1000;
      utimesSync(guard, old, old);
      assert.equal(underPidfileGuard(file, () => 'wrote'), 'wrote');
      assert.equal(existsSync(guard), false);
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
