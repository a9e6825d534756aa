// keepTickObjectMaps (src/tick-maps.ts): after full GCs at a moment with no tick object alive, the
// caches of process.nextTick's object literal stay monomorphic, where without it they turn
// megamorphic for good (every tick then built in V8's runtime). Read from V8's own print of the
// function (--allow-natives-syntax), in a child process of its own; the timing is bench/HISTORY.md's.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/corral.js';

const SCRIPT = join(REPO_ROOT, 'test', 'fixtures', 'tick-maps-after-gc.mjs');

/** The states of the tick literal's DefineKeyedOwnPropertyInLiteral caches after the idle GCs. */
function literalStates(keep: boolean): string[] {
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', SCRIPT, keep ? 'keep' : 'none'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const first = run.stdout.split('feedback vector:')[1] ?? '';
  const section = first.split('DebugPrint:')[0] ?? '';
  return [...section.matchAll(/slot #\d+ DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1] ?? '');
}

test('the tick object literal keeps monomorphic caches through an idle full GC when its maps are kept', (t) => {
  const without = literalStates(false);
  if (without.length === 0) return t.skip(`this node's process.nextTick builds no such literal (node ${process.versions.node})`);
  if (!without.includes('MEGAMORPHIC')) return t.skip(`this node's V8 keeps the literal's caches through the GC by itself (node ${process.versions.node}): nothing to show`);
  const kept = literalStates(true);
  assert.equal(kept.length, without.length, `${kept.join()} against ${without.join()}`);
  assert.deepEqual(kept, kept.map(() => 'MONOMORPHIC'), `with the maps kept: ${kept.join()} (without: ${without.join()})`);
});
