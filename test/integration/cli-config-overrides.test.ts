// `corral config` run by the operator, as a process: a setting the environment overrides is said
// to be, as the master says it at start and at each reload (config.env_overrides).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CORRAL_BIN } from '../helpers/corral.js';

const run = promisify(execFile);

async function config(dir: string, args: readonly string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CORRAL_BIN, 'config', ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('corral config says which lines of the file the environment overrides (the edit that changes nothing), secrets redacted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-config-overrides-'));
  try {
    const file = join(dir, '.env');
    writeFileSync(file, 'CORRAL_TIMEOUT=20\nCORRAL_WORKERS=2\nCORRAL_ADMIN_TOKEN=file-token-0123456789\n', { mode: 0o600 });
    // An exported variable left in the shell: the master started from it uses 40, not the file's 20.
    const env = { CORRAL_TIMEOUT: '40', CORRAL_WORKERS: '2', CORRAL_ADMIN_TOKEN: 'env-token-0123456789ab' };
    const said = (secret: boolean) => [
      `CORRAL_TIMEOUT is set in ${file} (20) and in the environment (40), whose value is used: the file's line has no effect; unset it in the environment (the shell's export, the unit's Environment=) to manage it in the file`,
      `CORRAL_ADMIN_TOKEN is set in ${file} (<redacted>) and in the environment (<redacted>), whose value is used: the file's line has no effect; unset it in the environment (the shell's export, the unit's Environment=) to manage it in the file`,
    ][secret ? 1 : 0];
    const table = await config(dir, [], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^CORRAL_TIMEOUT\s+40\s+environment$/m);
    assert.equal(table.stderr, `warning: ${said(false)}\nwarning: ${said(true)}\n`, 'the same value in both (CORRAL_WORKERS) is no override');
    assert.doesNotMatch(table.stdout + table.stderr, /token-0123456789/);

    const check = await config(dir, ['--check'], env);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, `settings OK (env file: ${file}; 2 warnings on stderr)\n`);

    const json = await config(dir, ['--json'], env);
    assert.deepEqual((JSON.parse(json.stdout) as { warnings: string[] }).warnings, [said(false), said(true)]);

    // Without the environment's values, nothing is said.
    const plain = await config(dir, ['--check'], {});
    assert.equal(plain.stdout, `settings OK (env file: ${file})\n`);
    assert.equal(plain.stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
