// A data dir in a directory every local user may create in (a sticky /tmp) that another user made
// is refused by the settings, as one every user may write in is (config-data-dir-open.test.ts):
// its owner may remove and create files in it whatever their modes (plant a session secret of
// their own, then sign a token for any player; stand in for the keeper's socket), and root, or a
// user the owner granted write by an ACL, passed the check that it is writable. The same for such
// a directory above it, and for a symlink another user planted there. Another user's directory
// elsewhere (a volume mounted into a container run as root) is the operator's doing, and kept.

import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dataDirRefusal as refusalOf } from '../helpers/data-dir-refusal.js';

const root = mkdtempSync(join(tmpdir(), 'corral-owned-datadir-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A directory others may create in, as /tmp is: mode 1777. */
const shared = join(root, 'tmp');
mkdirSync(shared);
chmodSync(shared, 0o1777);

const OTHER = 65534;
const asRoot = { skip: process.getuid?.() !== 0 ? 'needs root, to give a directory to another user' : false };

const dataDirRefusal = (dir: string, readFiles = true): string | undefined => refusalOf(dir, root, readFiles);

test("a data dir another user made in a shared temp dir is refused, naming its owner and the fix; this user's is not", asRoot, () => {
  const theirs = join(shared, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, OTHER, OTHER);
  const said = dataDirRefusal(theirs) ?? '';
  assert.match(said, new RegExp(`^${theirs} belongs to uid ${OTHER}, not to this user \\(uid 0\\) nor root, in ${shared}, where every local user may create a directory: its owner could put a session secret of their own there`));
  assert.match(said, /remove it \(as root\) and start again, or point CORRAL_DATA_DIR elsewhere/);
  // A worker loads its settings without reading files: refused there too.
  assert.match(dataDirRefusal(theirs, false) ?? '', /belongs to uid 65534/);

  const mine = join(shared, 'mine');
  mkdirSync(mine, { mode: 0o700 });
  assert.equal(dataDirRefusal(mine), undefined);
  // Not there yet: the keeper makes it, this user's.
  assert.equal(dataDirRefusal(join(shared, 'not-yet')), undefined);
});

test('a data dir under a directory another user made in a shared temp dir is refused, naming that directory', asRoot, () => {
  const theirs = join(shared, 'parent');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, OTHER, OTHER);
  const dataDir = join(theirs, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  assert.match(dataDirRefusal(dataDir) ?? '', new RegExp(`^${theirs} belongs to uid ${OTHER}, not to this user \\(uid 0\\) nor root, in ${shared},`));
  // Missing below it: the same, its owner could swap what the keeper makes.
  assert.match(dataDirRefusal(join(theirs, 'later', 'data')) ?? '', /belongs to uid 65534/);
});

test('a symlink another user planted in a shared temp dir at the data dir is refused, whatever it points at', asRoot, () => {
  const target = join(root, 'target');
  mkdirSync(target, { mode: 0o700 });
  const link = join(shared, 'link');
  symlinkSync(target, link);
  lchownSync(link, OTHER, OTHER);
  assert.match(dataDirRefusal(link) ?? '', new RegExp(`^${link} belongs to uid ${OTHER}, not to this user`));
});

test("another user's data dir outside a shared temp dir (a volume mounted into a container) is not refused for its owner", asRoot, () => {
  const volume = join(root, 'volume');
  mkdirSync(volume, { mode: 0o700 });
  chownSync(volume, OTHER, OTHER);
  assert.equal(dataDirRefusal(volume), undefined);
});
