// The build digest a reload compares (master/code-identity.ts).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CODE_ROOT, codeIdentity, installMoveWatch } from '../../src/master/code-identity.js';

test('the digest follows the .js files under the root, by path and content, and nothing else', () => {
  const root = mkdtempSync(join(tmpdir(), 'corral-code-'));
  try {
    mkdirSync(join(root, 'master'));
    writeFileSync(join(root, 'master', 'arbiter.js'), 'export const a = 1;\n');
    writeFileSync(join(root, 'main.js'), 'export {};\n');
    const first = codeIdentity(root);
    assert.match(first ?? '', /^[0-9a-f]{12}$/);
    assert.equal(codeIdentity(root), first, 'the same build, the same digest');
    writeFileSync(join(root, 'main.js.map'), '{}');
    writeFileSync(join(root, 'notes.txt'), 'not code');
    assert.equal(codeIdentity(root), first, 'maps and other files are not code');
    writeFileSync(join(root, 'master', 'arbiter.js'), 'export const a = 2;\n');
    const second = codeIdentity(root);
    assert.notEqual(second, first, 'a changed file');
    rmSync(join(root, 'master', 'arbiter.js'));
    writeFileSync(join(root, 'arbiter.js'), 'export const a = 2;\n');
    assert.notEqual(codeIdentity(root), second, 'the same content at another path');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("is corral's own compiled code by default, and undefined when the code cannot be read", () => {
  assert.match(codeIdentity() ?? '', /^[0-9a-f]{12}$/);
  assert.ok(CODE_ROOT.endsWith(join('dist', 'src') + '/'), CODE_ROOT);
  assert.equal(codeIdentity(join(tmpdir(), 'corral-no-such-dir-0')), undefined);
});

test('a release switched under the path corral was started as is seen; a launch from the install itself or from elsewhere is never a move', () => {
  // This install, as a symlink deploy has it: releases/current -> the install, bin/corral through it.
  const install = realpathSync(join(CODE_ROOT, '..', '..'));
  const deploy = mkdtempSync(join(tmpdir(), 'corral-release-'));
  try {
    const current = join(deploy, 'current');
    symlinkSync(install, current);
    const next = join(deploy, 'release-2');
    mkdirSync(join(next, 'bin'), { recursive: true });
    const watch = installMoveWatch(join(current, 'bin', 'corral'));
    assert.equal(watch(), undefined, 'the link still leads to the install it runs');
    rmSync(current);
    symlinkSync(next, current);
    assert.deepEqual(watch(), { launcher: join(current, 'bin', 'corral'), running: install, now: realpathSync(next) });
    rmSync(current);
    assert.equal(watch(), undefined, 'a link gone for a moment (mid-switch) is no move');
    assert.equal(installMoveWatch(join(install, 'bin', 'corral'))(), undefined, 'started from the install itself');
    assert.equal(installMoveWatch(join(next, 'bin', 'corral'))(), undefined, 'started as another install: nothing this can follow');
    assert.equal(installMoveWatch(undefined)(), undefined);
  } finally {
    rmSync(deploy, { recursive: true, force: true });
  }
});
