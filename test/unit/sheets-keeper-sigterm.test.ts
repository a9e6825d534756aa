// A TERM sent to the whole process group reaches the keeper and the master at once. The keeper
// leaves its stop to the master (keeper.sigterm_deferred), which drains it once the last worker is
// gone or, when a worker overran its graceful timeout, at its first tick past the stop's deadline
// (the graceful timeout + 2 s, ticks 250 ms apart), and kills it KEEPER_STOP_MS after that drain.
// The keeper's own fallback (for a TERM sent to it alone) must not fire before that drain: drained
// by itself with its whole graceful timeout, it ignored the master's drain and was then SIGKILLed
// mid-flush by the master, its cache never handed over.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { identityEnv } from '../../src/config/identity.js';
import { IPC_TAG } from '../../src/ipc/messages.js';

const KEEPER_ENTRY = fileURLToPath(new URL('../../src/sheets/keeper-entry.js', import.meta.url));

/** Until the keeper's log file holds a line of `event` (10 s at most). */
async function waitForLine(file: string, event: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.split('\n').some((l) => l.includes(`"event":"${event}"`))) return;
  }
  throw new Error(`no ${event} line in ${file} within 10 s`);
}

/** A ready keeper of its own, forked as the master forks it, started with CORRAL_GRACEFUL_TIMEOUT=`gracefulS`. */
async function readyKeeper(prefix: string, gracefulS: number) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const logFile = join(dir, 'keeper.log');
  const child = fork(KEEPER_ENTRY, [], {
    cwd: dir,
    env: { CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_LOG_FILE: logFile, CORRAL_LOG_LEVEL: 'info', CORRAL_GRACEFUL_TIMEOUT: String(gracefulS), ...identityEnv({ role: 'keeper', workerId: 0, generation: 1 }) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error('the keeper was not ready in 20 s')), 20_000);
      child.on('message', (m: { type?: string }) => {
        if (m.type !== 'ready') return;
        clearTimeout(bound);
        resolve();
      });
    });
  } catch (err) {
    await close();
    throw err;
  }
  const lines = () => readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string; reason?: string; wait_ms?: number });
  return { child, exited, logFile, lines, close };
}

test("a group TERM: the keeper carries out the master's drain sent at the stop's first tick past its deadline, not one of its own", async () => {
  const graceful = 1;
  const k = await readyKeeper('corral-keeper-sigterm-', graceful);
  try {
    k.child.kill('SIGTERM');
    // The master's drain: a worker overran, so at its first tick past the deadline, with KEEPER_STOP_MS.
    const drain = setTimeout(() => {
      if (k.child.connected) k.child.send({ tag: IPC_TAG, type: 'drain', reason: 'shutdown', gracefulMs: 5000, hostStopping: true });
    }, graceful * 1000 + 2000 + 200);
    assert.equal(await k.exited, 0);
    clearTimeout(drain);
    assert.deepEqual(k.lines().filter((l) => l.event === 'keeper.drained').map((l) => l.reason), ['shutdown'], "drained by the master's drain");
  } finally {
    await k.close();
  }
});

test('a TERM from outside after a reload changed the graceful timeout: the keeper waits for the master by the timeout it was told, not the one it started with', async () => {
  // Started with 60 s (a fallback after 67 s); told 0 by the master's reload: 7 s.
  const k = await readyKeeper('corral-keeper-sigterm-told-', 60);
  try {
    k.child.send({ tag: IPC_TAG, type: 'graceful-timeout', ms: 0 });
    // Taken before the signal is sent (said in the log), not merely sent before it.
    await waitForLine(k.logFile, 'keeper.graceful_timeout');
    const signalled = Date.now();
    k.child.kill('SIGTERM');
    assert.equal(await k.exited, 0);
    const took = Date.now() - signalled;
    assert.deepEqual(k.lines().filter((l) => l.event === 'keeper.sigterm_deferred').map((l) => l.wait_ms), [7000]);
    assert.deepEqual(k.lines().filter((l) => l.event === 'keeper.drained').map((l) => l.reason), ['SIGTERM'], 'no master drained it: it drained itself');
    assert.ok(took < 30_000, `drained ${took} ms after the TERM`);
  } finally {
    await k.close();
  }
});
