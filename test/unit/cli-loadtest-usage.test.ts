import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-loadtest-usage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the real CLI; each refused command line ends before the target (port 9, discard) is asked. */
function loadtest(...args: string[]) {
  return spawnSync(process.execPath, [corral, 'loadtest', ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none' }, timeout: 20_000 });
}

// The README (Commands): a command given an option it does not know, or a bad value, says what is
// wrong, its usage line and where its --help is, and exits 64, as every other command does.
// loadtest said the usage line for none, and where its --help is for an unknown option alone.
test('a loadtest command line refused (an unknown option, a bad value, no --target) says what is wrong, the usage line and where --help is, exit 64', () => {
  for (const [args, says] of [
    [['--target', 'http://127.0.0.1:9', '--bogus'], "Unknown option '--bogus'"],
    [['--target', 'http://127.0.0.1:9', '--users', '1.5'], '--users: "1.5" must be a whole number from 1 to 10000, in decimal digits'],
    [['--target', 'http://127.0.0.1:9', '--steps', '5,0x10'], '--steps: "0x10" must be a whole number from 1 to 10000'],
    [['--target', 'http://127.0.0.1:9', '--think-time', '60'], '--think-time'],
    [['--users', '5'], '--target URL is required'],
  ] as const) {
    const r = loadtest(...args);
    assert.equal(r.status, 64, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    const lines = r.stderr.split('\n');
    assert.ok(lines[0]?.startsWith('corral loadtest: [CORRAL_ERR_LOADTEST_INPUT] ') && lines[0].includes(says), `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(lines.slice(1), ['Usage: corral loadtest --target URL [options]', 'Run `corral loadtest --help` for the options and exit codes.', ''], `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});
