// Arguments, durations, mixes and profiles of `corral loadtest`: everything refused before a
// request is sent, with a message naming the flag or field and exit code 64.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatClock, formatExactDuration, parseDuration, parseRate } from '../../src/loadtest/duration.js';
import { LoadtestError } from '../../src/loadtest/exit.js';
import { loadtestRefusal } from '../helpers/loadtest-refusal.js';
import { DEFAULT_MIX, parseMix, pickKind, withoutExports } from '../../src/loadtest/mix.js';
import { readLoadtestEnv, type LoadtestEnv } from '../../src/config/loadtest-env.js';
import { DEFAULT_STEPS, DURATION_RANGES, FLAGS, parseLoadtestArgs, type LoadtestOptions } from '../../src/loadtest/options.js';
import { loadtestCommand } from '../../src/cli/commands/loadtest.js';
import { loadProfile, noPlateauNote, parseProfile } from '../../src/loadtest/profile.js';

const PROFILES = fileURLToPath(new URL('../../../test/fixtures/profiles/', import.meta.url));

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, loadtestRefusal(pattern));
}

function optionsWithEnv(env: LoadtestEnv, ...argv: string[]): LoadtestOptions {
  const parsed = parseLoadtestArgs(['--target', 'http://127.0.0.1:8000', ...argv], '/tmp', new Date(2025, 0, 2, 3, 4, 5), env);
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error('unreachable');
  return parsed.options;
}

/** Options as parsed with no CORRAL_ADMIN_TOKEN in the environment. */
function options(...argv: string[]): LoadtestOptions {
  return optionsWithEnv({ adminToken: undefined, progressInPlace: true }, ...argv);
}

describe('durations and rates', () => {
  it('reads the units the seeds use, alone and combined', () => {
    assert.equal(parseDuration('500ms', 'x'), 500);
    assert.equal(parseDuration('30s', 'x'), 30_000);
    assert.equal(parseDuration('10m', 'x'), 600_000);
    assert.equal(parseDuration('1h', 'x'), 3_600_000);
    assert.equal(parseDuration('1m30s', 'x'), 90_000);
    assert.equal(parseDuration('1.5s', 'x'), 1500);
    assert.equal(parseDuration('0', 'x'), 0);
  });

  it('refuses malformed durations, naming where they came from', () => {
    for (const bad of ['10x', '10', '', 's', '5 m', '-3s', '1m30', 'abc', '1m1m', '30s1m', ' 30s', '30s ', '\t1m', ' 0']) {
      refused(() => parseDuration(bad, '--step-duration'), /--step-duration: .* is not a duration/);
    }
  });

  it('reads rates per hour', () => {
    assert.equal(parseRate('100/h', 'x'), 100);
    assert.equal(parseRate('5/min', 'x'), 300);
    assert.equal(parseRate('2/s', 'x'), 7200);
    assert.equal(parseRate('100 / h', 'x'), 100);
    for (const bad of ['100 per hour', ' 100/h', '100/h ', `1${'0'.repeat(400)}/h`]) refused(() => parseRate(bad, 'actions.a.frequency'), /actions\.a\.frequency: .* is not a rate/);
  });

  it('shows a duration given exactly, in a form it parses back to the same value', () => {
    const cases: [number, string][] = [[0, '0'], [100, '100ms'], [1500, '1.5s'], [1001, '1.001s'], [30_000, '30s'], [90_250, '1m30.25s'], [3_600_000, '1h'], [3_630_000, '1h30s'], [86_400_000, '24h']];
    for (const [ms, text] of cases) {
      assert.equal(formatExactDuration(ms), text);
      assert.equal(parseDuration(text, 'x'), ms, text);
    }
  });

  it('formats a clock', () => {
    assert.equal(formatClock(65_000), '01:05');
    assert.equal(formatClock(3_723_000), '1:02:03');
  });
});

