// A command whose exit code is its verdict keeps it when the reader of its stdout went away
// (`corral check | head -n1` under `set -o pipefail`, `corral check | true`): a closed stdout
// (EPIPE) ended every command but loadtest and start with exit 0, so a FAIL read as OK.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CORRAL_BIN } from '../helpers/corral.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-verdict-epipe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs corral with its stdout's reading end closed before it writes anything. */
function runWithClosedStdout(args: readonly string[], env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CORRAL_BIN, ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: join(dir, 'data'), ...env },
    });
    // The reader goes away at once: corral needs some 100 ms to load before its first write.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stderr });
    });
  });
}

// No network: the key file is missing, a FAIL (credentials) before any call.
const failing = { SHEET_ID: 'some-sheet', GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/key.json' };

test('check: a FAIL verdict is exit 1 though nobody read it', async () => {
  const r = await runWithClosedStdout(['check'], failing);
  assert.equal(r.status, 1, `a FAIL must not exit 0 (stderr: ${r.stderr})`);
});

test('check --json: a FAIL verdict is exit 1 though nobody read it', async () => {
  const r = await runWithClosedStdout(['check', '--json'], failing);
  assert.equal(r.status, 1, `a FAIL must not exit 0 (stderr: ${r.stderr})`);
});

test('check: an OK verdict is still exit 0 with a closed stdout', async () => {
  const r = await runWithClosedStdout(['check'], {});
  assert.equal(r.status, 0, r.stderr);
});

test('config (no verdict in its exit code) still ends with 0 when its reader went away', async () => {
  const r = await runWithClosedStdout(['config'], {});
  assert.equal(r.status, 0, r.stderr);
});
