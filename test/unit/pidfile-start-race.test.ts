// Two `corral start` at once on one pidfile (master/pidfile-guard.ts): exactly one takes it. Each
// racer is a process of its own that waits for the same instant, then writes the pidfile as start
// does and stays alive until both have answered, as a master would. Without the guard both took it in about one
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
// Each racer says it is ready once loaded, is told the instant to write at, and stays alive until
// both have answered: a racer slow to load (a loaded host) found the other already exited, whose
// pidfile then named a dead pid and was rightly replaced.
const RACER = `
const { writePidfile } = await import(${JSON.stringify(PIDFILE)});
const [file] = process.argv.slice(1);
process.stdout.write('ready\\n');
let input = '';
let wrote = false;
process.stdin.on('data', (d) => {
  input += d;
  if (wrote || !input.includes('\\n')) return;
  wrote = true;
  const at = Number(input.split('\\n')[0]);
  while (Date.now() < at) {}
  let said;
  try { writePidfile(file); said = 'took it'; } catch (err) { said = err.code; }
  process.stdout.write(said + '\\n');
});
process.stdin.on('end', () => process.exit(0));
`;

interface Racer {
  readonly ready: Promise<void>;
  readonly said: Promise<string>;
  go(at: number): void;
  release(): Promise<void>;
}

function racer(file: string): Racer {
  const child = spawn(process.execPath, ['--input-type=module', '-e', RACER, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let out = '';
  let onLine: ((lines: string[]) => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    onLine?.(out.split('\n').filter(Boolean));
  });
  const lines = (n: number) =>
    new Promise<string[]>((resolve, reject) => {
      child.on('error', reject);
      void exited.then(() => reject(new Error(`a racer exited before its answer: ${out}`)));
      onLine = (got) => {
        if (got.length >= n) resolve(got);
      };
      onLine(out.split('\n').filter(Boolean));
    });
  const ready = lines(1).then(() => undefined);
  return {
    ready,
    said: ready.then(() => lines(2)).then((got) => got[1] as string),
    go: (at) => child.stdin.write(`${at}\n`),
    release: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

test('two starts at the same instant: one takes the pidfile, the other is refused as a second start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-race-'));
  try {
    for (let trial = 0; trial < 12; trial++) {
      const file = join(dir, `corral-${trial}.pid`);
      const racers = [racer(file), racer(file)];
      try {
        await Promise.all(racers.map((r) => r.ready));
        const at = Date.now() + 50;
        for (const r of racers) r.go(at);
        const said = (await Promise.all(racers.map((r) => r.said))).sort();
        assert.deepEqual(said, ['CORRAL_ERR_ALREADY_RUNNING', 'took it'], `trial ${trial}`);
      } finally {
        await Promise.all(racers.map((r) => r.release()));
      }
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
