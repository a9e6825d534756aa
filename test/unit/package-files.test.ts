// What a packed corral (npm pack / publish) holds: an install from the tarball runs node-gyp only
// when binding.gyp is in it, and builds the addons only from the sources beside it. Without them
// it installed with no sd_notify and no shared counter table.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/corral.js';

test('the packed package carries binding.gyp and every native source it names', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  assert.ok(files.has('binding.gyp'), 'binding.gyp is packed');
  for (const source of ['native/sd_notify.c', 'native/host_counters.c', 'native/counter_table.c', 'native/counter_table.h', 'native/siphash.h']) {
    assert.ok(files.has(source), `${source} is packed`);
  }
  assert.ok(files.has('dist/src/cli/main.js') && files.has('bin/corral'), 'and the compiled CLI');
});
