// Two `corral start` at once on one pidfile (master/pidfile-guard.ts): exactly one takes it. Each
// racer is a process of its own that waits for the same instant, then writes the pidfile as start
// does and stays alive a moment, as a master would. Without the guard both took it in about one
// trial in seven.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GUARD_STALE_MS, guardFile } from '../../src/master/pidfile-guard.js';
import { writePidfile } from '../../src/master/pidfile.js';

const PIDFILE = pathToFileURL(fileURLToPath(new URL('../../src/master/pidfile.js', import.meta.url))).href;
const RACER = `
const { writePidfile } = await import(${JSON.stringify(PIDFILE)});
const [file, at] = process.argv.slice(1);
while (Date.now() < Number(at)) {}
let said;
try { writePidfile(file); said = 'took it'; } catch (err) { said = err.code; }
process.stdout.write(said);
setTimeout(() => process.exit(0), 400);
`;

function race(file: string, at: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', RACER, file, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(out));
  });
}

test('two starts at the same instant: one takes the pidfile, the other is refused as a second start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-race-'));
  try {
    for (let trial = 0; trial < 12; trial++) {
      const file = join(dir, `corral-${trial}.pid`);
      const at = Date.now() + 600;
      const said = (await Promise.all([race(file, at), race(file, at)])).sort();
      assert.deepEqual(said, ['CORRAL_ERR_ALREADY_RUNNING', 'took it'], `trial ${trial}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a guard left by a start killed while writing is taken over once stale, and refuses while fresh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-guard-'));
  try {
    const file = join(dir, 'corral.pid');
    writeFileSync(guardFile(file), '');
    assert.throws(() => writePidfile(file), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_ALREADY_RUNNING' && /another corral start is writing the pidfile right now/.test(err.message));
    const old = (Date.now() - GUARD_STALE_MS - 1000) / 1000;
    utimesSync(guardFile(file), old, old);
    assert.equal(writePidfile(file), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
