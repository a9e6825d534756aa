import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutConnection } from '../../src/worker/connection-close.js';

test("withoutConnection drops the app's Connection header from every shape writeHead takes", () => {
  const plain = { 'content-type': 'text/plain' };
  assert.equal(withoutConnection(plain), plain, 'an object without one is passed through as is');
  assert.equal(withoutConnection(undefined), undefined);
  assert.deepEqual(withoutConnection({ 'content-type': 'text/plain', Connection: 'keep-alive' }), { 'content-type': 'text/plain' });
  assert.deepEqual(withoutConnection({ CONNECTION: 'keep-alive', 'x-a': ['1', '2'] }), { 'x-a': ['1', '2'] });
  // Flat arrays stay flat; arrays of pairs come back flat (node:http takes only flat ones once
  // setHeader was used, which closing the connection does).
  assert.deepEqual(withoutConnection(['content-type', 'text/plain', 'connection', 'keep-alive', 'x-b', '1']), ['content-type', 'text/plain', 'x-b', '1']);
  assert.deepEqual(withoutConnection([['Connection', 'keep-alive'], ['x-c', '2']] as unknown as string[]), ['x-c', '2']);
});
