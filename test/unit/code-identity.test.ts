// The build digest a reload compares (master/code-identity.ts).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CODE_ROOT, codeIdentity } from '../../src/master/code-identity.js';

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
