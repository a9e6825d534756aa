// A worker whose master is gone (the IPC channel closed while it was not asked to stop) exits
// EXIT.MASTER_GONE, and its worker.master_gone line reaches the log file even when the file is
// still opening: the exit waits for the open (bounded), as the keeper's does. Exiting at once
// flushed a file with no fd yet, and the only line that said why the worker exited was lost.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import cluster from 'node:cluster';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/errors.js';

const CHILD = fileURLToPath(new URL('../fixtures/master-gone-worker.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'corral-worker-gone-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Forks the worker, closes its channel once it logs, and returns its exit code and its log file's events. */
async function masterGoneWhileLogOpening(name: string, stopAsked: boolean): Promise<{ code: number | null; events: unknown[] }> {
  const fifo = join(dir, `${name}.fifo`);
  execFileSync('mkfifo', [fifo]);
  const logFile = join(dir, `${name}.log`);
  cluster.setupPrimary({ exec: CHILD, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], silent: false });
  const worker = cluster.fork({ UV_THREADPOOL_SIZE: '1', MASTER_GONE_FIFO: fifo, MASTER_GONE_LOG_FILE: logFile, MASTER_GONE_STOP_ASKED: stopAsked ? '1' : '0' });
  const exited = new Promise<number | null>((resolve) => worker.process.once('exit', (code) => resolve(code)));
  // As the master's death does: the channel closes, not through node:cluster's disconnect().
  worker.once('message', () => worker.process.disconnect());
  const bound = setTimeout(() => worker.process.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(bound);
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  const events = text.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { event?: unknown }).event);
  return { code, events };
}

test('a worker whose master is gone while its log file is still opening exits MASTER_GONE, its line in the file', async () => {
  const { code, events } = await masterGoneWhileLogOpening('gone', false);
  assert.equal(code, EXIT.MASTER_GONE, 'exited as for a master gone, neither 0 (node:cluster\'s own exit) nor killed at the bound');
  assert.deepEqual(events, ['worker.master_gone'], 'its line reached the file once it opened');
});

test('a worker draining when its channel closes (the master killed mid-stop) cuts what its drain holds through its forced close, says so, and exits', async () => {
  // node:cluster's own listener exited it 0 at once: the requests its drain still held were cut
  // with no line at all (no access line, no worker line), the master's log ending at shutdown.start.
  const { code, events } = await masterGoneWhileLogOpening('stopping', true);
  assert.equal(code, EXIT.MASTER_GONE);
  assert.deepEqual(events, ['worker.master_gone', 'worker.drain_forced']);
});