describe('mix', () => {
  it('parses shares and refuses sums other than 1', () => {
    assert.deepEqual({ ...parseMix('read=0.6,write=0.3,export=0.1') }, { read: 0.6, write: 0.3, export: 0.1 });
    assert.deepEqual({ ...parseMix('read=1') }, { read: 1, write: 0, export: 0 });
    refused(() => parseMix('read=0.5,write=0.3'), /--mix: the shares sum to 0\.8, they must sum to 1/);
    refused(() => parseMix('read=0.6,write=0.3,delete=0.1'), /unknown kind "delete"/);
    refused(() => parseMix('read=abc,write=1'), /--mix read: "abc" must be a share/);
    // A share is read as every decimal option is: Number() took 0x1, 1e0 and Infinity.
    for (const [mix, key, raw] of [['read=0x1,write=0,export=0', 'read', '0x1'], ['read=0,write=1e0', 'write', '1e0'], ['read=Infinity', 'read', 'Infinity'], ['read=0.5,write=.5e0', 'write', '.5e0']] as const) {
      refused(() => parseMix(mix), new RegExp(`^--mix ${key}: "${raw.replace('.', '\\.')}" must be a share between 0 and 1, in plain decimal notation: digits and one optional point, no exponent or hex$`));
    }
    assert.deepEqual({ ...parseMix('read=.5, write=0.5 ,export=0') }, { read: 0.5, write: 0.5, export: 0 });
    refused(() => parseMix('read'), /is not kind=share/);
    refused(() => parseMix('read=0.5,read=0.5'), /given twice/);
  });

  it('says a kind named like an object property (constructor, __proto__) is unknown, not given twice', () => {
    // Checked with `in`, "constructor" and "toString" were found on every object's prototype and
    // "__proto__" set the prototype: each given once was refused as "given twice".
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      refused(() => parseMix(`${key}=1`), new RegExp(`^--mix: unknown kind "${key}" \\(allowed: read, write, export\\)$`));
      refused(() => parseMix(`read=0.5,${key}=0.5`), new RegExp(`^--mix: unknown kind "${key}"`));
    }
  });

  it('says a mix written in percent (60/30/10) is written in fractions of 1', () => {
    refused(() => parseMix('read=60,write=30,export=10'), /^--mix read: 60 must be a share between 0 and 1 \(shares are fractions of 1: 60 % is 0\.6\)$/);
    refused(() => parseProfile({ users: { distribution: { plateau: { duration: '1m', users: 5 } } }, distribution: { read: 60, write: 30, export: 10 } }), /^profile field distribution\.read: 60 must be a share between 0 and 1 \(shares are fractions of 1: 60 % is 0\.6\)$/);
    refused(() => parseMix('read=250,write=0'), /^--mix read: 250 must be a share between 0 and 1$/);
  });

  it('drops exports and renormalises when there is no admin token', () => {
    const m = withoutExports(DEFAULT_MIX);
    assert.equal(m.export, 0);
    assert.ok(Math.abs(m.read - 2 / 3) < 1e-9 && Math.abs(m.write - 1 / 3) < 1e-9);
    refused(() => withoutExports(parseMix('export=1')), /only exports/);
  });

  it('picks kinds by share', () => {
    assert.equal(pickKind(DEFAULT_MIX, 0), 'read');
    assert.equal(pickKind(DEFAULT_MIX, 0.65), 'write');
    assert.equal(pickKind(DEFAULT_MIX, 0.95), 'export');
    assert.equal(pickKind(withoutExports(DEFAULT_MIX), 0.9999), 'write');
  });
});

