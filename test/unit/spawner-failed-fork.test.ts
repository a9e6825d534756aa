import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import { reportFailedFork } from '../../src/master/spawner.js';

test('a fork that fails (no process, so no exit event) is reported once as an exit, with its error', async () => {
  // The executable cannot be started: node:child_process gives a child with no pid that emits
  // 'error' and 'close', as under a pids limit (EAGAIN), and never 'exit'.
  const child = fork('/nonexistent/app.js', [], { execPath: '/nonexistent/node', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  assert.equal(child.pid, undefined);
  const exits: Array<[number | null, NodeJS.Signals | null, string | undefined]> = [];
  reportFailedFork(child, { onMessage: () => {}, onExit: (code, signal, forkError) => void exits.push([code, signal, (forkError as NodeJS.ErrnoException | undefined)?.code]) });
  child.on('error', () => {});
  await new Promise((resolve) => child.once('close', resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(exits, [[null, null, 'ENOENT']]);
});
