// Repeated keys in JSON: the app's request bodies (outermost object) and loadtest profiles (any depth).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keysInOrderOf, repeatedKeyPath, repeatedTopLevelKey } from '../../src/json-keys.js';

describe('repeated JSON keys', () => {
  it('finds repeated keys of the outermost object only, after unescaping', () => {
    assert.equal(repeatedTopLevelKey('{"a":1,"a":2}'), 'a');
    assert.equal(repeatedTopLevelKey('{ "a" : 1 ,\n "a"\t: 2 }'), 'a');
    assert.equal(repeatedTopLevelKey('{"n\\u0061me":"x","name":"y"}'), 'name');
    assert.equal(repeatedTopLevelKey('{"a\\\\":1,"a\\\\":2}'), 'a\\');
    assert.equal(repeatedTopLevelKey('{"a":1,"b":{"a":2,"a":3}}'), undefined, 'nested objects are not the body\'s fields');
    assert.equal(repeatedTopLevelKey('{"a":"\\"a\\":","b":["a",{"a":1}],"c":"a"}'), undefined, 'a key-like value is a value');
    assert.equal(repeatedTopLevelKey('{}'), undefined);
  });

  it('finds a repeated key at any depth, naming its path, for a profile', () => {
    assert.equal(repeatedKeyPath('{"a":1,"a":2}'), 'a');
    assert.equal(repeatedKeyPath('{"users":{"distribution":{"plateau":{"users":1},"ramp_up":{},"plateau":{"users":2}}}}'), 'users.distribution.plateau');
    assert.equal(repeatedKeyPath('{"a":1,"b":{"a":2,"a":3}}'), 'b.a');
    assert.equal(repeatedKeyPath('{"l":[{"x":1},{"n":1,"n\\u0061":2,"n":3}]}'), 'l[1].n');
    assert.equal(repeatedKeyPath('{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}'), undefined, 'one key in sibling objects is no repeat');
    assert.equal(repeatedKeyPath('{"a":"\\"a\\":","b":["a",{"a":1}],"c":"a"}'), undefined, 'a key-like value is a value');
    assert.equal(repeatedKeyPath('[1,{"a":1},{"a":2}]'), undefined);
  });
});

describe('keys in the order the text writes them', () => {
  it('gives the keys of one field\'s object as written, integer-like ones in place, nested objects and other fields left out', () => {
    const text = '{"a": {"x": 1}, "sheets": {"Players": [[1]], "2024": {"inner": 2}, "n\\u0061me": []}, "b": {"y": 3}}';
    assert.deepEqual(Object.keys((JSON.parse(text) as { sheets: object }).sheets), ['2024', 'Players', 'name']);
    assert.deepEqual(keysInOrderOf(text, 'sheets'), ['Players', '2024', 'name']);
    assert.deepEqual(keysInOrderOf(text, 'missing'), []);
    assert.deepEqual(keysInOrderOf('{"sheets": [1, 2]}', 'sheets'), []);
  });
});
