import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { decimalFlag, integerFlag } from '../../src/cli/number-flag.js';
import { parseDecimal, parseInteger } from '../../src/config/number-text.js';
import { schema } from '../../src/config/schema.js';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-number-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const LENIENT_BY_NUMBER_OR_PARSEINT = ['1e3', '0x10', '0b11', '0o7', 'Infinity', '12abc', ' 5', '5 ', ''];

test('integers are decimal digits only: what Number() or parseInt would turn into a number is refused', () => {
  assert.deepEqual(parseInteger('8085', 0, 65535), { ok: true, value: 8085 });
  assert.deepEqual(parseInteger('+7', 0, 10), { ok: true, value: 7 });
  for (const text of [...LENIENT_BY_NUMBER_OR_PARSEINT, '1.5', '1.0', '70000']) {
    assert.deepEqual(parseInteger(text, 0, 65535), { ok: false, allowed: 'an integer from 0 to 65535' }, JSON.stringify(text));
  }
});

test('decimals take one point and no exponent, hex or infinity', () => {
  for (const [text, value] of [['0.25', 0.25], ['1', 1], ['.5', 0.5], ['1.', 1], ['0', 0]] as const) {
    assert.deepEqual(parseDecimal(text, 0, 1), { ok: true, value }, text);
  }
  for (const text of [...LENIENT_BY_NUMBER_OR_PARSEINT, '1e-1', '0.1.2', '1.5', '-0.1']) {
    const r = parseDecimal(text, 0, 1);
    assert.equal(r.ok, false, JSON.stringify(text));
  }
  assert.deepEqual(parseDecimal('2', 0, 1), { ok: false, allowed: 'a number from 0 to 1 in plain decimal notation (digits and one optional point, no exponent or hex)' });
});

test('flags name themselves and what they accept; settings (trimmed, as in .env) use the same parser', () => {
  assert.equal(integerFlag('port', undefined, 0, 65535), undefined);
  assert.equal(decimalFlag('error-rate', '0.5', 0, 1), 0.5);
  assert.throws(() => integerFlag('port', '0x10', 0, 65535), { code: 'CORRAL_ERR_USAGE', message: '--port must be an integer from 0 to 65535, got "0x10"' });
  assert.throws(() => decimalFlag('ram-budget', '1e1', 1, 100), {
    code: 'CORRAL_ERR_USAGE',
    message: '--ram-budget must be a number from 1 to 100 in plain decimal notation (digits and one optional point, no exponent or hex), got "1e1"',
  });
  assert.deepEqual(schema.CORRAL_WORKERS.parse(' 4 '), { ok: true, value: 4 });
  assert.equal(schema.CORRAL_WORKERS.parse('1e2').ok, false);
});

/** Runs the real CLI; each refused value ends before anything listens. */
function corralRun(...args: string[]) {
  return spawnSync(process.execPath, [corral, ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none' }, timeout: 20_000 });
}

test('`corral emulator` refuses numbers in exponent, hex or trailing-garbage form, naming the option', () => {
  for (const [flag, text, accepted] of [
    ['--port', '0x10', 'an integer from 0 to 65535'],
    ['--port', '80.5', 'an integer from 0 to 65535'],
    ['--reads-per-minute', '1e3', 'an integer from 0 to 10000000'],
    ['--token-lifetime', '12abc', 'an integer from 1 to 86400'],
    ['--random-seed', ' 5', 'an integer from 0 to 4294967295'],
    ['--error-rate', '1e-1', 'a number from 0 to 1 in plain decimal notation'],
    ['--latency-ms', '0x10', 'a number from 0 to 600000 in plain decimal notation'],
    // The statuses it takes, not a range: 501 is in 500..504 and refused too.
    ['--error-status', '418', '500, 502, 503 or 504'],
    ['--error-status', '501', '500, 502, 503 or 504'],
    ['--error-status', '0x1f6', '500, 502, 503 or 504'],
  ] as const) {
    const r = corralRun('emulator', flag, text);
    assert.equal(r.status, 64, `${flag} ${text}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.includes(`${flag} must be ${accepted}`), `${flag} ${text}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`got ${JSON.stringify(text)}`), r.stderr);
  }
});

test('`corral systemd-unit` refuses a padded number for a setting it overrides, as every numeric option is refused (the setting\'s parser trims .env values)', () => {
  for (const [flag, text, accepted] of [
    ['--workers', ' 5', 'an integer from 1 to 512'],
    ['--timeout', '30 ', 'an integer from 1 to 3600'],
  ] as const) {
    const r = corralRun('systemd-unit', flag, text);
    assert.equal(r.status, 64, `${flag} ${JSON.stringify(text)}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.includes(`must be ${accepted}`) && r.stderr.includes(`got ${JSON.stringify(text)}`), r.stderr);
  }
});

test('`corral recommend --ram-budget` refuses 1e1 and 0x10 as a percentage', () => {
  for (const text of ['1e1', '0x10', '50%']) {
    const r = corralRun('recommend', '--ram-budget', text);
    assert.equal(r.status, 64, `${text}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.includes(`--ram-budget must be a number from 1 to 100 in plain decimal notation`), r.stderr);
  }
});

test('`corral loadtest` refuses numbers in exponent, hex or spaced form, naming the option, before any request', () => {
  const profile = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'test', 'fixtures', 'profiles', 'small.json');
  // Port 9 (discard) on loopback: nothing is sent, every refusal comes before the target is asked.
  const target = ['--target', 'http://127.0.0.1:9'];
  for (const [args, says] of [
    [['--profile', profile, '--time-scale', '1e-3'], '--time-scale: "1e-3" must be a decimal number above 0 and at most 1000, in plain decimal notation'],
    [['--users', ' 5'], '--users: " 5" must be a whole number from 1 to 10000, in decimal digits'],
    [['--users', '0x10'], '--users: "0x10" must be a whole number from 1 to 10000'],
    [['--mix', 'read=0x1,write=0,export=0'], '--mix read: "0x1" must be a share between 0 and 1, in plain decimal notation'],
  ] as const) {
    const r = corralRun('loadtest', ...target, ...args);
    assert.equal(r.status, 64, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.includes(says), `${args.join(' ')}: ${r.stderr}`);
  }
});
