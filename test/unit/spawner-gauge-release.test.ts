// A worker's connection gauge is freed when its process exits, not once its stdout is relayed:
// a grandchild that inherited the pipe holds that up to STDOUT_END_WAIT_MS, and the dead worker's
// connections were counted at the host's cap meanwhile (spawner.ts).

import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createCounterTable } from '../../src/counter-table.js';
import type { ConnectionGauges } from '../../src/master/connection-gauges.js';
import { createSpawner } from '../../src/master/spawner.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-gauge-'));
const tableFd = createCounterTable(1024, 16);
after(() => {
  closeSync(tableFd);
  rmSync(dir, { recursive: true, force: true });
});

test("a worker's gauge is freed at its process's exit, while a grandchild still holds its stdout", async () => {
  const pidFile = join(dir, 'grandchild.pid');
  const script = join(dir, 'worker.cjs');
  // The grandchild inherits the worker's stdout and outlives it.
  writeFileSync(script, `const { spawn } = require('node:child_process');\nconst g = spawn('sleep', ['30'], { stdio: ['ignore', 'inherit', 'ignore'] });\nrequire('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(g.pid));\ng.unref();\nprocess.exit(0);\n`);
  const said: string[] = [];
  let reported = false;
  const gauges: ConnectionGauges = {
    acquire: () => 3,
    release: (i) => {
      said.push(`release ${i}`);
      // The exit is reported once the grandchild's pipe is given up on, a second later: not in this turn.
      setImmediate(() => said.push(reported ? 'exit already reported' : 'exit not reported yet'));
    },
  };
  const spawner = createSpawner({ workerExec: script, keeperExec: undefined, listenSocket: { accept: 'shared', backlog: 16 }, counterTableFd: tableFd, connectionGauges: gauges, stdout: { write: () => undefined } });
  try {
    await new Promise<void>((resolve) => {
      spawner.spawn({ role: 'worker', workerId: 1, generation: 1 }, {}, {
        onMessage: () => undefined,
        onExit: () => {
          reported = true;
          said.push('exit reported');
          resolve();
        },
      });
    });
    assert.deepEqual(said, ['release 3', 'exit not reported yet', 'exit reported']);
  } finally {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});
