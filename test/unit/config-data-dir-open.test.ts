// A data dir every local user may write in is refused by the settings (config --check, start,
// reload, and each worker's and the keeper's own load: exit 78), not only warned about: another
// user could put a session secret of their own there before a start or a rotation (then sign a
// token for any player), or bind the keeper's socket first. Group-writable stays a warning (a
// shared operators' group), said by the keeper at its start (datadir.open_to_others).

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dataDirRefusal as refusalOf } from '../helpers/data-dir-refusal.js';

const root = mkdtempSync(join(tmpdir(), 'corral-open-datadir-'));
after(() => rmSync(root, { recursive: true, force: true }));

const dataDirRefusal = (dir: string, readFiles = true): string | undefined => refusalOf(dir, root, readFiles);

test('a data dir every user may write in is refused, naming the chmod; a sticky one too; a group-writable one is not', () => {
  const open = join(root, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  assert.match(dataDirRefusal(open) ?? '', new RegExp(`^${open} is writable by every local user \\(mode 777\\), who could put a session secret of their own there .*: make it the service's alone \\(chmod 0700 ${open}\\)`));
  // A worker loads its settings without reading files (readFiles false): refused there too.
  assert.match(dataDirRefusal(open, false) ?? '', /is writable by every local user/);
  chmodSync(open, 0o1777);
  assert.match(dataDirRefusal(open) ?? '', /mode 1777/);
  chmodSync(open, 0o770);
  assert.equal(dataDirRefusal(open), undefined);
  chmodSync(open, 0o700);
  assert.equal(dataDirRefusal(open), undefined);
});
