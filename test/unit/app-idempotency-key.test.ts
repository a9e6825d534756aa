import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { keyOwner, readIdempotencyKey, requestFingerprint, scopedKey } from '../../src/app/idempotency-key.js';
import { HttpError } from '../../src/app/http.js';

const req = (...values: string[]) => ({ headersDistinct: values.length ? { 'idempotency-key': values } : {} }) as unknown as IncomingMessage;

function refusal(values: string[]): HttpError {
  try {
    readIdempotencyKey(req(...values));
  } catch (err) {
    assert.ok(err instanceof HttpError);
    return err;
  }
  assert.fail(`${JSON.stringify(values)} was taken`);
}

describe('Idempotency-Key header', () => {
  it('is optional', () => {
    assert.equal(readIdempotencyKey(req()), undefined);
  });

  it('takes a bare key (as Stripe clients send it) and the draft\'s quoted Structured Field string as the same key', () => {
    assert.equal(readIdempotencyKey(req('8e03978e-40d5-43e8-bc93-6894a57f9324')), '8e03978e-40d5-43e8-bc93-6894a57f9324');
    assert.equal(readIdempotencyKey(req('"8e03978e-40d5-43e8-bc93-6894a57f9324"')), '8e03978e-40d5-43e8-bc93-6894a57f9324');
    assert.equal(readIdempotencyKey(req('"a \\"quoted\\" \\\\ key"')), 'a "quoted" \\ key');
    assert.equal(readIdempotencyKey(req('k'.repeat(255))), 'k'.repeat(255));
  });

  it('refuses empty, too long, non-printable, badly quoted and repeated keys with 400 invalid_idempotency_key', () => {
    const cases: Array<[string[], RegExp]> = [
      [[''], /empty/],
      [['""'], /empty/],
      [['k'.repeat(256)], /256 characters long; at most 255/],
      [['tab\there'], /printable ASCII/],
      [['caf\u00e9'], /printable ASCII/],
      [['"open'], /no closing quote/],
      [['"a"b'], /nothing may follow/],
      [['"a\\nb"'], /backslash/],
      [['a', 'b'], /one Idempotency-Key/],
    ];
    for (const [values, message] of cases) {
      const err = refusal(values);
      assert.equal(err.status, 400);
      assert.equal(err.error, 'invalid_idempotency_key');
      assert.match(err.message, message, JSON.stringify(values));
    }
  });

  it('is scoped: the same key of two players, or of two routes, is two keys', () => {
    const key = 'retry-1';
    assert.equal(scopedKey('POST /api/events', 'Alice', key), scopedKey('POST /api/events', 'Alice', key));
    assert.notEqual(scopedKey('POST /api/events', 'Alice', key), scopedKey('POST /api/events', 'Bob', key));
    assert.notEqual(scopedKey('POST /api/events', 'Alice', key), scopedKey('POST /api/other', 'Alice', key));
    // No separator trick makes two scopes meet.
    assert.notEqual(scopedKey('POST /api/events', 'a', 'b c'), scopedKey('POST /api/events', 'a b', 'c'));
    assert.notEqual(requestFingerprint(['goal', '']), requestFingerprint(['goal', ' ']));
  });

  it('scopes the player by name as the roster finds it, so a roster name recased or respaced keeps its keys', () => {
    const key = 'retry-1';
    // The roster's lookup takes these as one player (NFC, trimmed, lowercase): so does the key.
    for (const spelling of ['Alice Martin', 'ALICE MARTIN', ' alice martin ', 'Alice Martin\t']) {
      assert.equal(scopedKey('POST /api/events', spelling, key), scopedKey('POST /api/events', 'alice martin', key), JSON.stringify(spelling));
      assert.equal(keyOwner(spelling), keyOwner('alice martin'), JSON.stringify(spelling));
    }
    assert.equal(scopedKey('POST /api/events', 'Chlo\u00e9', key), scopedKey('POST /api/events', 'chloe\u0301', key), 'NFC and NFD are one name');
    // Names the lookup tells apart stay apart.
    assert.notEqual(scopedKey('POST /api/events', 'alice martin', key), scopedKey('POST /api/events', 'alice  martin', key));
    assert.notEqual(keyOwner('alice martin'), keyOwner('alice marten'));
  });
});
