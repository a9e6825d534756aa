// `systemctl kill --kill-who=main` is the spelling every systemd reads: 252 renamed the option
// --kill-whom and still takes the old one, while 249 and older (Ubuntu 22.04, Debian 11) refuse
// --kill-whom with "unrecognized option". The logrotate policy was fixed for it; the README's
// Signals section still told operators to send signals with --kill-whom=main.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), 'utf8');

test('what the README and the logrotate policy give an operator to run says --kill-who=, not --kill-whom=', () => {
  for (const path of ['README.md', 'config/logrotate/corral']) {
    const lines = read(path)
      .split('\n')
      .map((line, i) => ({ line, n: i + 1 }))
      .filter(({ line }) => line.includes('--kill-whom='));
    assert.deepEqual(lines, [], `${path}: write --kill-who=main (systemd 249 and older refuse --kill-whom)`);
  }
});
