// A keeper whose master is gone before it listened for that (the master killed while the keeper
// was still loading corral's code): it exits as when the master goes later, not boots on as an
// orphan holding the data dir's lock.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { identityEnv } from '../../src/config/identity.js';
import { EXIT } from '../../src/errors.js';

const KEEPER_ENTRY = fileURLToPath(new URL('../../src/sheets/keeper-entry.js', import.meta.url));

test('a keeper whose IPC channel closed while it was loading exits with MASTER_GONE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-keeper-gone-'));
  const logFile = join(dir, 'keeper.log');
  const child = fork(KEEPER_ENTRY, [], {
    cwd: dir,
    env: { CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_LOG_FILE: logFile, CORRAL_LOG_LEVEL: 'info', ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    // At once: the child is still in node's start and its module loading, listening for nothing.
    child.disconnect();
    const bound = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(bound);
    assert.equal(code, EXIT.MASTER_GONE, 'exited as for a master gone, not killed at the bound');
    // Its line reaches the file, which was still being opened when it decided to exit: the exit
    // waits for the open (it flushed nothing, and the line was lost every time).
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    const events = text.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { event?: string }).event);
    assert.ok(events.includes('keeper.master_gone'), `keeper.master_gone in the log file (got ${JSON.stringify(events)})`);
    assert.ok(!events.includes('keeper.ready'), 'it did not boot on');
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
