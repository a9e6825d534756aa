// mkdir -p one level at a time: Node 20's recursive mkdir loops forever, at 100 % CPU and deaf to
// signals, when mkdir(2) answers ENOENT under a parent that exists (/proc, as root); this one
// throws that ENOENT instead.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeDirs, makeDirsSync } from '../../src/make-dirs.js';

const root = mkdtempSync(join(tmpdir(), 'corral-make-dirs-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Root may create nothing under /proc, where mkdir(2) answers ENOENT under an existing parent. */
const procSkip = process.getuid?.() === 0 && statSync('/proc', { throwIfNoEntry: false })?.isDirectory() ? false : 'needs root and /proc (elsewhere mkdir under /proc answers EACCES, not ENOENT)';

describe('makeDirsSync', () => {
  it('creates the missing levels and returns them, topmost first; none when the directory is there', () => {
    const dir = join(root, 'sync', 'a', 'b');
    assert.deepEqual(makeDirsSync(dir), [join(root, 'sync'), join(root, 'sync', 'a'), dir]);
    assert.ok(statSync(dir).isDirectory());
    assert.deepEqual(makeDirsSync(dir), []);
    assert.deepEqual(makeDirsSync(`${dir}/`), []);
  });

  it('gives every level it creates the mode asked for', () => {
    const dir = join(root, 'private', 'inner');
    makeDirsSync(dir, 0o700);
    assert.equal(statSync(join(root, 'private')).mode & 0o777, 0o700);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it('refuses a path through a file', () => {
    writeFileSync(join(root, 'file'), '');
    assert.throws(() => makeDirsSync(join(root, 'file', 'x')), { code: 'ENOTDIR' });
    assert.throws(() => makeDirsSync(join(root, 'file')), { code: 'EEXIST' });
  });

  it('throws the ENOENT of a parent that cannot hold directories (/proc), rather than looping forever', { skip: procSkip }, () => {
    assert.throws(() => makeDirsSync('/proc/corral-make-dirs-test/out'), { code: 'ENOENT' });
  });
});

describe('makeDirs', () => {
  it('creates the missing levels, as makeDirsSync does', async () => {
    const dir = join(root, 'async', 'a');
    assert.deepEqual(await makeDirs(dir, 0o700), [join(root, 'async'), dir]);
    assert.deepEqual(await makeDirs(dir), []);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it('throws the ENOENT of a parent that cannot hold directories (/proc), rather than looping forever', { skip: procSkip }, async () => {
    await assert.rejects(makeDirs('/proc/corral-make-dirs-test/out'), { code: 'ENOENT' });
  });
});
