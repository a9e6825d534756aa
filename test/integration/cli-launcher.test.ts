// bin/corral run as the operator runs it: by its own path (the `#!` line, npm's .bin symlink), not
// as `node bin/corral`. Node 20 takes its own options from anywhere in its argv, so through a plain
// `#!/usr/bin/env node` launcher `corral config --env-file=x` exited 9 with "node: x: not found"
// before corral ran, and `--inspect` after the command opened a debugger port.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CORRAL_BIN } from '../helpers/corral.js';

/** Runs the launcher itself in a fresh directory, with PATH holding the node running the tests. */
function launch(bin: string, args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-launcher-'));
  const PATH = `${join(process.execPath, '..')}:${process.env.PATH ?? ''}`;
  try {
    return spawnSync(bin, args, { cwd: dir, env: { PATH }, encoding: 'utf8', timeout: 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Node options after the command reach corral: --env-file names CORRAL_ENV_FILE, exit 64, not Node\'s exit 9', () => {
  const r = launch(CORRAL_BIN, ['config', '--env-file=/nowhere/corral.env']);
  assert.equal(r.status, 64, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /corral config: \[CORRAL_ERR_USAGE\] Unknown option '--env-file': the settings file is named by the environment: CORRAL_ENV_FILE=\/nowhere\/corral.env/);
  assert.doesNotMatch(r.stderr, /^node:/m);

  const inspect = launch(CORRAL_BIN, ['config', '--inspect=127.0.0.1:0']);
  assert.equal(inspect.status, 64, `${inspect.stdout}${inspect.stderr}`);
  assert.doesNotMatch(inspect.stderr, /Debugger listening/);
  assert.match(inspect.stderr, /Unknown option '--inspect/);
});

test('through a symlink (npm\'s node_modules/.bin/corral), with the arguments as given', (t) => {
  const linkDir = mkdtempSync(join(tmpdir(), 'corral-bin-'));
  t.after(() => rmSync(linkDir, { recursive: true, force: true }));
  const link = join(linkDir, 'corral');
  symlinkSync(CORRAL_BIN, link);
  const version = launch(link, ['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^corral \d+\.\d+\.\d+ \(node v\d+/);
  // An argument holding spaces and quotes arrives whole.
  const odd = launch(link, ['help', 'no such "command"']);
  assert.equal(odd.status, 64, odd.stderr);
  assert.match(odd.stderr, /no such "command"/);
});
