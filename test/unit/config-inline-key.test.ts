// GOOGLE_SERVICE_ACCOUNT_JSON as operators put it in .env, read through dotenv as start reads it,
// and then as the keeper reads it from the environment the master hands it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { generateServiceAccountKey } from '../../src/sheets/emulator/keys.js';
import { loadServiceAccount } from '../../src/sheets/google/credentials.js';

const EMAIL = 'corral@test.iam.gserviceaccount.com';
const key = generateServiceAccountKey({ clientEmail: EMAIL, tokenUri: 'http://127.0.0.1:1/token', modulusLength: 1024 }).key;
const SHEET = 'SHEET_ID=1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms\n';

/** The settings start would take from `envText`, and the key the keeper would load from them. */
function readKey(envText: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'corral-inline-key-'));
  try {
    writeFileSync(join(dir, '.env'), envText);
    const loaded = loadSettings({ cwd: dir, env: {} });
    // The keeper reads the value the master hands it (childEnv), not the file.
    const inKeeper = loadServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: loaded.childEnv.GOOGLE_SERVICE_ACCOUNT_JSON });
    return inKeeper?.key.client_email;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const escapeQuotes = (s: string) => s.replace(/"/g, '\\"');

test('a double-quoted GOOGLE_SERVICE_ACCOUNT_JSON with its quotes escaped, as a shell wants them, is the key (dotenv keeps the backslashes)', () => {
  // Was refused at start: 'GOOGLE_SERVICE_ACCOUNT_JSON is not valid JSON: Expected property name
  // or '}' in JSON at position 1', the backslashes dotenv keeps being nowhere in sight.
  assert.equal(readKey(`${SHEET}GOOGLE_SERVICE_ACCOUNT_JSON="${escapeQuotes(JSON.stringify(key))}"\n`), EMAIL);
  // Pretty-printed, as the downloaded file is: dotenv turns the key's \n into line breaks, inside
  // the private_key string and between the fields alike.
  assert.equal(readKey(`${SHEET}GOOGLE_SERVICE_ACCOUNT_JSON="${escapeQuotes(JSON.stringify(key, null, 2))}"\n`), EMAIL);
  // With CRLF line ends too.
  assert.equal(readKey(`${SHEET}GOOGLE_SERVICE_ACCOUNT_JSON="${escapeQuotes(JSON.stringify(key, null, 2)).replace(/\n/g, '\r\n')}"\r\n`), EMAIL);
});

test('the forms that were read before still are: single-quoted, one line or pretty-printed, and double-quoted with raw newlines in the key', () => {
  assert.equal(readKey(`${SHEET}GOOGLE_SERVICE_ACCOUNT_JSON='${JSON.stringify(key)}'\n`), EMAIL);
  assert.equal(readKey(`${SHEET}GOOGLE_SERVICE_ACCOUNT_JSON='${JSON.stringify(key, null, 2)}'\n`), EMAIL);
  assert.equal(readKey(`${SHEET}GOOGLE_SERVICE_ACCOUNT_JSON=${JSON.stringify(key)}\n`), EMAIL);
  // The key itself with raw line breaks in the PEM, one line otherwise.
  const raw = JSON.stringify(key).replace(/\\n/g, '\n');
  assert.equal(loadServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: raw })?.key.client_email, EMAIL);
});

test('JSON that no repair makes a key is still refused as not valid JSON, without quoting the key', () => {
  const broken = escapeQuotes(JSON.stringify(key)).replace('\\"type\\":', '\\"type\\"');
  assert.throws(
    () => readKey(`${SHEET}GOOGLE_SERVICE_ACCOUNT_JSON="${broken}"\n`),
    (err: unknown) => err instanceof ConfigError && /GOOGLE_SERVICE_ACCOUNT_JSON="<redacted>" .*: GOOGLE_SERVICE_ACCOUNT_JSON is not valid JSON/.test(err.message) && !err.message.includes('PRIVATE KEY'),
  );
});