describe('arguments', () => {
  it('defaults to the seeds progressive test', () => {
    const o = options();
    assert.equal(o.mode, 'steps');
    assert.deepEqual(o.steps, DEFAULT_STEPS);
    assert.equal(o.stepDurationMs, 30_000);
    assert.equal(o.timeoutMs, 10_000);
    assert.equal(o.outDir, '/tmp/loadtest-20250102-030405');
    assert.equal(o.allowRemote, false);
    assert.equal(o.mixSource, 'default');
  });

  it('reads every flag', () => {
    const o = options('--steps', '2,4', '--step-duration', '1s', '--think-time', '50ms', '--mix', 'read=1', '--timeout', '2s', '--out', 'here', '--admin', 'http://127.0.0.1:9090', '--admin-token', 't', '--allow-remote', '--users-file', 'u.csv', '--duration', '3s');
    assert.deepEqual(o.steps, [2, 4]);
    assert.equal(o.stepDurationMs, 1000);
    assert.equal(o.thinkTimeMs, 50);
    assert.equal(o.mix.read, 1);
    assert.equal(o.mixSource, 'flag');
    assert.equal(o.timeoutMs, 2000);
    assert.equal(o.outDir, '/tmp/here');
    assert.equal(o.admin?.href, 'http://127.0.0.1:9090/');
    assert.equal(o.adminToken, 't');
    assert.equal(o.allowRemote, true);
    assert.equal(o.usersFile, '/tmp/u.csv');
    assert.equal(o.durationMs, 3000);
  });

  it('takes the admin token from CORRAL_ADMIN_TOKEN (kept out of ps) unless --admin-token is given', () => {
    assert.equal(options().adminToken, undefined);
    const env = readLoadtestEnv({ CORRAL_ADMIN_TOKEN: ' from-env ' });
    assert.equal(optionsWithEnv(env).adminToken, 'from-env');
    assert.equal(optionsWithEnv(env, '--admin-token', 'from-flag').adminToken, 'from-flag');
    assert.equal(readLoadtestEnv({ CORRAL_ADMIN_TOKEN: '' }).adminToken, undefined);
    assert.equal(readLoadtestEnv({}).adminToken, undefined);
  });

  it('takes --admin-token trimmed as CORRAL_ADMIN_TOKEN is, and refuses one no header can carry rather than count every export as a connection error', () => {
    // `--admin-token "$(cat token.txt)"` of a file saved on Windows: $(...) keeps the \r. Sent as
    // it was, undici refused the header (UND_ERR_INVALID_ARG): the export before the load passed,
    // and every export of the run failed the steps as connection errors of the target.
    assert.equal(options('--admin-token', 'a-token-0123456789\r').adminToken, 'a-token-0123456789');
    const secret = 'half-of-a-secret';
    for (const [token, what] of [[`${secret}\rrest`, 'a carriage return'], [`${secret} rest`, 'a space'], [`${secret}\u00e9`, 'a character outside printable ASCII \\(U\\+00E9\\)'], [`${secret}\x01`, 'a control character \\(U\\+0001\\)']] as const) {
      assert.throws(() => options('--admin-token', token), (err: unknown) => {
        assert.ok(err instanceof LoadtestError);
        assert.equal(err.exitCode, 64);
        assert.match(err.message, new RegExp(`^--admin-token: the token holds ${what} at character 17, which no CORRAL_ADMIN_TOKEN can \\(printable ASCII without spaces`));
        assert.doesNotMatch(err.message, new RegExp(secret), 'the secret is not said');
        return true;
      });
    }
    refused(() => optionsWithEnv(readLoadtestEnv({ CORRAL_ADMIN_TOKEN: 'tok\nen' })), /^CORRAL_ADMIN_TOKEN: the token holds a line break at character 4/);
  });

  it('takes the mix from the profile unless --mix is given', () => {
    const seeds = join(PROFILES, 'seeds-003.json');
    assert.equal(options('--profile', seeds).mixSource, 'profile');
    assert.equal(options('--profile', seeds, '--mix', 'read=1').mix.read, 1);
  });

  it('refuses bad arguments, naming the flag', () => {
    const p = join(PROFILES, 'small.json');
    refused(() => parseLoadtestArgs([], '/tmp'), /--target URL is required/);
    refused(() => options('--step-duration', '10x'), /--step-duration: "10x" is not a duration/);
    refused(() => options('--duration', '2'), /--duration: "2" is not a duration/);
    refused(() => options('--think-time', 'soon'), /--think-time/);
    refused(() => options('--timeout', '0s'), /^--timeout: 0s must be from 1ms to 10m$/);
    // A limit reads as the operator would write it: 24h, not 86400s.
    refused(() => options('--users', '1', '--duration', '25h'), /^--duration: 25h must be from 100ms to 24h$/);
    refused(() => options('--step-duration', '50ms'), /^--step-duration: 50ms must be from 100ms to 24h$/);
    refused(() => options('--think-time', '11m'), /^--think-time: 11m must be from 0 to 10m$/);
    refused(() => options('--steps', '5,3'), /strictly increasing/);
    refused(() => options('--steps', '5,x'), /--steps: "x" must be a whole number/);
    refused(() => options('--steps', '0'), /--steps/);
    refused(() => options('--users', '-1'), /--users/);
    refused(() => options('--steps', '2', '--users', '3'), /--steps and --users cannot be combined/);
    refused(() => options('--steps', '2', '--profile', p), /--steps and --profile cannot be combined/);
    refused(() => options('--time-scale', '0.1'), /--time-scale applies to --profile only/);
    refused(() => options('--profile', p, '--time-scale', '0'), /--time-scale: "0" must be a decimal number above 0 and at most 1000/);
    // The message gives the whole range, and only plain decimals pass, as for every numeric option
    // (README, Commands): Number() also reads hex, Infinity and exponents, and trims spaces.
    for (const bad of ['1001', '0x1', 'Infinity', '1e', '', '1e-3', '1e-2', ' 0.01', '0.01 ']) {
      refused(() => options('--profile', p, '--time-scale', bad), new RegExp(`^--time-scale: ${JSON.stringify(bad)} must be a decimal number above 0 and at most 1000, in plain decimal notation: digits and one optional point, no exponent or hex \\(0\\.02 turns 45 min into 54 s\\)$`));
    }
    for (const [good, scale] of [['0.01', 0.01], ['.5', 0.5], ['1.', 1], ['1000', 1000]] as const) assert.equal(options('--profile', p, '--time-scale', good).timeScale, scale);
    // --users and each of --steps are decimal digits: a space, hex or an exponent is refused.
    for (const bad of [' 5', '5 ', '0x10', '1e3', '5.0', '']) refused(() => options('--users', bad), new RegExp(`^--users: ${JSON.stringify(bad)} must be a whole number from 1 to 10000, in decimal digits$`));
    assert.equal(options('--users', '5').users, 5);
    for (const bad of ['5,0x10', '1e1,20', '5,10.0']) refused(() => options('--steps', bad), /^--steps: ".*" must be a whole number from 1 to 10000, in decimal digits$/);
    // Spaces around a list's commas are the list's (as in a list setting), not the number's.
    assert.deepEqual(options('--steps', '5, 10,25').steps, [5, 10, 25]);
    // user:pass@ would go unused and be written into result.json and report.html.
    refused(() => parseLoadtestArgs(['--target', 'http://u:secret@127.0.0.1:8000'], '/tmp'), /^--target: a URL with a user name or password \(user:pass@\) is refused/);
    refused(() => options('--admin', 'http://admin@127.0.0.1:9090'), /^--admin: a URL with a user name or password/);
    refused(() => options('--users', '2', '--step-duration', '1s'), /--step-duration applies to --steps only/);
    refused(() => options('--mix', 'read=0.7,write=0.2'), /must sum to 1/);
    refused(() => options('--admin', 'ftp://x'), /--admin: ftp:\/\/x must be http/);
    refused(() => parseLoadtestArgs(['--target', 'not a url'], '/tmp'), /--target: "not a url" is not a URL \(e\.g\. http:\/\/127\.0\.0\.1:8080\)$/);
    // Written as CORRAL_BIND and CORRAL_ADMIN_BIND are, without a scheme: the URL meant is said.
    refused(() => parseLoadtestArgs(['--target', '127.0.0.1:8080'], '/tmp'), /^--target: "127\.0\.0\.1:8080" is not a URL: write it with its scheme, http:\/\/127\.0\.0\.1:8080$/);
    refused(() => parseLoadtestArgs(['--target', 'localhost:8080'], '/tmp'), /^--target: localhost:8080 must be http:\/\/ or https:\/\/: write it with its scheme, http:\/\/localhost:8080$/);
    refused(() => parseLoadtestArgs(['--target', 'http//127.0.0.1:8080'], '/tmp'), /^--target: "http\/\/127\.0\.0\.1:8080" is not a URL \(e\.g\. http:\/\/127\.0\.0\.1:8080\)$/);
    refused(() => options('--admin', '127.0.0.1:9090'), /^--admin: "127\.0\.0\.1:9090" is not a URL: write it with its scheme, http:\/\/127\.0\.0\.1:9090$/);
    refused(() => options('--admin', 'ftp://x'), /^--admin: ftp:\/\/x must be http:\/\/ or https:\/\/ \(e\.g\. http:\/\/127\.0\.0\.1:9090\)$/);
    refused(() => parseLoadtestArgs(['--target', 'http://127.0.0.1:1', '--nope'], '/tmp'), /Unknown option '--nope'/);
    refused(() => parseLoadtestArgs(['--target', 'http://127.0.0.1:1', 'extra'], '/tmp'), /Unexpected argument/);
  });

  it('refuses an empty --out, --profile or --users-file rather than taking the working directory', () => {
    // `--out "$DIR"` with DIR unset: resolved against the working directory, '' was that directory,
    // and result.json and report.html went straight into it (replacing any there); an empty
    // --profile or --users-file was refused as "cannot read /tmp: EISDIR", naming a directory never given.
    for (const flag of ['--out', '--profile', '--users-file']) {
      refused(() => options(flag, ''), new RegExp(`^${flag} is empty: give a path${flag === '--out' ? ', or leave out --out for \\./loadtest-<timestamp>/' : ''}$`));
    }
  });

  it('refuses a flag given twice rather than silently keeping the last one', () => {
    refused(() => options('--steps', '5,10,25', '--steps', '50'), /^Option --steps is given 2 times \("5,10,25", "50"\): give it once$/);
    refused(() => parseLoadtestArgs(['--target', 'http://127.0.0.1:1', '--target=http://127.0.0.1:2'], '/tmp'), /^Option --target is given 2 times \("http:\/\/127\.0\.0\.1:1", "http:\/\/127\.0\.0\.1:2"\)/);
    refused(() => options('--users', '2', '--duration', '1s', '--duration', '1m'), /Option --duration is given 2 times/);
    refused(() => options('--allow-remote', '--allow-remote'), /^Option --allow-remote is given 2 times: give it once$/);
    // The token is a secret: the message names the flag, not the values.
    assert.throws(() => options('--admin-token', 'first-secret', '--admin-token', 'second-secret'), (err: unknown) => {
      assert.ok(err instanceof LoadtestError);
      assert.equal(err.message, 'Option --admin-token is given 2 times: give it once');
      return true;
    });
  });

  it('answers --help', () => {
    assert.deepEqual(parseLoadtestArgs(['--help'], '/tmp'), { help: true });
  });
});

