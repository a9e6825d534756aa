// The signals a child ignores from its entry file's first statement (group-signals.ts), in a real
// process sent real signals: the master's signals, sent to its whole process group
// (`systemctl kill --signal=TTIN corral` without --kill-who=main signals every process of the
// unit; `kill -TTIN -<pgid>`), must not stop or end a worker or the keeper by their default action.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/corral.js';

const MODULE = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'group-signals.js')).href;

/** The process's state letter in /proc (R, S, T for stopped, Z), or undefined once it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[0];
  } catch {
    return undefined;
  }
}

for (const signal of ['SIGTTIN', 'SIGTTOU', 'SIGQUIT', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) {
  test(`a child neither stops nor dies of ${signal} sent to the whole group: the master acts on it and tells its children`, async () => {
    const script = `
      const { ignoreGroupSignals } = await import(${JSON.stringify(MODULE)});
      ignoreGroupSignals();
      setInterval(() => {}, 1000);
      process.stdout.write('ready\\n');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(child.stdout, 'data');
      const pid = child.pid as number;
      child.kill(signal);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(child.signalCode, null, `ended by ${signal}`);
      assert.notEqual(stateOf(pid), 'T', `stopped by ${signal} (its default action), as a worker or the keeper was`);
    } finally {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }
  });
}
