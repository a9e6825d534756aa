import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-json-refusal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: readonly string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [corral, ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', ...env }, timeout: 20_000 });
}

/** stdout must be one JSON object (JSON.parse refuses two), its error the one stderr says. */
function refusal(args: readonly string[], status: number, env?: Record<string, string>): Record<string, unknown> & { error: { code: string; message: string } } {
  const r = run(args, env);
  assert.equal(r.status, status, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  const said = JSON.parse(r.stdout) as Record<string, unknown> & { error: { code: string; message: string } };
  assert.ok(r.stderr.includes(said.error.message), `the message is the one on stderr: ${r.stderr}`);
  return said;
}

// README (Commands): `status --json` prints one JSON object whatever the answer, so that
// `corral status --json | jq .running` never reads an empty answer, which jq takes as success.
// A command line refused beside --json printed the usage error on stderr and nothing on stdout.
test('status --json with a refused command line still prints one JSON object (running null, the usage error), exit 64', () => {
  for (const args of [['--json', '--quiet'], ['--json', '--json'], ['--json', 'now'], ['--json=yes']]) {
    const said = refusal(['status', ...args], 64);
    assert.equal(said.running, null);
    assert.equal(said.error.code, 'CORRAL_ERR_USAGE');
    assert.match(run(['status', ...args]).stderr, /\nUsage: corral status \[--json\]\n/);
  }
  // Without --json the refusal stays on stderr alone.
  const plain = run(['status', '--quiet']);
  assert.equal(plain.status, 64);
  assert.equal(plain.stdout, '');
});

test('status --json with refused settings prints one JSON object (running null), exit 78', () => {
  const said = refusal(['status', '--json'], 78, { CORRAL_ADMIN_BIND: 'nowhere:99999' });
  assert.equal(said.running, null);
  assert.equal(said.error.code, 'CORRAL_ERR_CONFIG_INVALID');
});

// config, check and recommend with --json printed nothing on stdout for a refused command line
// (and recommend for refused settings too): each answers in its own shape.
test('config --json with a refused command line answers valid false with no problems, exit 64', () => {
  for (const args of [['--json', '--quiet'], ['--json', '--example']]) {
    const said = refusal(['config', ...args], 64);
    assert.equal(said.valid, false);
    assert.equal(said.error.code, 'CORRAL_ERR_USAGE');
    assert.deepEqual(said.problems, []);
    assert.deepEqual(said.warnings, []);
  }
  // Refused settings: once, with the problem named (it was written by the command itself before).
  const said = refusal(['config', '--json'], 78, { CORRAL_WORKERS: 'many' });
  assert.equal(said.valid, false);
  assert.equal(said.error.code, 'CORRAL_ERR_CONFIG_INVALID');
  assert.deepEqual((said.problems as { name: string }[]).map((p) => p.name), ['CORRAL_WORKERS']);
  assert.equal(run(['config', '--example', '--check']).stdout, '', 'without --json, nothing on stdout');
});

test('check --json with a refused command line answers ok false at the stage "usage", exit 64', () => {
  const said = refusal(['check', '--json', '--quiet'], 64);
  assert.equal(said.ok, false);
  assert.equal(said.stage, 'usage');
  assert.equal(said.error.code, 'CORRAL_ERR_USAGE');
  assert.match(String(said.line), /^FAIL \(usage\): Unknown option '--quiet'.* \[CORRAL_ERR_USAGE\]$/);
});

test('recommend --json refused answers recommended null: a command line (64), the settings (78)', () => {
  const usage = refusal(['recommend', '--json', '--ram-budget', '0'], 64);
  assert.equal(usage.recommended, null);
  assert.equal(usage.error.code, 'CORRAL_ERR_USAGE');
  const settings = refusal(['recommend', '--json'], 78, { CORRAL_ADMIN_BIND: 'nowhere:99999' });
  assert.equal(settings.recommended, null);
  assert.equal(settings.error.code, 'CORRAL_ERR_CONFIG_INVALID');
});

// An error corral did not foresee (a bug) printed its stack on stderr and nothing on stdout, so
// `corral status --json | jq .running` read an empty answer: each command's JSON answer now says
// it too, as CORRAL_ERR_INTERNAL, and stderr keeps the stack to report.
test('an error no command foresaw is CORRAL_ERR_INTERNAL: the stack on stderr, the JSON answer on stdout when asked, exit 1 (status: 4, unknown)', async () => {
  const { commandFailure } = await import('../../src/cli/main.js');
  const { commands } = await import('../../src/cli/commands/index.js');
  const exitOf = (name: string) => commands.find((c) => c.name === name)?.internalErrorExit;
  const { statusCommand } = await import('../../src/cli/commands/status.js');
  const { configCommand } = await import('../../src/cli/commands/config.js');
  const { checkCommand } = await import('../../src/cli/commands/check.js');
  const { recommendCommand } = await import('../../src/cli/commands/recommend.js');
  const bug = new TypeError("Cannot read properties of undefined (reading 'pid')");
  // status's 1 says corral runs (its admin API did not answer): a bug there is LSB's 4, unknown.
  for (const [command, answer, exitCode] of [
    [statusCommand, { running: null }, 4],
    [configCommand, { valid: false }, 1],
    [checkCommand, { ok: false, stage: 'internal' }, 1],
    [recommendCommand, { recommended: null }, 1],
  ] as const) {
    const said = commandFailure(command, ['--json'], bug, exitOf(command.name));
    assert.equal(said.exitCode, exitCode, command.name);
    const json = JSON.parse(said.stdout ?? '') as Record<string, unknown> & { error: { code: string; message: string } };
    for (const [key, value] of Object.entries(answer)) assert.equal(json[key], value, `${command.name}: ${key}`);
    assert.equal(json.error.code, 'CORRAL_ERR_INTERNAL', command.name);
    assert.match(json.error.message, /^Cannot read properties of undefined \(reading 'pid'\) \(an error corral did not foresee: a bug; its stack is on stderr\)$/);
    assert.match(said.stderr, new RegExp(`^corral ${command.name}: \\[CORRAL_ERR_INTERNAL\\] an error corral did not foresee \\(a bug: please report it with this stack\\): TypeError: Cannot read properties of undefined \\(reading 'pid'\\)\\n    at `));
    // Without --json, stderr alone.
    assert.equal(commandFailure(command, [], bug).stdout, undefined, command.name);
  }
  // A thrown value that is no Error at all is said as it is.
  assert.match(commandFailure(statusCommand, [], 'lost').stderr, /\[CORRAL_ERR_INTERNAL\] .*: lost\n$/);
  // A command with no JSON answer (start) says it on stderr alone, even given --json.
  const { startCommand } = await import('../../src/cli/commands/start.js');
  assert.equal(commandFailure(startCommand, ['--json'], bug).stdout, undefined);
});

// `corral status` run while `npm ci` rebuilds dist/: its module is not there. It printed Node's
// unhandled rejection (no code; for status, exit 1, which says corral runs).
test("a command whose own modules cannot be loaded says CORRAL_ERR_CODE_LOAD and how to fix it; status exits 4 (unknown), the others 1", async () => {
  const { commandLoadFailure } = await import('../../src/cli/main.js');
  const { commands } = await import('../../src/cli/commands/index.js');
  const missing = Object.assign(new Error("Cannot find module '/srv/corral/dist/src/cli/commands/status.js' imported from /srv/corral/dist/src/cli/commands/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
  for (const [name, exitCode] of [['status', 4], ['reload', 1], ['config', 1]] as const) {
    const entry = commands.find((c) => c.name === name);
    assert.ok(entry, name);
    const said = commandLoadFailure(entry, missing);
    assert.equal(said.exitCode, exitCode, name);
    assert.match(said.stderr, new RegExp(`^corral ${name}: \\[CORRAL_ERR_CODE_LOAD\\] corral's own code could not be loaded \\(Cannot find module .*status\\.js.*\\): its files changed while this command started \\(npm ci or git pull in its directory\\) or are incomplete \\(a file cut short\\); once the build is whole again \\(npm ci in its directory rebuilds dist/, or reinstall corral\\), run the command again\\n$`));
  }
});

// Out of descriptors while a command ran printed its line on stderr and nothing on stdout.
test('out of file descriptors while a command runs is CORRAL_ERR_FD_LIMIT with the fix, in the JSON answer too when asked, exit 78', async () => {
  const { commandFailure, outOfDescriptors, FD_LIMIT_FIX } = await import('../../src/cli/main.js');
  const { statusCommand } = await import('../../src/cli/commands/status.js');
  const emfile = Object.assign(new Error("EMFILE: too many open files, open '/run/corral/corral.pid'"), { code: 'EMFILE' });
  const refusal = outOfDescriptors(emfile, 'while the command ran');
  assert.ok(refusal);
  assert.equal(outOfDescriptors(new Error('ENOENT'), 'while the command ran'), undefined, 'another error is not this one');
  const said = commandFailure(statusCommand, ['--json'], refusal);
  assert.equal(said.exitCode, 78);
  const json = JSON.parse(said.stdout ?? '') as { running: unknown; error: { code: string; message: string } };
  assert.equal(json.running, null);
  assert.equal(json.error.code, 'CORRAL_ERR_FD_LIMIT');
  assert.match(json.error.message, /^this process ran out of file descriptors \(.*\) while the command ran: EMFILE: too many open files, open '\/run\/corral\/corral\.pid'; /);
  assert.ok(json.error.message.endsWith(FD_LIMIT_FIX));
  assert.equal(said.stderr, `corral status: [CORRAL_ERR_FD_LIMIT] ${json.error.message}\n`);
});

// A usage refusal said what was wrong without its code, while every other refusal carries one:
// `grep CORRAL_ERR_` over a script's log missed a command line that was never run, and a refused
// loadtest (which prints its own) read unlike a refused start.
test('a refused command line carries [CORRAL_ERR_USAGE], with its usage line and the pointer to --help, exit 64', async () => {
  const { commandFailure } = await import('../../src/cli/main.js');
  const { CorralError } = await import('../../src/errors.js');
  const { startCommand } = await import('../../src/cli/commands/start.js');
  const said = commandFailure(startCommand, ['--bogus'], new CorralError('CORRAL_ERR_USAGE', "Unknown option '--bogus'"));
  assert.equal(said.exitCode, 64);
  assert.match(said.stderr, /^corral start: \[CORRAL_ERR_USAGE\] Unknown option '--bogus'\nUsage: corral start.*\nRun `corral start --help` for the options and exit codes\.\n$/);
});
