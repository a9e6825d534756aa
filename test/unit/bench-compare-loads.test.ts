// BENCH_COMPARE_LOADS: the loads of `npm run bench -- compare`'s matrix, as an operator writes them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FULL_MATRIX, loadName, parseCompareLoads } from '../../bench/lib/compare-loads.js';

test('the default matrix reads back as itself, in its order', () => {
  assert.deepEqual(parseCompareLoads(FULL_MATRIX.map(loadName).join(',')), FULL_MATRIX);
  assert.equal(FULL_MATRIX.map(loadName).join(','), '10,100,300,1000,100-close');
});

test('the goal loads alone, spaces allowed, in the order given', () => {
  assert.deepEqual(parseCompareLoads(' 1000, 100 '), [
    { connections: 1000, keepAlive: true },
    { connections: 100, keepAlive: true },
  ]);
  assert.deepEqual(parseCompareLoads('100-close,100'), [
    { connections: 100, keepAlive: false },
    { connections: 100, keepAlive: true },
  ]);
});

test('what is not a load is refused with the part named and what a load is', () => {
  for (const [raw, part] of [['100,fast', 'fast'], ['0', '0'], ['100-keep', '100-keep'], ['', ''], ['100,,1000', ''], ['-100', '-100'], ['1e3', '1e3']] as const) {
    const r = parseCompareLoads(raw);
    assert.ok('refused' in r, raw);
    assert.equal(r.refused, `"${part}" is not a load: a number of connections ≥ 1, with -close for a connection per request (e.g. 10,100,300,1000,100-close)`);
  }
  assert.deepEqual(parseCompareLoads('100,300,100'), { refused: '100 is named twice' });
});
