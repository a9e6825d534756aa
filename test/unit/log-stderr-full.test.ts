// The log's destination fails (a full disk) and so does stderr, where log.write_failed is said:
// under `nohup corral start` (or `corral start >>out.log 2>&1`) both are one file on one disk. The
// failure to say the failure must cost that line, not the process: it was an uncaught ENOSPC,
// and the master's handler stopped every worker and exited 70 (nothing restarts it there).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/corral.js';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'log-stderr-full.mjs');
const LOGGER = pathToFileURL(fileURLToPath(new URL('../../src/log/logger.js', import.meta.url))).href;

test('a log write failure that cannot be said on stderr either (ENOSPC there too) costs the line, not the process', { skip: existsSync('/dev/full') ? false : 'needs /dev/full' }, () => {
  const full = openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, [FIXTURE, LOGGER], { stdio: ['ignore', full, full, 'pipe'], timeout: 20_000, encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' } });
    const said = (r.output[3] ?? '').toString();
    assert.equal(r.signal, null, `killed (hung?): ${said}`);
    assert.equal(r.status, 0, said);
    assert.equal(said, 'alive\n');
  } finally {
    closeSync(full);
  }
});
