// A fork refused for want of file descriptors (EMFILE: the master at its open-files limit, which
// a reload reaches first, holding four descriptors per child for two generations at once). Node
// then gives a child with no pid and no stdio at all; the spawner read the stack probe's end from
// that missing stdio and threw, so the arbiter never recorded the child: every later tick threw
// the same TypeError (master.tick_failed) at its first fork, and a reload of 64 workers under
// `ulimit -n 400` stayed "in progress" with 27 new workers forked, past its bound, until a stop.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'corral-fork-emfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SPAWNER = new URL('../../src/master/spawner.js', import.meta.url).href;

/**
 * Runs, under `ulimit -n 128`, a master-side script that fills its descriptors but four (too few
 * for a child's stdio socketpairs) and forks one child of `role` through the spawner. Prints what
 * spawn() returned or threw, and the exit it reported.
 */
async function forkAtLimit(role: 'worker' | 'keeper'): Promise<{ threw?: string; pid?: number; probe?: boolean; exit?: { code: number | null; signal: string | null; forkError?: string } }> {
  const child = join(dir, 'child.mjs');
  writeFileSync(child, 'setTimeout(() => {}, 1000);\n');
  const script = join(dir, `master-${role}.mjs`);
  writeFileSync(
    script,
    `import { openSync, closeSync } from 'node:fs';
import { createSpawner } from ${JSON.stringify(SPAWNER)};
const spawner = createSpawner({ workerExec: ${JSON.stringify(child)}, keeperExec: ${JSON.stringify(child)}, listenSocket: { accept: 'shared', backlog: 16 } });
const filler = [];
for (;;) { try { filler.push(openSync('/dev/null', 'r')); } catch { break; } }
for (let i = 0; i < 4; i++) closeSync(filler.pop());
const out = {};
const exited = new Promise((resolve) => {
  try {
    const s = spawner.spawn({ role: ${JSON.stringify(role)}, workerId: 1, generation: 1 }, {}, {
      onMessage: () => {},
      onExit: (code, signal, forkError) => { out.exit = { code, signal, ...(forkError ? { forkError: forkError.code } : {}) }; resolve(); },
    });
    out.pid = s.handle.pid;
    out.probe = s.stackProbe !== undefined;
  } catch (err) {
    out.threw = String(err);
    resolve();
  }
});
await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
for (const fd of filler) closeSync(fd);
process.stdout.write(JSON.stringify(out));
process.exit(0);
`,
  );
  const { stdout } = await run('/bin/sh', ['-c', `ulimit -n 128 && exec "$0" "$1"`, process.execPath, script], { cwd: fileURLToPath(new URL('.', import.meta.url)), timeout: 20_000 });
  return JSON.parse(stdout) as Awaited<ReturnType<typeof forkAtLimit>>;
}

for (const role of ['worker', 'keeper'] as const) {
  test(`a ${role} fork refused with EMFILE returns a child with no process and reports it as a failed fork, without throwing`, async () => {
    const r = await forkAtLimit(role);
    assert.equal(r.threw, undefined, `spawn() threw: ${r.threw}`);
    assert.equal(r.pid, -1, 'no process');
    assert.equal(r.probe, false, 'no stack probe');
    assert.deepEqual(r.exit, { code: null, signal: null, forkError: 'EMFILE' }, 'reported once as an exit, with the error the fork-failure message names');
  });
}
