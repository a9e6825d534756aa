import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-status-json-usage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// README (Commands): `status --json` prints one JSON object whatever the answer, so that
// `corral status --json | jq .running` never reads an empty answer, which jq takes as success.
// A command line refused beside --json printed the usage error on stderr and nothing on stdout.
test('status --json with a refused command line still prints one JSON object (running null, the usage error), exit 64', () => {
  for (const args of [['--json', '--quiet'], ['--json', '--json'], ['--json', 'now'], ['--json=yes']]) {
    const r = spawnSync(process.execPath, [corral, 'status', ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none' }, timeout: 20_000 });
    assert.equal(r.status, 64, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    const said = JSON.parse(r.stdout) as { running: unknown; error: { code: string; message: string } };
    assert.equal(said.running, null);
    assert.equal(said.error.code, 'CORRAL_ERR_USAGE');
    assert.ok(r.stderr.includes(said.error.message), `the message is the one on stderr: ${r.stderr}`);
    assert.match(r.stderr, /\nUsage: corral status \[--json\]\n/);
  }
  // Without --json the refusal stays on stderr alone.
  const plain = spawnSync(process.execPath, [corral, 'status', '--quiet'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none' }, timeout: 20_000 });
  assert.equal(plain.status, 64);
  assert.equal(plain.stdout, '');
});
