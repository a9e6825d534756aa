// `corral emulator` refuses, before it listens, a value that would start an emulator other than
// the one asked for (an empty --host binds every interface; an empty --sheet-file served the
// sample sheet) or print a `use:` line corral then refuses (a --spreadsheet-id SHEET_ID refuses,
// a --client-email its key loader refuses); and its control endpoint refuses a latency a timer
// cannot hold (Node cuts it to 1 ms) and a fractional quota.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import dotenv from 'dotenv';
import { startEmulator } from '../../src/sheets/emulator/index.js';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');

/** Runs `corral emulator ARGS --port 0`; stopped with SIGTERM should it start listening. */
async function emulator(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [corral, 'emulator', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let stopped = false;
  child.stdout.on('data', (b: Buffer) => {
    stdout += b;
    // Once: a second signal while it stops ends it by the signal's default action, on purpose.
    if (!stopped && stdout.includes('control: ')) {
      stopped = true;
      child.kill('SIGTERM');
    }
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const status = await new Promise<number | null>((done) => child.on('close', done));
  clearTimeout(timer);
  return { status, stdout, stderr };
}

test('an empty --host is refused (exit 64), not bound to every interface with a URL of no host', async () => {
  const r = await emulator(['--host=']);
  assert.equal(r.status, 64, r.stdout);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /--host is empty/);
});

test('an empty --sheet-file is refused (exit 64), not answered with the sample sheet', async () => {
  const r = await emulator(['--sheet-file=']);
  assert.equal(r.status, 64, r.stdout);
  assert.match(r.stderr, /--sheet-file is empty/);
});

test('a --spreadsheet-id SHEET_ID would refuse (a space, a /) is refused as the seed file refuses it', async () => {
  const r = await emulator(['--spreadsheet-id', 'my sheet']);
  assert.equal(r.status, 64, r.stdout);
  assert.match(r.stderr, /--spreadsheet-id must be letters, digits, - or _, got "my sheet"/);
});

test('a --client-email with no @ is refused: corral refuses the key it would write ("has no client_email")', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-emu-'));
  try {
    const r = await emulator(['--key-out', join(dir, 'key.json'), '--client-email', 'reader-sa']);
    assert.equal(r.status, 64, r.stdout);
    assert.match(r.stderr, /--client-email must be an e-mail address/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a `use:` line without a credential corral could use says so (corral refuses SHEET_ID alone with exit 78)', async () => {
  const bare = await emulator([]);
  assert.equal(bare.status, 0, bare.stderr);
  assert.match(bare.stdout, /use: SHEET_ID=\S+ SHEETS_API_URL=\S+\n {2}\(no credential in it, which corral refuses with SHEET_ID: add --key-out FILE/);
  const notPublic = await emulator(['--api-key', 'AIzaTest']);
  assert.match(notPublic.stdout, /SHEETS_API_KEY=AIzaTest\n {2}\(the sheet is not public: every call with SHEETS_API_KEY is answered 403/);
  const good = await emulator(['--api-key', 'AIzaTest', '--public']);
  assert.doesNotMatch(good.stdout, /\n {2}\(/);
});

test('a SIGTERM sent as soon as the announcement is read stops it cleanly (exit 0), not by the signal', async () => {
  // The handlers were installed after the "listening" lines were written: a script that waited for
  // them and stopped the emulator at once killed it about one time in two (status null, SIGTERM).
  for (let i = 0; i < 6; i++) {
    const r = await emulator([]);
    assert.equal(r.status, 0, `run ${i}: ${r.stdout.slice(-120)}`);
    assert.match(r.stdout, /corral emulator: SIGTERM, stopping\ncorral emulator: served /);
  }
});

test('POST /__emulator/faults refuses a latency no timer holds and a fractional quota', async () => {
  const emu = await startEmulator({ port: 0 });
  try {
    const post = async (body: unknown) => {
      const r = await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as { error?: string } };
    };
    // Taken, a 3e9 ms latency was cut by Node to 1 ms (TimeoutOverflowWarning): calls answered at once.
    const big = await post({ latencyMs: 3_000_000_000 });
    assert.equal(big.status, 400, JSON.stringify(big.body));
    assert.match(big.body.error ?? '', /latencyMs must be a number from 0 to 600000/);
    const frac = await post({ readsPerMinute: 1.5 });
    assert.equal(frac.status, 400, JSON.stringify(frac.body));
    assert.match(frac.body.error ?? '', /readsPerMinute must be an integer >= 0/);
    assert.equal(emu.faults().latencyMs, 0);
    assert.equal(emu.faults().readsPerMinute, 300);
  } finally {
    await emu.close();
  }
});

test('the use: line quotes a key path with a space, so it pastes whole into a shell or a .env', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral emu '));
  try {
    const file = join(dir, 'test key.json');
    const r = await emulator(['--key-out', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(`GOOGLE_APPLICATION_CREDENTIALS='${file}'`), r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a value holding a single quote gets .env lines of its own: dotenv does not undo the shell's '\\'' escape", async () => {
  const apiKey = `it's "a" key`;
  const r = await emulator(['--api-key', apiKey, '--public']);
  assert.equal(r.status, 0, r.stderr);
  const use = /^ {2}use: (.*?) {3}\(in a shell\)$/m.exec(r.stdout);
  assert.ok(use, r.stdout);
  // The `use:` line as a shell reads it, before a command.
  const shell = spawnSync('sh', ['-c', `${use[1]} sh -c 'printf %s "$SHEETS_API_KEY"'`], { encoding: 'utf8' });
  assert.equal(shell.stdout, apiKey);
  // The lines under `in .env:` as corral's settings file reads them.
  const block = /^ {2}in \.env:\n((?: {4}.*\n)+)/m.exec(r.stdout);
  assert.ok(block, r.stdout);
  const parsed = dotenv.parse(block[1] ?? '');
  assert.equal(parsed.SHEETS_API_KEY, apiKey);
  assert.match(parsed.SHEETS_API_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(parsed.SHEET_ID ?? '', /^\S+$/);
  // The shell's spelling, as a .env would have read it: the value with the escape left in.
  assert.notEqual(dotenv.parse(`SHEETS_API_KEY=${/SHEETS_API_KEY=('.*')$/.exec(use[1] ?? '')?.[1]}\n`).SHEETS_API_KEY, apiKey);
});

test('values a .env line takes as the shell spells them get the one use: line', async () => {
  const r = await emulator(['--api-key', 'key with blanks', '--public']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ {2}use: SHEET_ID=\S+ SHEETS_API_URL=\S+ SHEETS_API_KEY='key with blanks'$/m);
  assert.doesNotMatch(r.stdout, /in \.env:/);
});
