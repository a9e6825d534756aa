import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import pino from 'pino';
import { test } from 'node:test';
import { ConfigError, CorralError, ERROR_CODES, EXIT, errorHeadline, exitCodeFor, HTTP_ERRORS } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/corral.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') || p.endsWith('.js') ? [p] : [];
  });
}

test('every CORRAL_ERR_* code used in the source is declared in src/errors.ts', () => {
  const declared = new Set(Object.keys(ERROR_CODES));
  const used = new Set<string>();
  for (const file of sources(join(REPO_ROOT, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/CORRAL_ERR_[A-Z_]+/g)) used.add(m[0]);
  }
  const undeclared = [...used].filter((c) => !declared.has(c));
  assert.deepEqual(undeclared, []);
});

test('error codes are unique, described, and documented in the README', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const descriptions = new Set<string>();
  for (const [code, description] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^CORRAL_ERR_[A-Z_]+$/);
    assert.ok(description.length > 10, `${code} is described`);
    assert.ok(!descriptions.has(description), `${code} has its own description`);
    descriptions.add(description);
    assert.ok(readme.includes(`\`${code}\``), `${code} is in the README's error table`);
  }
});

test('HTTP error codes have one status each, and the README table lists each with it', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const [code, { status, meaning }] of Object.entries(HTTP_ERRORS)) {
    assert.match(code, /^[a-z]+(_[a-z]+)*$/);
    assert.ok(status >= 400 && status <= 599, `${code}: ${status} is an error status`);
    assert.ok(readme.includes(`| \`${code}\` | ${status} | ${meaning} |`), `${code} is in the README's HTTP error table with ${status} and its meaning`);
  }
});

test('every JSON error code corral writes in its HTTP answers is declared in HTTP_ERRORS', () => {
  // The emulator speaks Google's error format, not corral's, and is left out.
  const declared = new Set(Object.keys(HTTP_ERRORS));
  const used = new Map<string, string>();
  for (const file of sources(join(REPO_ROOT, 'src')).filter((f) => !f.includes('/sheets/emulator/'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\berror: '([a-z_]+)'|new HttpError\('([a-z_]+)'|(?:rawReply\(socket|fail\(res|reply\(res), '([a-z_]+)'/g)) used.set(m[1] ?? m[2] ?? m[3] ?? '', file);
  }
  assert.ok(used.size >= 20, `found the codes in the source (${used.size})`);
  const undeclared = [...used].filter(([code]) => !declared.has(code));
  assert.deepEqual(undeclared, []);
});

test('named exit codes are documented in the README', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const [name, code] of Object.entries(EXIT)) {
    assert.ok(readme.includes(`| ${code} |`) || readme.includes(`| \`${code}\` |`), `exit code ${code} (${name}) is in the README`);
  }
});

test('settings problems exit 78, an unreadable .env included; usage errors 64; a master not running 3; anything else 1', () => {
  assert.equal(exitCodeFor(new ConfigError([{ name: 'CORRAL_WORKERS', value: 'abc', allowed: 'an integer', source: 'environment' }])), EXIT.CONFIG);
  assert.equal(exitCodeFor(new CorralError('CORRAL_ERR_ENV_FILE', 'cannot read env file /nonexistent')), EXIT.CONFIG);
  assert.equal(exitCodeFor(new CorralError('CORRAL_ERR_USAGE', 'unknown option')), EXIT.USAGE);
  assert.equal(exitCodeFor(new CorralError('CORRAL_ERR_NOT_RUNNING', 'not running')), EXIT.NOT_RUNNING);
  assert.equal(exitCodeFor(new CorralError('CORRAL_ERR_MASTER_UNVERIFIED', 'may be the master')), EXIT.FAILURE);
  assert.equal(exitCodeFor(new Error('a bug')), EXIT.FAILURE);
  assert.equal(exitCodeFor('thrown string'), EXIT.FAILURE);
});

test('an error\'s headline: its class and the first line of its message, capped for a message that repeats it', () => {
  assert.equal(errorHeadline(new TypeError('db.query is not a function')), 'TypeError: db.query is not a function');
  assert.equal(errorHeadline(new CorralError('CORRAL_ERR_USAGE', 'first line\nsecond line')), 'CorralError: first line');
  assert.equal(errorHeadline('thrown string'), 'thrown string');
  const long = errorHeadline(new Error('x'.repeat(1000)));
  assert.equal(long.length, 300);
  assert.ok(long.endsWith('…'));
});

test('a settings refusal keeps what it read for later checks out of sight: no logger or inspect prints the valid values, secrets among them', () => {
  const err = new ConfigError([{ name: 'CORRAL_WORKERS', value: 'x', source: 'environment', allowed: 'an integer' }], [], { valid: { CORRAL_ADMIN_TOKEN: 'secret-token-0123456789' }, where: () => 'environment' });
  assert.equal(err.read?.valid.CORRAL_ADMIN_TOKEN, 'secret-token-0123456789');
  assert.doesNotMatch(inspect(err, { depth: 5 }), /secret-token/);
  assert.doesNotMatch(JSON.stringify(pino.stdSerializers.err(err)), /secret-token/);
});
