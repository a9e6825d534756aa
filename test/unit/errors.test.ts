import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, CorralError, ERROR_CODES, EXIT, exitCodeFor } from '../../src/errors.js';
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

test('named exit codes are documented in the README', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const [name, code] of Object.entries(EXIT)) {
    assert.ok(readme.includes(`| ${code} |`) || readme.includes(`| \`${code}\` |`), `exit code ${code} (${name}) is in the README`);
  }
});

test('settings problems exit 78, an unreadable .env included; usage errors 64; anything else 1', () => {
  assert.equal(exitCodeFor(new ConfigError([{ name: 'CORRAL_WORKERS', value: 'abc', allowed: 'an integer', source: 'environment' }])), EXIT.CONFIG);
  assert.equal(exitCodeFor(new CorralError('CORRAL_ERR_ENV_FILE', 'cannot read env file /nonexistent')), EXIT.CONFIG);
  assert.equal(exitCodeFor(new CorralError('CORRAL_ERR_USAGE', 'unknown option')), EXIT.USAGE);
  assert.equal(exitCodeFor(new CorralError('CORRAL_ERR_NOT_RUNNING', 'not running')), EXIT.FAILURE);
  assert.equal(exitCodeFor(new Error('a bug')), EXIT.FAILURE);
  assert.equal(exitCodeFor('thrown string'), EXIT.FAILURE);
});