describe('profile', () => {
  it('accepts the seeds profile exactly as written', () => {
    const p = loadProfile(join(PROFILES, 'seeds-003.json'));
    assert.equal(p.totalUsers, 10_000);
    assert.equal(p.simultaneous, 300);
    assert.deepEqual(p.phases, [
      { name: 'ramp_up', durationMs: 600_000, users: 300 },
      { name: 'plateau', durationMs: 1_800_000, users: 300 },
      { name: 'ramp_down', durationMs: 300_000, users: 0 },
    ]);
    assert.deepEqual(p.actions, [
      { name: 'create_client', durationMs: 120_000, requests: 5, perHour: 100 },
      { name: 'view_data', durationMs: 60_000, requests: 3, perHour: 200 },
    ]);
    assert.deepEqual({ ...p.distribution }, { read: 0.6, write: 0.3, export: 0.1 });
  });

  const cases: [string, RegExp][] = [
    ['bad-unknown-field.json', /unknown profile field users\.distribution\.plateu \(allowed here: ramp_up, plateau, ramp_down\)/],
    ['bad-duration.json', /profile field actions\.view_data\.duration: "10x" is not a duration/],
    ['bad-distribution.json', /profile field distribution: the shares sum to 0\.9/],
    ['bad-users.json', /profile field users\.distribution\.plateau\.users: 400 is above users\.simultaneous \(300\)/],
    ['bad-action-field.json', /unknown profile field actions\.create_client\.think/],
    // JSON.parse would keep the second "plateau" (5m, 50 users) without a word.
    ['bad-repeated-key.json', /^--profile .*bad-repeated-key\.json: profile field users\.distribution\.plateau is given more than once: write it once$/],
  ];
  for (const [file, pattern] of cases) {
    it(`refuses ${file}, naming the field`, () => {
      refused(() => loadProfile(join(PROFILES, file)), pattern);
      // The file name is in the message too, so the operator knows which file to open.
      refused(() => loadProfile(join(PROFILES, file)), new RegExp(file.replace('.', '\\.')));
    });
  }

  it('says before the load that a profile with no plateau holding users can show no capacity', () => {
    const ramps = parseProfile({ users: { distribution: { ramp_up: { duration: '1m', users: 5 }, ramp_down: { duration: '30s', users: 0 } } } });
    assert.match(noPlateauNote(ramps) ?? '', /^the profile has no plateau holding users \(users\.distribution\.plateau\): a ramp proves no capacity, .*"not shown" \(exit 2\)$/);
    const emptyPlateau = parseProfile({ users: { distribution: { ramp_up: { duration: '1m', users: 5 }, plateau: { duration: '0s', users: 5 } } } });
    assert.notEqual(noPlateauNote(emptyPlateau), undefined, 'a plateau of 0 s holds nobody');
    assert.equal(noPlateauNote(parseProfile({ users: { distribution: { plateau: { duration: '1m', users: 5 } } } })), undefined);
    assert.equal(noPlateauNote(loadProfile(join(PROFILES, 'small.json'))), undefined);
  });

  it('names the field for type and shape mistakes', () => {
    const base = (): Record<string, unknown> => ({ users: { distribution: { plateau: { duration: '1m', users: 5 } } } });
    assert.equal(parseProfile(base()).simultaneous, 5);
    refused(() => parseProfile({}), /profile field users: is required/);
    refused(() => parseProfile({ ...base(), extra: 1 }), /unknown profile field extra/);
    refused(() => parseProfile({ users: { distribution: { plateau: { duration: 60, users: 5 } } } }), /users\.distribution\.plateau\.duration: must be a duration string/);
    // Past any run's length at any --time-scale worth having: refused by name, not carried into "the run would last 1e+23h".
    refused(() => parseProfile({ users: { distribution: { plateau: { duration: '99999999999999999999999h', users: 5 } } } }), /^profile field users\.distribution\.plateau\.duration: must be at most 720h, got "99999999999999999999999h"$/);
    refused(() => parseProfile({ users: { distribution: { plateau: { duration: '721h', users: 5 } } } }), /^profile field users\.distribution\.plateau\.duration: must be at most 720h/);
    assert.equal(parseProfile({ users: { distribution: { plateau: { duration: '720h', users: 5 } } } }).phases[0]?.durationMs, 720 * 3_600_000);
    refused(() => parseProfile({ ...base(), actions: { a: { duration: '1000000h', requests: 1, frequency: '1/h' } } }), /^profile field actions\.a\.duration: must be at most 720h/);
    refused(() => parseProfile({ users: { distribution: { plateau: { duration: '1m', users: 2.5 } } } }), /users\.distribution\.plateau\.users: must be an integer/);
    refused(() => parseProfile({ users: { distribution: { plateau: { duration: '1m' } } } }), /users\.distribution\.plateau\.users: is required/);
    // 1e400 in the file reads as Infinity: said as what it is, not "got null".
    refused(() => parseProfile(JSON.parse('{"users":{"distribution":{"plateau":{"duration":"1m","users":1e400}}}}')), /users\.distribution\.plateau\.users: must be an integer from 0 to \d+, got a number too large to read$/);
    refused(() => parseProfile({ users: { distribution: {} } }), /users\.distribution: needs at least one of/);
    refused(() => parseProfile({ users: { total: 2, distribution: { plateau: { duration: '1m', users: 5 } } } }), /users\.total: 2 is below users\.simultaneous/);
    refused(() => parseProfile({ ...base(), actions: { a: { duration: '1m', requests: 0, frequency: '1/h' } } }), /actions\.a\.requests: must be an integer from 1/);
    // A pace of 1 ns: 2 "users" sent 100 requests a second each.
    refused(() => parseProfile({ ...base(), actions: { a: { duration: '1ms', requests: 1_000_000, frequency: '1/h' } } }), /^profile field actions\.a: 1000000 requests over 1ms leaves each user under 1ms between requests, less than the 100ms a user of a profile may keep \(duration ÷ requests; faster is a flood, not users\): give it a duration of at least 27h46m40s for 1000000 requests$/);
    refused(() => parseProfile({ ...base(), actions: { a: { duration: '1s', requests: 20, frequency: '1/h' } } }), /^profile field actions\.a: 20 requests over 1s leaves each user 50ms between requests, .*: give it a duration of at least 2s for 20 requests, or at most 10 requests over 1s$/);
    assert.equal(parseProfile({ ...base(), actions: { a: { duration: '1s', requests: 10, frequency: '1/h' } } }).actions[0]?.requests, 10, 'one request every 100ms is accepted');
    refused(() => parseProfile({ ...base(), actions: { a: { duration: '1m', requests: 1, frequency: 'often' } } }), /actions\.a\.frequency: "often" is not a rate/);
    refused(() => parseProfile({ ...base(), actions: { a: 'x' } }), /profile field actions\.a: must be an object/);
    refused(() => parseProfile({ ...base(), distribution: { read: 0.5, write: 0.5, delete: 0 } }), /unknown profile field distribution\.delete/);
    refused(() => parseProfile({ ...base(), distribution: { read: '0.5', write: 0.5 } }), /profile field distribution\.read: "0\.5" must be a share/);
    refused(() => parseProfile([]), /^the profile must be a JSON object with "users" \(and optionally "actions" and "distribution"\), got an array$/);
    refused(() => parseProfile(null), /^the profile must be a JSON object .*, got null$/);
  });

  it('reads a profile saved with a UTF-8 BOM (as Windows editors save one) as without it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-profile-bom-'));
    try {
      const file = join(dir, 'bom.json');
      writeFileSync(file, `\uFEFF${readFileSync(join(PROFILES, 'seeds-003.json'), 'utf8')}`);
      assert.deepEqual(loadProfile(file), loadProfile(join(PROFILES, 'seeds-003.json')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not JSON, naming the file', () => {
    refused(() => loadProfile(join(PROFILES, 'README.md')), /README\.md is not valid JSON/);
    refused(() => loadProfile(join(PROFILES, 'missing.json')), /cannot read .*missing\.json/);
  });

  it('says on which line and column a profile stops being JSON, not only its position in characters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-profile-syntax-'));
    try {
      const file = join(dir, 'comma.json');
      // The comma after the ramp_up phase is missing: the plateau's quote on line 4 is unexpected.
      writeFileSync(file, '{\n  "users": {"distribution": {\n    "ramp_up": {"duration": "1m", "users": 5}\n    "plateau": {"duration": "1m", "users": 5}\n  }}\n}\n');
      refused(() => loadProfile(file), /comma\.json is not valid JSON: .*\(?line 4 column 5\)?/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--help', () => {
  /** An option's entry: its line and the indented lines under it. */
  const entry = (flag: string): string => {
    const m = new RegExp(`^  ${flag} .*(\\n {24}.*)*`, 'm').exec(loadtestCommand.help);
    assert.ok(m, `--help has an entry for ${flag}`);
    return m[0].replace(/\s+/g, ' ');
  };

  it('gives every option an entry, and every option that takes a value its default', () => {
    for (const [name, spec] of Object.entries(FLAGS)) {
      const text = entry(`--${name}`);
      // --target is required; --admin and --profile are off unless given.
      if (spec.type === 'string' && !['target', 'admin', 'profile'].includes(name)) assert.match(text, /default/i, text);
    }
  });

  it('states each duration option\'s range as the parser enforces it', () => {
    for (const [flag, { minMs, maxMs }] of Object.entries(DURATION_RANGES)) {
      assert.ok(entry(flag).includes(`${formatExactDuration(minMs)} to ${formatExactDuration(maxMs)}`), `${flag}: ${entry(flag)}`);
    }
  });
});
