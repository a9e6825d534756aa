// Signalling the master: one gone between its lookup and the signal is not running, said as such
// (stop exits 0, reload 3), not an internal error with a stack.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { assertMaySignal, signalMaster } from '../../src/cli/master-signal.js';
import { CorralError, EXIT } from '../../src/errors.js';

/** The pid of a process that has exited and been reaped: nothing answers to it now. */
async function gonePid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  assert.ok(child.pid !== undefined);
  return child.pid;
}

test('a master that exited between its lookup and the signal is not running, for the signal and for the check alike', async () => {
  const pid = await gonePid();
  for (const send of [() => signalMaster(pid, 'SIGTERM'), () => assertMaySignal(pid, 'SIGHUP')]) {
    assert.throws(send, (err: unknown) => {
      assert.ok(err instanceof CorralError, String(err));
      assert.equal(err.code, 'CORRAL_ERR_NOT_RUNNING');
      assert.match(err.message, new RegExp(`^corral is not running \\(master pid ${pid} exited before SIG(TERM|HUP) reached it\\)$`));
      return true;
    });
  }
  assert.equal(EXIT.NOT_RUNNING, 3, 'reload says so with its exit code');
});
