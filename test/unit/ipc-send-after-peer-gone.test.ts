// A child's send on a channel whose other end the master already closed (the master killed while
// the child's loop was busy, so the child has not yet read the end of its channel): Node fails the
// write with EPIPE and, as no callback was given, emits it as an 'error' event on the process
// (forwarded to cluster.worker in a worker), which nothing listens to: an uncaught exception. A
// worker then logged worker.uncaught ("draining this worker", or app.load_failed while booting)
// and the keeper keeper.uncaught, exiting 70, for what is only its master gone: 'disconnect' says that.

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/ipc-send-child.js');

async function linesUntilExit(child: ChildProcess): Promise<string[]> {
  const lines: string[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (line === 'ready') {
        // Busy from now on: the end of the channel is not read before its send.
        child.send('busy', () => child.disconnect());
      }
    }
  });
  await new Promise((resolve) => child.once('exit', resolve));
  return lines;
}

test('a keeper (plain fork) sending after its master closed the channel: no uncaught exception, only the disconnect', async () => {
  const child = fork(CHILD, [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: [] });
  const lines = await linesUntilExit(child);
  assert.deepEqual(lines, ['ready', 'disconnect']);
});

test('a worker (cluster worker) sending after its master closed the channel: no uncaught exception, only the disconnect', async () => {
  cluster.setupPrimary({ exec: CHILD, execArgv: [], stdio: ['ignore', 'pipe', 'inherit', 'ipc'], silent: false });
  const worker = cluster.fork();
  // node:cluster's own disconnect handling in the worker exits it at once: only the uncaught line matters.
  const lines = await linesUntilExit(worker.process);
  assert.ok(!lines.some((l) => l.startsWith('uncaught')), lines.join(' | '));
});
