// A bench killed half-way (`kill <pid>`, a cancelled CI job) must not leave the servers it started
// running: Node ends a process on SIGTERM without its 'exit' event, where the guards stop them.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const lib = (file: string) => new URL(`../../bench/lib/${file}`, import.meta.url).href;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a bench SIGTERMed while a bare server runs exits 143 and the server goes with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-orphan-'));
  const script = join(dir, 'bench.mjs');
  writeFileSync(
    script,
    `import { startBare } from ${JSON.stringify(lib('servers.js'))};\n` +
      `import { exitOnSignals } from ${JSON.stringify(lib('orphan-guard.js'))};\n` +
      `exitOnSignals();\n` +
      `const s = await startBare(1);\n` +
      `process.stdout.write(JSON.stringify({ pid: s.pid }) + '\\n');\n` +
      `setInterval(() => {}, 1000);\n`,
  );
  const bench = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let serverPid = -1;
  try {
    serverPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      bench.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { pid: number }).pid);
      });
      bench.once('exit', (code) => reject(new Error(`bench exited ${code}`)));
    });
    assert.ok(alive(serverPid));
    const exited = new Promise<number | null>((resolve) => bench.once('exit', (code) => resolve(code)));
    bench.kill('SIGTERM');
    assert.equal(await exited, 143);
    const deadline = Date.now() + 5000;
    while (alive(serverPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(serverPid), false, 'the bare server outlived the bench');
  } finally {
    if (bench.exitCode === null && bench.signalCode === null) bench.kill('SIGKILL');
    if (serverPid > 0 && alive(serverPid)) process.kill(serverPid, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
