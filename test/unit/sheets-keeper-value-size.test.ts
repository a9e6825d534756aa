// What a range held by the keeper counts against its host cache's budget: its JSON and its parsed
// rows as the heap holds them (copy-size.ts), not twice its JSON, which short cells outweigh.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { copyBytes } from '../../src/sheets/copy-size.js';
import { cachedValue, sizeOf } from '../../src/sheets/keeper/cached-value.js';

it('a tab of short cells counts its JSON and the heap of its rows, over three times its JSON', () => {
  const rows = Array.from({ length: 5000 }, (_, i) => [`E${i}`, String(i % 7), 'x', `p${i % 40}`, '1']);
  const value = cachedValue('Events', rows, 0, 0, 30_000);
  const json = value.jsonBytes.length;
  assert.equal(sizeOf(value), json + copyBytes(value.values) + 'Events'.length);
  assert.ok(sizeOf(value) > 3 * json, `${sizeOf(value)} bytes counted for ${json} of JSON`);
  assert.equal(sizeOf(undefined), 1);
});
