// Reading the service-account key from the settings: its errors name the problem, never the key.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../../src/errors.js';
import { generateServiceAccountKey } from '../../src/sheets/emulator/index.js';
import { loadServiceAccount } from '../../src/sheets/google/credentials.js';

test('invalid GOOGLE_SERVICE_ACCOUNT_JSON: the error says so without quoting the key', () => {
  const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC';
  for (const json of [`{"type":"service_account","private_key": ${secret}}`, `${secret}==`]) {
    let caught: unknown;
    try {
      loadServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: json });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof Error, 'refused');
    const logged = JSON.stringify({ ...describeError(caught), cause: describeError((caught as Error).cause) });
    assert.match(logged, /GOOGLE_SERVICE_ACCOUNT_JSON is not valid JSON/);
    assert.doesNotMatch(logged, /MIIEvQ|BAQEFAASC/, logged);
  }
});

test('a key file saved with a byte-order mark (Notepad\'s UTF-8) is read as the key it is', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-key-'));
  try {
    const { key } = generateServiceAccountKey({ clientEmail: 'bot@p.iam.gserviceaccount.com', tokenUri: 'https://oauth2.googleapis.com/token', modulusLength: 1024 });
    const file = join(dir, 'key.json');
    writeFileSync(file, `\uFEFF${JSON.stringify(key, null, 2)}\r\n`);
    const loaded = loadServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: file, GOOGLE_SERVICE_ACCOUNT_JSON: undefined });
    assert.equal(loaded?.key.client_email, 'bot@p.iam.gserviceaccount.com');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
