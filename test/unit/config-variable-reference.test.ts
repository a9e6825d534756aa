import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { refusal, withDir } from '../fixtures/settings-dir.js';

const KEY = 'AIzaSyA-abcdefghijklmnopqrstuvwxyz0123';

test('a setting written as a ${VAR} reference in .env is refused, naming its line, not taken as the text (a sheet id, a secret)', () => {
  withDir((dir) => {
    // As written for docker compose or dotenv-expand: dotenv.parse keeps each reference as text.
    // Each of these was accepted: the keeper asked Google for the sheet `${MY_SHEET}`, and the
    // session secret and admin token were the template's text.
    writeFileSync(
      join(dir, '.env'),
      [
        'SHEET_ID=${MY_SHEET}',
        `SHEETS_API_KEY=${KEY}`,
        'CORRAL_SESSION_SECRET=${SESSION_SECRET_FROM_THE_VAULT}',
        'CORRAL_ADMIN_TOKEN=$ADMIN_TOKEN_FROM_THE_VAULT',
        'SHEET_EVENTS_RANGE=${EVENTS_TAB:-Events}',
        'CORRAL_WORKERS=${NPROC}',
        '',
      ].join('\n'),
    );
    // Set, to show that nothing expands them either: the values would have been these.
    const err = refusal(() => loadSettings({ env: { MY_SHEET: '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms', NPROC: '4' }, cwd: dir }));
    const byName = new Map(err.problems.map((p) => [p.name, p]));
    assert.deepEqual([...byName.keys()].sort(), ['CORRAL_ADMIN_TOKEN', 'CORRAL_SESSION_SECRET', 'CORRAL_WORKERS', 'SHEET_EVENTS_RANGE', 'SHEET_ID']);
    const file = join(dir, '.env');
    assert.equal(byName.get('SHEET_ID')?.source, `${file} line 1`);
    assert.equal(byName.get('CORRAL_WORKERS')?.source, `${file} line 6`);
    assert.match(byName.get('SHEET_ID')?.allowed ?? '', /^the value itself, not a variable reference: nothing expands variables in the settings .*so \$\{MY_SHEET\} would be taken literally, as the value; write the value itself$/);
    assert.match(byName.get('SHEET_EVENTS_RANGE')?.allowed ?? '', /so \$\{EVENTS_TAB:-Events\} would be taken literally/);
    // Rather than "an integer from 1 to 512", which read as if ${NPROC} were expanded to a bad number.
    assert.match(byName.get('CORRAL_WORKERS')?.allowed ?? '', /so \$\{NPROC\} would be taken literally/);
    // A secret's text is never repeated, the reference in it neither.
    for (const name of ['CORRAL_SESSION_SECRET', 'CORRAL_ADMIN_TOKEN'] as const) {
      assert.equal(byName.get(name)?.value, '<redacted>');
      assert.match(byName.get(name)?.allowed ?? '', /so the \$NAME or \$\{NAME\} in it would be taken literally/);
    }
    assert.doesNotMatch(err.message, /VAULT/);
  });
});

test('the same reference from the environment is refused too (systemd Environment= does not expand it either)', () => {
  const err = refusal(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: '$MY_SHEET', SHEETS_API_KEY: KEY } }));
  assert.deepEqual(
    err.problems.map((p) => [p.name, p.source]),
    [['SHEET_ID', 'environment']],
  );
});

test('a $ that is part of a value is not a reference: A1 absolute ranges, a proxy password, a token beginning with $', () => {
  const { settings } = loadSettings({
    env: {
      CORRAL_ENV_FILE: 'none',
      SHEET_EVENTS_RANGE: 'Events!$A$1:$D',
      HTTPS_PROXY: 'http://ops:pa$word@proxy.corp:3128',
      CORRAL_ADMIN_TOKEN: '$ecretTokenValue123456',
      CORRAL_SESSION_SECRET: 'abc$DEF_0123456789abcdef0123456789',
    },
  });
  assert.equal(settings.SHEET_EVENTS_RANGE, 'Events!$A$1:$D');
  assert.equal(settings.CORRAL_ADMIN_TOKEN, '$ecretTokenValue123456');
  assert.equal(settings.CORRAL_SESSION_SECRET, 'abc$DEF_0123456789abcdef0123456789');
});

test('for a command that does not need the setting (stop, status), a reference is a warning, not a refusal', () => {
  const { warnings, invalidIgnored } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_SESSION_SECRET: '${SESSION_SECRET}' }, judgeOnly: ['CORRAL_PIDFILE'] });
  assert.deepEqual(invalidIgnored, ['CORRAL_SESSION_SECRET']);
  assert.ok(warnings.some((w) => /^CORRAL_SESSION_SECRET=<redacted> \(from environment\) is invalid \(the value itself, not a variable reference/.test(w)), JSON.stringify(warnings));
});
