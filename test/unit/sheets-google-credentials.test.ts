// Reading the service-account key from the settings: its errors name the problem, never the key.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeError } from '../../src/errors.js';
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
